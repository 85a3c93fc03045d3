"""What every store shares: its read and write sessions, and the checks of what it is given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.db import writer


class Store:
    """A group of reads and writes over one engine; holds no cache, only sessions.

    Writes use the writer engine: on SQLite their transactions take the write lock at BEGIN
    (storage.db.writer), so what they read is what they write against.
    """

    def __init__(self, engine: Engine) -> None:
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=writer(engine), expire_on_commit=False)


def aware(when: datetime, what: str) -> None:
    if when.tzinfo is None:
        raise ValueError(f"{what} {when.isoformat()} is naive; storage needs aware UTC times")


def require(value: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r} (expected one of {sorted(allowed)})")


def insert_or_skip(bind: Connection | Session, table: Any, unique: list[str]) -> Any:
    """An INSERT into `table` that skips rows whose `unique` columns are already there
    (ON CONFLICT DO NOTHING): two processes writing the same new row at once both succeed,
    where a read then an insert would make one fail on PostgreSQL."""
    # Imported here: the PostgreSQL dialect package costs tens of ms that SQLite never needs.
    from sqlalchemy.dialects import postgresql, sqlite

    name = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    dialect = postgresql if name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=unique)
