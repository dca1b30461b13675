"""One STS session per account across runs (REMEDY_STS_REUSE), against moto's real STS.

moto's AssumeRole honours DurationSeconds (its Expiration is issued + duration) and issues a new
access key id per call, so "assumed once" is seen as the same key id in every run's job env.
Time is moved with the store's clock, never by waiting.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.credentials import (
    REJECTED_SESSION_CODES,
    AwsCredentials,
    CredentialStore,
    rejected_session,
    session_name,
)
from activities.job_env import IDENTITY_VARIABLE, job_environment
from remedy.starter import start_remediation, wait_for_result
from remedy.types import AccountRef, RunState
from sandbox.aws import ACCOUNT_ID, WORKER_USER, AwsSandbox
from tests.findings import aws_finding
from tests.test_workflow_runs import JOBCODE, new_group, spec

EXTERNAL_ID = "remedy-sts-reuse-test-external-id"


class Clock:
    """The store's idea of now, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def account(sandbox: AwsSandbox, role_arn: str | None = None, external_id: str = "") -> AccountRef:
    return AccountRef(
        provider="aws",
        account_id=sandbox.account_id,
        role_arn=role_arn or sandbox.role_arn,
        external_id=external_id or sandbox.external_id,
        region=sandbox.region,
    )


def trust(external_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/{WORKER_USER}"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
    )


@pytest.fixture
def second_role(worker_env: AwsSandbox) -> Iterator[str]:
    """Another account's role (its own name and external id) the worker may assume."""
    iam = worker_env.admin_client("iam")
    name = f"remedy-sts-{uuid.uuid4().hex[:8]}"
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(EXTERNAL_ID))["Role"]["Arn"]
    )
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn}],
    }
    iam.put_user_policy(UserName=WORKER_USER, PolicyName=name, PolicyDocument=json.dumps(allow))
    try:
        yield arn
    finally:
        iam.delete_user_policy(UserName=WORKER_USER, PolicyName=name)
        iam.delete_role(RoleName=name)


def key_id(store: CredentialStore, target: AccountRef, run_id: str) -> str:
    return store.job_env(target, run_id).env["AWS_ACCESS_KEY_ID"]


def test_runs_of_one_account_share_a_session_named_for_the_first(worker_env: AwsSandbox) -> None:
    clock = Clock()
    store = CredentialStore(endpoint_url=worker_env.endpoint, session_seconds=900, clock=clock)
    target = account(worker_env)

    first = store.job_env(target, "run-a")
    clock.now += timedelta(minutes=5)
    second = store.job_env(target, "run-b")

    assert second.env["AWS_ACCESS_KEY_ID"] == first.env["AWS_ACCESS_KEY_ID"]  # assumed once
    assert first.identity == second.identity
    assert first.identity.endswith("/remedy-run-a")  # CloudTrail: the first run's session name
    env = job_environment(Path("/tmp"), {}, second, "run-b", "owner")
    assert env[IDENTITY_VARIABLE] == first.identity and env["REMEDY_RUN_ID"] == "run-b"
    # the session works: the shared session signs a real call
    ec2 = boto3.client(
        "ec2",
        endpoint_url=worker_env.endpoint,
        region_name=worker_env.region,
        aws_access_key_id=second.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=second.env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=second.env["AWS_SESSION_TOKEN"],
    )
    assert "SecurityGroups" in ec2.describe_security_groups()


def test_a_session_inside_its_refresh_margin_is_replaced(worker_env: AwsSandbox) -> None:
    """15-minute sessions: the margin is 5 minutes (more than a tenth of 15)."""
    clock = Clock()
    store = CredentialStore(endpoint_url=worker_env.endpoint, session_seconds=900, clock=clock)
    target = account(worker_env)
    first = key_id(store, target, "run-a")
    clock.now += timedelta(minutes=9, seconds=50)  # 5 min 10 s left: still used
    assert key_id(store, target, "run-b") == first
    clock.now += timedelta(seconds=20)  # 4 min 50 s left: a new session, named for this run
    third = store.job_env(target, "run-c")
    assert third.env["AWS_ACCESS_KEY_ID"] != first
    assert third.identity.endswith("/remedy-run-c")


def test_a_job_gets_a_session_that_outlives_its_timeout(worker_env: AwsSandbox) -> None:
    clock = Clock()
    store = CredentialStore(endpoint_url=worker_env.endpoint, session_seconds=900, clock=clock)
    target = account(worker_env)
    first = store.job_env(target, "run-a", timeout_s=600).env["AWS_ACCESS_KEY_ID"]
    clock.now += timedelta(minutes=4)  # 11 min left: a 10-minute job still takes it
    assert store.job_env(target, "run-b", timeout_s=600).env["AWS_ACCESS_KEY_ID"] == first
    clock.now += timedelta(minutes=2)  # 9 min left: enough for a tag call, not for that job
    assert store.aws(target, "run-c").access_key_id == first
    assert store.job_env(target, "run-d", timeout_s=600).env["AWS_ACCESS_KEY_ID"] != first


def test_the_margin_is_a_tenth_of_a_long_session() -> None:
    issued = datetime(2026, 1, 1, tzinfo=UTC)
    creds = AwsCredentials("AKIA", "s", "t", issued + timedelta(hours=12), "arn", issued=issued)
    assert creds.usable_at(issued + timedelta(hours=10, minutes=47))
    assert not creds.usable_at(issued + timedelta(hours=10, minutes=49))  # 72 min margin


def test_reuse_off_assumes_once_per_run(worker_env: AwsSandbox) -> None:
    store = CredentialStore(endpoint_url=worker_env.endpoint, reuse_sessions=False)
    target = account(worker_env)
    a, b = store.job_env(target, "run-a"), store.job_env(target, "run-b")
    assert a.env["AWS_ACCESS_KEY_ID"] != b.env["AWS_ACCESS_KEY_ID"]
    assert a.identity.endswith("/remedy-run-a") and b.identity.endswith("/remedy-run-b")
    # and within one run the session is still kept for its steps
    assert key_id(store, target, "run-a") == a.env["AWS_ACCESS_KEY_ID"]


def test_different_accounts_never_share_a_session(worker_env: AwsSandbox, second_role: str) -> None:
    store = CredentialStore(endpoint_url=worker_env.endpoint)
    one = store.job_env(account(worker_env), "run-a")
    other = store.job_env(account(worker_env, second_role, EXTERNAL_ID), "run-b")
    assert one.env["AWS_ACCESS_KEY_ID"] != other.env["AWS_ACCESS_KEY_ID"]
    assert (
        "/remedy-remediation/" in one.identity and second_role.rsplit("/", 1)[1] in other.identity
    )


def test_a_changed_trust_is_seen_when_the_session_is_renewed_and_refusals_are_not_cached(
    worker_env: AwsSandbox, second_role: str
) -> None:
    clock = Clock()
    store = CredentialStore(endpoint_url=worker_env.endpoint, session_seconds=900, clock=clock)
    target = account(worker_env, second_role, EXTERNAL_ID)
    iam = worker_env.admin_client("iam")
    name = second_role.rsplit("/", 1)[1]
    first = key_id(store, target, "run-a")

    iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust("another-external-id"))
    assert key_id(store, target, "run-b") == first  # the documented trade-off: until renewal
    clock.now += timedelta(minutes=11)
    for run in ("run-c", "run-d"):  # refused each time: a refusal is never cached
        with pytest.raises(ApplicationError) as refused:
            store.job_env(target, run)
        assert refused.value.type == "AccessDenied" and refused.value.non_retryable
        assert "external id" in str(refused.value)

    iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust(EXTERNAL_ID))
    assert key_id(store, target, "run-e") not in ("", first)


def test_a_session_the_cloud_rejects_leaves_the_cache(worker_env: AwsSandbox) -> None:
    store = CredentialStore(endpoint_url=worker_env.endpoint)
    target = account(worker_env)
    first = key_id(store, target, "run-a")
    # a real refusal from moto (EC2 says AuthFailure for keys it does not know) inside the block
    unknown = boto3.client(
        "ec2",
        endpoint_url=worker_env.endpoint,
        region_name=worker_env.region,
        aws_access_key_id="ASIAUNKNOWNSESSION00",
        aws_secret_access_key="unknown",
        aws_session_token="unknown",
    )
    with pytest.raises(ApplicationError) as rejected, store.acting_as(target, "run-a"):
        unknown.describe_security_groups()
    assert rejected.value.type == "SessionRejected" and not rejected.value.non_retryable
    assert "AuthFailure" in str(rejected.value)
    second = key_id(store, target, "run-b")
    assert second != first  # the retry assumed again

    # any other refusal leaves the session alone
    with pytest.raises(ClientError), store.acting_as(target, "run-b"):
        store.clients.get("ec2", worker_env.region).describe_security_groups(GroupIds=["sg-0"])
    assert key_id(store, target, "run-c") == second


def test_a_job_whose_session_was_rejected_drops_it(worker_env: AwsSandbox) -> None:
    store = CredentialStore(endpoint_url=worker_env.endpoint)
    target = account(worker_env)
    used = store.job_env(target, "run-a")
    denied = "ERROR: RevokeSecurityGroupIngress failed: UnauthorizedOperation: not allowed\n"
    assert not store.forget_rejected(target, "run-a", used, denied)
    assert key_id(store, target, "run-b") == used.env["AWS_ACCESS_KEY_ID"]
    expired = (
        "working\nERROR: DescribeSecurityGroups failed: ExpiredToken: The security token "
        "included in the request is expired\n"
    )
    assert store.forget_rejected(target, "run-a", used, expired)
    assert key_id(store, target, "run-b") != used.env["AWS_ACCESS_KEY_ID"]
    assert not store.forget_rejected(target, "run-a", used, expired)  # the new one stays


def test_the_worker_s_own_clients_are_made_before_its_first_run(worker_env: AwsSandbox) -> None:
    """worker/main.py warms them while the fork server starts: the first run does not load
    EC2's service model (about 0.2 s) in its tagging or opt-out read."""
    store = CredentialStore(default_region="eu-west-1", endpoint_url=worker_env.endpoint)
    assert store.clients.made() == []

    assert store.warm_clients() == ["sts", "ec2", "s3", "resourcegroupstaggingapi"]

    region = "eu-west-1"
    assert store.clients.made() == [
        ("ec2", region),
        ("s3", region),
        ("resourcegroupstaggingapi", region),
    ]
    # the first run of an account in that region uses them and makes no other
    store.clients.get("ec2", region)
    assert len(store.clients.made()) == 3


def test_rejected_session_codes() -> None:
    assert all(rejected_session(code) for code in REJECTED_SESSION_CODES)
    assert not rejected_session("AccessDenied") and not rejected_session("Throttling")


async def test_each_run_says_which_session_acted(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    """Two runs on a worker: the second acts as the first's session, and its status says so."""
    worker = await start_worker(JOBCODE)
    statuses = []
    for _ in range(2):
        run_id = await start_remediation(
            client,
            aws_finding(new_group(aws_sandbox)),
            spec("probe_env", aws_sandbox),
            worker.group_id,
        )
        statuses.append(await wait_for_result(client, run_id))
    first_session = session_name(statuses[0].run_id)
    for status in statuses:
        assert status.state == RunState.SUCCEEDED, status.message
        assume, job = status.steps[1], status.steps[2]
        assert f"acting as arn:aws:sts::{ACCOUNT_ID}:assumed-role/" in assume.message
        assert assume.message.split(" until")[0].endswith(f"/{first_session}")
        assert f"/{first_session}" in job.log_tail  # the job's caller identity
