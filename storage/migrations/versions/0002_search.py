"""Phrase search: search_lines (each distinct line once), block_spans (the versions holding it),
and on SQLite with FTS5 a contentless full-text index over the lines; backfilled from the
versions already stored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import search

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_search_lines"),
        sa.UniqueConstraint("digest", name="uq_search_lines_digest"),
    )
    op.create_table(
        "block_spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("since_version", sa.Integer(), nullable=False),
        sa.Column("until_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name="fk_block_spans_page_id_pages"),
        sa.ForeignKeyConstraint(
            ["line_id"], ["search_lines.id"], name="fk_block_spans_line_id_search_lines"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_block_spans"),
    )
    op.create_index("ix_block_spans_line_id", "block_spans", ["line_id"])
    op.create_index(
        "ix_block_spans_open",
        "block_spans",
        ["page_id"],
        sqlite_where=sa.text("until_version IS NULL"),
        postgresql_where=sa.text("until_version IS NULL"),
    )
    connection = op.get_bind()
    search.create_fts(connection)
    # The backfill reads every stored version once (decoded in chain order, not one by one).
    search.rebuild(connection)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {search.FTS_TABLE}"))
    op.drop_table("block_spans")
    op.drop_table("search_lines")
