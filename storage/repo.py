"""The repository: one object giving the stores of one database, each owning what it keeps.

    repo.pages     storage.pages.PageStore       the watched pages
    repo.history   storage.history.HistoryStore  versions, changes, snapshots (delta chains)
    repo.evidence  storage.evidence.EvidenceStore  the raw pages as evidence, for download and WARC
    repo.checks    storage.checks.CheckStore     checks, incidents, and a check's transaction
    repo.outbox    storage.outbox.OutboxStore    alerts and their deliveries
    repo.hosts     storage.hosts.HostStore       request slots per host, shared by workers
    repo.imports   storage.imports.ImportStore   versions imported from archives
    repo.sessions  storage.sessions.SessionStore logins to the web UI

Values in and out are the frozen dataclasses of storage.values; times are aware UTC datetimes.
"""

from __future__ import annotations

from sqlalchemy import Engine

from storage.checks import CheckStore
from storage.evidence import EvidenceStore
from storage.history import HistoryStore
from storage.hosts import HostStore
from storage.imports import ImportStore
from storage.outbox import OutboxStore
from storage.pages import PageStore
from storage.sessions import SessionStore


class Repo:
    """The stores of one database (they share its engine and hold no cache)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pages = PageStore(engine)
        self.history = HistoryStore(engine)
        self.evidence = EvidenceStore(engine)
        self.checks = CheckStore(engine)
        self.outbox = OutboxStore(engine)
        self.hosts = HostStore(engine)
        self.imports = ImportStore(engine)
        self.sessions = SessionStore(engine)
