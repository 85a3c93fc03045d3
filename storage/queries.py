"""Read-only queries of the web pages beyond storage.repo: the dashboard in a fixed number of
queries, a filtered and paginated timeline, check errors, changes lists, deliveries.

No query here reads a version text or decompresses anything; change sets are read only where a
page shows them (`changes`), never for lists of versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from storage.history import change_out
from storage.models import Alert, Change, ChangeTopic, Check, Delivery, Incident, Page, Version
from storage.repo import Repo
from storage.values import ChangeOut, CheckOut, IncidentOut, PageOut
from storage.vocab import NOT_GOOD, SIGNIFICANCE_LEVELS

LEVELS = SIGNIFICANCE_LEVELS
_Q = TypeVar("_Q", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class ChangeBrief:
    """A change without its change set: enough for a list."""

    id: int
    from_version: int
    to_version: int
    created_at: datetime
    significance: str
    topics: list[str]
    flags: list[str]
    n_changes: int


@dataclass(frozen=True)
class DocumentSummary:
    page: PageOut
    incident: IncidentOut | None
    latest_change: ChangeBrief | None


@dataclass(frozen=True)
class TimelineEntry:
    """One version, and the change that led to it (None for the first or a technical one)."""

    number: int
    created_at: datetime
    technical: bool
    words: int
    size: int
    text_sha256: str
    change: ChangeBrief | None


@dataclass(frozen=True)
class Paged:
    """One page of a list: its rows, and how many rows the whole list has."""

    rows: list[Any]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + self.limit < self.total


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    alert_id: int
    alert_kind: str
    slug: str | None
    change_id: int | None
    channel: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


def at_least(significance: str | None) -> tuple[str, ...]:
    """The significance levels at or above `significance` (all of them for None)."""
    if significance is None:
        return LEVELS
    if significance not in LEVELS:
        raise ValueError(f"unknown significance {significance!r} (expected one of {LEVELS})")
    return LEVELS[LEVELS.index(significance) :]


class Queries:
    """Reads for the web layer; holds only the engine."""

    def __init__(self, engine: Engine) -> None:
        self.repo = Repo(engine)
        self._read = sessionmaker(bind=engine)

    # -- dashboard

    def dashboard(self) -> list[DocumentSummary]:
        """Every page with its last check, open incident and latest change: four queries."""
        pages = self.repo.pages.pages()
        with self._read() as s:
            incidents = _open_incidents(s)
            latest = _latest_changes(s)
        return [
            DocumentSummary(page, incidents.get(page.slug), latest.get(page.slug))
            for page in sorted(pages, key=lambda p: (not p.active, p.name.lower()))
        ]

    # -- timeline

    def timeline(
        self,
        slug: str,
        *,
        topic: str | None = None,
        significance: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Paged:
        """Versions newest first, each with the change that led to it. With a topic or a
        significance, only versions whose change matches (so no first or technical versions)."""
        columns: list[Any] = [
            Version.number,
            Version.created_at,
            Version.technical,
            Version.words,
            Version.size,
            Version.text_sha256,
            *_brief_columns(),
        ]
        query = (
            select(*columns)
            .join(Page, Page.id == Version.page_id)
            .outerjoin(Change, Change.to_version_id == Version.id)
            .where(Page.slug == slug)
        )
        query = _filtered(query, topic, significance)
        with self._read() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = s.execute(
                query.order_by(Version.number.desc()).offset(offset).limit(limit)
            ).all()
        entries = [
            TimelineEntry(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                _brief(row[6:], row[0]) if row[6] is not None else None,
            )
            for row in rows
        ]
        return Paged(entries, total, offset, limit)

    def topics(self, slug: str | None = None) -> list[str]:
        """Topics that some change carries (of one page, or of all)."""
        query = select(ChangeTopic.topic).distinct().order_by(ChangeTopic.topic)
        if slug is not None:
            query = (
                query.join(Change, Change.id == ChangeTopic.change_id)
                .join(Page, Page.id == Change.page_id)
                .where(Page.slug == slug)
            )
        with self._read() as s:
            return list(s.scalars(query))

    # -- changes

    def changes(
        self,
        *,
        slug: str | None = None,
        topic: str | None = None,
        significance: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[ChangeOut]:
        """Changes with their change sets, newest first (feeds, the API)."""
        older, newer = aliased(Version), aliased(Version)
        columns: list[Any] = [Change, Page.slug, older.number, newer.number]
        query = (
            select(*columns)
            .join(Page, Page.id == Change.page_id)
            .join(older, older.id == Change.from_version_id)
            .join(newer, newer.id == Change.to_version_id)
        )
        if slug is not None:
            query = query.where(Page.slug == slug)
        query = _filtered(query, topic, significance)
        query = query.order_by(Change.created_at.desc(), Change.id.desc())
        with self._read() as s:
            rows = s.execute(query.offset(offset).limit(limit)).all()
        return [change_out(*row) for row in rows]

    def neighbours(self, change_id: int) -> tuple[int | None, int | None]:
        """The previous and next change of the same page, by version."""
        with self._read() as s:
            row = s.execute(
                select(Change.page_id, Version.number)
                .join(Version, Version.id == Change.to_version_id)
                .where(Change.id == change_id)
            ).first()
            if row is None:
                return None, None
            base = (
                select(Change.id)
                .join(Version, Version.id == Change.to_version_id)
                .where(Change.page_id == row.page_id)
            )
            before = s.scalar(
                base.where(Version.number < row.number).order_by(Version.number.desc()).limit(1)
            )
            after = s.scalar(
                base.where(Version.number > row.number).order_by(Version.number).limit(1)
            )
        return before, after

    def change_into(self, slug: str, number: int) -> int | None:
        """The id of the change that led to version `number`, if one did."""
        with self._read() as s:
            return s.scalar(
                select(Change.id)
                .join(Version, Version.id == Change.to_version_id)
                .join(Page, Page.id == Version.page_id)
                .where(Page.slug == slug, Version.number == number)
            )

    # -- checks

    def checks(
        self, slug: str | None, *, errors_only: bool = False, offset: int = 0, limit: int = 100
    ) -> Paged:
        """Checks newest first; `errors_only` keeps failed and pending ones."""
        version = aliased(Version)
        columns: list[Any] = [
            Check.id,
            Page.slug,
            Check.started_at,
            Check.finished_at,
            Check.outcome,
            Check.fetcher,
            Check.duration_ms,
            Check.error_kind,
            Check.message,
            Check.http_status,
            Check.body_sha256,
            Check.text_sha256,
            version.number,
            Check.snapshot_id,
            Check.etag,
            Check.last_modified,
            Check.fingerprint,
        ]
        query = (
            select(*columns)
            .join(Page, Page.id == Check.page_id)
            .outerjoin(version, version.id == Check.version_id)
        )
        if slug is not None:
            query = query.where(Page.slug == slug)
        if errors_only:
            query = query.where(Check.outcome.in_(NOT_GOOD))
        with self._read() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = s.execute(
                query.order_by(Check.started_at.desc(), Check.id.desc()).offset(offset).limit(limit)
            ).all()
        return Paged([CheckOut(*row) for row in rows], total, offset, limit)

    # -- deliveries

    def deliveries(self, limit: int = 100) -> list[DeliveryRow]:
        """The most recent deliveries of alerts to channels, newest first."""
        columns: list[Any] = [
            Delivery.id,
            Delivery.alert_id,
            Alert.kind,
            Page.slug,
            Alert.change_id,
            Delivery.channel,
            Delivery.status,
            Delivery.attempts,
            Delivery.created_at,
            Delivery.next_attempt_at,
            Delivery.sent_at,
            Delivery.last_error,
        ]
        query = (
            select(*columns)
            .join(Alert, Alert.id == Delivery.alert_id)
            .outerjoin(Page, Page.id == Alert.page_id)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(limit)
        )
        with self._read() as s:
            return [DeliveryRow(*row) for row in s.execute(query)]


# ---- helpers -------------------------------------------------------------------------------


def _brief_columns() -> list[Any]:
    older = aliased(Version)
    return [
        Change.id,
        select(older.number).where(older.id == Change.from_version_id).scalar_subquery(),
        Change.created_at,
        Change.significance,
        Change.topics,
        Change.flags,
        Change.n_changes,
    ]


def _brief(row: Any, to_version: int) -> ChangeBrief:
    change_id, from_version, created_at, significance, topics, flags, n_changes = row[:7]
    return ChangeBrief(
        change_id,
        from_version,
        to_version,
        created_at,
        significance,
        json.loads(topics),
        json.loads(flags),
        n_changes,
    )


def _filtered(query: _Q, topic: str | None, significance: str | None) -> _Q:
    if topic is not None:
        tagged = select(ChangeTopic.change_id).where(ChangeTopic.topic == topic)
        query = query.where(Change.id.in_(tagged))
    if significance is not None:
        query = query.where(Change.significance.in_(at_least(significance)))
    return query


def _open_incidents(s: Session) -> dict[str, IncidentOut]:
    query = (
        select(
            Incident.id,
            Page.slug,
            Incident.kind,
            Incident.opened_at,
            Incident.closed_at,
            Incident.failures,
            Incident.last_error,
        )
        .join(Page, Page.id == Incident.page_id)
        .where(Incident.closed_at.is_(None))
        .order_by(Incident.opened_at)
    )
    # Ordered oldest first, so a (never expected) second open incident replaces the first.
    return {row[1]: IncidentOut(*row) for row in s.execute(query)}


def _latest_changes(s: Session) -> dict[str, ChangeBrief]:
    newer = aliased(Version)
    rank = func.row_number().over(
        partition_by=Change.page_id, order_by=(Change.created_at.desc(), Change.id.desc())
    )
    ranked = select(Change.id, rank.label("rank")).subquery()
    query = (
        select(Page.slug, *_brief_columns(), newer.number)
        .join(Page, Page.id == Change.page_id)
        .join(newer, newer.id == Change.to_version_id)
        .join(ranked, ranked.c.id == Change.id)
        .where(ranked.c.rank == 1)
    )
    return {row[0]: _brief(row[1:], row[8]) for row in s.execute(query)}
