"""an action's limits and circuit breaker, its pause; when a run was started

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 16:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("limits", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("breaker", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("paused_reason", sa.Text(), server_default="", nullable=False)
        )
    with op.batch_alter_table("hub_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("started_at", hub.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_runs", schema=None) as batch_op:
        batch_op.drop_column("started_at")
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.drop_column("paused_reason")
        batch_op.drop_column("breaker")
        batch_op.drop_column("limits")
