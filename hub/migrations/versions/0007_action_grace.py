"""an action's grace period: its runs wait before changing anything

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 16:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("grace_hours", sa.Float(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.drop_column("grace_hours")
