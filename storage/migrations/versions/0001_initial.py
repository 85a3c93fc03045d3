"""Initial schema: pages, snapshots, versions, changes, change_topics, checks, incidents, alerts,
deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from storage.models: a migration is frozen at its revision.
UTC = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "pages",
        _id(),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetcher", sa.String(length=20), nullable=False),
        sa.Column("rules_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pages"),
        sa.UniqueConstraint("slug", name="uq_pages_slug"),
    )
    op.create_table(
        "snapshots",
        _id(),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", UTC, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        _fk("snapshots", "base_id", "snapshots"),
        _fk("snapshots", "page_id", "pages"),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.UniqueConstraint("page_id", "body_sha256", name="uq_snapshots_page_id_body_sha256"),
    )
    op.create_table(
        "versions",
        _id(),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.LargeBinary(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.Column("rules_hash", sa.String(length=64), nullable=False),
        sa.Column("technical", sa.Boolean(), nullable=False),
        _fk("versions", "base_id", "versions"),
        _fk("versions", "page_id", "pages"),
        _fk("versions", "snapshot_id", "snapshots"),
        sa.PrimaryKeyConstraint("id", name="pk_versions"),
        sa.UniqueConstraint("page_id", "number", name="uq_versions_page_id_number"),
    )
    op.create_table(
        "changes",
        _id(),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=False),
        sa.Column("to_version_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("significance", sa.String(length=20), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("changeset", sa.Text(), nullable=False),
        sa.Column("n_changes", sa.Integer(), nullable=False),
        _fk("changes", "from_version_id", "versions"),
        _fk("changes", "page_id", "pages"),
        _fk("changes", "to_version_id", "versions"),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
        sa.UniqueConstraint("to_version_id", name="uq_changes_to_version_id"),
    )
    op.create_index("ix_changes_page_id_created_at", "changes", ["page_id", "created_at"])
    op.create_table(
        "change_topics",
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        _fk("change_topics", "change_id", "changes"),
        sa.PrimaryKeyConstraint("change_id", "topic", name="pk_change_topics"),
    )
    op.create_index("ix_change_topics_topic", "change_topics", ["topic"])
    op.create_table(
        "checks",
        _id(),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("error_kind", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("fetcher", sa.String(length=20), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        _fk("checks", "page_id", "pages"),
        _fk("checks", "snapshot_id", "snapshots"),
        _fk("checks", "version_id", "versions"),
        sa.PrimaryKeyConstraint("id", name="pk_checks"),
    )
    op.create_index("ix_checks_page_id_started_at", "checks", ["page_id", "started_at"])
    op.create_index("ix_checks_started_at", "checks", ["started_at"])
    op.create_table(
        "incidents",
        _id(),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_check_id", sa.Integer(), nullable=True),
        _fk("incidents", "last_check_id", "checks"),
        _fk("incidents", "page_id", "pages"),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_page_id_closed_at", "incidents", ["page_id", "closed_at"])
    op.create_table(
        "alerts",
        _id(),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=True),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _fk("alerts", "change_id", "changes"),
        _fk("alerts", "incident_id", "incidents"),
        _fk("alerts", "page_id", "pages"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_page_id", "alerts", ["page_id"])
    op.create_table(
        "deliveries",
        _id(),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        _fk("deliveries", "alert_id", "alerts"),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("idempotency_key", name="uq_deliveries_idempotency_key"),
    )
    op.create_index("ix_deliveries_alert_id", "deliveries", ["alert_id"])
    op.create_index(
        "ix_deliveries_status_next_attempt_at", "deliveries", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    for table in (
        "deliveries",
        "alerts",
        "incidents",
        "checks",
        "change_topics",
        "changes",
        "versions",
        "snapshots",
        "pages",
    ):
        op.drop_table(table)
