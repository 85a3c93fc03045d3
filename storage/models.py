"""The tables: pages, their snapshots, versions and changes, checks, incidents, alerts, deliveries.

Times are timezone-aware UTC in Python; on SQLite they are stored as naive UTC (ISO text).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; a naive datetime is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; storage needs aware UTC")
        value = value.astimezone(UTC)
        # SQLite's DATETIME text drops the offset, so store UTC without one.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Page(Base):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    fetcher: Mapped[str] = mapped_column(String(20))
    rules_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[str | None] = mapped_column(Text)  # the document's settings, as synced


class Snapshot(Base):
    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("page_id", "body_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    fetched_at: Mapped[datetime]
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    base_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    depth: Mapped[int] = mapped_column(Integer)


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("page_id", "number"),
        UniqueConstraint("page_id", "source_commit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    number: Mapped[int] = mapped_column(Integer)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    created_at: Mapped[datetime]
    text_sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[bytes] = mapped_column(LargeBinary)
    base_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    depth: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    words: Mapped[int] = mapped_column(Integer)
    rules_hash: Mapped[str] = mapped_column(String(64))
    technical: Mapped[bool] = mapped_column(Boolean, default=False)
    # The number of the older version whose text this one returned to (a rollback), if any.
    reverts_to: Mapped[int | None] = mapped_column(Integer)
    # Set on a version imported from an archive (storage.imports): where it came from (an Open
    # Terms Archive repository and file, the corpus and folder) and the archive's commit id.
    source: Mapped[str | None] = mapped_column(Text)
    source_commit: Mapped[str | None] = mapped_column(String(64))


class Change(Base):
    __tablename__ = "changes"
    __table_args__ = (Index(None, "page_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    from_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), unique=True)
    created_at: Mapped[datetime]
    significance: Mapped[str] = mapped_column(String(20))
    topics: Mapped[str] = mapped_column(Text)
    flags: Mapped[str] = mapped_column(Text)
    n_changes: Mapped[int] = mapped_column(Integer)
    # The assessed changes as JSON, zstd-compressed (storage.blobs): a rewrite of a long policy
    # is thousands of blocks of before / after / spans / evidence. Last, so lists that skip it
    # never read through it.
    changeset: Mapped[bytes] = mapped_column(LargeBinary)


class ChangeTopic(Base):
    __tablename__ = "change_topics"

    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class Check(Base):
    __tablename__ = "checks"
    __table_args__ = (Index(None, "page_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))
    error_kind: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    fetcher: Mapped[str] = mapped_column(String(20))
    duration_ms: Mapped[float] = mapped_column(Float)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # monitor.extract.fingerprint of the page, set when its text may be trusted from it next time
    fingerprint: Mapped[str | None] = mapped_column(String(64))


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index(None, "page_id", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    kind: Mapped[str] = mapped_column(String(40))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id"))


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), index=True)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    created_at: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Installation(Base):
    """One row: this database's random id, part of every idempotency key and Message-ID, so a
    new database or a second installation never repeats a key for a different alert."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[str] = mapped_column(String(32))


class HostSlot(Base):
    """The next time a request to `host` may start, whichever worker makes it."""

    __tablename__ = "host_slots"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_at: Mapped[datetime]


class WebSession(Base):
    """A login to the web UI: the digest of its random cookie (never the cookie itself), until
    it expires or is revoked (logout)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]


class SearchLine(Base):
    """A distinct canonical line (block) of any version, for phrase search (storage.search).

    `text` is kept only where SQLite's FTS5 is missing (the LIKE fallback needs it); with FTS5
    the line lives in the full-text index and in the compressed version texts, not a third time.
    """

    __tablename__ = "search_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(8), unique=True)
    text: Mapped[str | None] = mapped_column(Text)


class BlockSpan(Base):
    """A run of versions of a page in which a line is present: since_version up to, not
    including, until_version (NULL while the latest version still has it)."""

    __tablename__ = "block_spans"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"))
    line_id: Mapped[int] = mapped_column(ForeignKey("search_lines.id"), index=True)
    since_version: Mapped[int] = mapped_column(Integer)
    until_version: Mapped[int | None] = mapped_column(Integer)


# Spans are looked up by page only while open (when a version is added): a partial index.
Index(
    "ix_block_spans_open",
    BlockSpan.page_id,
    sqlite_where=BlockSpan.until_version.is_(None),
    postgresql_where=BlockSpan.until_version.is_(None),
)
