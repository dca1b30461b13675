"""Remediation actions: validated against their group (jobs, accounts, provider) when saved."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from hub.blast_radius import Breaker, Limits
from hub.config import HubSettings
from hub.destinations import check_destinations
from hub.errors import ApiError, check_storable, invalid, not_found
from hub.groups import group_account_ids, offered_jobs, workers_of
from hub.models import CloudAccount, Remediation, WorkerGroup, utcnow
from hub.names import check_distinct, check_name
from hub.schemas import (
    ApprovalIn,
    Criteria,
    GroupJob,
    RemediationIn,
    RemediationOut,
    RemediationPatch,
)
from remedy.config import BUILTIN_JOBS
from remedy.job_registry import discover
from remedy.params import ParameterError, check_parameters
from remedy.types import (
    AccountAccess,
    ApprovalSettings,
    JobStep,
    NotificationSettings,
    RemediationSpec,
    SecurityHubFinding,
    TagSettings,
)


def get_action(session: Session, action_id: int) -> Remediation:
    action = session.get(Remediation, action_id)
    if action is None:
        raise not_found("remediation", action_id, "/remediations")
    return action


def action_out(action: Remediation) -> RemediationOut:
    return RemediationOut(
        id=action.id,
        name=action.name,
        description=action.description,
        provider="aws" if action.provider == "aws" else "azure",
        worker_group_id=action.group_id,
        rule_ids=list(action.rule_ids),
        account_ids=list(action.account_ids),
        criteria=Criteria.model_validate(action.criteria),
        steps=[JobStep.model_validate(s) for s in action.steps],
        tags=TagSettings.model_validate(action.tags),
        notify=NotificationSettings.model_validate(action.notify),
        auto_remediate=action.auto_remediate,
        write_back=action.write_back,
        approval=ApprovalIn.model_validate(action.approval) if action.approval else None,
        grace_hours=action.grace_hours or 0,
        run_mode="plan-only" if action.run_mode == "plan-only" else "remediate",
        on_failure="rollback" if action.on_failure == "rollback" else "stop",
        exclude_accounts=list(action.exclude_accounts or []),
        exclude_regions=list(action.exclude_regions or []),
        limits=Limits.model_validate(action.limits or {}),
        breaker=Breaker.model_validate(action.breaker or {}),
        paused=action.paused_reason or None,
        warnings=_warnings(action),
        status="published" if action.status == "published" else "draft",
        created_by=action.created_by,
        created_at=action.created_at,
        updated_at=action.updated_at,
    )


@cache
def builtin_jobs(root: Path = BUILTIN_JOBS) -> dict[str, GroupJob]:
    """The built-in catalogue (the repository's `jobs/`), read once: what a group offers before
    any of its workers has registered. Empty where the catalogue is not installed (a wheel
    holds no `jobs/`)."""
    if not root.is_dir():
        return {}
    return {
        info.name: GroupJob(
            name=info.name,
            provider=info.provider,
            checksums=[info.checksum],
            workers=[],
            rules=info.rules,
            parameters=info.parameters,
            description=info.description,
        )
        for info in discover(root).infos()
    }


def _nobody_registered(session: Session, group_id: str) -> bool:
    return not workers_of(session, group_id)


def _warnings(action: Remediation) -> list[str]:
    session = object_session(action)
    if session is None or not _nobody_registered(session, action.group_id):
        return []
    return [
        f"no worker of group {action.group_id} has registered yet: the jobs were checked "
        "against the built-in catalogue; runs wait until a worker of the group with these jobs "
        f"is online (its deployment command: GET /worker-groups/{action.group_id}/deploy)"
    ]


def _jobs_for(session: Session, group_id: str, settings: HubSettings) -> dict[str, GroupJob]:
    """What the action's steps may name: the jobs the group's online workers registered, or,
    before any worker of the group has registered, the built-in catalogue (so an action can be
    prepared before its workers are deployed; the answer warns)."""
    if _nobody_registered(session, group_id):
        return builtin_jobs()
    return offered_jobs(session, group_id, settings)


def _unknown_job(
    session: Session, group_id: str, index: int, job: str, offered: list[str]
) -> ApiError:
    if _nobody_registered(session, group_id):
        return invalid(
            f"steps.{index}.job",
            f"{job!r} is not a built-in job, and no worker of group {group_id} has registered "
            "yet to offer others",
            "name a built-in job (`remedy jobs list`), or deploy a worker of the group that has "
            f"it (GET /worker-groups/{group_id}/deploy) and create the action once it is online",
        )
    return invalid(
        f"steps.{index}.job",
        f"no online worker of group {group_id} registered the job {job!r} "
        f"(it offers: {', '.join(offered) or 'nothing: no worker is online'})",
        f"name a job the group's workers registered (GET /worker-groups/{group_id}/jobs), "
        "or start a worker that has it",
    )


def _check_parameters(index: int, step: JobStep, schema: dict[str, Any]) -> None:
    field = f"steps.{index}.parameters"
    check_storable(step.parameters, field)
    try:
        check_parameters(schema, step.parameters, root=field)
    except ParameterError as exc:
        fix = f"give the parameters job {step.job} takes (GET /worker-groups/<id>/jobs shows them)"
        raise invalid(exc.path, exc.problem, fix) from None


def validate_action(session: Session, body: RemediationIn, settings: HubSettings) -> None:
    """422 naming the field when the action could not run as written."""
    group = session.get(WorkerGroup, body.worker_group_id)
    if group is None:
        raise invalid(
            "worker_group_id",
            f"no worker group {body.worker_group_id!r}",
            "give the id of an existing group (GET /worker-groups)",
        )
    check_storable(body.notify.model_dump(mode="json"), "notify")
    check_storable(body.tags.model_dump(mode="json"), "tags")
    associated = group_account_ids(session, group.id)
    for index, account_id in enumerate(body.account_ids):
        account = session.get(CloudAccount, account_id)
        if account is None or account_id not in associated:
            raise invalid(
                f"account_ids.{index}",
                f"account {account_id} is not associated with worker group {group.id}",
                f"associate it first: PUT /worker-groups/{group.id}/accounts/{account_id}",
            )
        if account.provider != body.provider:
            raise invalid(
                f"account_ids.{index}",
                f"account {account_id} is a {account.provider} account, the action is for "
                f"{body.provider}",
                "give accounts of the action's provider, or change the provider",
            )
    jobs = _jobs_for(session, group.id, settings)
    for index, step in enumerate(body.steps):
        job = jobs.get(step.job)
        if job is None:
            raise _unknown_job(session, group.id, index, step.job, list(jobs))
        if job.provider and job.provider != body.provider:
            raise invalid(
                f"steps.{index}.job",
                f"job {step.job} is a {job.provider} job, the action is for {body.provider}",
                "use jobs of the action's provider",
            )
        _check_parameters(index, step, job.parameters)
    check_destinations(session, group.id, body.notify, settings)


def _unique_name(session: Session, name: str, action_id: int | None = None) -> None:
    check_name(name, "name", 200)
    others = session.scalars(select(Remediation.name).where(Remediation.id != (action_id or 0)))
    check_distinct(name, others, "remediation")


def _apply(action: Remediation, body: RemediationIn) -> None:
    action.name = body.name
    action.description = body.description
    action.provider = body.provider
    action.group_id = body.worker_group_id
    action.rule_ids = list(body.rule_ids)
    action.account_ids = list(body.account_ids)
    action.criteria = body.criteria.model_dump(mode="json")
    action.steps = [s.model_dump(mode="json") for s in body.steps]
    action.tags = body.tags.model_dump(mode="json")
    action.notify = body.notify.model_dump(mode="json")
    action.auto_remediate = body.auto_remediate
    action.write_back = body.write_back
    action.approval = body.approval.model_dump(mode="json") if body.approval else {}
    action.grace_hours = body.grace_hours
    action.run_mode = body.run_mode
    action.on_failure = body.on_failure
    action.exclude_accounts = list(body.exclude_accounts)
    action.exclude_regions = list(body.exclude_regions)
    action.limits = body.limits.model_dump(mode="json")
    action.breaker = body.breaker.model_dump(mode="json")
    action.status = body.status
    action.updated_at = utcnow()


def create_action(
    session: Session, body: RemediationIn, settings: HubSettings, created_by: str
) -> Remediation:
    _unique_name(session, body.name)
    validate_action(session, body, settings)
    action = Remediation(created_by=created_by)
    _apply(action, body)
    session.add(action)
    session.flush()
    return action


def update_action(
    session: Session, action_id: int, patch: RemediationPatch, settings: HubSettings
) -> Remediation:
    action = get_action(session, action_id)
    current = action_out(action).model_dump(mode="json")
    for key in ("id", "created_by", "created_at", "updated_at", "paused", "warnings"):
        current.pop(key)
    merged = RemediationIn.model_validate(
        {**current, **patch.model_dump(mode="json", exclude_unset=True, exclude_none=True)}
    )
    _unique_name(session, merged.name, action.id)
    validate_action(session, merged, settings)
    _apply(action, merged)
    return action


def list_actions(session: Session) -> list[Remediation]:
    return list(session.scalars(select(Remediation).order_by(Remediation.id)).all())


def spec_for(
    action: Remediation,
    account: CloudAccount,
    original: dict[str, Any] | None = None,
    requester: str = "",
    mode: str = "remediate",
) -> RemediationSpec:
    """What the workflow runs: the action's chain, with how to reach this account, and the
    Security Hub finding to write the outcome back to (when the action says so and the finding
    came from Security Hub: `original`, the document as received, is an ASFF finding).

    A plan run (`mode` plan, or every run of a plan-only action) plans and changes nothing: no
    approval, grace period or write-back."""
    if mode == "plan" or action.run_mode == "plan-only":
        return RemediationSpec(
            name=action.name,
            mode="plan",
            steps=[JobStep.model_validate(s) for s in action.steps],
            access=AccountAccess(role_arn=account.role_arn, external_id=account.external_id),
            exclude_accounts=list(action.exclude_accounts or []),
            exclude_regions=list(action.exclude_regions or []),
        )
    return RemediationSpec(
        name=action.name,
        on_failure="rollback" if action.on_failure == "rollback" else "stop",
        exclude_accounts=list(action.exclude_accounts or []),
        exclude_regions=list(action.exclude_regions or []),
        steps=[JobStep.model_validate(s) for s in action.steps],
        tags=TagSettings.model_validate(action.tags),
        access=AccountAccess(role_arn=account.role_arn, external_id=account.external_id),
        notify=NotificationSettings.model_validate(action.notify),
        write_back=security_hub_finding(original) if action.write_back else None,
        approval=_approval(action, requester),
        grace_s=(action.grace_hours or 0) * 3600,
    )


def _approval(action: Remediation, requester: str) -> ApprovalSettings | None:
    if not action.approval:
        return None
    wanted = ApprovalIn.model_validate(action.approval)
    return ApprovalSettings(
        required=wanted.required,
        expires_s=wanted.expires_hours * 3600,
        requester=requester,
        forbid_self=wanted.forbid_self,
    )


def security_hub_finding(original: dict[str, Any] | None) -> SecurityHubFinding | None:
    """The identifiers BatchUpdateFindings needs, when `original` is an ASFF finding."""
    if not isinstance(original, dict):
        return None
    finding_id, product = original.get("Id"), original.get("ProductArn")
    if not (isinstance(finding_id, str) and isinstance(product, str) and finding_id and product):
        return None
    region = original.get("Region")
    return SecurityHubFinding(
        id=finding_id, product_arn=product, region=region if isinstance(region, str) else None
    )
