"""PostgreSQL with several processes: what SQLite hides by serialising writers. Real processes on
a real PostgreSQL (the suite's PostgreSQL pass; skipped on SQLite)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.db import HEAD, ensure_schema, make_engine
from storage.repo import Repo
from storage.values import AlertIn
from tests.pageserver import PageServer, fresh_page
from tests.pg import database_url, rows
from tests.sitegen import Section, sample_policy
from tests.support import document, write_config

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _spawn(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )


def _finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outs.append(out)
    return outs


def test_four_processes_migrating_a_fresh_database_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, document("a", "http://127.0.0.1:9/a"))
    racers = [
        _spawn("-m", "monitor.cli", "--config", str(config), "db", "upgrade") for _ in range(4)
    ]
    for out in _finish(racers):
        assert f"revision {HEAD}" in out
    assert rows(tmp_path, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert len(rows(tmp_path, "SELECT installation_id FROM installation")) == 1


CLAIMER = """
import sys
from datetime import UTC, datetime, timedelta
from storage.db import make_engine
from storage.repo import Repo

repo = Repo(make_engine(sys.argv[1]))
now = datetime.now(UTC)
while True:
    claimed = repo.outbox.claim_deliveries(now, timedelta(minutes=10), limit=25)
    if not claimed:
        break
    for delivery in claimed:
        print(delivery.id, flush=True)  # "sent"
        repo.outbox.delivery_sent(delivery.id, now)
"""


def test_four_outboxes_over_a_thousand_deliveries_send_each_exactly_once(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        repo = Repo(engine)
        now = datetime.now(UTC)
        for _ in range(500):
            repo.outbox.add_alert(AlertIn("test", {"kind": "test"}, ["mail", "hook"]), now)
    finally:
        engine.dispose()
    outs = _finish([_spawn("-c", CLAIMER, url) for _ in range(4)])
    sent = Counter(int(line) for out in outs for line in out.split())
    assert sum(sent.values()) == 1000 and len(sent) == 1000  # exactly once each
    assert sum(1 for out in outs if out.strip()) >= 2  # the work was shared
    assert rows(tmp_path, "SELECT status, count(*) FROM deliveries GROUP BY status") == [
        ("sent", 1000)
    ]


def test_concurrent_first_checks_of_pages_sharing_lines(tmp_path: Path) -> None:
    """Twenty pages with the same policy text (every line shared), checked for the first time
    by two processes at once, each four checks at a time: one version per page, no error."""
    with PageServer() as site:
        docs = ""
        for i in range(20):
            sections = [*sample_policy(), Section("Contact", [f"Write to office {i}."])]
            site.set(f"/p{i}", fresh_page(sections))
            docs += document(f"p{i}", site.url(f"/p{i}"))
        config = write_config(tmp_path, docs)
        config.write_text(config.read_text().replace("concurrency = 2", "concurrency = 4"))
        _finish([_spawn("-m", "monitor.cli", "--config", str(config), "db", "upgrade")])
        racers = [_spawn("-m", "monitor.cli", "--config", str(config), "check") for _ in range(2)]
        _finish(racers)
    versions = rows(
        tmp_path,
        "SELECT p.slug, count(v.id) FROM pages p LEFT JOIN versions v ON v.page_id = p.id "
        "GROUP BY p.slug",
    )
    assert sorted(versions) == sorted((f"p{i}", 1) for i in range(20))
    outcomes = Counter(outcome for (outcome,) in rows(tmp_path, "SELECT outcome FROM checks"))
    assert outcomes["new"] == 20 and outcomes["failed"] == 0, outcomes
    [(lines,)] = rows(tmp_path, "SELECT count(*) FROM search_lines")
    [(distinct,)] = rows(tmp_path, "SELECT count(DISTINCT digest) FROM search_lines")
    assert lines == distinct  # a shared line is stored once
