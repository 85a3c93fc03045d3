"""A running daemon's config.toml: noticing that it changed, and what a reload may change.

ConfigFile polls the file (size and modification time, then a hash of its bytes, so a `touch` or
a rewrite of the same text is no change). `live_settings` is what the daemon moves to: the new
file's documents, topics, guards and intervals, with the parts bound when the process started
(storage, fetch, browser, web, alerts, channels, schedule.concurrency) kept until a restart;
`restart_only` names those that differ, for the log.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from monitor.config import Settings

# The parts of Settings a running daemon has already built things from: a reload keeps them.
BOUND_AT_START = ("storage", "fetch", "browser", "web", "alerts", "channels")


class ConfigFile:
    """The config file as last seen; `changed()` says whether its content differs since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stat = self._read_stat()
        self._digest = self._read_digest()

    def changed(self) -> bool:
        """Whether the file's bytes changed since the last call (or since it was opened). A
        file that became unreadable counts as changed once, so the reload says why."""
        stat = self._read_stat()
        if stat == self._stat:
            return False
        self._stat = stat
        digest = self._read_digest()
        if digest == self._digest:
            return False
        self._digest = digest
        return True

    def _read_stat(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def _read_digest(self) -> str | None:
        try:
            if not self.path.is_file():  # a FIFO would block the reader
                return None
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None


def restart_only(running: Settings, new: Settings) -> list[str]:
    """The keys of `new` that differ from the running settings but take effect only after a
    restart: `storage`, `web`, `channels`, ..., `schedule.concurrency`."""
    changed = [name for name in BOUND_AT_START if getattr(running, name) != getattr(new, name)]
    if running.schedule.concurrency != new.schedule.concurrency:
        changed.append("schedule.concurrency")
    return changed


def live_settings(running: Settings, new: Settings) -> Settings:
    """The settings a reload moves to: `new`, less what only a restart applies."""
    kept = {name: getattr(running, name) for name in BOUND_AT_START}
    schedule = new.schedule.model_copy(update={"concurrency": running.schedule.concurrency})
    return replace(new, schedule=schedule, **kept)
