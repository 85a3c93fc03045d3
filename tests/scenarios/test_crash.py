"""Crash safety: the daemon, killed with SIGKILL 20 times at random moments while its pages keep
changing, loses, duplicates and half-writes nothing; SIGTERM stops it within a few seconds.

The crash run is bench/crash.py (run it alone for more kills and the README's figures).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.sample import sample_payload
from bench import crash
from monitor.alerting.outbox import LEASE, Outbox
from monitor.config import load
from monitor.daemon.runtime import open_store
from storage.values import AlertIn
from tests.pageserver import PageServer, Request, Response
from tests.pg import rows
from tests.sitegen import policy_page
from tests.support import document, write_config
from tests.webhookreceiver import Recorded, WebhookReceiver

pytestmark = pytest.mark.slow  # real processes, tens of seconds
ROOT = Path(__file__).resolve().parents[2]
HTML = {"Content-Type": "text/html; charset=utf-8"}
WEB = 'jitter = "0s"\n[web]\nport = 0'  # the daemon serves its UI on a free port


def test_twenty_kills_lose_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("POLICYWATCH_CRASH_SEED", random.randrange(10**6)))
    figures = crash.run(tmp_path, kills=20, seed=seed, say=lambda _line: None)
    reproduce = f"reproduce with POLICYWATCH_CRASH_SEED={seed}\n{figures.table()}"
    assert figures.problems == [], reproduce
    assert sum(figures.kills.values()) >= 20, reproduce
    during_checks = figures.kills["check"] + figures.kills["record"]
    during_deliveries = figures.kills["smtp"] + figures.kills["webhook"]
    assert during_checks >= 5 and during_deliveries >= 3, reproduce
    assert figures.versions >= 6 and figures.changes >= 3, reproduce
    assert figures.deliveries == 2 * sum(figures.alerts.values()), reproduce
    assert (figures.sigterm_code, figures.sigterm_seconds < 10) == (0, True), reproduce


def _daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "POLICYWATCH_TEST_HOOK": "s3cret-hook"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "run"],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env=env,
        )


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -1, time.monotonic() - t0
    return code, time.monotonic() - t0


def test_sigterm_during_a_hung_fetch_stops_within_seconds_and_records_nothing(
    tmp_path: Path,
) -> None:
    arrived = threading.Event()

    def hung(_request: Request) -> Response:
        arrived.set()
        return Response(body=policy_page(), headers=HTML, delay_headers=60)

    with PageServer({"/a": hung}) as site:
        config = write_config(tmp_path, document("a", site.url("/a")), extra=WEB)
        config.write_text(config.read_text().replace('timeout = "5s"', 'timeout = "50s"'))
        proc = _daemon(config, tmp_path / "daemon.log")
        try:
            assert arrived.wait(30), (tmp_path / "daemon.log").read_text()
        finally:
            code, seconds = _stop(proc)
    log = (tmp_path / "daemon.log").read_text()
    assert code == 0, log
    assert seconds < 10, f"took {seconds:.1f} s to stop\n{log}"
    assert "stopped" in log
    assert rows(tmp_path, "SELECT count(*) FROM checks") == [(0,)]


def test_sigterm_logs_no_traceback(tmp_path: Path) -> None:
    arrived = threading.Event()

    def hung(_request: Request) -> Response:
        arrived.set()
        return Response(body=policy_page(), headers=HTML, delay_headers=60)

    with PageServer({"/a": hung}) as site:
        config = write_config(tmp_path, document("a", site.url("/a")), extra=WEB)
        proc = _daemon(config, tmp_path / "daemon.log")
        try:
            assert arrived.wait(30)
        finally:
            code, _ = _stop(proc)
    log = (tmp_path / "daemon.log").read_text()
    assert code == 0
    assert "Traceback" not in log and " ERROR " not in log, log


class SlowHook(WebhookReceiver):
    """A webhook receiver that takes `delay` seconds to answer each request."""

    def __init__(self, delay: float) -> None:
        super().__init__([200])
        self.delay = delay
        self.first = threading.Event()

    def _answer(self, request: Recorded) -> int:
        status = super()._answer(request)
        self.first.set()
        time.sleep(self.delay)  # the receiver is slow: this is the fault, not a test wait
        return status


def _pending_alerts(config: Path, count: int) -> None:
    """`count` alerts waiting for the "hook" channel, as a crash or an outage leaves them."""
    settings = load(config)
    store = open_store(settings)
    try:
        payload = {**sample_payload(), "kind": "test"}
        for _ in range(count):
            store.repo.outbox.add_alert(AlertIn("test", payload, ["hook"]), datetime.now(UTC))
    finally:
        store.engine.dispose()


def test_sigterm_during_a_delivery_pass_stops_after_the_delivery_in_flight(
    tmp_path: Path,
) -> None:
    hook = SlowHook(delay=2.5)
    with PageServer() as site, hook:
        site.set("/a", Response(body=policy_page(), headers=HTML))
        channel = (
            f'[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "{hook.url}"\n'
            'secret_env = "POLICYWATCH_TEST_HOOK"\ntimeout = "10s"\n'
        )
        config = write_config(tmp_path, document("a", site.url("/a")) + channel, WEB)
        _pending_alerts(config, 6)
        proc = _daemon(config, tmp_path / "daemon.log")
        try:
            assert hook.first.wait(30), (tmp_path / "daemon.log").read_text()
        finally:
            code, seconds = _stop(proc)
        received = len(hook.requests)
    log = (tmp_path / "daemon.log").read_text()
    assert code == 0, log
    assert seconds < 10, f"took {seconds:.1f} s to stop after {received} deliveries\n{log}"
    assert received < 6
    assert "Traceback" not in log, log


# -- the outbox under a crash or a stop, in process ----------------------------------------------


class Crash(BaseException):
    """The process dies here (what SIGKILL does, minus the process)."""


class Channel:
    """A real Channel implementation for these tests: records sends, crashes or stops on cue."""

    name, kind = "hook", "test"

    def __init__(self, on_send: Callable[[int], None]) -> None:
        self.sent: list[str] = []
        self.on_send = on_send

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str, now: datetime) -> None:
        self.sent.append(idempotency_key)
        self.on_send(len(self.sent))


def _outbox_with_due(tmp_path: Path, channel: Channel, count: int) -> Outbox:
    mbox = tmp_path / "x.mbox"
    box = f'[[channels]]\nname = "hook"\nkind = "mbox"\npath = "{mbox}"\n'
    config = write_config(tmp_path, document("a", "https://example.org/a") + box)
    _pending_alerts(config, count)
    settings = load(config)
    return Outbox(open_store(settings).repo, settings, {"hook": channel})


def test_a_crash_in_a_delivery_pass_strands_only_the_delivery_in_flight(tmp_path: Path) -> None:
    def crash_on_second(n: int) -> None:
        if n == 2:
            raise Crash

    channel = Channel(crash_on_second)
    outbox = _outbox_with_due(tmp_path, channel, 5)
    now = datetime.now(UTC)
    with pytest.raises(Crash):
        outbox.deliver_due(now)
    statuses = sorted(d.status for d in outbox.repo.outbox.deliveries())
    assert statuses == ["pending"] * 4 + ["sent"]
    # The one in flight waits for its lease; the other three are due at once on restart.
    assert len(outbox.repo.outbox.due_deliveries(now)) == 3
    restarted = outbox.deliver_due(now)
    assert [a.status for a in restarted] == ["sent"] * 3
    later = outbox.deliver_due(now + LEASE + timedelta(seconds=1))
    assert [a.status for a in later] == ["sent"]
    assert len(channel.sent) == 6 and len(set(channel.sent)) == 5  # one repeat, same key


def test_stop_ends_a_delivery_pass_after_the_delivery_in_flight(tmp_path: Path) -> None:
    outbox: Outbox | None = None

    def stop_on_first(n: int) -> None:
        if n == 1 and outbox is not None:
            outbox.stop()

    channel = Channel(stop_on_first)
    outbox = _outbox_with_due(tmp_path, channel, 4)
    now = datetime.now(UTC)
    assert [a.status for a in outbox.deliver_due(now)] == ["sent"]
    assert len(outbox.repo.outbox.due_deliveries(now)) == 3  # left due, not leased


def test_sigterm_during_a_hung_delivery_stops_within_seconds_and_keeps_it(tmp_path: Path) -> None:
    """A webhook that accepts and never answers (channel timeout 60 s): the daemon still stops
    in seconds; the delivery stays pending, claimed until its lease ends, never marked sent."""
    with (
        socket.socket() as silent,
        PageServer({"/a": Response(body=policy_page(), headers=HTML)}) as site,
    ):
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        channel = (
            f'[[channels]]\nname = "hook"\nkind = "webhook"\n'
            f'url = "http://127.0.0.1:{silent.getsockname()[1]}/hook"\n'
            'secret_env = "POLICYWATCH_TEST_HOOK"\nmin_significance = "cosmetic"\ntimeout = "60s"\n'
        )
        config = write_config(tmp_path, document("a", site.url("/a")) + channel, extra=WEB)
        store_alert(config)  # due at once: the daemon's first delivery pass takes it
        proc = _daemon(config, tmp_path / "daemon.log")
        try:
            silent.settimeout(60)
            held, _ = silent.accept()  # the delivery is in flight, waiting for an answer
        finally:
            code, seconds = _stop(proc)
        held.close()
    log = (tmp_path / "daemon.log").read_text()
    assert code == 0, log
    assert seconds < 20, f"took {seconds:.1f} s to stop\n{log}"
    assert rows(tmp_path, "SELECT status, sent_at FROM deliveries") == [("pending", None)]


def store_alert(config: Path) -> None:
    store = open_store(load(config))
    try:
        store.repo.outbox.add_alert(AlertIn("test", {"kind": "test"}, ["hook"]), datetime.now(UTC))
    finally:
        store.engine.dispose()
