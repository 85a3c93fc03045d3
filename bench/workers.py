"""Many workers on one PostgreSQL: throughput, CPU per check, and the four duplicates that must
be zero, against one SQLite daemon.

    .venv/bin/python -m bench.workers [--pages 1000] [--workers 1,2,4]

1,000 local pages served from 127.0.0.1 under two host names, every page checked every
`PERIOD` seconds; 10% of the pages change between two rounds. For 1, 2 and 4 workers on one
PostgreSQL (a throwaway cluster of Debian's PostgreSQL, or the server in
POLICYWATCH_TEST_POSTGRES), and for one SQLite daemon (`policywatch run`): checks per second
while every page is due, and CPU per check (all processes). In the runs with two workers or
more, one worker is SIGKILLed in the middle of the first round and a new one started.

Last line: `duplicate checks D, duplicate versions V, duplicate deliveries S, lost checks L`
over every run: a page checked twice in one period, two consecutive versions with the same
text, a delivery received twice, a round in which a page was not checked.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.common import table
from tests import pg
from tests.pageserver import PageServer, Request, Response
from tests.sitegen import Section, policy_page, sample_policy
from tests.webhookreceiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
HTML = {"Content-Type": "text/html; charset=utf-8"}
PERIOD = 60  # seconds between two checks of a page
SECRET = "bench-secret"


@dataclass
class Run:
    label: str
    checks: int
    seconds: float
    cpu: float
    duplicate_checks: int
    duplicate_versions: int
    duplicate_deliveries: int
    lost_checks: int


class Site:
    """The pages, each changing when told to, with a body worth extracting."""

    def __init__(self, server: PageServer, n: int) -> None:
        self.round = dict.fromkeys(range(n), 0)
        self.server = server
        self.urls = []
        for i in range(n):
            server.set(f"/p{i}", self._route(i))
            host = "localhost" if i % 2 else "127.0.0.1"
            self.urls.append(server.url(f"/p{i}", host=host))

    def _route(self, i: int):  # type: ignore[no-untyped-def]
        def route(_request: Request) -> Response:
            notes = Section("Notes", [f"Page {i}, text {self.round[i]}."])
            body = policy_page(
                [*sample_policy(), notes], rng=random.Random(i * 1000 + self.round[i])
            )
            return Response(body=body, headers=HTML)

        return route

    def change(self, share: float, rng: random.Random) -> int:
        chosen = rng.sample(sorted(self.round), int(len(self.round) * share))
        for i in chosen:
            self.round[i] += 1
        return len(chosen)


def _config(path: Path, url: str, site: Site, hook: WebhookReceiver) -> Path:
    docs = "".join(
        f'[[documents]]\nslug = "p{i}"\nname = "P{i}"\nurl = "{u}"\nevery = "{PERIOD}s"\n'
        for i, u in enumerate(site.urls)
    )
    path.write_text(
        f'[storage]\nurl = "{url}"\n[fetch]\nmin_gap = "0s"\nretries = 0\ntimeout = "10s"\n'
        '[schedule]\nconcurrency = 4\njitter = "0s"\n'
        f'[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "{hook.url}"\n'
        'secret_env = "POLICYWATCH_TEST_HOOK"\n' + docs,
        encoding="utf-8",
    )
    return path


def _spawn(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "POLICYWATCH_TEST_HOOK": SECRET},
        )


def _checks(tmp: Path) -> int:
    from sqlalchemy.exc import DBAPIError

    try:
        [(n,)] = pg.rows(tmp, "SELECT count(*) FROM checks")
    except DBAPIError:  # the daemon has not created its tables yet
        return 0
    return int(str(n))


def _wait(condition, what: str, limit: float = 900) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen within {limit:g} s")
        time.sleep(0.25)


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(label: str, tmp: Path, n_pages: int, workers: int | None, kill: bool) -> Run:
    """One run: `workers` worker processes on PostgreSQL, or (None) one SQLite daemon."""
    tmp.mkdir(parents=True)
    sqlite = workers is None
    url = f"sqlite:///{tmp / 'pw.db'}" if sqlite else pg.database_url(tmp)
    if sqlite:
        os.environ.pop(pg.ENV, None)
    rng = random.Random(7)
    with ExitStack() as stack:
        server = stack.enter_context(PageServer())
        hook = stack.enter_context(WebhookReceiver())
        site = Site(server, n_pages)
        config = _config(tmp / "config.toml", url, site, hook)
        procs: list[subprocess.Popen[bytes]] = []
        cpu0 = _cpu_of_children()
        if sqlite:
            procs.append(_spawn(config, tmp / "daemon.log", "run", "--no-web"))
        else:
            subprocess.run(
                [sys.executable, "-m", "monitor.cli", "--config", str(config), "sync"],
                check=True, cwd=ROOT, capture_output=True,
            )  # fmt: skip
            procs += [_spawn(config, tmp / f"w{k}.log", "worker", "--stalled-after", "5")
                      for k in range(workers or 0)]  # fmt: skip
        began = time.monotonic()
        if kill:  # one worker dies in the middle of the first round; another takes its place
            _wait(lambda: _checks(tmp) >= n_pages // 2, "half the first round")
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait()
            procs.append(_spawn(config, tmp / "w-new.log", "worker", "--stalled-after", "5"))
        _wait(lambda: _checks(tmp) >= n_pages, "the first round")
        first = time.monotonic() - began
        changed = site.change(0.10, rng)
        # the second round starts PERIOD seconds after the first began
        _wait(lambda: _checks(tmp) >= 2 * n_pages, "the second round", PERIOD + 900)
        _wait(lambda: len(hook.requests) >= changed, "the alerts of the second round")
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=120)
        cpu = _cpu_of_children() - cpu0
        keys = Counter(r.headers["x-policywatch-delivery"] for r in hook.requests)
    checks = _checks(tmp)
    return Run(
        label,
        checks,
        first,
        cpu,
        _duplicate_checks(tmp),
        _duplicate_versions(tmp),
        sum(n - 1 for n in keys.values() if n > 1),
        _lost_checks(tmp, n_pages),
    )


def _starts(tmp: Path) -> dict[str, list[float]]:
    found = pg.rows(
        tmp,
        "SELECT p.slug, c.started_at FROM checks c JOIN pages p ON p.id = c.page_id "
        "ORDER BY p.slug, c.started_at",
    )
    out: dict[str, list[float]] = defaultdict(list)
    for slug, started in found:
        when = datetime.fromisoformat(started) if isinstance(started, str) else started
        out[str(slug)].append(when.timestamp())  # type: ignore[union-attr]
    return out


def _duplicate_checks(tmp: Path) -> int:
    """Checks of a page that started less than one period after the one before (0.9 of it:
    the schedule's tick)."""
    return sum(
        1
        for starts in _starts(tmp).values()
        for a, b in itertools.pairwise(starts)
        if b - a < 0.9 * PERIOD
    )


def _lost_checks(tmp: Path, n_pages: int) -> int:
    starts = _starts(tmp)
    return sum(max(0, 2 - len(starts.get(f"p{i}", []))) for i in range(n_pages))


def _duplicate_versions(tmp: Path) -> int:
    found = pg.rows(
        tmp,
        "SELECT v.page_id, v.text_sha256 FROM versions v ORDER BY v.page_id, v.number",
    )
    return sum(1 for (p1, s1), (p2, s2) in itertools.pairwise(found) if p1 == p2 and s1 == s2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--period", type=int, default=PERIOD, help="seconds between checks")
    args = parser.parse_args(argv)
    globals()["PERIOD"] = args.period
    counts = [int(n) for n in args.workers.split(",")]
    if pg.server_url() is None and pg.binaries() is None:
        print("bench.workers: skipped: no PostgreSQL (install it, or set " + pg.ENV + ")")
        return 0
    import tempfile

    runs: list[Run] = []
    with ExitStack() as stack:
        if pg.server_url() is None:
            os.environ[pg.ENV] = stack.enter_context(pg.cluster())
        server = os.environ[pg.ENV]
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pw-workers-")))
        for n in counts:
            os.environ[pg.ENV] = server
            label = f"{n} worker{'s' if n > 1 else ''} (PostgreSQL)"
            print(f"running {label}...", flush=True)
            runs.append(run_once(label, base / f"w{n}", args.pages, n, kill=n > 1))
        print("running 1 daemon (SQLite)...", flush=True)
        runs.append(run_once("1 daemon (SQLite)", base / "sqlite", args.pages, None, kill=False))
        os.environ[pg.ENV] = server
    rows = [
        [
            r.label,
            r.checks,
            f"{args.pages / r.seconds:.1f}",
            f"{1000 * r.cpu / r.checks:.0f}",
        ]
        for r in runs
    ]
    print(table(["run", "checks", "checks/s (first round)", "CPU ms per check"], rows))
    print(f"machine: {os.cpu_count()} cores; pages: {args.pages}, 10% changing; min_gap 0s")
    print("reproduce: .venv/bin/python -m bench.workers")
    fields = ("duplicate_checks", "duplicate_versions", "duplicate_deliveries", "lost_checks")
    total = Run("all", 0, 0, 0, *(sum(getattr(r, f) for r in runs) for f in fields))
    print(
        f"duplicate checks {total.duplicate_checks}, duplicate versions "
        f"{total.duplicate_versions}, duplicate deliveries {total.duplicate_deliveries}, "
        f"lost checks {total.lost_checks}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
