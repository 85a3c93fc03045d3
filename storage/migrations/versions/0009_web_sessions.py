"""web_sessions: logins to the web UI, by the digest of their random cookie, with an expiry and
a revocation time (logout). And the rows written before URLs were redacted (storage.redact):
check messages, incidents' and deliveries' errors, incident alerts, page and snapshot addresses.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.redact import redact

# (table, column, extra condition): where a URL's credentials or token may have been written.
REDACTED = (
    ("checks", "message", ""),
    ("incidents", "last_error", ""),
    ("deliveries", "last_error", ""),
    ("alerts", "payload", "kind LIKE 'incident%'"),
    ("pages", "url", ""),
    ("snapshots", "url", ""),
    ("snapshots", "final_url", ""),
)

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("digest", name=op.f("uq_web_sessions_digest")),
    )
    op.create_index(op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"])
    bind = op.get_bind()
    for table, column, condition in REDACTED:
        where = f"{column} LIKE '%://%'" + (f" AND {condition}" if condition else "")
        rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {where}")).all()
        changed = [{"id": i, "value": redact(v)} for i, v in rows if redact(v) != v]
        if changed:
            update = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id")
            bind.execute(update, changed)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_expires_at"), table_name="web_sessions")
    op.drop_table("web_sessions")
