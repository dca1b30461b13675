"""What the API takes and answers. No answer model has a field for a stored secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.auth import Role
from hub.blast_radius import Breaker, Limits
from hub.run_states import HubRunState
from remedy.aws_ids import EXTERNAL_ID_MAX, EXTERNAL_ID_MIN, EXTERNAL_ID_PATTERN
from remedy.types import JobInfo, JobStep, NotificationSettings, Provider, StepStatus, TagSettings

# Control characters (NUL above all) are refused: PostgreSQL cannot store NUL in text.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # tab, newline and CR allowed

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_PRINTABLE)
]
Short = Annotated[str, StringConstraints(max_length=200, pattern=_PRINTABLE)]
Description = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
RuleId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_PRINTABLE)]
Region = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_PRINTABLE)]
AccountId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
]
WorkerId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@-]+$")
]
FindingId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Level = Literal["Low", "Medium", "High", "Critical"]
LEVEL_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}

#: path parameter patterns
GROUP_ID = r"^[A-Za-z0-9_.-]{1,64}$"
RUN_ID = r"^[A-Za-z0-9_.+-]{1,200}$"
FINDING_ID = r"^[^\x00-\x1f\x7f]{1,200}$"
ACCOUNT_ID = r"^[A-Za-z0-9-]{1,64}$"
MAX_ID = 2**31 - 1


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


# -- users ----------------------------------------------------------------------------------------


class UserIn(_In):
    name: Name
    role: Role


class UserOut(BaseModel):
    name: str
    role: Role
    created_at: datetime
    disabled: bool = False


class UserCreated(BaseModel):
    user: UserOut
    token: str = Field(description="The user's API token: shown this once, stored hashed.")


# -- worker groups, accounts, workers -------------------------------------------------------------


class GroupIn(_In):
    name: Name
    description: Description = ""


class DeployCommands(BaseModel):
    aws: str
    azure: str


class CodeVersion(BaseModel):
    """One version of the job code, and the online workers of the group that serve it."""

    code_version: str = Field(
        description="Registry.version: 12 hex digits over every job's name and checksum "
        "(empty: the worker predates code versions)."
    )
    code_commit: str = Field(description="The Git commit of the job code (empty: not from Git).")
    workers: list[str]


class GroupOut(BaseModel):
    id: str
    name: str
    description: str
    enabled: bool
    client_id: str
    created_at: datetime
    secret_rotated_at: datetime
    accounts: list[str]
    workers_online: int
    workers_total: int
    code_versions: list[CodeVersion] = Field(
        default_factory=list,
        description="The job code versions its online workers serve: one while they agree.",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Set when its online workers serve different job code: which workers serve "
        "which version, which jobs differ, and how to bring them in line.",
    )


class GroupCreated(BaseModel):
    group: GroupOut
    client_secret: str = Field(description="Shown this once; the hub keeps only its hash.")
    deploy: DeployCommands


class SecretRegenerated(BaseModel):
    group_id: str
    client_id: str
    client_secret: str = Field(description="Shown this once; the previous secret no longer works.")
    deploy: DeployCommands


class JobSummary(BaseModel):
    name: str
    provider: Provider | None
    checksum: str


class WorkerOut(BaseModel):
    worker_id: str
    host: str
    version: str
    state: Literal["Online", "Offline"]
    registered_at: datetime
    last_heartbeat: datetime
    jobs: list[JobSummary]
    code_version: str = Field(
        default="", description="The version of the job code it serves (12 hex digits)."
    )
    code_commit: str = Field(default="", description="The Git commit of that job code, if any.")


class JobVersion(BaseModel):
    """One checksum of a job and the online workers that registered it."""

    checksum: str
    workers: list[str]


class GroupJob(BaseModel):
    """A job the group offers: registered by at least one of its online workers."""

    name: str
    provider: Provider | None
    checksums: list[str]
    workers: list[str]
    rules: list[str]
    parameters: dict[str, Any]
    description: str
    versions: list[JobVersion] = Field(
        default_factory=list, description="Each checksum of the job and the workers serving it."
    )
    warning: str | None = Field(
        default=None,
        description="Set when the group's online workers differ on this job: other checksums, "
        "or workers without it.",
    )


class AccountIn(_In):
    provider: Provider
    account_id: AccountId = Field(
        description="AWS: the 12-digit account id; Azure: the subscription id."
    )
    name: Short = ""
    role_arn: Short | None = Field(default=None, description="AWS: the role the worker assumes.")
    external_id: (
        Annotated[
            str,
            StringConstraints(
                min_length=EXTERNAL_ID_MIN, max_length=EXTERNAL_ID_MAX, pattern=EXTERNAL_ID_PATTERN
            ),
        ]
        | None
    ) = None


class AccountOut(BaseModel):
    account_id: str
    provider: Provider
    name: str
    role_arn: str | None
    external_id: str | None
    groups: list[str]
    created_at: datetime


class WorkerRegistration(_In):
    worker_id: WorkerId
    host: Short = ""
    version: Short = ""
    group_id: Annotated[str, StringConstraints(pattern=GROUP_ID)] | None = Field(
        default=None, description="REMEDY_WORKER_GROUP, checked against the credentials' group."
    )
    jobs: list[JobInfo] = Field(default_factory=list, max_length=2000)
    code_version: Short = Field(
        default="", description="The version of the job code the worker serves (12 hex digits)."
    )
    code_commit: Short = Field(
        default="", description="The Git commit of the job code, when it comes from Git."
    )
    notify_destinations: list[
        Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=_PRINTABLE)]
    ] = Field(
        default_factory=list,
        max_length=100,
        description="REMEDY_NOTIFY_ALLOWED_HOSTS: where the worker sends notifications.",
    )


class Registered(BaseModel):
    group_id: str
    heartbeat_interval_s: float
    offline_after_s: float


class Heartbeat(_In):
    worker_id: WorkerId


class LogBatch(_In):
    worker_id: Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9_.:@-]*$")] = (
        ""
    )
    job: Short = ""
    # line length: hub_max_log_line_chars (413), the whole batch: hub_max_log_batch_bytes
    lines: list[str] = Field(min_length=1, max_length=2000)


class LogEntryOut(BaseModel):
    id: int
    run_id: str
    group_id: str
    worker_id: str
    job: str
    received_at: datetime
    text: str


# -- remediation actions --------------------------------------------------------------------------


class Criteria(_In):
    """Which findings of the action's rules and accounts it takes; every criterion set must hold."""

    regions: list[Region] = Field(default_factory=list, max_length=50)
    standards: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$")]] = (
        Field(
            default_factory=list,
            max_length=20,
            description="Standards a finding's control ids must come from (any of): securityhub, "
            "cis-aws-1.2, prowler, vss, ...",
        )
    )
    resource_types: list[RuleId] = Field(
        default_factory=list,
        max_length=50,
        description="Resource types as the source names them (any of), e.g. AwsEc2SecurityGroup.",
    )
    cloud_tags: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_PRINTABLE)],
        Annotated[str, StringConstraints(max_length=256, pattern=_PRINTABLE)],
    ] = Field(
        default_factory=dict,
        max_length=50,
        description="Tags the resource must carry ('*': any value).",
    )
    min_risk_score: float | None = Field(default=None, ge=0, le=100)
    min_level: Level | None = None


class ApprovalIn(_In):
    """Runs of the action plan first and change nothing until an Analyst or Admin approves."""

    required: bool = True
    expires_hours: float = Field(
        default=24, gt=0, le=720, description="How long a plan waits for a decision."
    )
    forbid_self: bool = Field(
        default=True, description="The user who triggered a run may not approve it."
    )


class RemediationIn(_In):
    name: Name
    description: Description = ""
    provider: Provider
    worker_group_id: Annotated[str, StringConstraints(pattern=GROUP_ID)]
    rule_ids: list[RuleId] = Field(min_length=1, max_length=200)
    account_ids: list[AccountId] = Field(
        default_factory=list,
        max_length=500,
        description="Accounts it acts on (each associated with the group); empty: all of the group's.",
    )
    criteria: Criteria = Field(default_factory=Criteria)
    steps: list[JobStep] = Field(
        min_length=1, max_length=20, description="One job, or a chain run in order."
    )
    tags: TagSettings = Field(default_factory=TagSettings)
    notify: NotificationSettings = Field(default_factory=NotificationSettings)
    auto_remediate: bool = False
    write_back: bool = Field(
        default=False,
        description="After each run, update the Security Hub finding it came from "
        "(BatchUpdateFindings: RESOLVED with a note naming the run when fixed, NOTIFIED when a "
        "ticket was filed, else a note). Security Hub (ASFF) findings only; the account's role "
        "needs securityhub:BatchUpdateFindings.",
    )
    approval: ApprovalIn | None = Field(
        default=None,
        description="Plan first and wait for an Analyst's or Admin's approval "
        "(POST /runs/{id}/approve) before changing anything; none: runs act at once.",
    )
    grace_hours: float = Field(
        default=0,
        ge=0,
        le=720,
        description="Wait this long before changing anything; a finding resolved meanwhile "
        "(PASSED at its source, or suppressed) ends the run skipped.",
    )
    run_mode: Literal["remediate", "plan-only"] = Field(
        default="remediate",
        description="plan-only: its runs (automatic and manual) plan and change nothing.",
    )
    on_failure: Literal["stop", "rollback"] = Field(
        default="stop",
        description="A chain failing half-way: stop, or roll back the steps that succeeded.",
    )
    exclude_accounts: list[AccountId] = Field(
        default_factory=list,
        max_length=500,
        description="Accounts it never changes: their runs end skipped, saying so.",
    )
    exclude_regions: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,50}$")]] = Field(
        default_factory=list,
        max_length=100,
        description="Regions it never changes (us-east-1, westeurope): their runs end skipped.",
    )
    limits: Limits = Field(
        default_factory=Limits,
        description="Per account: runs open at a time and started an hour; the rest wait.",
    )
    breaker: Breaker = Field(
        default_factory=Breaker,
        description="Pause the action when too many of its last runs failed.",
    )
    status: Literal["draft", "published"] = "draft"


class RemediationPatch(_In):
    """Fields to change; those left out keep their value."""

    name: Name | None = None
    description: Description | None = None
    provider: Provider | None = None
    worker_group_id: Annotated[str, StringConstraints(pattern=GROUP_ID)] | None = None
    rule_ids: list[RuleId] | None = Field(default=None, min_length=1, max_length=200)
    account_ids: list[AccountId] | None = Field(default=None, max_length=500)
    criteria: Criteria | None = None
    steps: list[JobStep] | None = Field(default=None, min_length=1, max_length=20)
    tags: TagSettings | None = None
    notify: NotificationSettings | None = None
    auto_remediate: bool | None = None
    write_back: bool | None = None
    approval: ApprovalIn | None = None
    grace_hours: float | None = Field(default=None, ge=0, le=720)
    run_mode: Literal["remediate", "plan-only"] | None = None
    on_failure: Literal["stop", "rollback"] | None = None
    exclude_accounts: list[AccountId] | None = Field(default=None, max_length=500)
    exclude_regions: (
        list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,50}$")]] | None
    ) = Field(default=None, max_length=100)
    limits: Limits | None = None
    breaker: Breaker | None = None
    status: Literal["draft", "published"] | None = None


class RemediationOut(BaseModel):
    id: int
    name: str
    description: str
    provider: Provider
    worker_group_id: str
    rule_ids: list[str]
    account_ids: list[str]
    criteria: Criteria
    steps: list[JobStep]
    tags: TagSettings
    notify: NotificationSettings
    auto_remediate: bool
    write_back: bool = False
    approval: ApprovalIn | None = None
    grace_hours: float = 0
    run_mode: Literal["remediate", "plan-only"] = "remediate"
    on_failure: Literal["stop", "rollback"] = "stop"
    exclude_accounts: list[str] = Field(default_factory=list)
    exclude_regions: list[str] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    breaker: Breaker = Field(default_factory=Breaker)
    paused: str | None = Field(
        default=None, description="Why the action paused itself; POST .../resume lifts it."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What may keep the action from running as saved (e.g. no worker of its "
        "group has registered yet: its jobs were checked against the built-in catalogue).",
    )
    status: Literal["draft", "published"]
    created_by: str
    created_at: datetime
    updated_at: datetime


# -- findings and runs ----------------------------------------------------------------------------

#: resolved: the source says the resource passes now, or resolved or archived the finding
FindingStatus = Literal[
    "open", "queued", "remediating", "remediated", "failed", "suppressed", "resolved"
]


class FindingOut(BaseModel):
    id: str
    status: FindingStatus
    provider: Provider
    account_id: str
    rule_id: str | None
    rule_name: str | None
    level: str | None
    risk_score: float | None
    region: str | None
    object_id: str
    first_seen: datetime
    last_seen: datetime
    times_seen: int
    runs: list[str]


class FindingDetail(FindingOut):
    payload: dict[str, Any]
    original: dict[str, Any] | None = Field(
        default=None, description="The finding as received, when it was not a VSS payload."
    )


class FindingStatusIn(_In):
    status: Literal["open", "suppressed"] = Field(
        description="Suppress a finding (never auto-remediated), or open it again."
    )


class IngestItem(BaseModel):
    index: int
    finding_id: str | None
    result: Literal["created", "updated", "rejected"]
    format: Literal["asff", "ocsf", "vss"] | None = None
    status: FindingStatus | None = None
    note: str | None = Field(
        default=None, description="Why the finding is recorded and not acted on, when it is not."
    )
    error: str | None = None
    fix: str | None = None
    field: str | None = None
    matched: list[int] = Field(default_factory=list, description="Published actions it matches.")
    runs: list[str] = Field(default_factory=list, description="Its runs (started or existing).")
    queued: list[str] = Field(
        default_factory=list,
        description="The runs this delivery claimed: queued, started on Temporal in the "
        "background (retried with backoff while Temporal is away).",
    )


class IngestResult(BaseModel):
    accepted: int
    rejected: int
    items: list[IngestItem]
    queued: int = Field(default=0, description="Runs claimed by this delivery and queued to start.")
    runs: Literal["queued", "none"] = Field(
        default="none",
        description='"queued" when this delivery queued runs: the answer never waits for '
        "Temporal; GET /runs/{id} shows each one start.",
    )


class TriggerIn(_In):
    finding_ids: list[FindingId] = Field(min_length=1, max_length=100)
    plan: bool = Field(
        default=False,
        description="A plan run: the whole workflow in plan mode, ending with the changes it "
        "would make; nothing is changed. It is its own run, beside the finding's remediation.",
    )


class RunOut(BaseModel):
    id: str
    finding_id: str
    remediation_id: int
    remediation: str
    group_id: str
    trigger: Literal["auto", "manual"]
    triggered_by: str
    mode: Literal["remediate", "plan", "rollback"] = "remediate"
    rollback_of: str | None = Field(default=None, description="The run a rollback undoes.")
    batch_id: str | None = Field(
        default=None,
        description="The batch workflow the run is started in (findings sharing a job, account "
        "and region remediated together; the run keeps its own status); null for a run that is "
        "its own workflow.",
    )
    status: HubRunState = Field(
        description="pending (claimed, not started), submitted, then the workflow's state: "
        "running, awaiting_approval (planned, waiting for a decision), succeeded, "
        "succeeded_with_errors, failed, cancelled or skipped (the resource opted out); or "
        "Temporal's: "
        "terminated, timed_out, or stuck (open, its workflow task failing)"
    )
    message: str
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    temporal_url: str


class RunDetail(RunOut):
    steps: list[StepStatus] = Field(default_factory=list)
    notification: str = ""
    live: bool = Field(description="True when the status came from the workflow just now.")


class TriggerOut(BaseModel):
    runs: list[RunOut]


class DecisionIn(_In):
    comment: str = Field(default="", max_length=2000)


class ApprovalOut(BaseModel):
    """A run waiting for a decision, with the plan it would apply."""

    run: RunOut
    plan: list[str]
    expires_at: datetime | None
    decisions: list[dict[str, Any]]
