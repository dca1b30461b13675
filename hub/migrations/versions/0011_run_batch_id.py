"""the batch a run is started in: findings sharing a job, account and region run as one workflow

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 04:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_id", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_hub_runs_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hub_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_runs_batch_id"))
        batch_op.drop_column("batch_id")
