"""Checks and incidents, and the one transaction a check records in.

`CheckStore.transaction(slug)` locks the page (`BEGIN IMMEDIATE` on SQLite, `SELECT ... FOR UPDATE`
on its row elsewhere) and yields a `CheckTx`: the page's state read under that lock, the old
texts the decision needs, and the writes of what the check found: snapshot, version (numbered
here, from what the lock guarantees is the latest), change, check row, incident, then the alerts
built from those numbers. Two processes checking the same page at once decide one after the
other, each from what the other recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from storage.base import Store, aware, require
from storage.history import (
    add_change,
    add_snapshot,
    add_version,
    read_chain,
    recent_versions,
    version_id,
)
from storage.models import Check, Incident, Page, Version
from storage.outbox import add_alert
from storage.redact import redact, redact_optional
from storage.values import (
    AlertIn,
    ChangeIn,
    CheckIn,
    CheckOut,
    IncidentIn,
    IncidentOut,
    NotFound,
    PageState,
    Recorded,
    SnapshotIn,
    VersionIn,
)
from storage.vocab import ALERT_KINDS, NOT_GOOD, OUTCOMES, SIGNIFICANCES

SEEN_SINCE_LIMIT = 50
"""How many of the checks since the latest version the page state carries."""


class CheckStore(Store):
    """Reads of checks and incidents; a check's writes go through `transaction`."""

    @contextmanager
    def transaction(self, slug: str) -> Iterator[CheckTx]:
        """The page locked for one check: read its state, decide, record, all or nothing."""
        with self._write.begin() as s:
            page = s.scalars(select(Page).where(Page.slug == slug).with_for_update()).one_or_none()
            if page is None:
                raise NotFound(f"no page with slug {slug!r}")
            yield CheckTx(s, page)

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
        """Write one check and what it found, in one transaction (see CheckTx.record)."""
        with self.transaction(slug) as tx:
            recorded = tx.record(
                check, snapshot=snapshot, version=version, change=change, incident=incident
            )
            return tx.add_alerts(recorded, alerts, at=check.finished_at)

    def checks(self, slug: str | None = None, limit: int = 50) -> list[CheckOut]:
        """Newest first, of one page or of all."""
        query = check_query()
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
            check_query()
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

    def open_incident(self, slug: str) -> IncidentOut | None:
        query = incident_query().where(Page.slug == slug, Incident.closed_at.is_(None))
        with self._read() as s:
            row = s.execute(query.order_by(Incident.id.desc()).limit(1)).one_or_none()
            return _incident_out(*row) if row else None

    def incidents(self, slug: str | None = None, limit: int = 50) -> list[IncidentOut]:
        query = incident_query().order_by(Incident.id.desc()).limit(limit)
        if slug is not None:
            query = query.where(Page.slug == slug)
        with self._read() as s:
            return [_incident_out(*row) for row in s.execute(query)]

    def failure_streak(self, slug: str) -> tuple[int, datetime | None]:
        """Failed checks since the last good one, and when the first of them started."""
        with self._read() as s:
            page_id = s.scalar(select(Page.id).where(Page.slug == slug))
            return failure_streak(s, page_id) if page_id is not None else (0, None)


class CheckTx:
    """One check's transaction on one locked page."""

    def __init__(self, session: Session, page: Page) -> None:
        self._s, self._page = session, page

    def state(self, recent: int) -> PageState:
        """The page as this check finds it: its `recent` newest versions, its last checks, its
        open incident and failure streak, and the texts seen since its latest version."""
        s, page_id = self._s, self._page.id
        versions = recent_versions(s, Version.page_id == page_id, max(recent, 1))
        latest = versions[0] if versions else None
        checks = _checks(s, Check.page_id == page_id, 1)
        seen_check = _checks(s, (Check.page_id == page_id) & (Check.outcome != "failed"), 1)
        good = _checks(s, (Check.page_id == page_id) & Check.outcome.not_in(NOT_GOOD), 1)
        failures, since = failure_streak(s, page_id)
        seen: list[str] = []
        if latest is not None:
            seen = [
                sha
                for (sha,) in s.execute(
                    select(Check.text_sha256)
                    .where(
                        Check.page_id == page_id,
                        Check.started_at >= latest.created_at,
                        Check.text_sha256.is_not(None),
                    )
                    .order_by(Check.started_at.desc(), Check.id.desc())
                    .limit(SEEN_SINCE_LIMIT)
                )
                if sha is not None
            ]
        return PageState(
            latest=latest,
            recent=versions,
            last_check=checks[0] if checks else None,
            last_seen=seen_check[0] if seen_check else None,
            last_good=good[0] if good else None,
            incident=_open_incident(s, page_id, self._page.slug),
            failures=failures,
            failing_since=since,
            seen_since_latest=seen,
        )

    def version_text(self, number: int) -> str:
        """The text of this page's version `number`."""
        row = self._s.scalars(
            select(Version).where(Version.page_id == self._page.id, Version.number == number)
        ).first()
        if row is None:
            raise NotFound(f"page {self._page.slug!r} has no version {number}")
        return read_chain(self._s, Version.__table__, "text", row.id).decode("utf-8")

    def record(
        self,
        check: CheckIn,
        *,
        snapshot: SnapshotIn | None = None,
        version: VersionIn | None = None,
        change: ChangeIn | None = None,
        incident: IncidentIn | None = None,
    ) -> Recorded:
        """Write the check and what it found. The snapshot reuses the page's row with the same
        body if there is one; the version gets the next number and points at the snapshot; the
        change goes from `change.from_version` to it; the check row points at the new version or
        at `check.seen_version`; `incident` opens, continues or closes the page's incident."""
        _validate(check, snapshot, version, change)
        s, page = self._s, self._page
        snapshot_id = add_snapshot(s, page.id, snapshot) if snapshot else None
        new = add_version(s, page.id, version, snapshot_id, check.started_at) if version else None
        change_id = add_change(s, page, change, new, check.started_at) if change else None
        if new is not None:
            seen_id: int | None = new.id
        elif check.seen_version is not None:
            seen_id = version_id(s, page, check.seen_version)
        else:
            seen_id = None
        check_id = _add_check(s, page.id, check, seen_id, snapshot_id)
        incident_id = _apply_incident(s, page.id, incident, check, check_id)
        return Recorded(check_id, new.number if new else None, change_id, [], incident_id)

    def add_alerts(
        self, recorded: Recorded, alerts: Sequence[AlertIn], *, at: datetime
    ) -> Recorded:
        """Store the alerts of what `record` wrote, each with `payload["ids"]`: its change,
        version, check and incident, and a pending delivery per channel."""
        for alert in alerts:
            require(alert.kind, ALERT_KINDS, "alert kind")
        aware(at, "alert time")
        ids = {
            "change": recorded.change_id,
            "version": recorded.version,
            "check": recorded.check_id,
            "incident": recorded.incident_id,
        }
        alert_ids = [add_alert(self._s, a, page_id=self._page.id, ids=ids, at=at) for a in alerts]
        return Recorded(
            recorded.check_id,
            recorded.version,
            recorded.change_id,
            [*recorded.alert_ids, *alert_ids],
            recorded.incident_id,
        )


# ---- reads and writes inside a session ----------------------------------------------------


def failure_streak(s: Session, page_id: int) -> tuple[int, datetime | None]:
    """Failed checks since the last good one (pending ones neither count nor break it), and
    when the first of them started."""
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
    count, since = s.execute(query).one()
    return int(count), since


def _checks(s: Session, where: ColumnElement[bool], limit: int) -> list[CheckOut]:
    query = check_query().where(where).order_by(Check.started_at.desc(), Check.id.desc())
    return [CheckOut(*row) for row in s.execute(query.limit(limit))]


def _open_incident(s: Session, page_id: int, slug: str) -> IncidentOut | None:
    row = s.scalars(
        select(Incident)
        .where(Incident.page_id == page_id, Incident.closed_at.is_(None))
        .order_by(Incident.id.desc())
        .limit(1)
    ).first()
    return _incident_out(row, slug) if row else None


def last_checks(s: Session, page_ids: list[int]) -> dict[str, CheckOut]:
    """Each page's newest check."""
    rank = func.row_number().over(
        partition_by=Check.page_id, order_by=(Check.started_at.desc(), Check.id.desc())
    )
    ranked = select(Check.id, rank.label("rank")).where(Check.page_id.in_(page_ids)).subquery()
    query = check_query().join(ranked, ranked.c.id == Check.id).where(ranked.c.rank == 1)
    return {row.slug: CheckOut(*row) for row in s.execute(query)}


def _validate(
    check: CheckIn,
    snapshot: SnapshotIn | None,
    version: VersionIn | None,
    change: ChangeIn | None,
) -> None:
    require(check.outcome, OUTCOMES, "check outcome")
    aware(check.started_at, "check started_at")
    aware(check.finished_at, "check finished_at")
    if version is not None and check.seen_version is not None:
        raise ValueError("a check records a new version or sees an existing one, not both")
    if change is not None:
        if version is None:
            raise ValueError("a change needs the new version it leads to")
        require(change.significance, SIGNIFICANCES, "significance")
    if version is not None:
        digest = hashlib.sha256(version.text.encode("utf-8")).hexdigest()
        if digest != version.text_sha256:
            raise ValueError(f"text_sha256 {version.text_sha256!r} is not the text's ({digest})")
    if snapshot is not None:
        aware(snapshot.fetched_at, "snapshot fetched_at")


def _add_check(
    s: Session, page_id: int, check: CheckIn, version_id: int | None, snapshot_id: int | None
) -> int:
    columns = {k: v for k, v in asdict(check).items() if k != "seen_version"}
    columns["message"] = redact_optional(check.message)  # an error may quote a URL's secrets
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
            last_error=redact(incident.message),
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
        row.kind, row.last_check_id = incident.kind, check_id
        row.last_error = redact(incident.message)
    s.flush()
    return row.id


def check_query() -> Select[Any]:
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


def incident_query() -> Select[Incident, str]:
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
