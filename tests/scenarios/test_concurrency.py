"""Concurrency: `policywatch check` while the daemon runs, and the web UI reading while both
write. No "database is locked" reaches a user, no delivery is sent twice, nothing is lost.

SQLite runs in WAL mode with a busy timeout; writers take the lock at BEGIN (IMMEDIATE) and hold
it for one short transaction; deliveries are claimed one at a time before they are sent.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from storage.db import ensure_schema, make_engine
from storage.repo import Repo
from storage.values import AlertIn
from tests.pageserver import PageServer, Request, Response, Route
from tests.pg import database_url, rows
from tests.sitegen import Section, policy_page, sample_policy
from tests.support import document, write_config
from tests.webhookreceiver import WebhookReceiver

pytestmark = pytest.mark.slow  # real processes, tens of seconds
ROOT = Path(__file__).resolve().parents[2]
SLUGS = ("alpha", "beta", "gamma")
LOCKED = ("database is locked", "database table is locked", "OperationalError")
SERVING = re.compile(r"serving the history (?:at|on) (http://\S+)")


def changing(slug: str) -> Route:
    """A page with a new sentence on every other request."""
    counter = iter(range(10**6))
    lock = threading.Lock()

    def route(_request: Request) -> Response:
        with lock:
            n = next(counter)
        sections = [*sample_policy(), Section("Notes", [f"Note {n // 2} about the {slug} policy."])]
        body = policy_page(sections, rng=random.Random(n))
        return Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    return route


def run_cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLICYWATCH_TEST_HOOK": "concurrency-secret"}
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, WebhookReceiver]]:
    with PageServer() as site, WebhookReceiver([200]) as hook:
        for slug in SLUGS:
            site.set(f"/{slug}", changing(slug))
        docs = "".join(document(slug, site.url(f"/{slug}")) for slug in SLUGS)
        channel = (
            f'[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "{hook.url}"\n'
            'secret_env = "POLICYWATCH_TEST_HOOK"\nmin_significance = "cosmetic"\n'
        )
        extra = 'every = "1s"\njitter = "0s"\n[alerts]\nbackoff = "1s"\n[web]\nport = 0\n'
        yield write_config(tmp_path, docs + channel, extra), hook


class DaemonProcess:
    """`policywatch run` in a subprocess; its log is read line by line as it comes, so the test
    learns the address of the web UI without waiting for a fixed time."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "POLICYWATCH_TEST_HOOK": "concurrency-secret"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config_path), "run"],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.log_path = log_path
        self.lines: list[str] = []
        self.url: str | None = None
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.log_path.open("w") as log:
            for line in self.proc.stderr:
                log.write(line)
                self.lines.append(line)
                if self.url is None and (m := SERVING.search(line)):
                    self.url = m.group(1)
                    self.ready.set()
        self.ready.set()  # the daemon ended: whoever waits must not wait for ever

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._reader.join()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code

    @property
    def log(self) -> str:
        return "".join(self.lines)


class UiReader(threading.Thread):
    """Reads the daemon's web UI and JSON API over HTTP in a loop until told to stop."""

    PATHS = (
        "/",
        "/deliveries",
        "/api/checks",
        "/api/changes",
        "/api/deliveries",
        *(f"/documents/{slug}" for slug in SLUGS),
        *(f"/documents/{slug}/checks" for slug in SLUGS),
        *(f"/api/documents/{slug}/versions" for slug in SLUGS),
    )

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.done = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self.done.is_set():
                for path in self.PATHS:
                    response = client.get(path)
                    self.statuses[response.status_code] += 1
                    if response.status_code != 200 or any(w in response.text for w in LOCKED):
                        self.errors.append(f"{path}: {response.status_code} {response.text[:300]}")


def test_check_and_the_web_ui_while_the_daemon_writes(
    tmp_path: Path, setup: tuple[Path, WebhookReceiver]
) -> None:
    config_path, hook = setup
    first = run_cli(config_path, "check")  # the pages and their first versions
    assert first.returncode == 0, first.stderr
    daemon = DaemonProcess(config_path, tmp_path / "daemon.log")
    runs: list[subprocess.CompletedProcess[str]] = []
    reader: UiReader | None = None
    try:
        assert daemon.ready.wait(60) and daemon.url, daemon.log
        reader = UiReader(daemon.url)
        reader.start()
        for _ in range(3):
            runs.append(run_cli(config_path, "check"))
            runs.append(run_cli(config_path, "checks", "--limit", "5"))
            runs.append(run_cli(config_path, "history", "alpha", "--json"))
    finally:
        if reader is not None:
            reader.done.set()
            reader.join()
        code = daemon.stop()

    for run in runs:
        assert run.returncode == 0, (run.args, run.stdout, run.stderr)
        assert not any(w in run.stdout + run.stderr for w in LOCKED), run.stderr
    assert code == 0, daemon.log
    assert not any(w in daemon.log for w in LOCKED), daemon.log
    assert reader is not None and reader.errors == []
    assert set(reader.statuses) == {200} and sum(reader.statuses.values()) > len(UiReader.PATHS)
    _assert_nothing_lost(tmp_path, hook)


def _assert_nothing_lost(tmp_path: Path, hook: WebhookReceiver) -> None:
    for slug in SLUGS:
        numbers = [
            n
            for (n,) in rows(
                tmp_path,
                "SELECT v.number FROM versions v JOIN pages p ON p.id = v.page_id "
                "WHERE p.slug = :slug ORDER BY v.number",
                slug=slug,
            )
        ]
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
    [(sent,)] = rows(tmp_path, "SELECT count(*) FROM deliveries WHERE status = 'sent'")
    checks = dict(rows(tmp_path, "SELECT outcome, count(*) FROM checks GROUP BY outcome"))
    keys = [r.headers["x-policywatch-delivery"] for r in hook.requests]
    # The daemon and `check` deliver from the same outbox: each delivery is claimed by one.
    assert len(keys) == len(set(keys)) == sent > 0
    assert checks.get("failed", 0) == 0 and checks["changed"] >= 3  # type: ignore[operator]


def test_two_processes_never_claim_the_same_delivery(tmp_path: Path) -> None:
    """Two outboxes (two engines: two processes' worth of connections) race for each delivery."""
    url = database_url(tmp_path)
    engines = [make_engine(url) for _ in range(2)]
    try:
        ensure_schema(engines[0])
        first = Repo(engines[0])
        now = datetime.now(UTC)
        for _ in range(40):
            first.outbox.add_alert(AlertIn("test", {"kind": "test"}, ["a", "b"]), now)
        due = [d.id for d in first.outbox.due_deliveries(now)]
        won: list[list[int]] = [[], []]
        start = threading.Barrier(2)

        def claim(index: int) -> None:
            repo = Repo(engines[index])
            start.wait()
            for delivery_id in due:
                if repo.outbox.claim_delivery(delivery_id, now, timedelta(minutes=10)) is not None:
                    won[index].append(delivery_id)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(won[0] + won[1]) == sorted(due) and len(due) == 80
        assert first.outbox.due_deliveries(now) == []
    finally:
        for engine in engines:
            engine.dispose()


class Timeline:
    """A page whose text the test moves on, round by round (with fresh noise per request).

    From the second round on, requests are held until `racers` of them arrived (or three seconds
    passed, under the fetch timeout), then answered together: the checks that made them then decide at the same time.
    """

    def __init__(self, racers: int) -> None:
        self.round = 0
        self.racers = racers
        self.arrived = 0
        self.requests = iter(range(10**6))
        self.ready = threading.Condition()

    def next_round(self) -> None:
        with self.ready:
            self.round += 1
            self.arrived = 0

    def route(self, _request: Request) -> Response:
        with self.ready:
            n, seed = self.round, next(self.requests)
            self.arrived += 1
            self.ready.notify_all()
            if n:  # the first round is the first version, checked alone
                self.ready.wait_for(lambda: self.arrived >= self.racers, timeout=3)
        sections = [*sample_policy(), Section("Notes", [f"Note {n} about this policy."])]
        body = policy_page(sections, rng=random.Random(seed))
        return Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})


def test_racing_checks_of_a_changing_page_record_each_change_once(tmp_path: Path) -> None:
    """Four `policywatch check` processes and the daemon check one page at once, round after
    round while it changes: each change is one version, compared with the version before it,
    with one alert, whoever recorded it. (Before the decision was read under the page's lock,
    two racing checks recorded the same text twice, and a change 1 -> 3 beside 1 -> 2.)"""
    timeline = Timeline(racers=4)
    with PageServer() as site, WebhookReceiver([200]) as hook:
        site.set("/policy", timeline.route)
        channel = (
            f'[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "{hook.url}"\n'
            'secret_env = "POLICYWATCH_TEST_HOOK"\nmin_significance = "cosmetic"\n'
        )
        # The daemon checks every 2 s: in some rounds it races the four, in others it comes
        # after them (a warm daemon answered with cold processes wins nearly every race).
        extra = 'every = "2s"\njitter = "0s"\n[web]\nport = 0\n'
        config_path = write_config(
            tmp_path, document("policy", site.url("/policy")) + channel, extra
        )
        assert run_cli(config_path, "check").returncode == 0
        daemon = DaemonProcess(config_path, tmp_path / "daemon.log")
        try:
            assert daemon.ready.wait(60), daemon.log
            for _ in range(6):
                timeline.next_round()
                racers = [
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "monitor.cli",
                            "--config",
                            str(config_path),
                            "check",
                        ],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        cwd=ROOT,
                        env={**os.environ, "POLICYWATCH_TEST_HOOK": "concurrency-secret"},
                    )
                    for _ in range(4)
                ]
                for racer in racers:
                    out, err = racer.communicate(timeout=120)
                    assert racer.returncode == 0, (out, err)
                    assert not any(w in out + err for w in LOCKED), err
        finally:
            code = daemon.stop()
        assert code == 0, daemon.log
        shas = [
            sha for (sha,) in rows(tmp_path, "SELECT text_sha256 FROM versions ORDER BY number")
        ]
        changes = rows(
            tmp_path,
            "SELECT c.id, f.number, t.number FROM changes c "
            "JOIN versions f ON f.id = c.from_version_id "
            "JOIN versions t ON t.id = c.to_version_id ORDER BY t.number",
        )
        alerts = rows(
            tmp_path, "SELECT change_id, payload FROM alerts WHERE kind = 'change' ORDER BY id"
        )
    assert len(shas) == 7  # the first text and one version per round
    assert all(a != b for a, b in itertools.pairwise(shas))
    assert [(f, t) for _, f, t in changes] == [(n, n + 1) for n in range(1, 7)]
    assert sorted(change_id for change_id, _ in alerts) == sorted(c for c, _, _ in changes)
    for change_id, payload in alerts:
        body = json.loads(payload)["change"]
        [(_, f, t)] = [c for c in changes if c[0] == change_id]
        assert (body["from_version"], body["to_version"]) == (f, t)
