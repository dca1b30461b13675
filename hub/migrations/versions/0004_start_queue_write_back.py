"""the durable queue of runs to start; an action's Security Hub write-back setting

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 13:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_start_queue",
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["hub_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id"),
    )
    with op.batch_alter_table("hub_start_queue", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_start_queue_next_try_at"), ["next_try_at"], unique=False
        )
    # runs claimed before the queue existed and never started: queue them, due now
    op.execute(
        "INSERT INTO hub_start_queue (run_id, attempts, next_try_at, queued_at, last_error) "
        "SELECT id, start_attempts, updated_at, created_at, '' FROM hub_runs "
        "WHERE status = 'pending'"
    )
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("write_back", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.drop_column("write_back")
    with op.batch_alter_table("hub_start_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_start_queue_next_try_at"))
    op.drop_table("hub_start_queue")
