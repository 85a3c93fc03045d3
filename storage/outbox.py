"""The outbox: alerts and their deliveries, one per channel, claimed one attempt at a time.

An alert is written in the same transaction as the change or incident it reports (by
storage.checks, through `add_alert`); a delivery is claimed just before it is sent (its next
attempt pushed a lease into the future), then marked sent, failed (retried later) or dead.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from storage.base import Store, aware, require
from storage.models import Alert, Delivery, Installation, Page
from storage.redact import redact_optional
from storage.values import AlertIn, DeliveryOut, NotFound
from storage.vocab import ALERT_KINDS


class OutboxStore(Store):
    """Alerts outside a check, and every read and write of deliveries."""

    def add_alert(self, alert: AlertIn, now: datetime, slug: str | None = None) -> int:
        """An alert outside a check (a test alert, an incident), with its pending deliveries."""
        require(alert.kind, ALERT_KINDS, "alert kind")
        aware(now, "now")
        with self._write.begin() as s:
            page_id = None
            if slug is not None:
                page_id = s.scalar(select(Page.id).where(Page.slug == slug))
                if page_id is None:
                    raise NotFound(f"no page with slug {slug!r}")
            return add_alert(s, alert, page_id=page_id, ids=None, at=now)

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[DeliveryOut]:
        """Pending or failed deliveries whose next attempt is due, oldest first."""
        aware(now, "now")
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
        same transaction, so another process delivering at the same time does not take it too
        (SQLite's write lock serialises the two; on PostgreSQL the rows are locked, and rows
        another process is claiming are skipped: FOR UPDATE SKIP LOCKED).
        The attempt then records `delivery_sent` or `delivery_failed`."""
        aware(now, "now")
        with self._write.begin() as s:
            rows = s.execute(
                _delivery_query()
                .where(Delivery.status.in_(("pending", "failed")), Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=Delivery)
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
        aware(now, "now")
        with self._write.begin() as s:
            row = s.execute(
                _delivery_query()
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status.in_(("pending", "failed")),
                    Delivery.next_attempt_at <= now,
                )
                .with_for_update(skip_locked=True, of=Delivery)
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
        aware(now, "now")
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
                aware(when, "delivery time")
        with self._write.begin() as s:
            row = s.get(Delivery, delivery_id)
            if row is None:
                raise NotFound(f"no delivery {delivery_id}")
            row.status, row.attempts = status, row.attempts + 1
            row.last_error = redact_optional(error)  # a receiver's error may quote its URL
            row.sent_at, row.next_attempt_at = sent_at, retry_at


def add_alert(
    s: Session,
    alert: AlertIn,
    *,
    page_id: int | None,
    ids: dict[str, int | None] | None,
    at: datetime,
) -> int:
    payload = {**alert.payload, "ids": ids} if ids is not None else alert.payload
    installation = s.scalar(select(Installation.installation_id))
    if installation is None:
        raise RuntimeError("the database has no installation id: run `policywatch db upgrade`")
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
            idempotency_key=idempotency_key(installation, row.id, channel),
            created_at=at,
        )
        for channel in alert.channels
    )
    s.flush()
    return row.id


def idempotency_key(installation: str, alert_id: int, channel: str) -> str:
    """The key of one alert's delivery to one channel, the same on every retry, never the same
    for two alerts: the installation's random id makes keys of another database (or another
    installation posting to the same receiver) different."""
    return hashlib.sha256(f"{installation}-{alert_id}-{channel}".encode()).hexdigest()


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


def _delivery_query() -> Select[Delivery, str, str | None, str]:
    return (
        select(Delivery, Alert.kind, Page.slug, Alert.payload)
        .join(Alert, Alert.id == Delivery.alert_id)
        .outerjoin(Page, Page.id == Alert.page_id)
    )
