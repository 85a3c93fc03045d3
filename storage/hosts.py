"""Request slots per host, shared by every process on one database (politeness across workers)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from storage.base import Store, aware, insert_or_skip
from storage.models import HostSlot


class HostStore(Store):
    def reserve(self, host: str, gap: float, now: datetime) -> datetime:
        """Reserve the next request slot of `host` and return when it starts: `now`, or when
        the last reservation's gap ends; the next slot moves `gap` seconds past it. The host's
        row is locked while it moves (FOR UPDATE; SQLite's write lock), so two workers never
        get the same slot."""
        aware(now, "now")
        with self._write.begin() as s:
            s.execute(insert_or_skip(s, HostSlot, ["host"]), [{"host": host, "next_at": now}])
            row = s.scalars(select(HostSlot).where(HostSlot.host == host).with_for_update()).one()
            start = max(now, row.next_at)
            row.next_at = start + timedelta(seconds=gap)
            return start
