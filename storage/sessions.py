"""Logins to the web UI: one row per session, keyed by the digest of its random cookie, with an
expiry and a revocation time. The cookie itself is never stored, so a copy of the database opens
no session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from storage.base import Store, aware
from storage.models import WebSession


class SessionStore(Store):
    def open(self, digest: str, now: datetime, expires_at: datetime) -> None:
        """Record a new session (and forget those that ended before `now`)."""
        aware(now, "now")
        aware(expires_at, "expires_at")
        with self._write.begin() as s:
            s.execute(delete(WebSession).where(WebSession.expires_at <= now))
            s.add(WebSession(digest=digest, created_at=now, expires_at=expires_at))

    def valid(self, digest: str, now: datetime) -> bool:
        """Whether the session exists, is not revoked and has not expired at `now`."""
        aware(now, "now")
        query = select(WebSession.id).where(
            WebSession.digest == digest,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
        with self._read() as s:
            return s.scalar(query) is not None

    def revoke(self, digest: str, now: datetime) -> bool:
        """End the session now (logout); False when there was no open session to end."""
        aware(now, "now")
        with self._write.begin() as s:
            row = s.scalars(
                select(WebSession).where(
                    WebSession.digest == digest, WebSession.revoked_at.is_(None)
                )
            ).first()
            if row is None:
                return False
            row.revoked_at = now
            return True
