"""the job code each worker serves: its version and Git commit, set at each registration

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_workers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("code_version", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("code_commit", sa.String(length=200), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_workers", schema=None) as batch_op:
        batch_op.drop_column("code_commit")
        batch_op.drop_column("code_version")
