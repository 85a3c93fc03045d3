"""Politeness across workers: requests to one host keep `fetch.min_gap` apart, whichever
worker makes them. Each request reserves the host's next slot in the database (one atomic
upsert) and waits for it; the in-process gap of the HTTP fetcher still applies within a worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from storage.repo import Repo

HostGate = Callable[[str], Awaitable[None]]


def host_gate(repo: Repo, gap: float) -> HostGate | None:
    """A gate that waits for `host`'s next free slot; None when there is no gap to keep."""
    if gap <= 0:
        return None

    async def wait_turn(host: str) -> None:
        slot = await asyncio.to_thread(repo.hosts.reserve, host, gap, datetime.now(UTC))
        delay = (slot - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

    return wait_turn
