"""The crash test: the daemon is killed with SIGKILL at random moments (during checks, during
deliveries, at start-up) while its pages keep changing, and restarted each time; at the end
nothing may be lost, duplicated or half-written.

    .venv/bin/python -m bench.crash [--kills 60] [--seed 1]

Everything runs on 127.0.0.1: a site whose three pages change every few requests (one of them
fails in bursts, so incidents open and close), a real SMTP server and a webhook receiver. The
daemon is a subprocess with a 1 s interval, serving its web UI too. After the last kill the site
stops changing, the daemon runs once more until its outbox is empty and is stopped with SIGTERM;
deliveries a kill left claimed are sent once their lease has run out. Then the database and the
receivers are checked: `PRAGMA integrity_check` is ok, version numbers have no gaps, no version
is duplicated or half-written, every change has its alert and every alert reached both receivers
at least once (a repeat carries the same idempotency key). tests/scenarios/test_crash.py runs a
20-kill round.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import config
from monitor.alerting.outbox import LEASE, Outbox, build_channels
from storage.db import make_engine
from storage.repo import Repo
from tests.pageserver import PageServer, Request, Response
from tests.sitegen import Section, policy_page, sample_policy
from tests.smtpserver import Received, SmtpServer
from tests.webhookreceiver import Recorded, WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
SECRET_ENV = "POLICYWATCH_CRASH_HOOK_SECRET"
PAGES = {"alpha": 2, "beta": 3, "gamma": 4}  # a new revision every n requests
MARKER = re.compile(r"This is revision (\d+) of the (\w+) policy")
PHASES = ("check", "check", "record", "smtp", "webhook", "start-up")


# -- the site, the receivers and the kill switch ----------------------------------------------


class KillSwitch:
    """Kills the daemon when the armed event happens (a page request, a mail, a webhook)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._phase: str | None = None
        self._delay = 0.0
        self._timers: list[threading.Timer] = []
        self.fired = threading.Event()
        self.kills: Counter[str] = Counter()

    def arm(self, proc: subprocess.Popen[bytes], phase: str, delay: float) -> None:
        with self._lock:
            self._proc, self._phase, self._delay = proc, phase, delay
            self.fired.clear()
        if phase == "start-up":
            self._later(delay, phase)

    def disarm(self) -> None:
        with self._lock:
            self._proc, self._phase = None, None
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()

    def event(self, what: str) -> None:
        """Called by the servers: `what` happened in the daemon (it is waiting for our answer)."""
        with self._lock:
            armed = self._phase in (what, "record") if what == "check" else self._phase == what
            phase, delay = self._phase, self._delay
        if not armed or phase is None:
            return
        if delay:
            self._later(delay, phase)
        else:
            self.kill(phase)

    def kill(self, phase: str) -> None:
        with self._lock:
            proc, self._proc, self._phase = self._proc, None, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            self.kills[phase] += 1
            self.fired.set()

    def _later(self, delay: float, phase: str) -> None:
        timer = threading.Timer(delay, self.kill, args=[phase])
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()


class ChangingSite:
    """Three pages that change every few requests; gamma fails in bursts of three (503)."""

    def __init__(self, server: PageServer, switch: KillSwitch) -> None:
        self.server = server
        self.switch = switch
        self.frozen = False
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.revisions: dict[str, int] = dict.fromkeys(PAGES, 1)
        for slug in PAGES:
            server.set(f"/{slug}", self._route(slug))

    def _route(self, slug: str) -> Callable[[Request], Response]:
        def route(_request: Request) -> Response:
            with self._lock:
                count = self.requests[slug]
                self.requests[slug] += 1
                if not self.frozen:
                    self.revisions[slug] = 1 + count // PAGES[slug]
                revision = self.revisions[slug]
                broken = slug == "gamma" and not self.frozen and (count // 3) % 3 == 2
            self.switch.event("check")
            if broken:
                return Response(503, "maintenance", {"Content-Type": "text/plain"})
            body = policy_page(_sections(slug, revision), rng=random.Random(count))
            return Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

        return route


def _sections(slug: str, revision: int) -> list[Section]:
    sections = sample_policy()
    sections.append(
        Section(
            "Revisions",
            [f"This is revision {revision} of the {slug} policy; it replaces the one before."],
        )
    )
    return sections


class Mailbox(SmtpServer):
    """An SMTP server that tells the kill switch when a message arrives (before it answers)."""

    def __init__(self, switch: KillSwitch) -> None:
        super().__init__()
        self.switch = switch

    def record(self, received: Received) -> None:
        super().record(received)
        self.switch.event("smtp")


class Hook(WebhookReceiver):
    """A webhook receiver that tells the kill switch when a request arrives (before it answers)."""

    def __init__(self, switch: KillSwitch) -> None:
        super().__init__([200])
        self.switch = switch
        self._server.handle_error = lambda *args: None  # type: ignore[method-assign]

    def _answer(self, request: Recorded) -> int:
        status = super()._answer(request)
        self.switch.event("webhook")
        return status


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Figures:
    """What a crash run did and what it found; `problems` must be empty."""

    kills: Counter[str] = field(default_factory=Counter)
    starts: int = 0
    checks: Counter[str] = field(default_factory=Counter)
    versions: int = 0
    changes: int = 0
    incidents: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    mails: int = 0
    webhooks: int = 0
    repeats: int = 0  # receipts of a delivery already received (same idempotency key)
    after_lease: int = 0  # deliveries a kill left claimed, sent when their lease ran out
    sigterm_seconds: float = 0.0
    sigterm_code: int | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            ("kills (SIGKILL)", f"{sum(self.kills.values())} ({_counts(self.kills)})"),
            ("daemon starts", self.starts),
            ("checks", f"{sum(self.checks.values())} ({_counts(self.checks)})"),
            ("versions", self.versions),
            ("changes", self.changes),
            ("incidents", self.incidents),
            ("alerts", f"{sum(self.alerts.values())} ({_counts(self.alerts)})"),
            ("deliveries", self.deliveries),
            ("received: mails / webhooks", f"{self.mails} / {self.webhooks}"),
            ("repeats (same idempotency key)", self.repeats),
            ("sent after a lease ran out", self.after_lease),
            ("SIGTERM: exit code, seconds", f"{self.sigterm_code}, {self.sigterm_seconds:.1f}"),
            ("lost, duplicated or half-written", len(self.problems)),
        ]
        width = max(len(r[0]) for r in rows)
        lines = [f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
        lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
        return "\n".join(lines)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))


def write_config(workdir: Path, site: PageServer, smtp: SmtpServer, hook: WebhookReceiver) -> Path:
    documents = "".join(
        f'[[documents]]\nslug = "{slug}"\nname = "{slug.title()} Policy"\n'
        f'url = "{site.url("/" + slug)}"\n'
        for slug in PAGES
    )
    path = workdir / "config.toml"
    path.write_text(
        f"""[storage]
url = "sqlite:///{workdir / "crash.db"}"
[schedule]
every = "1s"
jitter = "0s"
concurrency = 3
[fetch]
min_gap = "0s"
retries = 0
timeout = "5s"
[web]
port = 0
[alerts]
incident_after = 3
backoff = "1s"
max_backoff = "5s"
max_attempts = 100
{documents}
[[channels]]
name = "mail"
kind = "email"
smtp_host = "{smtp.host}"
smtp_port = {smtp.port}
security = "none"
from = "policywatch <alerts@example.org>"
to = ["desk@example.org"]
min_significance = "cosmetic"
timeout = "5s"
[[channels]]
name = "hook"
kind = "webhook"
url = "{hook.url}"
secret_env = "{SECRET_ENV}"
min_significance = "cosmetic"
timeout = "5s"
""",
        encoding="utf-8",
    )
    return path


class Daemon:
    """Starts `policywatch run` as a subprocess, its log appended to one file."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.env = {**os.environ, SECRET_ENV: "crash-test-secret", "PYTHONUNBUFFERED": "1"}

    def start(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            log.write(b"--- start\n")
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "monitor.cli.main",
                    "--config",
                    str(self.config_path),
                    "run",
                ],
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env=self.env,
            )


def run(
    workdir: Path, kills: int = 60, seed: int = 1, say: Callable[[str], None] = print
) -> Figures:
    """Kill the daemon `kills` times, let it finish, and check what it left behind."""
    figures = Figures()
    rng = random.Random(seed)
    switch = KillSwitch(rng)
    started = time.monotonic()
    with PageServer() as server, Mailbox(switch) as smtp, Hook(switch) as hook:
        site = ChangingSite(server, switch)
        cfg = write_config(workdir, server, smtp, hook)
        daemon = Daemon(cfg, workdir / "daemon.log")
        phases = [PHASES[i % len(PHASES)] for i in range(kills)]
        rng.shuffle(phases)
        for index, phase in enumerate(phases):
            proc = daemon.start()
            figures.starts += 1
            delay = {
                "check": rng.uniform(0.0, 0.05),
                "record": rng.uniform(0.05, 0.4),
                "start-up": rng.uniform(0.1, 1.5),
            }.get(phase, 0.0)
            switch.arm(proc, phase, delay)
            if not switch.fired.wait(30):
                switch.kill(f"{phase} (not reached: timer)")
            switch.disarm()
            proc.wait()
            say(f"kill {index + 1}/{kills}: {phase}")
        site.frozen = True
        _finish(daemon, workdir, figures, say)
        figures.kills = switch.kills
        _final_drain(cfg, daemon.env, figures)
        if figures.after_lease > sum(figures.kills.values()):
            figures.problems.append(
                f"{figures.after_lease} deliveries waited for a lease after "
                f"{sum(figures.kills.values())} kills: a kill stranded more than the one in flight"
            )
        _verify(cfg, workdir / "crash.db", smtp, hook, figures)
    figures.seconds = time.monotonic() - started
    return figures


def _finish(daemon: Daemon, workdir: Path, figures: Figures, say: Callable[[str], None]) -> None:
    """One last run until every page was seen unchanged and nothing is due, then SIGTERM."""
    proc = daemon.start()
    figures.starts += 1
    frozen_at = datetime.now(UTC)
    engine = make_engine(f"sqlite:///{workdir / 'crash.db'}")
    repo = Repo(engine)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if _settled(repo, frozen_at):
                break
        else:
            figures.problems.append("the last run did not settle within 60 s")
    finally:
        engine.dispose()
    t0 = time.monotonic()
    proc.terminate()
    try:
        figures.sigterm_code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        figures.sigterm_code = proc.wait()
    figures.sigterm_seconds = time.monotonic() - t0
    say(f"stopped with SIGTERM in {figures.sigterm_seconds:.1f} s")


def _settled(repo: Repo, frozen_at: datetime) -> bool:
    for slug in PAGES:
        recent = [c for c in repo.checks.checks(slug, 3) if c.started_at > frozen_at]
        if len(recent) < 2 or recent[0].outcome != "unchanged":
            return False
    return not repo.outbox.due_deliveries(datetime.now(UTC))


def _final_drain(cfg: Path, environ: dict[str, str], figures: Figures) -> None:
    """Send what a kill left claimed: due once its lease has run out (here: now + the lease)."""
    settings = config.load(cfg)
    engine = make_engine(settings.database_url)
    try:
        outbox = Outbox(Repo(engine), settings, build_channels(settings, environ))
        later = datetime.now(UTC) + LEASE + timedelta(minutes=1)
        for _ in range(10):
            attempts = outbox.deliver_due(later)
            figures.after_lease += sum(a.status == "sent" for a in attempts)
            if not attempts:
                break
            later += timedelta(hours=1)
    finally:
        engine.dispose()


def _verify(cfg: Path, db: Path, smtp: SmtpServer, hook: WebhookReceiver, f: Figures) -> None:
    problems = f.problems
    with sqlite3.connect(db) as raw:
        integrity = raw.execute("PRAGMA integrity_check").fetchall()
        if integrity != [("ok",)]:
            problems.append(f"integrity_check: {integrity}")
        if broken := raw.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"foreign_key_check: {broken[:5]}")
        f.checks = Counter(dict(raw.execute("SELECT outcome, count(*) FROM checks GROUP BY 1")))
        f.incidents = raw.execute("SELECT count(*) FROM incidents").fetchone()[0]
        _verify_alerts(raw, problems, f)
        keys = dict(raw.execute("SELECT idempotency_key, channel FROM deliveries").fetchall())
        statuses = Counter(s for (s,) in raw.execute("SELECT status FROM deliveries"))
    raw.close()
    if set(statuses) - {"sent"}:
        problems.append(f"deliveries not sent: {dict(statuses)}")
    f.deliveries = len(keys)
    engine = make_engine(config.load(cfg).database_url)
    try:
        _verify_versions(Repo(engine), problems, f)
    finally:
        engine.dispose()
    # strip(): the header is folded right after its colon, and Python's parser keeps the space.
    mails = [str(m.message["X-Policywatch-Delivery"]).strip() for m in smtp.messages]
    hooks = [r.headers.get("x-policywatch-delivery", "") for r in hook.requests]
    f.mails, f.webhooks = len(mails), len(hooks)
    f.repeats = (len(mails) - len(set(mails))) + (len(hooks) - len(set(hooks)))
    for key, channel in keys.items():
        received = mails if channel == "mail" else hooks
        if key not in received:
            problems.append(f"delivery {key[:12]} never reached the {channel} receiver")
    if stray := (set(mails) | set(hooks)) - set(keys):
        problems.append(f"{len(stray)} messages received for deliveries that are not stored")


def _verify_versions(repo: Repo, problems: list[str], f: Figures) -> None:
    for slug in PAGES:
        metas = sorted(repo.history.recent_versions(slug, 1_000_000), key=lambda v: v.number)
        numbers = [v.number for v in metas]
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{slug}: version numbers {numbers} have gaps or repeats")
        revisions = []
        for meta in metas:
            version = repo.history.version(slug, meta.number)
            text = version.text if version else ""
            if hashlib.sha256(text.encode()).hexdigest() != meta.text_sha256:
                problems.append(f"{slug} v{meta.number}: text does not match its SHA-256")
            found = MARKER.findall(text)
            if len(found) != 1 or found[0][1] != slug:
                problems.append(f"{slug} v{meta.number}: not one whole page ({found})")
                continue
            revisions.append(int(found[0][0]))
        if revisions != sorted(set(revisions)):
            problems.append(f"{slug}: revisions {revisions} repeat or go backwards")
        changes = sorted((c.from_version, c.to_version) for c in repo.history.changes(slug))
        if changes != [(n - 1, n) for n in numbers[1:]]:
            problems.append(f"{slug}: changes {changes} do not link versions {numbers}")
        f.versions += len(numbers)
        f.changes += len(changes)


def _verify_alerts(raw: sqlite3.Connection, problems: list[str], f: Figures) -> None:
    f.alerts = Counter(dict(raw.execute("SELECT kind, count(*) FROM alerts GROUP BY 1")))
    orphans = raw.execute(
        "SELECT count(*) FROM changes c WHERE NOT EXISTS "
        "(SELECT 1 FROM alerts a WHERE a.change_id = c.id AND a.kind = 'change')"
    ).fetchone()[0]
    if orphans:
        problems.append(f"{orphans} changes have no alert")
    for kind, column in (("incident_opened", "opened_at"), ("incident_closed", "closed_at")):
        missing = raw.execute(
            f"SELECT count(*) FROM incidents i WHERE i.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM alerts a WHERE a.incident_id = i.id AND a.kind = '{kind}')"
        ).fetchone()[0]
        if missing:
            problems.append(f"{missing} incidents have no {kind} alert")
    short = raw.execute(
        "SELECT count(*) FROM alerts a WHERE (SELECT count(DISTINCT channel) FROM deliveries d "
        "WHERE d.alert_id = a.id) != 2"
    ).fetchone()[0]
    if short:
        problems.append(f"{short} alerts lack a delivery to each of the two channels")
    for (payload,) in raw.execute("SELECT payload FROM alerts WHERE kind = 'change'"):
        ids = json.loads(payload).get("ids") or {}
        if ids.get("change") is None or ids.get("version") is None:
            problems.append(f"a change alert without its ids: {ids}")
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database and the log")
    args = parser.parse_args()
    # aiosmtpd logs a warning about its own API, which the test SMTP server uses, per message.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="policywatch-crash-") as tmp:
        figures = run(Path(tmp), args.kills, args.seed, say=lambda s: print(s, flush=True))
        if args.keep:
            kept = Path.cwd() / "crash-run"
            kept.mkdir(exist_ok=True)
            for name in ("crash.db", "daemon.log", "config.toml"):
                (kept / name).write_bytes((Path(tmp) / name).read_bytes())
    print()
    print(figures.table())
    for problem in figures.problems:
        print(f"PROBLEM: {problem}")
    print(
        f"\n{figures.seconds:.0f} s; reproduce with: .venv/bin/python -m bench.crash "
        f"--kills {args.kills} --seed {args.seed}"
    )
    sys.exit(1 if figures.problems else 0)


if __name__ == "__main__":
    main()
