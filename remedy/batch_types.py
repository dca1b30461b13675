"""What crosses the Temporal wire for a batch: findings sharing a job, account and region,
remediated together (workflows/batch.py), each keeping its own run id and status.

Pydantic models over remedy/types.py only, like it: the workflow code imports this freely.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remedy.batch_protocol import MAX_BATCH_SIZE
from remedy.types import AccountRef, RemediationSpec, RunState, RunStatus, ValidatedFinding


class BatchMember(BaseModel):
    """One finding of a batch: its own run id (the id a run of it alone would have,
    remedy/starter.py `run_id_for`) and its payload as received."""

    model_config = ConfigDict(extra="forbid")
    run_id: str = Field(min_length=1, max_length=512)
    payload: dict[str, Any]


class BatchInput(BaseModel):
    """The batch workflow's input: one remediation (a single remediate step, no approval, no
    grace period), the findings it fixes together."""

    model_config = ConfigDict(extra="forbid")
    spec: RemediationSpec
    members: list[BatchMember] = Field(min_length=1, max_length=MAX_BATCH_SIZE)
    #: one notification for the whole batch ("batch") or one per finding ("finding")
    notify_per: Literal["finding", "batch"] = "finding"
    search_attributes: bool = True


class BatchJobMember(BaseModel):
    run_id: str
    payload: dict[str, Any]


class BatchJobInput(BaseModel):
    """One process of a batch job (or its verify.py) for these members."""

    job: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    members: list[BatchJobMember]
    account: AccountRef
    #: the batch's workflow id: the STS session and the job's log name it
    batch_id: str
    timeout_s: float = 900.0
    verify: bool = False


class MemberResult(BaseModel):
    """What the batch process did for one member."""

    run_id: str
    #: its exit code; None when the process ended before this member was done
    exit_code: int | None
    log_tail: str = ""
    changes: list[str] = Field(default_factory=list)
    records: list[dict[str, Any]] = Field(default_factory=list)
    errors_logged: int = 0
    #: why it failed, in one sentence (empty when it exited 0)
    reason: str = ""
    #: why the failure looks transient (cloud unreachable, throttled, 5xx): worth a retry
    transient: str | None = None
    #: the processes it took (a process lost with its worker is run again by Temporal)
    attempts: int = 1


class BatchJobResult(BaseModel):
    job: str
    attempt: int
    duration_s: float
    #: the process's own exit code (each member has its own in `members`)
    exit_code: int | None
    members: list[MemberResult]
    reports_changes: bool = True
    warnings: list[str] = Field(default_factory=list)


class TagManyInput(BaseModel):
    """Tag several resources of one account and region with the same tags, in as few calls as
    each service allows."""

    account: AccountRef
    #: (resource id, resource type) per resource
    resources: list[tuple[str, str | None]] = Field(min_length=1, max_length=MAX_BATCH_SIZE)
    tags: dict[str, str]
    #: the batch's workflow id (the session acting, the log lines)
    run_id: str


class TagManyResult(BaseModel):
    #: per resource id: whether it was tagged, and the message a one-resource tagging would give
    tagged: dict[str, bool]
    messages: dict[str, str]
    #: how many API calls the tagging took
    calls: int = 0


class OptOutManyInput(BaseModel):
    """Read the live tags of a batch's resources, just before its job would change them."""

    account: AccountRef
    #: (resource id, resource type) per resource
    resources: list[tuple[str, str | None]] = Field(min_length=1, max_length=MAX_BATCH_SIZE)
    skip_tag: str
    #: the batch's workflow id (the session acting, the log lines)
    run_id: str


class OptOutManyResult(BaseModel):
    #: per resource id whose live tags opt it out: why (activities/validate.py `opted_out`)
    opted_out: dict[str, str] = Field(default_factory=dict)
    #: per resource id whose tags could not be read: why (the finding's tags stood)
    unread: dict[str, str] = Field(default_factory=dict)
    #: how many API calls the reading took
    calls: int = 0


class BatchStatus(BaseModel):
    """The batch workflow's `status` query and result: every member's own run status."""

    batch_id: str
    remediation: str
    job: str
    account_id: str | None = None
    region: str | None = None
    state: RunState = RunState.RUNNING
    message: str = ""
    members: list[RunStatus] = Field(default_factory=list)
    #: the batch-wide steps (assume role, job process, verify process, tagging), for the UI
    steps: list[str] = Field(default_factory=list)

    def member(self, run_id: str) -> RunStatus | None:
        return next((m for m in self.members if m.run_id == run_id), None)


class BatchValidateInput(BaseModel):
    spec: RemediationSpec
    members: list[BatchMember]


class BatchValidated(BaseModel):
    """Each member checked as a one-finding run would be, against one version of the job code."""

    #: per member, in order: the validated finding, or None when it failed (see `errors`)
    findings: list[ValidatedFinding | None]
    errors: list[str]
    #: the job takes batches (remedy.json `"batch": true`): one process for all; else one each
    job_takes_batches: bool
