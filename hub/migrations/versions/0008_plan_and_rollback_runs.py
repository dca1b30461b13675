"""plan and rollback runs beside a finding's remediation; an action's run mode, failure policy
and exclusions

A (finding, action) pair has up to three runs now, one per mode: its remediation, its plan and its
rollback. The unique constraint grows the mode (named now, so later migrations can find it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 19:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: SQLite reflects the unnamed constraint of 0001 without a name: this convention names it
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
NEW = "uq_hub_runs_finding_action_mode"


def _old_constraint() -> tuple[str, dict[str, object]]:
    if op.get_context().dialect.name == "sqlite":
        return "uq_hub_runs_finding_id", {"naming_convention": _SQLITE_NAMES}
    return "hub_runs_finding_id_remediation_id_key", {}  # PostgreSQL's name for it


def upgrade() -> None:
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("run_mode", sa.String(20), server_default="remediate", nullable=False)
        )
        batch_op.add_column(
            sa.Column("on_failure", sa.String(10), server_default="stop", nullable=False)
        )
        batch_op.add_column(
            sa.Column("exclude_accounts", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column("exclude_regions", sa.JSON(), server_default="[]", nullable=False)
        )
    old, options = _old_constraint()
    with op.batch_alter_table("hub_runs", schema=None, **options) as batch_op:  # type: ignore[arg-type]
        batch_op.add_column(
            sa.Column("mode", sa.String(10), server_default="remediate", nullable=False)
        )
        batch_op.add_column(sa.Column("rollback_of", sa.String(200), nullable=True))
        batch_op.drop_constraint(old, type_="unique")
        batch_op.create_unique_constraint(NEW, ["finding_id", "remediation_id", "mode"])


def downgrade() -> None:
    old, options = _old_constraint()
    op.execute("DELETE FROM hub_runs WHERE mode != 'remediate'")
    with op.batch_alter_table("hub_runs", schema=None, **options) as batch_op:  # type: ignore[arg-type]
        batch_op.drop_constraint(NEW, type_="unique")
        batch_op.create_unique_constraint(old, ["finding_id", "remediation_id"])
        batch_op.drop_column("rollback_of")
        batch_op.drop_column("mode")
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        for column in ("exclude_regions", "exclude_accounts", "on_failure", "run_mode"):
            batch_op.drop_column(column)
