"""The hub's tables. Secrets are stored hashed (sha256 of a random 32-byte value), never in clear."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from hub.run_states import HubRunState


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on SQLite (which drops the zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RunStateColumn(TypeDecorator[HubRunState]):
    """A run's state: stored as its plain string (as always), read back as the enum."""

    impl = String(20)
    cache_ok = True

    def process_bind_param(self, value: HubRunState | str | None, dialect: Dialect) -> str | None:
        return None if value is None else HubRunState(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> HubRunState | None:
        return None if value is None else HubRunState(value)


#: autoincrement 64-bit keys on PostgreSQL, rowid aliases on SQLite
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class User(Base):
    __tablename__ = "hub_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: a disabled user's tokens are refused (hub/tokens.py)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiToken(Base):
    __tablename__ = "hub_api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("hub_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: lifecycle (hub/tokens.py): a label, an optional expiry, the last use, a revocation
    label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WorkerGroup(Base):
    __tablename__ = "hub_worker_groups"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    secret_rotated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CloudAccount(Base):
    """An AWS account or an Azure subscription, and how a worker reaches it (identifiers only)."""

    __tablename__ = "hub_accounts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # 12 digits or a uuid
    provider: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200), default="")
    role_arn: Mapped[str | None] = mapped_column(String(2048))
    external_id: Mapped[str | None] = mapped_column(String(1224))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupAccount(Base):
    __tablename__ = "hub_group_accounts"
    group_id: Mapped[str] = mapped_column(
        ForeignKey("hub_worker_groups.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(
        ForeignKey("hub_accounts.id", ondelete="CASCADE"), primary_key=True
    )


class Worker(Base):
    __tablename__ = "hub_workers"
    __table_args__ = (UniqueConstraint("group_id", "worker_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("hub_worker_groups.id", ondelete="CASCADE"), index=True
    )
    worker_id: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[str] = mapped_column(String(100), default="")
    jobs: Mapped[list[Any]] = mapped_column(default=list)
    #: the notification destinations its environment allows (remedy/destinations.py)
    notify_destinations: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    #: the job code it serves: Registry.version (12 hex digits) and its Git commit ("" if none)
    code_version: Mapped[str] = mapped_column(String(200), default="", server_default="")
    code_commit: Mapped[str] = mapped_column(String(200), default="", server_default="")
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_heartbeat: Mapped[datetime] = mapped_column(default=utcnow)


class Remediation(Base):
    """A remediation action: which findings it fixes, with which jobs, run by which group."""

    __tablename__ = "hub_remediations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    provider: Mapped[str] = mapped_column(String(10))
    group_id: Mapped[str] = mapped_column(ForeignKey("hub_worker_groups.id"), index=True)
    rule_ids: Mapped[list[Any]] = mapped_column(default=list)
    account_ids: Mapped[list[Any]] = mapped_column(default=list)
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notify: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    auto_remediate: Mapped[bool] = mapped_column(Boolean, default=False)
    #: after a run, update the Security Hub finding it fixed (ASFF findings only)
    write_back: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: {} or its approval settings (hub.schemas.ApprovalIn): runs plan and wait for a decision
    approval: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: hub.blast_radius: {} (the defaults) or its Limits and Breaker; why it paused itself
    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    breaker: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paused_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: hours its runs wait before changing anything (0: none); a resolved finding skips them
    grace_hours: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    #: remediate, or plan-only (its runs plan and change nothing)
    run_mode: Mapped[str] = mapped_column(
        String(20), default="remediate", server_default="remediate"
    )
    #: a chain failing half-way: stop, or roll back the steps that succeeded
    on_failure: Mapped[str] = mapped_column(String(10), default="stop", server_default="stop")
    #: accounts and regions it never changes: their runs end skipped
    exclude_accounts: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    exclude_regions: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Finding(Base):
    __tablename__ = "hub_findings"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # FindingId
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    provider: Mapped[str] = mapped_column(String(10))
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    rule_id: Mapped[str | None] = mapped_column(String(200))
    rule_name: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[str | None] = mapped_column(String(50))
    risk_score: Mapped[float | None] = mapped_column(Float)
    region: Mapped[str | None] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[dict[str, Any]]
    #: the document as received, when it came in another format than the VSS payload
    original: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)


class Run(Base):
    """One remediation of one finding by one action; its id is the Temporal workflow id."""

    __tablename__ = "hub_runs"
    __table_args__ = (
        UniqueConstraint(
            "finding_id", "remediation_id", "mode", name="uq_hub_runs_finding_action_mode"
        ),
    )
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    finding_id: Mapped[str] = mapped_column(ForeignKey("hub_findings.id"), index=True)
    remediation_id: Mapped[int] = mapped_column(ForeignKey("hub_remediations.id"), index=True)
    group_id: Mapped[str] = mapped_column(String(64), index=True)
    trigger: Mapped[str] = mapped_column(String(10))  # auto | manual
    triggered_by: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[HubRunState] = mapped_column(RunStateColumn, index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    start_attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: when it was submitted to Temporal (the blast radius counts runs started in the last hour)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: remediate, plan (changes nothing) or rollback (undoes the run `rollback_of`)
    mode: Mapped[str] = mapped_column(String(10), default="remediate", server_default="remediate")
    rollback_of: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: the batch workflow it runs in (findings sharing a job, account and region: hub/batching.py);
    #: None for a run that is its own workflow. Set when its batch is first tried, so a retried
    #: start joins that batch instead of running the finding in another.
    batch_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)


class QueuedStart(Base):
    """A claimed run still to be started on Temporal (hub/start_queue.py): keyed by the run's id,
    which is its workflow id, so a run is queued once however often its finding arrives."""

    __tablename__ = "hub_start_queue"
    run_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("hub_runs.id", ondelete="CASCADE"), primary_key=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: when a hub may take it next (the claimant's lease, then the backoff after a failed start)
    next_try_at: Mapped[datetime] = mapped_column(index=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")


class LogEntry(Base):
    """A chunk of a job's log as a worker shipped it (redacted on receipt)."""

    __tablename__ = "hub_logs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(
        ForeignKey("hub_worker_groups.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[str] = mapped_column(String(200), index=True)
    worker_id: Mapped[str] = mapped_column(String(200), default="")
    job: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # retention
    text: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    """A change an admin or analyst made (hub/audit.py): who, what, when. Never a request body."""

    __tablename__ = "hub_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(300))  # e.g. "POST /remediations/3/publish"
    status: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
