"""The daemon: schedule resumed from the database, every document checked, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from monitor import config
from monitor.check.checker import CheckResult
from monitor.daemon.reload import ConfigFile, live_settings, restart_only
from monitor.daemon.runtime import open_checker, open_store
from monitor.daemon.scheduler import Daemon, first_runs
from tests.pageserver import PageServer, Response
from tests.sitegen import policy_page
from tests.support import document, write_config

HTML = {"Content-Type": "text/html; charset=utf-8"}
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_first_runs_resume_one_interval_after_the_last_check(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        document("a", "https://example.org/a")
        + document("b", "https://example.org/b", every="1h")
        + document("c", "https://example.org/c"),
        extra='every = "6h"\njitter = "10m"',
    )
    settings = config.load(path)
    last = {"a": NOW - timedelta(hours=2), "b": NOW - timedelta(hours=3)}
    due = first_runs(settings, last, NOW, random.Random(0))
    assert due["a"] == NOW + timedelta(hours=4)  # 6h after the last check
    assert NOW <= due["b"] <= NOW + timedelta(seconds=30)  # overdue: soon, spread out
    assert NOW <= due["c"] <= NOW + timedelta(seconds=30)  # never checked: soon


def test_daemon_checks_every_document_and_stops(tmp_path: Path) -> None:
    with PageServer() as site:
        for name in ("a", "b", "c"):
            site.set(f"/{name}", Response(body=policy_page(title=f"Policy {name}"), headers=HTML))
        site.set("/broken", Response(status=500))
        docs = "".join(document(n, site.url(f"/{n}")) for n in ("a", "b", "c", "broken"))
        settings = config.load(write_config(tmp_path, docs, extra='jitter = "0s"'))
        store = open_store(settings)
        results: list[CheckResult] = []

        async def main() -> None:
            stop = asyncio.Event()

            def on_result(result: CheckResult) -> None:
                results.append(result)
                if len(results) == len(settings.documents):
                    stop.set()

            async with open_checker(settings, store) as checker:
                daemon = Daemon(
                    settings, checker, store.repo.checks.last_check_times, on_result=on_result
                )
                await asyncio.wait_for(daemon.run(stop), timeout=30)

        asyncio.run(main())
        assert sorted((r.slug, r.outcome) for r in results) == [
            ("a", "new"),
            ("b", "new"),
            ("broken", "failed"),
            ("c", "new"),
        ]
        assert set(store.repo.checks.last_check_times()) == {"a", "b", "c", "broken"}


def test_sigterm_stops_the_daemon_and_its_web_ui_cleanly(tmp_path: Path) -> None:
    with PageServer() as site:
        site.set("/a", Response(body=policy_page(), headers=HTML))
        path = write_config(tmp_path, document("a", site.url("/a")), extra='jitter = "0s"')
        path.write_text(path.read_text() + "\n[web]\nport = 0\n")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(path), "run"],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as proc:
            assert proc.stderr is not None
            seen = []
            url = None
            for line in proc.stderr:  # blocks on the daemon's own log, no sleeping
                seen.append(line)
                if "serving the history at " in line:
                    url = line.rsplit(" ", 1)[-1].strip()
                if " a new v1 " in line and url:
                    break
            assert url is not None, "".join(seen)
            page = httpx.get(url + "/documents/a", timeout=10)
            assert page.status_code == 200
            assert "Version 1" in page.text
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=15)
            rest = proc.stderr.read()
        assert code == 0, "".join(seen) + rest
        assert "stopped" in rest


def test_config_file_changes_by_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("one", encoding="utf-8")
    watched = ConfigFile(path)
    assert not watched.changed()
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))  # touched: same bytes
    assert not watched.changed()
    path.write_text("two", encoding="utf-8")  # same size, other bytes
    os.utime(path, ns=(stamp + 2 * 10**9, stamp + 2 * 10**9))
    assert watched.changed()
    assert not watched.changed()  # told once
    path.unlink()
    assert watched.changed()  # gone: the reload says why, once
    assert not watched.changed()


def test_a_reload_keeps_what_takes_a_restart(tmp_path: Path) -> None:
    running = config.load(write_config(tmp_path, document("a", "https://example.org/a")))
    (tmp_path / "edited").mkdir()
    edited = write_config(
        tmp_path / "edited",
        document("b", "https://example.org/b", every="2h"),
        extra='every = "3h"\n[web]\nport = 9999\n[guards]\nmin_chars = 10',
    )
    edited.write_text(edited.read_text().replace("concurrency = 2", "concurrency = 7"))
    new = config.load(edited)
    live = live_settings(running, new)
    assert [d.slug for d in live.documents] == ["b"]
    assert (live.schedule.every, live.guards.min_chars) == (3 * 3600, 10)  # applied
    assert (live.storage, live.web, live.schedule.concurrency) == (
        running.storage,
        running.web,
        running.schedule.concurrency,
    )
    assert restart_only(running, new) == ["storage", "web", "schedule.concurrency"]
    assert restart_only(running, live) == []


def test_next_check_is_one_interval_after_the_last(tmp_path: Path) -> None:
    settings = config.load(
        write_config(
            tmp_path,
            document("a", "https://example.org/a")
            + document("b", "https://example.org/b", every="1h"),
            extra='every = "6h"',
        )
    )
    a, b = settings.documents
    assert settings.next_check(a, NOW) == NOW + timedelta(hours=6)
    assert settings.next_check(b, NOW) == NOW + timedelta(hours=1)
    assert settings.next_check(a, None) is None  # never checked: due now
