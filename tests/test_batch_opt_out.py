"""A batch's opt-out tags are read live in as few calls as each service allows
(activities/batch_opt_out.py), and a batch leaves alone what was tagged since the scan
(workflows/batch.py).

The activity runs against the moto sandbox with IAM enforced (acting as the remediation role)
and against the Azure Resource Manager emulator through the real azure-mgmt clients; the workflow
on the dev server with a real worker.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from azure.mgmt.network.models import NetworkSecurityGroup
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.batch_opt_out import BatchOptOut
from activities.credentials import CredentialStore
from remedy.azure_env import AzureSettings
from remedy.batch_starter import start_batches
from remedy.batch_types import BatchStatus, OptOutManyInput, OptOutManyResult
from remedy.types import AccountRef, RunState, StepState
from sandbox.aws import AwsSandbox
from sandbox.azure import AzureSandbox
from tests.conftest import LogCapture
from tests.findings import aws_finding
from tests.test_batch_tagging import aws_account, azure_env, new_groups, new_log_groups
from tests.test_batches import batch_lines, spec_for
from tests.test_faults import open_on_22


def tag_group(sandbox: AwsSandbox, group: str, key: str, value: str) -> None:
    sandbox.admin_client("ec2").create_tags(Resources=[group], Tags=[{"Key": key, "Value": value}])


__all__ = ["azure_env"]  # the fixture, used below


async def read(sandbox: AwsSandbox, resources: list[tuple[str, str | None]]) -> OptOutManyResult:
    store = CredentialStore(endpoint_url=sandbox.endpoint)
    return await read_with(store, aws_account(sandbox), resources)


async def read_with(
    store: CredentialStore, account: AccountRef, resources: list[tuple[str, str | None]]
) -> OptOutManyResult:
    request = OptOutManyInput(
        account=account,
        resources=resources,
        skip_tag="remedy:skip",
        run_id=f"batch-{uuid.uuid4().hex[:8]}",
    )
    result: OptOutManyResult = await ActivityEnvironment().run(
        BatchOptOut(store).read_opt_out_many, request
    )
    return result


async def test_each_service_s_tags_are_read_in_as_few_calls_as_it_allows(
    worker_env: AwsSandbox,
) -> None:
    sandbox = worker_env
    skip, keep, plain = new_groups(sandbox, 3)
    tag_group(sandbox, skip, "remedy:skip", "true")
    tag_group(sandbox, keep, "Remedy:Skip", "false")  # the tag set to false: remediated
    s3 = sandbox.admin_client("s3")
    opted, open_bucket = (f"optout-{uuid.uuid4().hex[:10]}" for _ in range(2))
    for bucket in (opted, open_bucket):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(  # the key matched whatever its case, as for one finding
        Bucket=opted, Tagging={"TagSet": [{"Key": "REMEDY:SKIP", "Value": "ticket-42"}]}
    )
    skipped_log, kept_log = new_log_groups(sandbox, 2)
    sandbox.admin_client("logs").tag_resource(resourceArn=skipped_log, tags={"remedy:skip": "yes"})

    result = await read(
        sandbox,
        [
            *((g, "ec2:security-group") for g in (skip, keep, plain)),
            (opted, "s3:bucket"),
            (open_bucket, "s3:bucket"),
            (skipped_log, "logs:log-group"),
            (kept_log, "logs:log-group"),
            ("remedy-db", "rds:db"),
        ],
    )

    assert set(result.opted_out) == {skip, opted, skipped_log}, result
    assert result.opted_out[skip].startswith("the resource is tagged remedy:skip=true")
    assert result.opted_out[opted].startswith("the resource is tagged REMEDY:SKIP=ticket-42")
    # a type no reader takes: the finding's tags stand; a log group the tagging API keeps no
    # tag of is unread too (GetResources leaves it out)
    assert result.unread["remedy-db"] == "its tags cannot be read live: the finding's were used"
    assert set(result.unread) == {"remedy-db", kept_log}, result.unread
    # EC2: one DescribeTags for the three; S3: one read per bucket; the ARNs: one GetResources
    assert result.calls == 1 + 2 + 1


async def test_a_read_the_role_may_not_make_leaves_the_findings_word_standing(
    worker_env: AwsSandbox,
) -> None:
    sandbox = worker_env
    [group] = new_groups(sandbox, 1)
    tag_group(sandbox, group, "remedy:skip", "true")
    # a bucket that is not there: a refusal that will not pass, so not retried
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"

    result = await read(sandbox, [(group, "ec2:security-group"), (missing, "s3:bucket")])

    assert list(result.opted_out) == [group]
    assert result.unread[missing].startswith("its tags could not be read (NoSuchBucket"), result


async def test_azure_tags_are_read_one_resource_at_a_time_and_a_missing_one_is_unread(
    azure_env: AzureSandbox,
) -> None:
    sandbox = azure_env
    group = f"remedy-optout-{uuid.uuid4().hex[:6]}"
    sandbox.create_resource_group(group)
    network = sandbox.network_client()
    skip, keep, plain = (f"nsg-{uuid.uuid4().hex[:8]}" for _ in range(3))
    for name, tags in (
        (skip, {"Remedy:Skip": "change freeze", "owner": "net"}),
        (keep, {"remedy:skip": "false"}),
        (plain, {}),
    ):
        document = {"location": "westeurope", "tags": tags}
        network.network_security_groups.begin_create_or_update(
            group, name, NetworkSecurityGroup(document)
        ).result()
    store = CredentialStore(azure=AzureSettings.from_env(sandbox.worker_env()))
    account = AccountRef(provider="azure", account_id=sandbox.subscription_id, resource_group=group)
    nsgs = [(n, "azure:network-security-group") for n in (skip, keep, plain, "nsg-gone")]

    result = await read_with(store, account, [*nsgs, ("vault1", "azure:key-vault")])

    assert list(result.opted_out) == [skip], result
    assert result.opted_out[skip].startswith("the resource is tagged Remedy:Skip=change freeze")
    assert set(result.unread) == {"nsg-gone", "vault1"}, result.unread
    assert result.unread["nsg-gone"].startswith("its tags could not be read (404 ResourceNotFound")
    assert result.unread["vault1"] == "its tags cannot be read live: the finding's were used"
    assert result.calls == 4  # one GET per network security group; none for the vault

    # without a resource group Azure cannot name the resource: nothing is read, nothing guessed
    no_group = AccountRef(provider="azure", account_id=sandbox.subscription_id)
    unplaced = await read_with(store, no_group, nsgs[:1])
    assert (unplaced.opted_out, unplaced.calls) == ({}, 0)
    assert unplaced.unread == {skip: "its tags cannot be read live: the finding's were used"}


async def test_a_resource_tagged_since_the_scan_is_left_alone_by_its_batch(
    client: Client, start_worker: Any, worker_env: AwsSandbox, captured_logs: LogCapture
) -> None:
    sandbox = worker_env
    groups = [sandbox.open_security_group(22, "optout") for _ in range(4)]
    tagged_since, set_false = groups[1], groups[2]
    worker = await start_worker()
    spec = spec_for(sandbox)
    payloads = [aws_finding(sg) for sg in groups]  # the scan saw no tag on any of them
    tag_group(sandbox, tagged_since, "remedy:skip", "on-call says no")
    tag_group(sandbox, set_false, "remedy:skip", "false")

    plan = await start_batches(client, payloads, spec, worker.group_id)
    [batch] = plan.batches
    done: BatchStatus = await client.get_workflow_handle(
        batch.batch_id, result_type=BatchStatus
    ).result()

    assert open_on_22(sandbox, groups) == [tagged_since]
    by_resource = {m.resource: m for m in done.members}
    left = by_resource[tagged_since]
    assert left.state == RunState.SKIPPED
    assert left.message.startswith("the resource is tagged remedy:skip=on-call says no"), left
    assert [(s.kind, s.state) for s in left.steps] == [
        ("validate", StepState.SUCCEEDED),
        ("assume_role", StepState.SUCCEEDED),
        ("job", StepState.SKIPPED),
        ("verify", StepState.SKIPPED),
        ("tag", StepState.SKIPPED),
    ]
    assert next(s for s in left.steps if s.kind == "job").message == (
        "left alone: the resource opted out"
    )
    for sg in (groups[0], set_false, groups[3]):
        assert by_resource[sg].state == RunState.SUCCEEDED, by_resource[sg].message
    assert done.state == RunState.SUCCEEDED
    assert "1 skipped, 3 succeeded" in done.message, done.message
    # one read for the batch, then one job process for the three left
    [read_line] = [
        json.loads(x)
        for x in captured_logs.lines
        if "read the live tags of 4 resource(s) in 1 call(s)" in x
    ]
    assert read_line["runId"] == batch.batch_id
    assert [r["members"] for r in batch_lines(captured_logs, "batch job finished")] == [3, 3]
    # the member left alone is not tagged as remediated
    tags = sandbox.admin_client("ec2").describe_tags(
        Filters=[{"Name": "resource-id", "Values": [tagged_since]}]
    )["Tags"]
    assert {t["Key"] for t in tags} == {"remedy:skip"}
