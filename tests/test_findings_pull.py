"""Pull: Security Hub's findings into the hub by `remedy findings pull securityhub`, and by a
schedule per linked account whose runs the account's worker group executes.

Security Hub is the sandbox's (moto's, with GetFindings' filters from sandbox/securityhub.py),
driven by the real boto3 client. The findings are the CIS 4.1 sample (tests/samples,
SOURCES.md) moved onto sandbox security groups (synthetic copies: tests/test_write_back.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client

from remedy.pull_schedule import schedule_pull
from remedy.securityhub import filters_for, pages, since
from remedy.types import AccountRef, PullInput
from sandbox.aws import ACCOUNT_ID, REGION, AwsSandbox
from tests.hub_fixtures import wait_until
from tests.test_hub_cli import Cli, cli  # noqa: F401 (the fixture)
from tests.test_hub_runs import Setup, linked, make_action  # noqa: F401 (the fixture)
from tests.test_notify import new_group
from tests.test_write_back import asff, in_security_hub


def security_hub(aws: AwsSandbox) -> Any:
    client = aws.admin_client("securityhub")
    client.enable_security_hub()
    return client


def seeded(aws: AwsSandbox, count: int, **changes: Any) -> list[dict[str, Any]]:
    findings = []
    for _ in range(count):
        finding = asff(new_group(aws))
        finding.update(changes)
        findings.append(finding)
    assert security_hub(aws).batch_import_findings(Findings=findings)["SuccessCount"] == count
    return findings


def test_since_reads_a_time_or_a_span() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    assert since("7d", now) == datetime(2026, 1, 3, tzinfo=UTC)
    assert since("90m", now) == now - timedelta(minutes=90)
    assert since("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO 8601"):
        since("yesterday")
    with pytest.raises(ValueError, match="unknown compliance status"):
        filters_for(statuses=("BROKEN",))


def test_getfindings_is_filtered_and_paginated(aws_sandbox: AwsSandbox) -> None:
    marker = f"us-test-{uuid.uuid4().hex[:6]}"  # a region of this test's own: its findings only
    cis_standard = [{"StandardsId": "ruleset/cis-aws-foundations-benchmark/v/1.2.0"}]
    failed = seeded(
        aws_sandbox,
        5,
        Region=marker,
        Compliance={"Status": "FAILED", "AssociatedStandards": cis_standard},
    )
    passed = seeded(aws_sandbox, 2, Region=marker, Compliance={"Status": "PASSED"})
    client = security_hub(aws_sandbox)
    got = [
        f["Id"] for page in pages(client, filters_for(regions=(marker,)), page_size=2) for f in page
    ]
    assert sorted(got) == sorted(f["Id"] for f in failed)
    pages_seen = list(pages(client, filters_for(regions=(marker,)), page_size=2))
    assert [len(p) for p in pages_seen] == [2, 2, 1]
    both = filters_for(statuses=("FAILED", "PASSED"), regions=(marker,))
    assert len([f for p in pages(client, both) for f in p]) == 7
    cis = filters_for(regions=(marker,), standards=("ruleset/cis-aws-foundations-benchmark",))
    assert len([f for p in pages(client, cis) for f in p]) == 5
    fsbp = filters_for(regions=(marker,), standards=("standards/aws-foundational",))
    assert [f for p in pages(client, fsbp) for f in p] == []
    later = filters_for(regions=(marker,), updated_since=datetime(2100, 1, 1, tzinfo=UTC))
    assert [f for p in pages(client, later) for f in p] == []
    assert passed  # recorded, not pulled by default


def test_the_cli_pulls_security_hub_into_the_hub(
    cli: Cli,  # noqa: F811 (the fixture)
    aws_sandbox: AwsSandbox,
) -> None:
    cli.env["REMEDY_HUB_TOKEN"] = cli.json("hub", "create-user", "a", "--role", "admin")["token"]
    marker = f"us-test-{uuid.uuid4().hex[:6]}"
    findings = seeded(aws_sandbox, 3, Region=marker)
    cli.env.update(
        {
            "AWS_ENDPOINT_URL": aws_sandbox.endpoint,
            "AWS_ACCESS_KEY_ID": aws_sandbox.admin.access_key_id,
            "AWS_SECRET_ACCESS_KEY": aws_sandbox.admin.secret_access_key,
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    pulled = cli.json(
        "findings", "pull", "securityhub", "--status", "FAILED", "--region", REGION,
        "--account", ACCOUNT_ID, "--updated-since", "30d",
    )  # fmt: skip
    assert pulled["pulled"] >= 3 and pulled["rejected"] == 0
    listed = {f["id"] for f in cli.json("findings", "list", "--limit", "200")["items"]}
    assert {f["Id"] for f in findings} <= listed  # ARN ids, '/' and all
    assert "unknown source" in cli("findings", "pull", "nowhere", code=2)


async def test_a_pull_schedule_brings_new_findings_in_without_a_push(
    linked: Setup,  # noqa: F811 (the fixture)
    client: Client,
    aws_sandbox: AwsSandbox,
) -> None:
    s = linked
    await make_action(s, auto_remediate=True, rule_ids=["EC2.19"])
    request = PullInput(
        account=AccountRef(
            provider="aws",
            account_id=ACCOUNT_ID,
            role_arn=aws_sandbox.role_arn,
            external_id=aws_sandbox.external_id,
        ),
        regions=[REGION],
    )
    schedule_id = await schedule_pull(client, s.group.group_id, request, timedelta(hours=1))
    handle = client.get_schedule_handle(schedule_id)
    try:
        for round_ in range(2):  # each run brings in what is new since
            (finding,) = seeded(aws_sandbox, 1)
            await handle.trigger()

            async def ingested(finding_id: str = finding["Id"]) -> bool:
                found = await s.hub.admin.get(f"/findings/{finding_id}")
                return found.status_code == 200 and bool(found.json()["runs"])

            await wait_until(ingested, timeout_s=60, what=f"pull {round_} ingesting the finding")
            run_id = (await s.hub.ok("GET", f"/findings/{finding['Id']}"))["runs"][0]

            async def ended(run_id: str = run_id) -> bool:
                run = await s.hub.ok("GET", f"/runs/{run_id}")
                return run["status"] == "succeeded"

            await wait_until(ended, timeout_s=60, what="the pulled finding's run")
        assert in_security_hub(aws_sandbox, finding["Id"])["Workflow"]["Status"] == "NEW"
    finally:
        await handle.delete()
