"""A batch's resources are tagged in as few calls as each service allows (activities/batch_tagging.py).

The activity runs against the moto sandbox with IAM enforced (acting as the remediation role) and
the Azure emulator; every assertion reads the tags back from the cloud.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from azure.mgmt.network.models import NetworkSecurityGroup
from botocore.exceptions import EndpointConnectionError
from temporalio.testing import ActivityEnvironment

from activities.batch_tagging import ARNS_PER_CALL, BatchTagging
from activities.credentials import CredentialStore
from remedy.azure_env import AzureSettings
from remedy.batch_types import TagManyInput, TagManyResult
from remedy.types import AccountRef
from sandbox.aws import AwsSandbox
from sandbox.azure import AzureSandbox
from sandbox.proxy import OutageProxy

TAGS = {
    "remediated-by": "remedy",
    "remediated-at": "2026-12-01T04:00:00Z",
    "remediation-run-id": "batch-1",
    "remediation-job": "security_group_close_port",
}


def aws_account(sandbox: AwsSandbox) -> AccountRef:
    return AccountRef(
        provider="aws",
        account_id=sandbox.account_id,
        region=sandbox.region,
        role_arn=sandbox.role_arn,
        external_id=sandbox.external_id,
    )


async def tag(
    store: CredentialStore, account: AccountRef, resources: list[tuple[str, str | None]]
) -> TagManyResult:
    request = TagManyInput(
        account=account, resources=resources, tags=TAGS, run_id=f"batch-{uuid.uuid4().hex[:8]}"
    )
    result: TagManyResult = await ActivityEnvironment().run(
        BatchTagging(store).tag_resources, request
    )
    return result


def new_groups(sandbox: AwsSandbox, count: int) -> list[str]:
    ec2 = sandbox.admin_client("ec2")
    return [
        str(
            ec2.create_security_group(
                GroupName=f"batch-{uuid.uuid4().hex[:10]}", Description="batch tagging"
            )["GroupId"]
        )
        for _ in range(count)
    ]


def ec2_tags(sandbox: AwsSandbox, resource_ids: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {r: {} for r in resource_ids}
    pages = (
        sandbox.admin_client("ec2")
        .get_paginator("describe_tags")
        .paginate(Filters=[{"Name": "resource-id", "Values": resource_ids}])
    )
    for page in pages:
        for t in page["Tags"]:
            found[t["ResourceId"]][t["Key"]] = t["Value"]
    return found


def new_log_groups(sandbox: AwsSandbox, count: int) -> list[str]:
    logs = sandbox.admin_client("logs")
    arns = []
    for _ in range(count):
        name = f"batch-{uuid.uuid4().hex[:10]}"
        logs.create_log_group(logGroupName=name)
        arns.append(f"arn:aws:logs:{sandbox.region}:{sandbox.account_id}:log-group:{name}")
    return arns


def arn_tags(sandbox: AwsSandbox, arn: str) -> dict[str, str]:
    answer = sandbox.admin_client("logs").list_tags_for_resource(resourceArn=arn)
    return dict(answer["tags"])


@pytest.fixture
def store(worker_env: AwsSandbox) -> CredentialStore:
    return CredentialStore(endpoint_url=worker_env.endpoint)


async def test_thirty_security_groups_take_one_create_tags_call(
    worker_env: AwsSandbox, store: CredentialStore, captured_logs: Any
) -> None:
    groups = new_groups(worker_env, 30)
    run_id = f"batch-{uuid.uuid4().hex[:8]}"
    request = TagManyInput(
        account=aws_account(worker_env),
        resources=[(g, "ec2:security-group") for g in groups],
        tags=TAGS,
        run_id=run_id,
    )
    result = await ActivityEnvironment().run(BatchTagging(store).tag_resources, request)

    assert result.calls == 1
    assert result.tagged == dict.fromkeys(groups, True)
    assert list(result.messages) == groups  # in the order asked
    assert result.messages[groups[0]].startswith(f"tagged {groups[0]} with remediated-by=remedy")
    assert ec2_tags(worker_env, groups) == dict.fromkeys(groups, TAGS)
    # one log line for the batch, not one per resource
    lines = [json.loads(line) for line in captured_logs.lines]
    mine = [x for x in lines if x["logger"] == "remedy.tagging" and x.get("runId") == run_id]
    assert len(mine) == 1, mine
    assert "tagged 30 of 30 resources in 1 calls" in json.dumps(mine[0])


async def test_a_missing_group_is_reported_and_the_others_are_tagged(
    worker_env: AwsSandbox, store: CredentialStore
) -> None:
    groups = new_groups(worker_env, 4)
    missing = f"sg-{uuid.uuid4().hex[:17]}"
    asked = [*groups[:2], missing, *groups[2:]]

    result = await tag(store, aws_account(worker_env), [(g, "ec2:security-group") for g in asked])

    assert result.tagged == {**dict.fromkeys(groups, True), missing: False}
    assert missing in result.messages[missing]
    assert "could not be tagged (InvalidGroup.NotFound" in result.messages[missing]
    assert result.messages[missing].endswith("; tagging skipped")
    # the grouped call, refused as a whole, then one call per id
    assert result.calls == 1 + len(asked)
    assert ec2_tags(worker_env, groups) == dict.fromkeys(groups, TAGS)


async def test_a_mixed_batch_takes_each_service_its_own_way(
    worker_env: AwsSandbox, store: CredentialStore
) -> None:
    groups = new_groups(worker_env, 3)
    s3 = worker_env.admin_client("s3")
    buckets = [f"batch-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(
        Bucket=buckets[0], Tagging={"TagSet": [{"Key": "owner", "Value": "data-team"}]}
    )
    [log_group] = new_log_groups(worker_env, 1)
    # moto's tagging API does not tag SQS queues: it says so in FailedResourcesMap
    queue_url = worker_env.admin_client("sqs").create_queue(
        QueueName=f"batch-{uuid.uuid4().hex[:8]}"
    )
    queue_arn = worker_env.admin_client("sqs").get_queue_attributes(
        QueueUrl=queue_url["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    resources: list[tuple[str, str | None]] = [
        *((g, "ec2:security-group") for g in groups),
        *((b, "s3:bucket") for b in buckets),
        (log_group, "logs:log-group"),
        (queue_arn, "sqs:queue"),
        ("remedy-db", "rds:db"),
    ]

    result = await tag(store, aws_account(worker_env), resources)

    assert result.tagged == {
        **dict.fromkeys([*groups, *buckets, log_group], True),
        queue_arn: False,
        "remedy-db": False,
    }
    assert ec2_tags(worker_env, groups) == dict.fromkeys(groups, TAGS)
    assert {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=buckets[0])["TagSet"]} == {
        "owner": "data-team",
        **TAGS,
    }
    assert {
        t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=buckets[1])["TagSet"]
    } == TAGS
    assert arn_tags(worker_env, log_group) == TAGS
    assert result.messages[queue_arn] == (
        f"{queue_arn} could not be tagged (InternalServiceException: Service not yet supported); "
        "tagging skipped"
    )
    assert result.messages["remedy-db"].startswith("remedy-db (rds:db) cannot be tagged by Remedy")
    # EC2: 1; S3: a read and a write per bucket; the two ARNs: 1 TagResources
    assert result.calls == 1 + 2 * len(buckets) + 1


async def test_twenty_five_arns_take_two_tag_resources_calls(
    worker_env: AwsSandbox, store: CredentialStore
) -> None:
    arns = new_log_groups(worker_env, 25)

    result = await tag(store, aws_account(worker_env), [(a, "logs:log-group") for a in arns])

    assert result.calls == 2 == -(-len(arns) // ARNS_PER_CALL)
    assert result.tagged == dict.fromkeys(arns, True)
    assert all(arn_tags(worker_env, a) == TAGS for a in arns)


async def test_an_arn_chunk_refused_as_a_whole_is_tagged_one_by_one(
    worker_env: AwsSandbox, store: CredentialStore
) -> None:
    """TagResources refused for the whole chunk (moto refuses a call naming a KMS key that does
    not exist, NotFoundException): each ARN gets its own call, the others are tagged."""
    kms = worker_env.admin_client("kms")
    key_arn = str(kms.create_key()["KeyMetadata"]["Arn"])
    gone = f"arn:aws:kms:{worker_env.region}:{worker_env.account_id}:key/{uuid.uuid4()}"
    arns = new_log_groups(worker_env, 2)
    asked = [gone, key_arn, *arns]

    result = await tag(store, aws_account(worker_env), [(a, None) for a in asked])

    assert result.tagged == {gone: False, key_arn: True, arns[0]: True, arns[1]: True}
    assert result.messages[gone].startswith(f"{gone} could not be tagged (NotFoundException: ")
    assert result.calls == 1 + len(asked)
    assert all(arn_tags(worker_env, a) == TAGS for a in arns)
    key_tags = kms.list_resource_tags(KeyId=key_arn)["Tags"]
    assert {t["TagKey"]: t["TagValue"] for t in key_tags} == TAGS


async def test_an_unreachable_cloud_fails_the_activity_for_a_retry(
    worker_env: AwsSandbox,
) -> None:
    """A transient problem is raised (Temporal retries the activity), never made a resource's
    "tagging skipped" message."""
    groups = new_groups(worker_env, 2)
    proxy = OutageProxy(worker_env.endpoint)
    try:
        store = CredentialStore(endpoint_url=proxy.url)
        account = aws_account(worker_env)
        run_id = f"batch-{uuid.uuid4().hex[:8]}"
        store.aws(account, run_id)  # the session first, while the cloud answers
        proxy.down()
        request = TagManyInput(
            account=account,
            resources=[(g, "ec2:security-group") for g in groups],
            tags=TAGS,
            run_id=run_id,
        )
        with pytest.raises(EndpointConnectionError):
            await ActivityEnvironment().run(BatchTagging(store).tag_resources, request)
    finally:
        proxy.stop()
    assert ec2_tags(worker_env, groups) == {g: {} for g in groups}


# ------------------------------------------------------------------------------------------------
# Azure: network security groups, one at a time (their tags read and merged).
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def azure_env(azure_sandbox: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> AzureSandbox:
    """The worker's Azure app (the sandbox's, with its CA bundle) in this process's environment."""
    for name, value in azure_sandbox.worker_env().items():
        monkeypatch.setenv(name, value)
    return azure_sandbox


async def test_two_nsgs_are_tagged_with_their_own_tags_kept(azure_env: AzureSandbox) -> None:
    azure_sandbox = azure_env
    group = f"remedy-batch-{uuid.uuid4().hex[:6]}"
    azure_sandbox.create_resource_group(group)
    network = azure_sandbox.network_client()
    names = [f"nsg-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        document = {"location": "westeurope", "tags": {"owner": name}}
        network.network_security_groups.begin_create_or_update(
            group, name, NetworkSecurityGroup(document)
        ).result()
    store = CredentialStore(azure=AzureSettings.from_env(azure_sandbox.worker_env()))
    account = AccountRef(
        provider="azure", account_id=azure_sandbox.subscription_id, resource_group=group
    )
    resources: list[tuple[str, str | None]] = [
        *((n, "azure:network-security-group") for n in names),
        ("nsg-gone", "azure:network-security-group"),
        ("vault1", "azure:key-vault"),
    ]

    result = await tag(store, account, resources)

    assert result.tagged == {names[0]: True, names[1]: True, "nsg-gone": False, "vault1": False}
    for name in names:
        assert network.network_security_groups.get(group, name).tags == {"owner": name, **TAGS}
    assert result.messages[names[0]].startswith(f"tagged {group}/{names[0]} with ")
    assert "404 ResourceNotFound" in result.messages["nsg-gone"], result.messages
    assert (
        "vault1 (azure:key-vault) cannot be tagged by Remedy on Azure"
        in (result.messages["vault1"])
    )
    # a read and an update per NSG; the missing one stops at its read
    assert result.calls == 2 * len(names) + 1
