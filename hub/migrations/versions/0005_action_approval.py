"""an action's approval setting: its runs plan first and wait for an Analyst's or Admin's decision

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approval", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.drop_column("approval")
