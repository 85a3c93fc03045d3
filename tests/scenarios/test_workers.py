"""`policywatch worker` processes sharing one PostgreSQL: pages changing under two and four
workers, a worker killed in the middle of a check. Real processes, a real PostgreSQL (the
suite's PostgreSQL pass), pages served from 127.0.0.1, alerts to a webhook receiver."""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.pageserver import PageServer, Request, Response
from tests.pg import rows
from tests.sitegen import Section, policy_page, sample_policy
from tests.support import document, run_cli, write_config
from tests.webhookreceiver import WebhookReceiver

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
HTML = {"Content-Type": "text/html; charset=utf-8"}
SECRET = "workers-secret"


def _page(slug: str, round_: int) -> str:
    notes = Section("Notes", [f"Round {round_} of the {slug} policy says something new."])
    return policy_page([*sample_policy(), notes], rng=random.Random(round_))


def _config(tmp_path: Path, docs: str, hook: WebhookReceiver | str, timeout: str = "5s") -> Path:
    """The config of `docs`, every change alerted to the webhook `hook` (a receiver or a URL)."""
    url = hook if isinstance(hook, str) else hook.url
    channel = (
        f'[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "{url}"\ntimeout = "{timeout}"\n'
        'secret_env = "POLICYWATCH_TEST_HOOK"\nmin_significance = "cosmetic"\n'
    )
    return write_config(tmp_path, docs + channel)


def _count(tmp_path: Path, table: str) -> int:
    [(n,)] = rows(tmp_path, f"SELECT count(*) FROM {table}")
    return int(str(n))


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(config, *args, POLICYWATCH_TEST_HOOK=SECRET)


class Workers:
    """Worker processes, each logging to its own file."""

    def __init__(self, config: Path, tmp_path: Path) -> None:
        self.config, self.tmp_path = config, tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        with (self.tmp_path / f"worker{len(self.procs)}.log").open("wb") as log:
            proc = self._spawn(log, extra)
        self.procs.append(proc)
        return proc

    def _spawn(self, log: object, extra: tuple[str, ...]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(self.config), "worker",
             "--stalled-after", "2", *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "POLICYWATCH_TEST_HOOK": SECRET},
        )  # fmt: skip

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("worker*.log")))

    def stop(self) -> list[tuple[int, float]]:
        """SIGTERM each live worker: (exit code, seconds it took)."""
        out = []
        for proc in self.procs:
            if proc.poll() is not None:
                continue
            began = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            out.append((code, time.monotonic() - began))
        return out


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def _until(condition: Callable[[], bool], what: str, workers: Workers, limit: float = 90) -> None:
    """Wait for real processes to get there (polling the database), or fail saying what."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {limit:g} s\n{workers.logs()[-4000:]}")
        time.sleep(0.2)


@pytest.mark.parametrize("n_workers", [2, 4])
def test_workers_share_changing_pages_one_version_per_change(
    tmp_path: Path, hook: WebhookReceiver, n_workers: int
) -> None:
    slugs = [f"p{i}" for i in range(8)]
    rounds = 3
    current = dict.fromkeys(slugs, 0)
    with PageServer() as site:
        docs = ""
        for i, slug in enumerate(slugs):
            site.set(
                f"/{slug}", lambda _r, s=slug: Response(body=_page(s, current[s]), headers=HTML)
            )
            # two host names: politeness is per host, shared by the workers
            url = site.url(f"/{slug}", host="localhost" if i % 2 else "127.0.0.1")
            docs += document(slug, url, every="1s")
        config = _config(tmp_path, docs, hook)
        synced = _cli(config, "sync")
        assert synced.returncode == 0 and "watch list: 8 documents" in synced.stdout, synced.stderr
        workers = Workers(config, tmp_path)
        for _ in range(n_workers):
            workers.start()

        def versions() -> dict[str, int]:
            found = rows(
                tmp_path,
                "SELECT p.slug, count(v.id) FROM pages p JOIN versions v ON v.page_id = p.id "
                "GROUP BY p.slug",
            )
            return {str(slug): int(str(n)) for slug, n in found}

        try:
            _until(lambda: versions() == dict.fromkeys(slugs, 1), "the first versions", workers)
            for round_ in range(1, rounds + 1):
                for slug in slugs:
                    current[slug] = round_
                _until(
                    lambda r=round_: versions() == dict.fromkeys(slugs, r + 1),
                    f"round {round_}",
                    workers,
                )
            _until(
                lambda: len(hook.requests) >= len(slugs) * rounds, "the alerts' delivery", workers
            )
        finally:
            stopped = workers.stop()
    assert all(code == 0 for code, _ in stopped), workers.logs()[-4000:]
    assert "Traceback" not in workers.logs(), workers.logs()[-4000:]

    # One version per change, each a different text; one change per version after the first.
    texts = rows(
        tmp_path,
        "SELECT p.slug, v.number, v.text_sha256 FROM versions v JOIN pages p ON p.id = v.page_id "
        "ORDER BY p.slug, v.number",
    )
    by_page: dict[str, list[object]] = defaultdict(list)
    for slug, _number, sha in texts:
        by_page[str(slug)].append(sha)
    assert all(len(set(shas)) == len(shas) == rounds + 1 for shas in by_page.values())
    [(n_changes,)] = rows(tmp_path, "SELECT count(*) FROM changes")
    assert n_changes == len(slugs) * rounds
    # One alert per change, one delivery per alert per channel, each sent once.
    [(n_alerts,)] = rows(tmp_path, "SELECT count(*) FROM alerts WHERE kind = 'change'")
    assert n_alerts == n_changes
    keys = Counter(r.headers["x-policywatch-delivery"] for r in hook.requests)
    assert len(keys) == n_alerts and max(keys.values()) == 1
    # A page is never checked twice at once, nor twice within its period (1 s).
    checks = rows(
        tmp_path,
        "SELECT p.slug, c.started_at, c.finished_at FROM checks c JOIN pages p ON p.id = c.page_id "
        "ORDER BY p.slug, c.started_at",
    )
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for slug, started, finished in checks:
        spans[str(slug)].append((started, finished))  # type: ignore[arg-type]
    for page_spans in spans.values():
        for (s1, f1), (s2, _f2) in itertools.pairwise(page_spans):
            assert f1 <= s2 and (s2 - s1).total_seconds() >= 0.99
    # The work was shared.
    names = Counter(
        line.split(" taking ")[0] for line in workers.logs().splitlines() if " taking " in line
    )
    assert len(names) == n_workers


def test_a_worker_killed_mid_check_leaves_the_page_to_another(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    """The first fetch hangs; its worker is SIGKILLed. Another worker checks the page in the
    same period (an hour): one version, one check, nothing duplicated."""
    arrived, release = threading.Event(), threading.Event()
    served = Counter[str]()

    def route(_request: Request) -> Response:
        served["all"] += 1
        if served["all"] == 1:
            arrived.set()
            release.wait(60)
        return Response(body=_page("slow", 0), headers=HTML)

    with PageServer() as site:
        site.set("/slow", route)
        config = _config(tmp_path, document("slow", site.url("/slow"), every="1h"), hook)
        assert _cli(config, "sync").returncode == 0
        workers = Workers(config, tmp_path)
        first = workers.start()
        try:
            assert arrived.wait(60), workers.logs()
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            release.set()
            workers.start()  # the other worker: sees the dead one's check and takes it over
            _until(
                lambda: _count(tmp_path, "versions") == 1, "the check by the other worker", workers
            )
        finally:
            release.set()
            stopped = workers.stop()
    assert all(code == 0 for code, _ in stopped), workers.logs()[-4000:]
    assert rows(tmp_path, "SELECT outcome FROM checks") == [("new",)]
    assert served["all"] == 2  # the killed fetch and the one that counted
    assert "retrying" in workers.logs()


def test_a_worker_refuses_sqlite_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "pw.db"}"\n'
        + document("a", "http://127.0.0.1:9/a")
    )
    done = _cli(config, "worker")
    assert done.returncode == 2
    assert "workers share a PostgreSQL database" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_sigterm_during_a_hung_delivery_stops_within_seconds(tmp_path: Path) -> None:
    """A webhook that accepts the connection and never answers (timeout 60 s): SIGTERM stops the
    worker in a few seconds; the delivery is left claimed, to be sent again after its lease."""
    with socket.socket() as silent, PageServer() as site:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts; nobody ever answers
        hook_url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        site.set("/p", Response(body=_page("p", 0), headers=HTML))
        config = _config(tmp_path, document("p", site.url("/p"), every="1s"), hook_url, "60s")
        assert _cli(config, "sync").returncode == 0
        workers = Workers(config, tmp_path)
        workers.start()
        try:
            _until(lambda: _count(tmp_path, "versions") == 1, "the first version", workers)
            site.set("/p", Response(body=_page("p", 1), headers=HTML))  # a change: an alert
            _until(lambda: _count(tmp_path, "deliveries") == 1, "the alert", workers)
            silent.settimeout(60)
            held, _ = silent.accept()  # the delivery is in flight, waiting for an answer
        finally:
            [(code, seconds)] = workers.stop()
        held.close()
    assert code == 0, workers.logs()[-3000:]
    assert seconds < 20, f"took {seconds:.1f} s to stop\n{workers.logs()[-3000:]}"
    [(status, sent_at)] = rows(tmp_path, "SELECT status, sent_at FROM deliveries")
    assert status == "pending" and sent_at is None  # not lost, not marked sent


def test_browser_pages_wait_for_a_worker_that_has_chromium(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    """A worker without --browser checks the plain pages and leaves the browser page queued."""
    with PageServer() as site:
        site.set("/plain", Response(body=_page("plain", 0), headers=HTML))
        site.set("/rendered", Response(body=_page("rendered", 0), headers=HTML))
        docs = document("plain", site.url("/plain"), every="1h") + document(
            "rendered", site.url("/rendered"), every="1h", fetcher="browser"
        )
        config = _config(tmp_path, docs, hook)
        assert _cli(config, "sync").returncode == 0
        workers = Workers(config, tmp_path)
        workers.start()
        try:
            _until(lambda: _count(tmp_path, "versions") == 1, "the plain page's check", workers)
            waiting = rows(
                tmp_path,
                "SELECT queue_name, status, args->>'slug' FROM procrastinate_jobs "
                "WHERE task_name = 'policywatch:check_page' ORDER BY id",
            )
        finally:
            workers.stop()
    assert ("browser", "todo", "rendered") in waiting
    assert ("checks", "succeeded", "plain") in waiting
    assert site.requests_to("/rendered") == []
