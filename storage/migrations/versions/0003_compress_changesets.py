"""Change sets stored zstd-compressed (they were plain JSON text), moved to the end of the row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import blobs

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _convert(source: str, target: str, convert: object) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT id, {source} FROM changes")).fetchall()
    for row_id, value in rows:
        conn.execute(
            sa.text(f"UPDATE changes SET {target} = :value WHERE id = :id"),
            {"value": convert(value), "id": row_id},  # type: ignore[operator]
        )


def upgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.add_column(sa.Column("changeset_z", sa.LargeBinary(), nullable=True))
    _convert("changeset", "changeset_z", lambda text: blobs.encode(text.encode("utf-8")))
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("changeset")
        batch.alter_column("changeset_z", new_column_name="changeset", nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.add_column(sa.Column("changeset_text", sa.Text(), nullable=True))
    _convert("changeset", "changeset_text", lambda blob: blobs.decode(blob).decode("utf-8"))
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("changeset")
        batch.alter_column("changeset_text", new_column_name="changeset", nullable=False)
