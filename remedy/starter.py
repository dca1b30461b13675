"""Start remediations and read their status: the API the CLI and the hub build on."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from remedy import search_attributes as sa
from remedy.aws_ids import check_access
from remedy.finding import read_finding
from remedy.run_status import get_status as get_status  # the API reads runs from here
from remedy.run_status import wait_for_result as wait_for_result
from remedy.temporal import task_queue_for
from remedy.types import RemediationInput, RemediationSpec, RunState


def workflow_id_for(finding_id: str, remediation: str) -> str:
    """Same (finding, remediation) → same id, so a finding submitted twice while open is one run."""
    digest = hashlib.sha256(f"{remediation}\0{finding_id}".encode()).hexdigest()[:20]
    slug = re.sub(r"[^A-Za-z0-9_.+-]", "-", remediation)[:60]
    return f"remedy-{slug}-{digest}"


async def start_remediation(
    client: Client,
    payload: dict[str, Any],
    spec: RemediationSpec,
    group_id: str,
    *,
    search_attributes: bool = True,
) -> str:
    """Read the finding (the finding contract), start (or join) its run, return the run id.

    Raises PayloadError before anything is started when the finding is malformed. The payload
    goes to the workflow as it came: its validate activity checks it against the jobs to run
    (their requirements and parameters, on the worker that has them) and completes it.
    """
    check_access(spec.access.role_arn, spec.access.external_id)  # AwsIdError: nothing started
    finding = read_finding(payload, role_arn=spec.access.role_arn, for_run=True)
    run_id = workflow_id_for(finding.finding_id, spec.display_name())
    await client.start_workflow(
        "RemediationWorkflow",
        RemediationInput(payload=payload, spec=spec, search_attributes=search_attributes),
        id=run_id,
        task_queue=task_queue_for(group_id),
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # set at start, so the workflow need not upsert them (one write less per run)
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.FINDING_ID, finding.finding_id),
                SearchAttributePair(sa.RULE_ID, finding.rule_id or ""),
                SearchAttributePair(sa.JOB, [step.job for step in spec.steps]),
                SearchAttributePair(sa.CLOUD_ACCOUNT, finding.account_id),
                SearchAttributePair(sa.PROVIDER, finding.provider),
                SearchAttributePair(sa.REMEDIATION_STATUS, RunState.RUNNING.value),
            ]
        )
        if search_attributes
        else None,
        static_summary=f"{spec.display_name()} on {finding.object_id}"
        f" ({finding.provider} {finding.account_id})",
    )
    return run_id
