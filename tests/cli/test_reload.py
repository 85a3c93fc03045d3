"""A live watch list: `policywatch run` in a process of its own picks up config.toml edits on
SIGHUP and when the file changes, without a restart; an invalid edit is refused in one log line
and the running list stays; the next check time `checks` and the dashboard show; the notice
that alerts go nowhere without a channel. The tests wait on the database and the daemon's log
with a deadline, never for a fixed time."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from monitor import config
from monitor.web.views import when
from storage.db import make_engine
from storage.repo import Repo
from tests.pageserver import PageServer, Response
from tests.pg import database_url
from tests.sitegen import policy_page
from tests.support import document, run_cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
HTML = {"Content-Type": "text/html; charset=utf-8"}
SERVING = re.compile(r"serving the history (?:at|on) (http://\S+)")
SIZE = 4096  # every config of a test is padded to this size (see pad)
LIMIT = 60.0  # seconds a real process may take to get somewhere on a busy machine


class Daemon:
    """`policywatch run` in a subprocess; its log is collected line by line as it comes."""

    def __init__(self, path: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(path), "run", *args],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self.engines: list[Engine] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line)

    def matching(self, needle: str) -> list[str]:
        with self._lock:
            return [line for line in self.lines if needle in line]

    @property
    def log(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait for the daemon to get there, or fail saying what and showing its log."""
        deadline = time.monotonic() + LIMIT
        while not condition():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{what} did not happen\n{self.log[-4000:]}")
            time.sleep(0.05)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._reader.join()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        for engine in self.engines:
            engine.dispose()
        return code

    def repo(self, path: Path) -> Repo:
        """The daemon's database, once the daemon has created it and synced its watch list."""
        self.until(lambda: bool(self.matching("watching ")), "the start of the daemon")
        engine = make_engine(config.load(path).database_url)
        self.engines.append(engine)
        return Repo(engine)


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        for name in ("a", "b", "c"):
            server.set(f"/{name}", Response(body=policy_page(title=f"Policy {name}"), headers=HTML))
        yield server


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.stop()


def pad(text: str) -> str:
    """`text` padded with a comment to SIZE bytes, so two configs can have the same size."""
    filler = SIZE - len(text.encode()) - 3
    assert filler > 0
    return text + "\n#" + "x" * filler + "\n"


def edit(
    path: Path, tmp_path: Path, docs: str, *, extra: str = "", keep_stat: bool = False
) -> None:
    """Replace the config (at once, as editors save) with one watching `docs`; `keep_stat`: with
    the same size and modification time, so only a SIGHUP can tell the daemon."""
    text = f"""[storage]
url = "{database_url(tmp_path)}"
[fetch]
min_gap = "0s"
retries = 0
timeout = "5s"
[schedule]
concurrency = 2
jitter = "0s"
{extra}
{docs}"""
    draft = path.with_suffix(".draft")
    draft.write_text(pad(text), encoding="utf-8")
    if keep_stat:
        before = path.stat()
        assert draft.stat().st_size == before.st_size
        os.utime(draft, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(draft, path)


def start(path: Path, tmp_path: Path, docs: str, daemons: list[Daemon], *args: str) -> Repo:
    """Write the config, start the daemon on it, and the repository to watch it through."""
    edit(path, tmp_path, docs)
    daemons.append(Daemon(path, *args))
    return daemons[-1].repo(path)


def checked(repo: Repo, *slugs: str) -> Callable[[], bool]:
    return lambda: set(slugs) <= set(repo.checks.last_check_times())


def watched(repo: Repo) -> list[str]:
    return [slug for slug, _ in repo.pages.watch_list()]


def test_sighup_adds_a_document_without_a_restart(
    tmp_path: Path, site: PageServer, daemons: list[Daemon]
) -> None:
    path = tmp_path / "config.toml"
    a, b = document("a", site.url("/a"), every="1h"), document("b", site.url("/b"), every="1h")
    repo = start(path, tmp_path, a, daemons, "--no-web")
    [daemon] = daemons
    daemon.until(checked(repo, "a"), "the first check of a")

    edit(path, tmp_path, a + b, keep_stat=True)  # the file poller cannot see this edit
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.until(checked(repo, "a", "b"), "the check of b, added on SIGHUP")
    assert watched(repo) == ["a", "b"]  # the daemon synced the list it runs
    assert daemon.matching("config reloaded (SIGHUP): watching 2 documents; added b")
    assert daemon.proc.poll() is None  # the same process throughout
    assert daemon.stop() == 0
    [notice] = daemon.matching("no [[channels]]")  # said once, at start
    assert "alerts go nowhere" in notice and str(path) in notice
    assert daemon.matching("config reloaded") == daemon.matching("(SIGHUP)")


def test_a_file_change_adds_removes_and_reschedules_documents(
    tmp_path: Path, site: PageServer, daemons: list[Daemon]
) -> None:
    path = tmp_path / "config.toml"
    a = document("a", site.url("/a"), every="1h")
    c = document("c", site.url("/c"), every="1s")  # checked every second until removed
    repo = start(path, tmp_path, a + c, daemons, "--no-web")
    [daemon] = daemons
    daemon.until(checked(repo, "a", "c"), "the first checks")

    def count(slug: str) -> int:
        return len(repo.checks.checks(slug, 1000))

    edit(
        path,
        tmp_path,
        document("a", site.url("/a"), every="2h") + document("b", site.url("/b"), every="1s"),
    )
    line = "config reloaded (the file changed): watching 2 documents; added b; removed c; changed a"
    daemon.until(lambda: bool(daemon.matching(line)), "the reload")
    c_at_reload = count("c")
    daemon.until(lambda: count("b") >= 3, "three checks of b")  # b runs every second now
    assert count("c") <= c_at_reload + 1  # at most the check in flight: c is unscheduled
    assert watched(repo) == ["a", "b"]
    assert not next(p for p in repo.pages.pages() if p.slug == "c").active
    assert count("a") == 1  # a's new interval is 2h after its last check, not now

    done = run_cli(path, "checks", "a", "--json")
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    started = datetime.fromisoformat(row["started_at"])
    assert datetime.fromisoformat(row["next_check_at"]) == started + timedelta(hours=2)
    assert daemon.stop() == 0


def test_an_invalid_edit_is_refused_in_one_line_and_the_list_stays(
    tmp_path: Path, site: PageServer, daemons: list[Daemon]
) -> None:
    path = tmp_path / "config.toml"
    a, b = document("a", site.url("/a"), every="1h"), document("b", site.url("/b"), every="1h")
    repo = start(path, tmp_path, a, daemons, "--no-web")
    [daemon] = daemons
    daemon.until(checked(repo, "a"), "the first check of a")

    edit(path, tmp_path, a + document("b", site.url("/b"), fetcher="carrier-pigeon"))
    daemon.until(lambda: bool(daemon.matching("config not reloaded")), "the refusal")
    [refusal] = daemon.matching("config not reloaded")
    assert "documents[1].fetcher" in refusal and "carrier-pigeon" in refusal
    assert "still watching the 1 documents it had" in refusal
    assert watched(repo) == ["a"]

    edit(path, tmp_path, a + b)  # fixed: the next look at the file applies it
    daemon.until(checked(repo, "a", "b"), "the check of b once the file is valid")
    assert len(daemon.matching("config not reloaded")) == 1  # the bad file was refused once
    assert watched(repo) == ["a", "b"]
    assert daemon.stop() == 0


def test_next_check_in_checks_and_on_the_dashboard(
    tmp_path: Path, site: PageServer, daemons: list[Daemon]
) -> None:
    path = tmp_path / "config.toml"
    docs = document("a", site.url("/a"), every="1h") + document("b", site.url("/b"), every="3h")
    edit(path, tmp_path, docs, extra="[web]\nport = 0")
    daemons.append(Daemon(path))
    [daemon] = daemons
    repo = daemon.repo(path)
    daemon.until(checked(repo, "a", "b"), "the first checks")
    daemon.until(lambda: bool(daemon.matching("serving the history")), "the web UI")
    match = SERVING.search(daemon.matching("serving the history")[0])
    assert match is not None
    last = repo.checks.last_check_times()
    due = {"a": last["a"] + timedelta(hours=1), "b": last["b"] + timedelta(hours=3)}

    page = httpx.get(match.group(1) + "/", timeout=10)
    assert page.status_code == 200
    assert page.text.count("Next check") == 2
    for slug in ("a", "b"):
        assert when(due[slug]) in page.text
    assert "(in 59 minutes)" in page.text and "(in 2 hours)" in page.text
    api = httpx.get(match.group(1) + "/api/documents", timeout=10).json()
    assert {d["slug"]: datetime.fromisoformat(d["next_check_at"]) for d in api} == due

    table = run_cli(path, "checks")
    assert table.returncode == 0, table.stderr
    assert "next check" in table.stdout
    for slug in ("a", "b"):
        assert f"{due[slug]:%Y-%m-%d %H:%M:%S}" in table.stdout
    assert re.search(r"\ba\b.*in 59m", table.stdout) and re.search(r"\bb\b.*in 2h", table.stdout)
    assert daemon.stop() == 0


def test_a_channel_silences_the_notice(
    tmp_path: Path, site: PageServer, daemons: list[Daemon]
) -> None:
    path = tmp_path / "config.toml"
    box = '[[channels]]\nname = "box"\nkind = "mbox"\npath = "alerts.mbox"\n'
    repo = start(
        path, tmp_path, document("a", site.url("/a"), every="1h") + box, daemons, "--no-web"
    )
    [daemon] = daemons
    daemon.until(checked(repo, "a"), "the first check of a")
    assert daemon.stop() == 0
    assert daemon.matching("no [[channels]]") == []
