"""initial tables

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 13:03:30.022488
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role_arn", sa.String(length=2048), nullable=True),
        sa.Column("external_id", sa.String(length=1224), nullable=True),
        sa.Column("created_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "hub_findings",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=10), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=200), nullable=True),
        sa.Column("rule_name", sa.String(length=200), nullable=True),
        sa.Column("level", sa.String(length=50), nullable=True),
        sa.Column("risk_score", sa.Float(), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("object_id", sa.String(length=2048), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("first_seen", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hub_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_findings_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_hub_findings_status"), ["status"], unique=False)

    op.create_table(
        "hub_users",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "hub_worker_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("secret_rotated_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "hub_api_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["hub_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("hub_api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "hub_group_accounts",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["hub_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["hub_worker_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "account_id"),
    )
    op.create_table(
        "hub_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=False),
        sa.Column("job", sa.String(length=200), nullable=False),
        sa.Column("received_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["hub_worker_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hub_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_logs_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_logs_run_id"), ["run_id"], unique=False)

    op.create_table(
        "hub_remediations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(length=10), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("notify", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("auto_remediate", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["hub_worker_groups.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_remediations_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "hub_workers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("jobs", sa.JSON(), nullable=False),
        sa.Column("registered_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["hub_worker_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "worker_id"),
    )
    with op.batch_alter_table("hub_workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_workers_group_id"), ["group_id"], unique=False)

    op.create_table(
        "hub_runs",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("finding_id", sa.String(length=200), nullable=False),
        sa.Column(
            "remediation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("triggered_by", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("start_attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", hub.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["hub_findings.id"],
        ),
        sa.ForeignKeyConstraint(
            ["remediation_id"],
            ["hub_remediations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("finding_id", "remediation_id"),
    )
    with op.batch_alter_table("hub_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_runs_finding_id"), ["finding_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_runs_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_hub_runs_remediation_id"), ["remediation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_hub_runs_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hub_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_runs_status"))
        batch_op.drop_index(batch_op.f("ix_hub_runs_remediation_id"))
        batch_op.drop_index(batch_op.f("ix_hub_runs_group_id"))
        batch_op.drop_index(batch_op.f("ix_hub_runs_finding_id"))

    op.drop_table("hub_runs")
    with op.batch_alter_table("hub_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_workers_group_id"))

    op.drop_table("hub_workers")
    with op.batch_alter_table("hub_remediations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_remediations_group_id"))

    op.drop_table("hub_remediations")
    with op.batch_alter_table("hub_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_logs_run_id"))
        batch_op.drop_index(batch_op.f("ix_hub_logs_group_id"))

    op.drop_table("hub_logs")
    op.drop_table("hub_group_accounts")
    with op.batch_alter_table("hub_api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_api_tokens_user_id"))

    op.drop_table("hub_api_tokens")
    op.drop_table("hub_worker_groups")
    op.drop_table("hub_users")
    with op.batch_alter_table("hub_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_findings_status"))
        batch_op.drop_index(batch_op.f("ix_hub_findings_account_id"))

    op.drop_table("hub_findings")
    op.drop_table("hub_accounts")
