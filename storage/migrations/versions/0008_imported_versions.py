"""versions.source and versions.source_commit: a version imported from an archive (an Open
Terms Archive versions repository, the shared corpus) says where it came from; one commit is
imported once per page.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))
        batch.add_column(sa.Column("source_commit", sa.String(64), nullable=True))
        batch.create_unique_constraint(
            "uq_versions_page_id_source_commit", ["page_id", "source_commit"]
        )


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint("uq_versions_page_id_source_commit", type_="unique")
        batch.drop_column("source_commit")
        batch.drop_column("source")
