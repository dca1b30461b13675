"""Write-back: after a run, its Security Hub finding says what happened (BatchUpdateFindings).

Security Hub is the sandbox's (moto's, with GetFindings' filters and BatchUpdateFindings added by
sandbox/securityhub.py) behind moto's IAM enforcement: the update is signed with the run's
assumed role, which may update findings; the worker's own identity may not.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

from remedy.starter import start_remediation, wait_for_result
from remedy.types import (
    NotificationSettings,
    RetrySettings,
    RunState,
    SecurityHubFinding,
    StepState,
)
from sandbox.aws import ACCOUNT_ID, REGION, AwsSandbox
from sandbox.jira import JiraSandbox
from tests.findings import aws_finding
from tests.hub_fixtures import JOBCODE
from tests.test_hub_runs import Setup, ended, linked, make_action  # noqa: F401 (the fixture)
from tests.test_intake import cis41
from tests.test_notify import jira_env, jira_settings, new_group, spec_with  # noqa: F401

PRODUCT = f"arn:aws:securityhub:{REGION}::product/aws/securityhub"


def asff(sg: str, control: str = "EC2.19") -> dict[str, Any]:
    """The CIS 4.1 sample (tests/samples, SOURCES.md) moved onto a sandbox security group, with
    a fresh id and the consolidated control id (synthetic)."""
    finding: dict[str, Any] = json.loads(json.dumps(cis41()).replace("111111111111", ACCOUNT_ID))
    finding["Id"] = (
        f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:security-control/{control}/finding/"
        f"{uuid.uuid4()}"
    )
    finding["Compliance"] = {"Status": "FAILED", "SecurityControlId": control}
    finding["Resources"][0]["Id"] = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{sg}"
    finding["Resources"][0]["Details"]["AwsEc2SecurityGroup"]["GroupId"] = sg
    finding["Workflow"] = {"Status": "NEW"}
    finding["UpdatedAt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # seen just now
    return finding


def imported(aws: AwsSandbox, finding: dict[str, Any]) -> SecurityHubFinding:
    hub = aws.admin_client("securityhub")
    hub.enable_security_hub()
    assert hub.batch_import_findings(Findings=[finding])["SuccessCount"] == 1
    return SecurityHubFinding(id=finding["Id"], product_arn=PRODUCT, region=REGION)


def in_security_hub(aws: AwsSandbox, finding_id: str) -> dict[str, Any]:
    found = aws.admin_client("securityhub").get_findings(
        Filters={"Id": [{"Value": finding_id, "Comparison": "EQUALS"}]}
    )["Findings"]
    assert len(found) == 1
    return dict(found[0])


async def test_a_fixed_finding_is_resolved_with_a_note_naming_the_run(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    sg = new_group(aws_sandbox)
    target = imported(aws_sandbox, asff(sg))
    spec = spec_with("probe_env_22", aws_sandbox, NotificationSettings())
    spec.write_back = target
    run_id = await start_remediation(client, aws_finding(sg), spec, worker.group_id)

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED, status
    step = status.steps[-1]
    assert step.kind == "write_back" and step.state == StepState.SUCCEEDED, step
    found = in_security_hub(aws_sandbox, target.id)
    assert found["Workflow"]["Status"] == "RESOLVED"
    assert run_id in found["Note"]["Text"] and found["Note"]["UpdatedBy"] == "remedy"
    history = (await client.get_workflow_handle(run_id).fetch_history()).to_json()
    for secret in aws_sandbox.secrets():
        assert secret not in history


async def test_a_failed_run_with_a_ticket_is_notified_and_one_without_is_noted(
    client: Client,
    start_worker: Any,
    aws_sandbox: AwsSandbox,
    jira_env: JiraSandbox,  # noqa: F811 (the fixture)
) -> None:
    worker = await start_worker(JOBCODE)
    ticketed = imported(aws_sandbox, asff(new_group(aws_sandbox)))
    notify = NotificationSettings(jira=jira_settings(jira_env))
    spec = spec_with("fail_job", aws_sandbox, notify, retry=RetrySettings(max_attempts=1))
    spec.write_back = ticketed
    run_id = await start_remediation(
        client, aws_finding(new_group(aws_sandbox)), spec, worker.group_id
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED
    [issue] = jira_env.issues()
    found = in_security_hub(aws_sandbox, ticketed.id)
    assert found["Workflow"]["Status"] == "NOTIFIED"
    assert f"Remedy run {run_id} failed" in found["Note"]["Text"]
    assert issue["key"] in found["Note"]["Text"]

    noted = imported(aws_sandbox, asff(new_group(aws_sandbox)))
    quiet = spec_with(
        "fail_job", aws_sandbox, NotificationSettings(), retry=RetrySettings(max_attempts=1)
    )
    quiet.write_back = noted
    run_id = await start_remediation(
        client, aws_finding(new_group(aws_sandbox)), quiet, worker.group_id
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED and status.steps[-1].state == StepState.SUCCEEDED
    found = in_security_hub(aws_sandbox, noted.id)
    assert found["Workflow"]["Status"] == "NEW"  # not fixed, nobody told: only the note
    assert f"Remedy run {run_id} failed" in found["Note"]["Text"]


async def test_an_unknown_finding_is_reported_on_the_step_and_the_run_still_succeeds(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    sg = new_group(aws_sandbox)
    spec = spec_with("probe_env_22", aws_sandbox, NotificationSettings())
    spec.write_back = SecurityHubFinding(id=f"arn:nothing/{uuid.uuid4()}", product_arn=PRODUCT)
    run_id = await start_remediation(client, aws_finding(sg), spec, worker.group_id)
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.SUCCEEDED
    step = status.steps[-1]
    assert step.kind == "write_back" and step.state == StepState.SKIPPED
    assert "FindingNotFound" in step.message


async def test_the_hub_writes_back_for_security_hub_findings_when_the_action_asks(
    linked: Setup,  # noqa: F811 (the fixture)
    client: Client,
    aws_sandbox: AwsSandbox,
) -> None:
    s = linked
    await make_action(s, auto_remediate=True, write_back=True, rule_ids=["EC2.19"])
    finding = asff(new_group(aws_sandbox))
    imported(aws_sandbox, finding)
    vss = aws_finding(new_group(aws_sandbox), rule_id="EC2.19")
    posted = await s.hub.ok("POST", "/findings", json=[finding, vss], role="analyst")
    (from_hub,), (from_vss,) = (item["runs"] for item in posted["items"])

    run = await ended(s, client, from_hub)
    assert run["status"] == "succeeded", run
    assert run["steps"][-1]["kind"] == "write_back"
    found = in_security_hub(aws_sandbox, finding["Id"])
    assert found["Workflow"]["Status"] == "RESOLVED" and from_hub in found["Note"]["Text"]
    # a VSS finding has no Security Hub finding to update: no write-back step
    other = await ended(s, client, from_vss)
    assert other["status"] == "succeeded"
    assert all(step["kind"] != "write_back" for step in other["steps"])
    (action,) = await s.hub.ok("GET", "/remediations")
    assert action["write_back"] is True
