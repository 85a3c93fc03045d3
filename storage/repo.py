"""Every query and write the rest of policywatch uses; plain frozen dataclasses in and out.

Concurrency: `record_check` runs in one transaction that first locks its page: `BEGIN IMMEDIATE`
on SQLite (see `storage.db.writer`), `SELECT ... FOR UPDATE` on the page row elsewhere. So
"max + 1" version numbers never collide, and the unique (page_id, number) constraint is the
backstop that makes a bug fail loudly instead of writing a gap or a duplicate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, FromClause, Select, func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from storage import blobs, search
from storage.db import writer
from storage.models import (
    Alert,
    Change,
    ChangeTopic,
    Check,
    Delivery,
    Incident,
    Page,
    Snapshot,
    Version,
)
from storage.values import (
    ALERT_KINDS,
    FETCHERS,
    FULL_EVERY,
    NOT_GOOD,
    OUTCOMES,
    SIGNIFICANCES,
    AlertIn,
    ChangeIn,
    ChangeOut,
    CheckIn,
    CheckOut,
    DeliveryOut,
    IncidentIn,
    IncidentOut,
    NotFound,
    PageOut,
    PageSpec,
    Recorded,
    SnapshotIn,
    SnapshotOut,
    VersionIn,
    VersionMeta,
    VersionOut,
)

# ---- the repository -----------------------------------------------------------------------


class Repo:
    """Reads and writes of one database; holds no cache, only the engine.

    Times in and out are aware UTC datetimes (a naive one is refused). Writes raise NotFound for
    a slug or version number that does not exist; reads return None or an empty list.
    """

    def __init__(self, engine: Engine) -> None:
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=writer(engine), expire_on_commit=False)

    def sync_pages(self, specs: Sequence[PageSpec], now: datetime) -> None:
        """Insert or update pages by slug; pages no longer configured become inactive."""
        wanted = {spec.slug: spec for spec in specs}
        if len(wanted) != len(specs):
            raise ValueError("duplicate page slugs in sync_pages")
        for spec in specs:
            _require(spec.fetcher, FETCHERS, "fetcher")
        _aware(now, "now")
        with self._write.begin() as s:
            existing = {page.slug: page for page in s.scalars(select(Page))}
            for spec in specs:
                page = existing.get(spec.slug)
                if page is None:
                    page = Page(slug=spec.slug, created_at=now)
                    s.add(page)
                page.name, page.url, page.fetcher = spec.name, spec.url, spec.fetcher
                page.rules_hash, page.active = spec.rules_hash, True
            for slug, page in existing.items():
                if slug not in wanted:
                    page.active = False

    def record_check(
        self,
        slug: str,
        check: CheckIn,
        *,
        snapshot: SnapshotIn | None = None,
        version: VersionIn | None = None,
        change: ChangeIn | None = None,
        alerts: Sequence[AlertIn] = (),
        incident: IncidentIn | None = None,
    ) -> Recorded:
        """Write one check and what it found, in one transaction: all of it or nothing.

        The snapshot reuses the page's row with the same body if there is one; the version gets
        the next number, is created at the check's start and points at the snapshot; the change
        goes from `change.from_version` to it; the check row points at the new version or at
        `check.seen_version`; each alert is stored with `payload["ids"]` = its change, version
        and check (and incident), and a pending delivery per channel, due at the check's end;
        `incident` opens, continues or closes the page's incident.
        """
        _validate(check, snapshot, version, change, alerts)
        with self._write.begin() as s:
            page = s.scalars(select(Page).where(Page.slug == slug).with_for_update()).one_or_none()
            if page is None:
                raise NotFound(f"no page with slug {slug!r}")
            snapshot_id = _add_snapshot(s, page.id, snapshot) if snapshot else None
            new = (
                _add_version(s, page.id, version, snapshot_id, check.started_at)
                if version
                else None
            )
            change_id = _add_change(s, page, change, new, check.started_at) if change else None
            if new is not None:
                seen_id: int | None = new.id
            elif check.seen_version is not None:
                seen_id = _version_id(s, page, check.seen_version)
            else:
                seen_id = None
            check_id = _add_check(s, page.id, check, seen_id, snapshot_id)
            incident_id = _apply_incident(s, page.id, incident, check, check_id)
            ids = {
                "change": change_id,
                "version": new.number if new else None,
                "check": check_id,
                "incident": incident_id,
            }
            alert_ids = [
                _add_alert(s, alert, page_id=page.id, ids=ids, at=check.finished_at)
                for alert in alerts
            ]
        return Recorded(check_id, new.number if new else None, change_id, alert_ids, incident_id)

    # -- incidents

    def open_incident(self, slug: str) -> IncidentOut | None:
        query = _incident_query().where(Page.slug == slug, Incident.closed_at.is_(None))
        with self._read() as s:
            row = s.execute(query.order_by(Incident.id.desc()).limit(1)).one_or_none()
            return _incident_out(*row) if row else None

    def incidents(self, slug: str | None = None, limit: int = 50) -> list[IncidentOut]:
        query = _incident_query().order_by(Incident.id.desc()).limit(limit)
        if slug is not None:
            query = query.where(Page.slug == slug)
        with self._read() as s:
            return [_incident_out(*row) for row in s.execute(query)]

    def failure_streak(self, slug: str) -> tuple[int, datetime | None]:
        """Failed checks since the last good one (pending ones neither count nor break it),
        and when the first of them started."""
        page_id = select(Page.id).where(Page.slug == slug).scalar_subquery()
        last_good = (
            select(func.max(Check.id))
            .where(Check.page_id == page_id, Check.outcome.not_in(NOT_GOOD))
            .scalar_subquery()
        )
        query = select(func.count(), func.min(Check.started_at)).where(
            Check.page_id == page_id,
            Check.outcome == "failed",
            Check.id > func.coalesce(last_good, 0),
        )
        with self._read() as s:
            count, since = s.execute(query).one()
            return int(count), since

    # -- pages

    def page(self, slug: str) -> PageOut | None:
        found = self._pages(Page.slug == slug)
        return found[0] if found else None

    def pages(self) -> list[PageOut]:
        """Every page ever configured, active or not, by slug."""
        return self._pages(None)

    def _pages(self, where: Any) -> list[PageOut]:
        counts = (
            select(Version.page_id, func.count().label("n")).group_by(Version.page_id).subquery()
        )
        query = (
            select(Page, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.page_id == Page.id)
            .order_by(Page.slug)
        )
        if where is not None:
            query = query.where(where)
        with self._read() as s:
            rows = s.execute(query).all()
            last = _last_checks(s, [page.id for page, _ in rows])
        return [
            PageOut(p.slug, p.name, p.url, p.fetcher, p.rules_hash, p.active, n, last.get(p.slug))
            for p, n in rows
        ]

    # -- versions

    def latest_version(self, slug: str) -> VersionOut | None:
        return self._version(slug, None)

    def version(self, slug: str, number: int) -> VersionOut | None:
        return self._version(slug, number)

    def _version(self, slug: str, number: int | None) -> VersionOut | None:
        query = select(Version).join(Page, Page.id == Version.page_id).where(Page.slug == slug)
        if number is None:
            query = query.order_by(Version.number.desc()).limit(1)
        else:
            query = query.where(Version.number == number)
        with self._read() as s:
            row = s.scalars(query).first()
            if row is None:
                return None
            text = _read_chain(s, Version.__table__, "text", row.id).decode("utf-8")
        return VersionOut(
            row.number,
            row.created_at,
            text,
            row.text_sha256,
            row.rules_hash,
            row.technical,
            row.words,
            row.snapshot_id,
        )

    def version_count(self, slug: str) -> int:
        query = select(func.count(Version.id)).join(Page, Page.id == Version.page_id)
        with self._read() as s:
            return s.scalar(query.where(Page.slug == slug)) or 0

    def recent_versions(self, slug: str, limit: int) -> list[VersionMeta]:
        """Newest first, without the texts."""
        query = (
            select(
                Version.number,
                Version.created_at,
                Version.text_sha256,
                Version.technical,
                Version.words,
                Version.size,
            )
            .join(Page, Page.id == Version.page_id)
            .where(Page.slug == slug)
            .order_by(Version.number.desc())
            .limit(limit)
        )
        with self._read() as s:
            return [VersionMeta(*row) for row in s.execute(query)]

    def version_at(self, slug: str, when: datetime) -> VersionOut | None:
        """The version in force at `when`: seen by the last good check, or created, by then."""
        _aware(when, "when")
        page_of = select(Page.id).where(Page.slug == slug).scalar_subquery()
        seen = (
            select(Check.started_at, Version.number)
            .join(Version, Version.id == Check.version_id)
            .where(Check.page_id == page_of, Check.started_at <= when)
            .where(Check.outcome.not_in(NOT_GOOD))
            .order_by(Check.started_at.desc(), Check.id.desc())
            .limit(1)
        )
        made = (
            select(Version.created_at, Version.number)
            .where(Version.page_id == page_of, Version.created_at <= when)
            .order_by(Version.created_at.desc(), Version.number.desc())
            .limit(1)
        )
        with self._read() as s:
            by_check, by_creation = s.execute(seen).first(), s.execute(made).first()
        if by_check is None and by_creation is None:
            return None
        # A version created after the last check saw one is the newer truth; otherwise the check
        # wins, which is what makes a flip back to an older version count.
        if by_creation is not None and (by_check is None or by_creation[0] > by_check[0]):
            return self.version(slug, by_creation[1])
        assert by_check is not None
        return self.version(slug, by_check[1])

    # -- changes

    def changes(self, slug: str, limit: int | None = None) -> list[ChangeOut]:
        """Newest first."""
        query = _change_query().where(Page.slug == slug)
        query = query.order_by(Change.created_at.desc(), Change.id.desc()).limit(limit)
        with self._read() as s:
            return [change_out(*row) for row in s.execute(query)]

    def change(self, change_id: int) -> ChangeOut | None:
        with self._read() as s:
            row = s.execute(_change_query().where(Change.id == change_id)).first()
        return change_out(*row) if row else None

    # -- checks

    def checks(self, slug: str | None = None, limit: int = 50) -> list[CheckOut]:
        """Newest first, of one page or of all."""
        query = _check_query()
        if slug is not None:
            query = query.where(Page.slug == slug)
        query = query.order_by(Check.started_at.desc(), Check.id.desc()).limit(limit)
        with self._read() as s:
            return [CheckOut(*row) for row in s.execute(query)]

    def last_check(self, slug: str) -> CheckOut | None:
        found = self.checks(slug, 1)
        return found[0] if found else None

    def last_good_check(self, slug: str) -> CheckOut | None:
        """The last check that saw the document (outcome neither failed nor pending)."""
        query = (
            _check_query()
            .where(Page.slug == slug, Check.outcome.not_in(NOT_GOOD))
            .order_by(Check.started_at.desc(), Check.id.desc())
            .limit(1)
        )
        with self._read() as s:
            row = s.execute(query).first()
        return CheckOut(*row) if row else None

    def last_check_times(self) -> dict[str, datetime]:
        """When each active page was last checked (pages never checked are absent)."""
        query = (
            select(Page.slug, func.max(Check.started_at))
            .join(Check, Check.page_id == Page.id)
            .where(Page.active.is_(True))
            .group_by(Page.slug)
        )
        with self._read() as s:
            return dict(s.execute(query).all())

    # -- snapshots

    def snapshot(self, snapshot_id: int) -> SnapshotOut | None:
        with self._read() as s:
            row = s.execute(_snapshot_query().where(Snapshot.id == snapshot_id)).first()
            return _snapshot_out(s, *row) if row else None

    def latest_snapshot(self, slug: str) -> SnapshotOut | None:
        """The body the page served at its last check that stored or reused a snapshot."""
        query = (
            _snapshot_query()
            .join(Check, Check.snapshot_id == Snapshot.id)
            .where(Page.slug == slug)
            .order_by(Check.started_at.desc(), Check.id.desc())
            .limit(1)
        )
        with self._read() as s:
            row = s.execute(query).first()
            return _snapshot_out(s, *row) if row else None

    # -- alerts and deliveries

    def add_alert(self, alert: AlertIn, now: datetime, slug: str | None = None) -> int:
        """An alert outside a check (a test alert, an incident), with its pending deliveries."""
        _require(alert.kind, ALERT_KINDS, "alert kind")
        _aware(now, "now")
        with self._write.begin() as s:
            page_id = None
            if slug is not None:
                page_id = s.scalar(select(Page.id).where(Page.slug == slug))
                if page_id is None:
                    raise NotFound(f"no page with slug {slug!r}")
            return _add_alert(s, alert, page_id=page_id, ids=None, at=now)

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[DeliveryOut]:
        """Pending or failed deliveries whose next attempt is due, oldest first."""
        _aware(now, "now")
        query = (
            _delivery_query()
            .where(Delivery.status.in_(("pending", "failed")), Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
        )
        with self._read() as s:
            return [_delivery_out(*row) for row in s.execute(query)]

    def claim_deliveries(
        self, now: datetime, lease: timedelta, limit: int = 100
    ) -> list[DeliveryOut]:
        """Take the due deliveries for one attempt: each is pushed `lease` into the future in the
        same transaction, so another process delivering at the same time does not take it too.
        The attempt then records `delivery_sent` or `delivery_failed`."""
        _aware(now, "now")
        with self._write.begin() as s:
            rows = s.execute(
                _delivery_query()
                .where(Delivery.status.in_(("pending", "failed")), Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
            ).all()
            for row in rows:
                row[0].next_attempt_at = now + lease
            return [_delivery_out(*row) for row in rows]

    def claim_delivery(
        self, delivery_id: int, now: datetime, lease: timedelta
    ) -> DeliveryOut | None:
        """Take one due delivery for an attempt, as `claim_deliveries` does; None when it is no
        longer due (sent meanwhile, or taken by another process). Claiming each delivery just
        before it is sent means a crash leaves at most that one waiting for its lease."""
        _aware(now, "now")
        with self._write.begin() as s:
            row = s.execute(
                _delivery_query().where(
                    Delivery.id == delivery_id,
                    Delivery.status.in_(("pending", "failed")),
                    Delivery.next_attempt_at <= now,
                )
            ).first()
            if row is None:
                return None
            row[0].next_attempt_at = now + lease
            return _delivery_out(*row)

    def deliveries(self, status: str | None = None, limit: int = 100) -> list[DeliveryOut]:
        """Deliveries newest first, optionally only those with one status."""
        query = _delivery_query().order_by(Delivery.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Delivery.status == status)
        with self._read() as s:
            return [_delivery_out(*row) for row in s.execute(query)]

    def retry_delivery(self, delivery_id: int, now: datetime) -> DeliveryOut:
        """Make a failed or dead delivery due again now (a sent one is never sent twice)."""
        _aware(now, "now")
        with self._write.begin() as s:
            row = s.get(Delivery, delivery_id)
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            if row.status == "sent":
                raise ValueError(f"delivery {delivery_id} was already sent; it is never sent twice")
            row.status, row.next_attempt_at = "pending", now
            s.flush()
            return _delivery_out(*s.execute(_delivery_query().where(Delivery.id == row.id)).one())

    def delivery_sent(self, delivery_id: int, now: datetime) -> None:
        self._attempted(delivery_id, status="sent", error=None, sent_at=now, retry_at=None)

    def delivery_failed(self, delivery_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: retried at `retry_at`, or dead (given up) when it is None."""
        status = "failed" if retry_at is not None else "dead"
        self._attempted(delivery_id, status=status, error=error, sent_at=None, retry_at=retry_at)

    def _attempted(
        self,
        delivery_id: int,
        *,
        status: str,
        error: str | None,
        sent_at: datetime | None,
        retry_at: datetime | None,
    ) -> None:
        for when in (sent_at, retry_at):
            if when is not None:
                _aware(when, "delivery time")
        with self._write.begin() as s:
            row = s.get(Delivery, delivery_id)
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            row.status, row.attempts, row.last_error = status, row.attempts + 1, error
            row.sent_at, row.next_attempt_at = sent_at, retry_at


# ---- writes -------------------------------------------------------------------------------


def _validate(
    check: CheckIn,
    snapshot: SnapshotIn | None,
    version: VersionIn | None,
    change: ChangeIn | None,
    alerts: Sequence[AlertIn],
) -> None:
    _require(check.outcome, OUTCOMES, "check outcome")
    _aware(check.started_at, "check started_at")
    _aware(check.finished_at, "check finished_at")
    if version is not None and check.seen_version is not None:
        raise ValueError("a check records a new version or sees an existing one, not both")
    if change is not None:
        if version is None:
            raise ValueError("a change needs the new version it leads to")
        _require(change.significance, SIGNIFICANCES, "significance")
    if version is not None:
        digest = hashlib.sha256(version.text.encode("utf-8")).hexdigest()
        if digest != version.text_sha256:
            raise ValueError(f"text_sha256 {version.text_sha256!r} is not the text's ({digest})")
    for alert in alerts:
        _require(alert.kind, ALERT_KINDS, "alert kind")
    if snapshot is not None:
        _aware(snapshot.fetched_at, "snapshot fetched_at")


def _aware(when: datetime, what: str) -> None:
    if when.tzinfo is None:
        raise ValueError(f"{what} {when.isoformat()} is naive; storage needs aware UTC times")


def _require(value: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r} (expected one of {sorted(allowed)})")


def _add_snapshot(s: Session, page_id: int, snap: SnapshotIn) -> int:
    """Store the body once per page: an identical body reuses the row that has it."""
    digest = hashlib.sha256(snap.body).hexdigest()
    same = select(Snapshot.id).where(Snapshot.page_id == page_id, Snapshot.body_sha256 == digest)
    existing = s.scalar(same)
    if existing is not None:
        return existing
    last = s.execute(
        select(Snapshot.id, Snapshot.depth)
        .where(Snapshot.page_id == page_id)
        .order_by(Snapshot.id.desc())
        .limit(1)
    ).first()
    base_id, depth, blob = _encode_after(s, Snapshot.__table__, "body", last, snap.body)
    row = Snapshot(
        page_id=page_id,
        fetched_at=snap.fetched_at,
        url=snap.url,
        final_url=snap.final_url,
        status=snap.status,
        headers=json.dumps(snap.headers, sort_keys=True),
        content_type=snap.content_type,
        body_sha256=digest,
        size=len(snap.body),
        body=blob,
        base_id=base_id,
        depth=depth,
    )
    s.add(row)
    s.flush()
    return row.id


def _add_version(
    s: Session, page_id: int, new: VersionIn, snapshot_id: int | None, at: datetime
) -> Version:
    last = s.execute(
        select(Version.id, Version.depth, Version.number)
        .where(Version.page_id == page_id)
        .order_by(Version.number.desc())
        .limit(1)
    ).first()
    data = new.text.encode("utf-8")
    base_id, depth, blob = _encode_after(s, Version.__table__, "text", last, data)
    row = Version(
        page_id=page_id,
        number=last.number + 1 if last else 1,
        snapshot_id=snapshot_id,
        created_at=at,
        text_sha256=new.text_sha256,
        text=blob,
        base_id=base_id,
        depth=depth,
        size=len(new.text),
        words=new.words,
        rules_hash=new.rules_hash,
        technical=new.technical,
    )
    s.add(row)
    s.flush()
    search.version_added(s.connection(), page_id, row.number, new.text)
    return row


def _add_change(s: Session, page: Page, change: ChangeIn, new: Version | None, at: datetime) -> int:
    assert new is not None  # _validate guarantees it
    row = Change(
        page_id=page.id,
        from_version_id=_version_id(s, page, change.from_version),
        to_version_id=new.id,
        created_at=at,
        significance=change.significance,
        topics=json.dumps(change.topics),
        flags=json.dumps(change.flags),
        changeset=blobs.encode(json.dumps(change.changeset, ensure_ascii=False).encode()),
        n_changes=len(change.changeset),
    )
    s.add(row)
    s.flush()
    s.add_all(ChangeTopic(change_id=row.id, topic=t) for t in dict.fromkeys(change.topics))
    return row.id


def _version_id(s: Session, page: Page, number: int) -> int:
    query = select(Version.id).where(Version.page_id == page.id, Version.number == number)
    found = s.scalar(query)
    if found is None:
        raise NotFound(f"page {page.slug!r} has no version {number}")
    return found


def _add_check(
    s: Session, page_id: int, check: CheckIn, version_id: int | None, snapshot_id: int | None
) -> int:
    columns = {k: v for k, v in asdict(check).items() if k != "seen_version"}
    row = Check(page_id=page_id, version_id=version_id, snapshot_id=snapshot_id, **columns)
    s.add(row)
    s.flush()
    return row.id


def _apply_incident(
    s: Session, page_id: int, incident: IncidentIn | None, check: CheckIn, check_id: int
) -> int | None:
    if incident is None:
        return None
    row: Incident | None
    if incident.action == "open":
        row = Incident(
            page_id=page_id,
            kind=incident.kind,
            opened_at=incident.since or check.started_at,
            closed_at=None,
            failures=incident.failures,
            last_error=incident.message,
            last_check_id=check_id,
        )
        s.add(row)
    else:
        row = s.scalars(
            select(Incident).where(Incident.page_id == page_id, Incident.closed_at.is_(None))
        ).first()
        if row is None:
            raise NotFound(f"page {page_id} has no open incident to {incident.action}")
    if incident.action == "close":
        row.closed_at = check.started_at
    elif incident.action == "continue":
        row.failures += 1
        row.kind, row.last_error, row.last_check_id = incident.kind, incident.message, check_id
    s.flush()
    return row.id


def _add_alert(
    s: Session,
    alert: AlertIn,
    *,
    page_id: int | None,
    ids: dict[str, int | None] | None,
    at: datetime,
) -> int:
    payload = {**alert.payload, "ids": ids} if ids is not None else alert.payload
    row = Alert(
        kind=alert.kind,
        page_id=page_id,
        change_id=ids["change"] if ids is not None else None,
        incident_id=ids.get("incident") if ids is not None else None,
        created_at=at,
        payload=json.dumps(payload, sort_keys=True, ensure_ascii=False),
    )
    s.add(row)
    s.flush()
    s.add_all(
        Delivery(
            alert_id=row.id,
            channel=channel,
            status="pending",
            attempts=0,
            next_attempt_at=alert.due_at.get(channel, at),
            idempotency_key=hashlib.sha256(f"{row.id}-{channel}".encode()).hexdigest(),
            created_at=at,
        )
        for channel in alert.channels
    )
    s.flush()
    return row.id


# ---- delta chains -------------------------------------------------------------------------


def _encode_after(
    s: Session, table: FromClause, column: str, last: Any, data: bytes
) -> tuple[int | None, int, bytes]:
    """(base id, depth, blob) for `data` stored after row `last` (id, depth) of its chain."""
    if last is None or last.depth + 1 >= FULL_EVERY:
        return None, 0, blobs.encode(data)
    base = _read_chain(s, table, column, last.id)
    return last.id, last.depth + 1, blobs.encode(data, base)


def _read_chain(s: Session, table: FromClause, column: str, row_id: int) -> bytes:
    """Decode a row's blob: one recursive query fetches it and its bases, then apply in order."""
    chain = (
        select(table.c.id, table.c.base_id, table.c[column].label("blob"))
        .where(table.c.id == row_id)
        .cte("chain", recursive=True)
    )
    link = table.alias("link")
    chain = chain.union_all(
        select(link.c.id, link.c.base_id, link.c[column]).where(link.c.id == chain.c.base_id)
    )
    rows = {r.id: r for r in s.execute(select(chain.c.id, chain.c.base_id, chain.c.blob))}
    path: list[Any] = []
    current: int | None = row_id
    while current is not None:
        path.append(rows[current])
        current = path[-1].base_id
    data: bytes | None = None
    for row in reversed(path):
        data = blobs.decode(row.blob, data)
    assert data is not None
    return data


# ---- reads --------------------------------------------------------------------------------


def _check_query() -> Select[Any]:
    """Columns in CheckOut's field order, so a row is CheckOut(*row)."""
    joined: dict[str, Any] = {"slug": Page.slug, "version": Version.number}
    columns = [
        joined[f.name] if f.name in joined else getattr(Check, f.name) for f in fields(CheckOut)
    ]
    return (
        select(*columns)
        .join(Page, Page.id == Check.page_id)
        .outerjoin(Version, Version.id == Check.version_id)
    )


def _last_checks(s: Session, page_ids: list[int]) -> dict[str, CheckOut]:
    rank = func.row_number().over(
        partition_by=Check.page_id, order_by=(Check.started_at.desc(), Check.id.desc())
    )
    ranked = select(Check.id, rank.label("rank")).where(Check.page_id.in_(page_ids)).subquery()
    query = _check_query().join(ranked, ranked.c.id == Check.id).where(ranked.c.rank == 1)
    return {row.slug: CheckOut(*row) for row in s.execute(query)}


def _change_query() -> Select[Change, str, int, int]:
    older, newer = aliased(Version), aliased(Version)
    return (
        select(Change, Page.slug, older.number, newer.number)
        .join(Page, Page.id == Change.page_id)
        .join(older, older.id == Change.from_version_id)
        .join(newer, newer.id == Change.to_version_id)
    )


def change_out(c: Change, slug: str, from_number: int, to_number: int) -> ChangeOut:
    """A change row as the plain value readers get (queries and repo share it)."""
    return ChangeOut(
        c.id,
        slug,
        from_number,
        to_number,
        c.created_at,
        c.significance,
        json.loads(c.topics),
        json.loads(c.flags),
        json.loads(blobs.decode(c.changeset)),
        c.n_changes,
    )


def _snapshot_query() -> Select[Snapshot, str]:
    return select(Snapshot, Page.slug).join(Page, Page.id == Snapshot.page_id)


def _snapshot_out(s: Session, snap: Snapshot, slug: str) -> SnapshotOut:
    return SnapshotOut(
        snap.id,
        slug,
        snap.fetched_at,
        snap.url,
        snap.final_url,
        snap.status,
        json.loads(snap.headers),
        snap.content_type,
        snap.body_sha256,
        snap.size,
        _read_chain(s, Snapshot.__table__, "body", snap.id),
    )


def _delivery_out(d: Delivery, kind: str, slug: str | None, payload: str) -> DeliveryOut:
    return DeliveryOut(
        d.id,
        d.alert_id,
        d.channel,
        d.status,
        d.attempts,
        d.next_attempt_at,
        d.last_error,
        d.idempotency_key,
        d.created_at,
        kind,
        slug,
        json.loads(payload),
    )


def _incident_query() -> Select[Incident, str]:
    return select(Incident, Page.slug).join(Page, Page.id == Incident.page_id)


def _incident_out(row: Incident, slug: str) -> IncidentOut:
    return IncidentOut(
        id=row.id,
        slug=slug,
        kind=row.kind,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        failures=row.failures,
        last_error=row.last_error,
    )


def _delivery_query() -> Select[Delivery, str, str | None, str]:
    return (
        select(Delivery, Alert.kind, Page.slug, Alert.payload)
        .join(Alert, Alert.id == Delivery.alert_id)
        .outerjoin(Page, Page.id == Alert.page_id)
    )
