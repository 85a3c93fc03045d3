"""Test helpers: a manual clock, a config writer and a Checker wired to a temporary database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import config
from monitor.check.checker import CheckResult
from monitor.config import Settings
from monitor.daemon.runtime import Store, open_checker, open_store
from tests.pg import database_url


class ManualClock:
    """Time that moves only when told to (or when something sleeps on it): tests never wait."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.mono += seconds


def write_config(tmp_path: Path, documents: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
url = "{database_url(tmp_path)}"
[fetch]
min_gap = "0s"
retries = 0
timeout = "5s"
[schedule]
concurrency = 2
{extra}
{documents}
""",
        encoding="utf-8",
    )
    return path


def document(slug: str, url: str, **keys: str | list[str]) -> str:
    lines = [f'[[documents]]\nslug = "{slug}"\nname = "{slug.title()}"\nurl = "{url}"']
    for key, value in keys.items():
        rendered = (
            "[" + ", ".join(f'"{v}"' for v in value) + "]"
            if isinstance(value, list)
            else f'"{value}"'
        )
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


class Harness:
    """Runs checks of one config against its database with a manual clock."""

    def __init__(self, settings: Settings, store: Store, clock: ManualClock) -> None:
        self.settings, self.store, self.clock = settings, store, clock

    @property
    def repo(self):  # type: ignore[no-untyped-def]
        return self.store.repo

    def check(self, slug: str) -> CheckResult:
        doc = self.settings.document(slug)
        assert doc is not None

        async def run() -> CheckResult:
            async with open_checker(self.settings, self.store, self.clock) as checker:
                return await checker.check(doc)

        result = asyncio.run(run())
        self.clock.advance(3600)
        return result


@contextmanager
def harness(path: Path) -> Iterator[Harness]:
    settings = config.load(path)
    store = open_store(settings)
    try:
        yield Harness(settings, store, ManualClock())
    finally:
        store.engine.dispose()


ROOT = Path(__file__).resolve().parents[1]


def run_cli(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`policywatch --config CONFIG ARGS...` in a process of its own, with `env` added."""
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
