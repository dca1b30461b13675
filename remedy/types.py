"""Types shared by the workflow, the activities, the worker and the CLI.

This module imports nothing else of Remedy's but the finding contract's `Provider` (a stdlib
module without side effects), so the deterministic workflow code can import it freely. The finding
payload itself is read by remedy/finding.py, not modelled here. Everything here crosses the
Temporal wire (pydantic data converter) or the job boundary; none of it may ever hold a credential.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remedy.finding import Provider as Provider  # re-exported: the layers above use it from here

# ---------------------------------------------------------------------------------------------
# What to run: a remediation is one job or an ordered chain of jobs.
# ---------------------------------------------------------------------------------------------


class RetrySettings(BaseModel):
    """How a job step is retried when the job exits non-zero or times out."""

    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(default=3, ge=1, le=20)
    initial_interval_s: float = Field(default=2.0, gt=0, le=3600)
    backoff: float = Field(default=2.0, ge=1.0, le=10.0)
    max_interval_s: float = Field(default=60.0, gt=0, le=86400)
    #: how long a step keeps retrying, with the same backoff, when it fails because the cloud is
    #: unreachable, throttling or answering 5xx; those retries do not use up `max_attempts`
    transient_window_s: float = Field(default=600.0, ge=0, le=86400)


class JobStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job: str = Field(min_length=1, max_length=200, pattern=r"^[^\s/\\]+$")
    parameters: dict[str, Any] = Field(default_factory=dict)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    timeout_s: float = Field(default=900.0, gt=0, le=6 * 3600)
    #: run the job's `verify.py` after it, when the job has one (one more job process per run)
    verify: bool = True
    #: a rollback run: the change records of the step it undoes (its `records`), restored by
    #: the job's rollback mode; none: that step changed nothing, there is nothing to undo
    records: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    #: a rollback run: the changes the step it undoes made; once the step's rollback is done,
    #: the job's plan must show them again (the before state is back), else the rollback fails
    undoes: list[str] = Field(default_factory=list, max_length=1000)


class TagSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    extra: dict[str, str] = Field(default_factory=dict)


class AccountAccess(BaseModel):
    """How the worker reaches the target account. Identifiers only: never a secret."""

    model_config = ConfigDict(extra="forbid")
    role_arn: str | None = None
    external_id: str | None = None


class JiraSettings(BaseModel):
    """Where a run files its ticket. Credentials are the worker's (JIRA_* environment), never here."""

    model_config = ConfigDict(extra="forbid")
    server: str = Field(min_length=1, max_length=500)
    project: str = Field(min_length=1, max_length=100)
    issue_type: str = "Task"
    done_transition: str | None = None  # e.g. "Done": applied when the remediation succeeded
    comment_on_existing: bool = True  # same finding remediated again: comment on its open issue


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000)


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jira: JiraSettings | None = None
    webhook: WebhookSettings | None = None
    max_attempts: int = Field(default=8, ge=1, le=20)  # with backoff: about five minutes in all
    #: findings remediated in a batch (workflows/batch.py): one notification for the whole batch
    #: instead of one per finding (each finding's own issue)
    per_batch: bool = False

    def wanted(self) -> bool:
        return self.jira is not None or self.webhook is not None


class SecurityHubFinding(BaseModel):
    """The Security Hub finding a run writes its outcome back to (BatchUpdateFindings names a
    finding by these two: https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFindingIdentifier.html)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=512)
    product_arn: str = Field(min_length=1, max_length=512)
    #: the finding's Region (its Security Hub), when it differs from the account's default
    region: str | None = None


#: what a run does with its jobs: remediate; plan (each job in plan mode: the changes it would
#: make, none made, no tag, notification or write-back); rollback (each job's rollback mode with
#: the records of the run it undoes, in reverse order)
RunMode = Literal["remediate", "plan", "rollback"]


#: who may approve or reject a run (the hub's roles)
APPROVER_ROLES = ("analyst", "admin")


class ApprovalSettings(BaseModel):
    """A run that waits for a person: it plans, shows the plan, and changes nothing until an
    Analyst or Admin approves it (a Temporal update, `decide`)."""

    model_config = ConfigDict(extra="forbid")
    required: bool = True
    #: how long a plan waits for a decision before the run is rejected as expired
    expires_s: float = Field(default=24 * 3600, gt=0, le=30 * 24 * 3600)
    #: who asked for the run; with `forbid_self`, never the one who approves it
    requester: str | None = Field(default=None, max_length=200)
    forbid_self: bool = True


class Decision(BaseModel):
    """An approval or a rejection of a run's plan, by whom and why."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    by: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=50)
    comment: str = Field(default="", max_length=2000)
    #: set by the workflow when it takes the decision
    at: datetime | None = None


class RemediationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    mode: RunMode = "remediate"
    #: plan first and wait for an approval before changing anything (remediate runs only)
    approval: ApprovalSettings | None = None
    #: the opt-out tag: a resource tagged with this key (any value but "false") is never
    #: changed, its run ends `skipped` saying so; "" turns the opt-out off
    skip_tag: str = Field(default="remedy:skip", max_length=128)
    #: wait this long (durably) before changing anything; a `resolve` signal meanwhile (the
    #: finding resolved at its source) ends the run `skipped` (remediate runs only)
    grace_s: float = Field(default=0, ge=0, le=30 * 24 * 3600)
    #: a chain that fails half-way: "rollback" undoes the steps that succeeded (each job's
    #: rollback, in reverse order, from its change records) before the run ends failed
    on_failure: Literal["stop", "rollback"] = "stop"
    #: a rollback run: the run it undoes
    rollback_of: str | None = Field(default=None, max_length=512)
    #: accounts (AWS account ids, Azure subscription ids) and regions never changed: a finding
    #: in one ends its run `skipped`, saying which exclusion matched
    exclude_accounts: list[str] = Field(default_factory=list, max_length=500)
    exclude_regions: list[str] = Field(default_factory=list, max_length=100)
    steps: list[JobStep] = Field(min_length=1, max_length=20)
    tags: TagSettings = Field(default_factory=TagSettings)
    access: AccountAccess = Field(default_factory=AccountAccess)
    notify: NotificationSettings = Field(default_factory=NotificationSettings)
    #: after the run, update this Security Hub finding (off unless the action asks for it)
    write_back: SecurityHubFinding | None = None
    #: how long a job step waits for a worker serving the job code version the run was
    #: validated with before the run fails (None: the validating worker's
    #: REMEDY_JOB_CODE_WAIT_S); docs/architecture.md, "Job code versions"
    code_wait_s: float | None = Field(default=None, ge=1, le=7 * 24 * 3600)

    @field_validator("name")
    @classmethod
    def _default_name(cls, value: str) -> str:
        return value.strip()

    def display_name(self) -> str:
        return self.name or "+".join(step.job for step in self.steps)


class RemediationInput(BaseModel):
    """The workflow's input: the finding as received, and what to do about it.

    The workflow receives it raw and validates it itself (workflows/remediation.py), so an input
    that does not fit fails the run naming the field instead of failing its workflow task.
    """

    model_config = ConfigDict(extra="forbid")

    payload: dict[str, Any]
    spec: RemediationSpec
    #: upsert the custom search attributes (off for a cluster where they are not registered)
    search_attributes: bool = True


# ---------------------------------------------------------------------------------------------
# Activity inputs and results.
# ---------------------------------------------------------------------------------------------

#: the modes a worker runs a job's entry point in (verify runs `verify.py`: RunJobInput.verify)
JobMode = Literal["remediate", "plan", "rollback"]


class AccountRef(BaseModel):
    """Names the target account and how to reach it. Identifiers only."""

    provider: Provider
    account_id: str
    region: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    #: Azure: the finding's resource group (from its ObjectChain), where the resource lives
    resource_group: str | None = None

    def cache_key(self) -> str:
        return f"{self.provider}|{self.account_id}|{self.role_arn}|{self.external_id}"


class ValidateInput(BaseModel):
    payload: dict[str, Any]
    spec: RemediationSpec


class ValidatedFinding(BaseModel):
    """The finding, checked against every job in the chain and completed for both generations."""

    payload: dict[str, Any]
    account: AccountRef
    finding_id: str
    object_id: str
    rule_id: str | None = None
    resource_type: str | None = None
    job_checksums: dict[str, str] = Field(default_factory=dict)
    #: the chain's jobs that can verify their fix (a `verify.py` beside the job)
    verifiable: list[str] = Field(default_factory=list)
    #: the jobs that can plan (a rollback checks with their plan that the before state is back)
    plannable: list[str] = Field(default_factory=list)
    #: why the resource must not be changed (it carries the opt-out tag); None: remediate it
    opted_out: str | None = None
    #: the version of the job code it was validated with (`Registry.version`): every job and
    #: verify step of the run runs on a worker serving exactly that version (None: a worker from
    #: before versions, its steps go to the group's task queue)
    code_version: str | None = None
    #: how long a step waits for such a worker (the spec's `code_wait_s`, else the worker's)
    code_wait_s: float = 1800.0


class AssumeRoleInput(BaseModel):
    account: AccountRef
    run_id: str


class AssumeRoleResult(BaseModel):
    identity: str
    expires_at: datetime | None = None


class RunJobInput(BaseModel):
    job: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    payload: dict[str, Any]
    account: AccountRef
    run_id: str
    timeout_s: float = 900.0
    #: run the job's `verify.py` (does the resource comply now?) instead of the job itself
    verify: bool = False
    #: the entry point's mode (remedy/jobkit/modes.py): plan changes nothing, rollback restores
    #: the `records` a remediation printed; only for a job whose remedy.json lists the mode
    mode: JobMode = "remediate"
    records: list[dict[str, Any]] = Field(default_factory=list)


class JobResult(BaseModel):
    job: str
    exit_code: int
    attempt: int
    duration_s: float
    log_tail: str
    changes: list[str] = Field(default_factory=list)
    errors_logged: int = 0
    output_truncated: bool = False
    #: what the run should say besides the exit code (e.g. writes outside the working copy refused)
    warnings: list[str] = Field(default_factory=list)
    #: the job says what it changes (Remedy's own jobs print `CHANGE:` lines), so no change line
    #: means it found nothing to fix; a foreign VSS job's silence says nothing either way
    reports_changes: bool = False
    #: the mode it ran in: in `plan`, `changes` are the changes it would make (none made)
    mode: JobMode = "remediate"
    #: the change records it printed (`RECORD:` lines) before changing anything: what a rollback
    #: needs to restore the before state, and to tell whether the resource changed since
    records: list[dict[str, Any]] = Field(default_factory=list)


#: the error type of a job failure that looks like the cloud's (unreachable, throttled, 5xx), not
#: the job's own: the workflow retries it for the step's transient window
TRANSIENT_FAILURE = "JobTransientFailure"


#: the error type of a job stopped because its run was cancelled (its changes in the details)
JOB_STOPPED = "JobStopped"


#: the error type of a verification that found the resource still non-compliant
STILL_NONCOMPLIANT = "StillNonCompliant"
#: the exit code of a `verify.py` that finds the resource still non-compliant
EXIT_NONCOMPLIANT = 3


class JobFailure(BaseModel):
    """Details attached to a failed job attempt (ApplicationError details)."""

    job: str
    exit_code: int | None
    attempt: int
    reason: str
    log_tail: str
    #: why the failure looks transient (cloud unreachable, throttled, 5xx), when it does
    transient: str | None = None
    #: the changes the job reported (`CHANGE:` lines) before it failed or was stopped
    changes: list[str] = Field(default_factory=list)
    #: the change records it printed (`RECORD:` lines) before it failed or was stopped
    records: list[dict[str, Any]] = Field(default_factory=list)


class TagInput(BaseModel):
    account: AccountRef
    resource_id: str
    resource_type: str | None = None
    tags: dict[str, str]
    run_id: str


class TagResult(BaseModel):
    tagged: bool
    message: str


class OptOutInput(BaseModel):
    """Read the resource's tags live, just before a run would change it."""

    account: AccountRef
    resource_id: str
    resource_type: str | None = None
    skip_tag: str
    run_id: str


class OptOutResult(BaseModel):
    #: whether the tags were read from the cloud (else the finding's stood)
    read: bool = False
    #: why the resource is left alone, when its live tags opt it out
    opted_out: str | None = None
    message: str = ""


# ---------------------------------------------------------------------------------------------
# Status: what the `status` query and the workflow result say.
# ---------------------------------------------------------------------------------------------


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    #: the run was cancelled while this step ran: a job was stopped (its changes so far are kept)
    CANCELLED = "cancelled"


class RunState(StrEnum):
    RUNNING = "running"
    #: planned, waiting for an Analyst or Admin to approve or reject the plan
    AWAITING_APPROVAL = "awaiting_approval"
    SUCCEEDED = "succeeded"
    #: every job exited 0 but one logged errors (ERROR lines, a traceback): not plain success
    SUCCEEDED_WITH_ERRORS = "succeeded_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: not remediated by choice: the resource opted out (its tag); nothing was changed
    SKIPPED = "skipped"
    #: ended by Temporal, not by the workflow (`temporal workflow terminate`): nothing after it ran
    TERMINATED = "terminated"
    #: ended by Temporal when the run's execution timeout passed
    TIMED_OUT = "timed_out"
    #: open, but its workflow task keeps failing (a worker bug, a non-deterministic change):
    #: Temporal retries it and no step advances until a worker that can run it is deployed
    STUCK = "stuck"


#: states of a run that has not ended: someone may still act on it
OPEN_STATES = frozenset({RunState.RUNNING, RunState.AWAITING_APPROVAL, RunState.STUCK})


class StepStatus(BaseModel):
    name: str
    kind: Literal[
        "validate",
        "assume_role",
        "grace",
        "plan",
        "approval",
        "job",
        "rollback",
        "verify",
        "tag",
        "notify",
        "write_back",
    ]
    state: StepState = StepState.PENDING
    attempts: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    message: str = ""
    log_tail: str = ""
    changes: list[str] = Field(default_factory=list)
    errors_logged: int = 0
    #: False for a job that does not print its changes (a drop-in VSS job): no CHANGE line then
    #: does not mean nothing changed.
    reports_changes: bool = True
    #: the job's change records (JobResult.records): what a rollback of this step restores
    records: list[dict[str, Any]] = Field(default_factory=list)


class RunStatus(BaseModel):
    run_id: str
    remediation: str
    state: RunState = RunState.RUNNING
    current_step: str | None = None
    message: str = ""
    finding_id: str | None = None
    resource: str | None = None
    rule_id: str | None = None
    account_id: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    steps: list[StepStatus] = Field(default_factory=list)
    #: what became of the notification (ticket key, or why none could be made); never fails a run
    notification: str = ""
    #: remediate, plan (the steps' `changes` are the changes it would make; none made) or rollback
    mode: str = "remediate"
    #: a rollback run: the run it undoes
    rollback_of: str | None = None
    #: an approval run: the plan waiting for (or given) approval, when it expires, the decisions
    plan: list[str] = Field(default_factory=list)
    approval_expires_at: datetime | None = None
    decisions: list[Decision] = Field(default_factory=list)
    #: the version of the job code the run's steps run (pinned at validation) and each job's
    #: checksum in it
    code_version: str | None = None
    job_checksums: dict[str, str] = Field(default_factory=dict)
    #: a finding remediated in a batch (workflows/batch.py): the batch's workflow id, where its
    #: run is in the Temporal UI (the run id itself names no workflow)
    batch_id: str | None = None

    def changes_made(self) -> list[str]:
        """The changes its steps made (a plan step's, before an approval, were only planned;
        a plan run's job steps list what a remediation would make)."""
        return [change for step in self.steps if step.kind != "plan" for change in step.changes]


class JobInfo(BaseModel):
    """A registered job, as `remedy jobs list --json` and the worker's registration show it."""

    name: str
    provider: Provider | None
    checksum: str
    rules: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    alias_of: str | None = None
    resource_type: str | None = None
    description: str = ""
    #: ids besides VSS rule ids a finding may name for this job: source -> control ids
    controls: dict[str, list[str]] = Field(default_factory=dict)
    #: what the job can do: remediate, plan, verify, rollback (remedy/jobkit/modes.py)
    modes: list[str] = Field(default_factory=list)
    #: why its changes cannot be rolled back, when they cannot
    irreversible: str | None = None


class NotifyInput(BaseModel):
    """The run as it ended (or is about to end), and where to report it."""

    status: RunStatus
    settings: NotificationSettings
    payload: dict[str, Any] = Field(default_factory=dict)
    #: "" for the run's report; a notice before it ends, each with its own name: "grace" (it
    #: will act once the grace period is over), "approval-<n>" (a plan waits for a decision),
    #: "decision-<n>" (who approved or rejected it). Notices go to the run's Jira issue (filed by
    #: the first of them, commented on after) and to the webhook.
    stage: str = Field(default="", max_length=40, pattern=r"^[a-z0-9-]*$")


class WriteBackInput(BaseModel):
    """The run's outcome for its Security Hub finding, written with the run's own credentials."""

    account: AccountRef
    run_id: str
    finding: SecurityHubFinding
    #: Workflow.Status to set (RESOLVED, NOTIFIED), or None for a note only
    workflow_status: Literal["RESOLVED", "NOTIFIED"] | None = None
    note: str


class WriteBackResult(BaseModel):
    updated: bool
    message: str


class PullInput(BaseModel):
    """A Security Hub pull of one linked account (the pull schedule's workflow input)."""

    account: AccountRef
    #: the account's Security Hub regions (default: the worker's region)
    regions: list[str] = Field(default_factory=list, max_length=40)
    statuses: list[str] = Field(default_factory=lambda: ["FAILED"], max_length=4)
    standards: list[str] = Field(default_factory=list, max_length=20)
    #: findings updated this long before the pull (a schedule's interval and a margin)
    lookback_minutes: int = Field(default=1440, ge=1, le=90 * 1440)


class PullResult(BaseModel):
    pulled: int = 0
    accepted: int = 0
    rejected: int = 0
    queued: int = 0


class NotifyResult(BaseModel):
    jira_issue: str | None = None  # e.g. "SEC-12"
    jira_url: str | None = None
    webhook_status: int | None = None
    message: str = ""
