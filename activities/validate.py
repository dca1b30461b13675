"""Check a finding against every job of a remediation before anything touches a cloud.

This is the run's edge: the finding is read here with the finding contract (remedy/finding.py)
and each step's parameters with the parameter contract (remedy/params.py), once; the workflow
passes the `ValidatedFinding` (its completed payload) on to every later step.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from remedy.aws_ids import AwsIdError, check_external_id
from remedy.batch_types import BatchValidated, BatchValidateInput
from remedy.finding import PayloadError, read_finding
from remedy.job_registry import Job, Registry, UnknownJobError
from remedy.params import ParameterError
from remedy.types import AccountRef, RemediationSpec, ValidatedFinding, ValidateInput


class UnsupportedMode(ValueError):
    """A plan or rollback run of a job that cannot plan or roll back."""


def _check_mode(job: Job, mode: str) -> None:
    if mode == "remediate" or mode in job.modes:
        return
    if mode == "rollback" and job.irreversible:
        raise UnsupportedMode(f"job {job.name}'s changes cannot be rolled back: {job.irreversible}")
    raise UnsupportedMode(
        f"job {job.name} does not support the {mode} mode (its remedy.json lists "
        f"{', '.join(job.modes)}): a {mode} run can only hold jobs that list it"
    )


def opted_out(tags: dict[str, str], skip_tag: str) -> str | None:
    """Why a resource carrying the opt-out tag is left alone (None: no such tag)."""
    if not skip_tag:
        return None
    found = next((k for k in tags if k.lower() == skip_tag.lower()), None)
    if found is None or str(tags[found]).strip().lower() == "false":
        return None
    return (
        f"the resource is tagged {found}={tags[found]}: it opted out of remediation, "
        f"nothing was changed (remove the tag, or set it to false, to remediate it)"
    )


def _excluded(spec: RemediationSpec, account_id: str, region: str | None) -> str | None:
    """Why a finding in an account or region the remediation excludes is left alone."""
    if account_id in spec.exclude_accounts:
        return (
            f"account {account_id} is excluded by the remediation: nothing was changed "
            "(take it out of exclude_accounts to remediate it)"
        )
    if region and region.lower() in {r.lower() for r in spec.exclude_regions}:
        return (
            f"region {region} is excluded by the remediation: nothing was changed "
            "(take it out of exclude_regions to remediate it)"
        )
    return None


class ValidationActivities:
    """Checks a run against the job code the worker serves now (`registry`, replaced when the
    worker reloads its job code) and pins the run to that version."""

    def __init__(self, registry: Registry, code_wait_s: float = 1800.0) -> None:
        self.registry = registry
        self.code_wait_s = code_wait_s

    def check(self, request: ValidateInput, registry: Registry | None = None) -> ValidatedFinding:
        """Raise ApplicationError (non-retryable) naming what is wrong and how to fix it."""
        access = request.spec.access
        # one version for the whole check, whatever a reload does
        registry = registry or self.registry
        try:
            check_external_id(access.external_id)  # STS would refuse it (remedy/aws_ids.py)
            jobs = [registry.get(step.job) for step in request.spec.steps]
            for job, step in zip(jobs, request.spec.steps, strict=True):
                job.resolve_parameters(step.parameters)
                _check_mode(job, request.spec.mode)
            if request.spec.on_failure == "rollback":  # a step a later failure would undo
                for job in jobs[:-1]:  # (the last one succeeding means the chain did)
                    _check_mode(job, "rollback")
            finding = read_finding(
                request.payload,
                role_arn=access.role_arn,
                for_run=True,
                requires=sorted({path for job in jobs for path in job.requires}),
            )
            providers = {job.provider for job in jobs if job.provider}
            if providers and providers != {finding.provider}:
                raise PayloadError(
                    "cloudAccount.provider",
                    f"the finding is from {finding.provider} "
                    f"but the jobs are for {', '.join(sorted(providers))}",
                )
        except (UnknownJobError, ParameterError, PayloadError, AwsIdError, UnsupportedMode) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
        return ValidatedFinding(
            payload=finding.payload,
            account=AccountRef(
                provider=finding.provider,
                account_id=finding.account_id,
                region=finding.region,
                role_arn=finding.role_arn,
                external_id=access.external_id,
                resource_group=finding.resource_group,
            ),
            finding_id=finding.finding_id,
            object_id=finding.object_id,
            rule_id=finding.rule_id,
            resource_type=next((job.resource_type for job in jobs if job.resource_type), None),
            job_checksums={job.name: job.checksum for job in jobs},
            verifiable=sorted({job.name for job in jobs if job.verify_entry}),
            plannable=sorted({job.name for job in jobs if "plan" in job.modes}),
            opted_out=_excluded(request.spec, finding.account_id, finding.region)
            or opted_out(finding.cloud_tags, request.spec.skip_tag),
            code_version=registry.version,
            code_wait_s=request.spec.code_wait_s or self.code_wait_s,
        )

    @activity.defn(name="validate_finding")
    async def validate_finding(self, request: ValidateInput) -> ValidatedFinding:
        return self.check(request)

    @activity.defn(name="validate_batch")
    async def validate_batch(self, request: BatchValidateInput) -> BatchValidated:
        """Each member as `validate_finding` checks one, all against the same version of the job
        code; a member in another account or region than the batch's first fails (a batch is
        one account and one region: one session, one set of clients)."""
        registry = self.registry
        findings: list[ValidatedFinding | None] = []
        errors: list[str] = []
        first: ValidatedFinding | None = None
        for member in request.members:
            try:
                found = self.check(
                    ValidateInput(payload=member.payload, spec=request.spec), registry
                )
            except ApplicationError as exc:
                findings.append(None)
                errors.append(exc.message)
                continue
            first = first or found
            where = (found.account.account_id, found.account.region)
            if where != (first.account.account_id, first.account.region):
                findings.append(None)
                errors.append(
                    f"the finding is in {where[0]} {where[1] or ''}, not in the batch's account "
                    f"and region ({first.account.account_id} {first.account.region or ''}): "
                    "submit it in its own batch"
                )
                continue
            findings.append(found)
            errors.append("")
        job = request.spec.steps[0].job
        takes = len(request.spec.steps) == 1 and job in registry.jobs and registry.jobs[job].batch
        return BatchValidated(findings=findings, errors=errors, job_takes_batches=takes)
