"""Check a finding against every job of a remediation before anything touches a cloud."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from remedy.payload import PayloadError, validate_payload
from remedy.types import ValidatedFinding, ValidateInput
from worker.registry import ParameterError, Registry, UnknownJobError


class ValidationActivities:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def check(self, request: ValidateInput) -> ValidatedFinding:
        """Raise ApplicationError (non-retryable) naming what is wrong and how to fix it."""
        try:
            jobs = [self.registry.get(step.job) for step in request.spec.steps]
            for job, step in zip(jobs, request.spec.steps, strict=True):
                job.resolve_parameters(step.parameters)
            requires = sorted({path for job in jobs for path in job.requires})
            payload, account = validate_payload(request.payload, request.spec.access, requires)
            providers = {job.provider for job in jobs if job.provider}
            if providers and providers != {account.provider}:
                raise PayloadError(
                    "cloudAccount.provider",
                    f"the finding is from {account.provider} "
                    f"but the jobs are for {', '.join(sorted(providers))}",
                )
        except (UnknownJobError, ParameterError, PayloadError) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
        info = payload["notificationInfo"]
        return ValidatedFinding(
            payload=payload,
            account=account,
            finding_id=str(info["FindingInfo"]["FindingId"]),
            object_id=str(info["FindingInfo"]["ObjectId"]),
            rule_id=info.get("RuleID"),
            resource_type=next((job.resource_type for job in jobs if job.resource_type), None),
            job_checksums={job.name: job.checksum for job in jobs},
            verifiable=sorted({job.name for job in jobs if job.verify_entry}),
        )

    @activity.defn(name="validate_finding")
    async def validate_finding(self, request: ValidateInput) -> ValidatedFinding:
        return self.check(request)
