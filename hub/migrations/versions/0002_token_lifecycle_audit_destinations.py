"""token lifecycle, audit log, worker notification destinations, log retention index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:18:30.165585
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=300), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hub_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_audit_at"), ["at"], unique=False)

    with op.batch_alter_table("hub_api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("label", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("expires_at", hub.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_used_at", hub.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("revoked_at", hub.models.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("hub_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("hub_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_logs_received_at"), ["received_at"], unique=False)

    with op.batch_alter_table("hub_workers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify_destinations", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_workers", schema=None) as batch_op:
        batch_op.drop_column("notify_destinations")

    with op.batch_alter_table("hub_users", schema=None) as batch_op:
        batch_op.drop_column("disabled")

    with op.batch_alter_table("hub_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_logs_received_at"))

    with op.batch_alter_table("hub_api_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("label")

    with op.batch_alter_table("hub_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_audit_at"))

    op.drop_table("hub_audit")
