"""An Azure finding becomes a workflow, a job process, a changed and tagged NSG on the emulator.

The worker is built in-process (the `start_worker` fixture) with the Azure sandbox's AZURE_*
variables in its environment, exactly as a deployed worker reads them; the built-in jobs run as
subprocesses with the contract's environment.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.network.models import NetworkSecurityGroup
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.credentials import CredentialStore
from activities.tagging import TaggingActivities
from remedy.azure_env import AzureSettings
from remedy.starter import wait_for_result
from remedy.types import (
    AccountRef,
    JobStep,
    RemediationInput,
    RemediationSpec,
    RunState,
    StepState,
    TagInput,
)
from sandbox.azure import AzureSandbox
from tests.findings import aws_finding

JOBS = Path(__file__).resolve().parent.parent / "jobs"
GROUP = f"remedy-workflow-{uuid.uuid4().hex[:6]}"
SSH_RULE = "5c8c26847a550e1fb6560cab"


@pytest.fixture
def azure_env(azure_sandbox: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> AzureSandbox:
    """The worker's Azure app (the sandbox's) in this process's environment, before it is built."""
    for name, value in azure_sandbox.worker_env().items():
        monkeypatch.setenv(name, value)
    return azure_sandbox


@pytest.fixture(scope="module")
def resource_group(azure_sandbox: AzureSandbox) -> str:
    azure_sandbox.create_resource_group(GROUP)
    return GROUP


def azure_finding(
    sandbox: AzureSandbox, nsg: str, *, subscription: str | None = None
) -> dict[str, Any]:
    subscription = subscription or sandbox.subscription_id
    chain = {
        "cloudAccountId": subscription,
        "properties": [{"name": "ResourceGroup", "type": "string", "stringV": GROUP}],
    }
    return {
        "cloudAccount": {
            "provider": "azure",
            "subscriptionId": subscription,
            "applicationId": sandbox.client_id,
        },
        "notificationInfo": {
            "RuleID": SSH_RULE,
            "RuleName": "nsg-restrict-ssh",
            "Level": "High",
            "Service": "Network",
            "FindingInfo": {
                "FindingId": f"finding-{uuid.uuid4().hex[:12]}",
                "ObjectId": nsg,
                "ObjectChain": json.dumps(chain),
                "Region": "westeurope",
            },
        },
        "autoRemediate": False,
    }


def allow(rule: str, priority: int, port: str) -> dict[str, Any]:
    """An inbound Tcp rule letting any source reach `port`."""
    return {
        "name": rule,
        "properties": {
            "protocol": "Tcp",
            "access": "Allow",
            "direction": "Inbound",
            "priority": priority,
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": port,
        },
    }


def new_nsg(sandbox: AzureSandbox, resource_group: str) -> str:
    name = f"nsg-{uuid.uuid4().hex[:8]}"
    rules = [allow("ssh", 100, "22"), allow("web", 110, "443")]
    document = {
        "location": "westeurope",
        "tags": {"owner": "team-a"},
        "properties": {"securityRules": rules},
    }
    sandbox.network_client().network_security_groups.begin_create_or_update(
        resource_group, name, NetworkSecurityGroup(document)
    ).result()
    return name


async def start(client: Client, payload: dict[str, Any], job: str, group_id: str) -> str:
    """Start the workflow directly (no client-side validation): the worker must judge it."""
    run_id = f"azure-{uuid.uuid4().hex}"
    await client.start_workflow(
        "RemediationWorkflow",
        RemediationInput(payload=payload, spec=RemediationSpec(steps=[JobStep(job=job)])),
        id=run_id,
        task_queue=f"remedy-{group_id}",
    )
    return run_id


async def test_azure_finding_closes_the_port_and_tags_the_nsg(
    client: Client, start_worker, azure_env: AzureSandbox, resource_group: str, captured_logs
) -> None:
    worker = await start_worker(JOBS)
    nsg = new_nsg(azure_env, resource_group)
    run_id = await start(
        client,
        azure_finding(azure_env, nsg),
        "azure_network_security_group_close_port_22",
        worker.group_id,
    )

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED, status
    assume, job, verify, tag = status.steps[1:5]
    assert verify.name == "verify azure_network_security_group_close_port_22"
    assert verify.state == StepState.SUCCEEDED and f"COMPLIANT: {nsg} lets no" in verify.log_tail
    assert tag.kind == "tag"
    assert assume.message.startswith(
        f"acting as app {azure_env.client_id} in tenant {azure_env.tenant_id} until "
    )
    assert job.exit_code == 0 and job.attempts == 1
    assert job.changes == [f"{nsg}: removed rule ssh (Tcp 22 from *): port 22 was all it allowed"]
    assert tag.state == StepState.SUCCEEDED, tag
    found = azure_env.network_client().network_security_groups.get(resource_group, nsg)
    assert [r.name for r in found.security_rules or []] == ["web"]
    tags = found.tags or {}
    assert tags["owner"] == "team-a"  # merged, not replaced
    assert tags["remediated-by"] == "remedy" and tags["remediation-run-id"] == run_id
    assert tags["remediation-job"] == "azure_network_security_group_close_port_22"
    assert "remediated-at" in tags

    history = (await client.get_workflow_handle(run_id).fetch_history()).to_json()
    for secret in azure_env.secrets():
        assert secret not in history
        assert secret not in captured_logs.text()
        assert secret not in job.log_tail
    assert "job finished" in captured_logs.text()


async def test_wrong_client_secret_fails_at_assume_role_without_retry(
    client: Client,
    start_worker,
    azure_env: AzureSandbox,
    resource_group: str,
    captured_logs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    monkeypatch.setenv("AZURE_CLIENT_SECRET", wrong)
    worker = await start_worker(JOBS)
    nsg = new_nsg(azure_env, resource_group)
    run_id = await start(
        client,
        azure_finding(azure_env, nsg),
        "azure_network_security_group_close_port_22",
        worker.group_id,
    )

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.FAILED, status
    assume = status.steps[1]
    assert assume.name == "assume role" and assume.state == StepState.FAILED
    assert assume.attempts == 1
    assert azure_env.tenant_id in status.message and azure_env.client_id in status.message
    assert "AADSTS7000215" in status.message and "AZURE_CLIENT_SECRET" in status.message
    assert status.steps[2].state == StepState.SKIPPED
    assert [
        r.name for r in azure_env.network_client().security_rules.list(resource_group, nsg)
    ] == [
        "ssh",
        "web",
    ]  # untouched
    history = (await client.get_workflow_handle(run_id).fetch_history()).to_json()
    for secret in [wrong, *azure_env.secrets()]:
        assert secret not in history
        assert secret not in captured_logs.text()


async def test_unassociated_subscription_fails_at_assume_role_naming_it(
    client: Client, start_worker, azure_env: AzureSandbox
) -> None:
    worker = await start_worker(JOBS)
    other = str(uuid.uuid4())
    run_id = await start(
        client,
        azure_finding(azure_env, "nsg-anywhere", subscription=other),
        "azure_security_udp_access_restricted_from_internet",
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED
    assert status.steps[1].state == StepState.FAILED and status.steps[1].attempts == 1
    assert f"subscription {other} cannot be reached by app {azure_env.client_id}" in status.message
    assert "SubscriptionNotFound" in status.message and "role assignment" in status.message


@pytest.mark.parametrize(
    ("provider", "job", "expected"),
    [
        (
            "azure",
            "security_group_close_port_22",
            "the finding is from azure but the jobs are for aws",
        ),
        (
            "aws",
            "azure_network_security_group_close_port_22",
            "the finding is from aws but the jobs are for azure",
        ),
    ],
)
async def test_a_job_of_the_other_cloud_is_refused_at_validation(
    client: Client, start_worker, azure_env: AzureSandbox, provider: str, job: str, expected: str
) -> None:
    worker = await start_worker(JOBS)
    payload = (
        azure_finding(azure_env, "nsg-1")
        if provider == "azure"
        else aws_finding("sg-0123456789abcdef0")
    )
    run_id = await start(client, payload, job, worker.group_id)
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED
    assert status.steps[0].state == StepState.FAILED and status.steps[0].attempts == 1
    assert f"cloudAccount.provider: {expected}" in status.message
    assert all(s.state == StepState.SKIPPED for s in status.steps[1:])


async def test_azure_tagging_skips_what_it_cannot_tag(
    azure_env: AzureSandbox, resource_group: str
) -> None:
    store = CredentialStore(azure=AzureSettings.from_env(azure_env.worker_env()))
    tagging = TaggingActivities(store)
    account = AccountRef(
        provider="azure", account_id=azure_env.subscription_id, resource_group=resource_group
    )

    def tag_input(resource: str, resource_type: str) -> TagInput:
        return TagInput(
            account=account,
            resource_id=resource,
            resource_type=resource_type,
            tags={"remediated-by": "remedy"},
            run_id="run-1",
        )

    other_type = await ActivityEnvironment().run(
        tagging.tag_resource, tag_input("vault1", "azure:key-vault")
    )
    assert not other_type.tagged
    assert "vault1 (azure:key-vault) cannot be tagged by Remedy on Azure" in (other_type.message)

    # a storage account is tagged, its own tags kept (a PATCH of the account, merged)
    from tests.test_job_modes_azure_azstorage import GROUP, admin_storage, new_account

    azure_env.create_resource_group(GROUP)
    storage = admin_storage(azure_env)
    name = new_account(storage)
    storage.storage_accounts.update(GROUP, name, {"tags": {"owner": "data-team"}})
    account.resource_group = GROUP
    tagged = await ActivityEnvironment().run(
        tagging.tag_resource, tag_input(name, "azure:storage-account")
    )
    assert tagged.tagged, tagged.message
    assert storage.storage_accounts.get_properties(GROUP, name).tags == {
        "owner": "data-team",
        "remediated-by": "remedy",
    }
    gone = await ActivityEnvironment().run(
        tagging.tag_resource, tag_input("nsg-gone", "azure:network-security-group")
    )
    assert not gone.tagged and "404 ResourceNotFound" in gone.message, gone.message


async def test_many_concurrent_findings_on_one_nsg_all_take_effect(
    client: Client, start_worker, azure_env: AzureSandbox, resource_group: str
) -> None:
    """Ten findings on one NSG, one port each, remediated at once: every port ends closed.

    An NSG update writes the whole group, so without the ETag If-Match (and a re-read on 412) one
    job's write would silently undo another's.
    """
    ports = [22, 3389, 5432, 1433, 3306, 6379, 8080, 9200, 27017, 5601]
    name = f"nsg-many-{uuid.uuid4().hex[:8]}"

    rules = [allow(f"open-{p}", 100 + i, str(p)) for i, p in enumerate(ports) if p != 8080]
    rules += [allow("web", 200, "443"), allow("range", 210, "8000-8100")]
    network = azure_env.network_client()
    network.network_security_groups.begin_create_or_update(
        resource_group,
        name,
        NetworkSecurityGroup({"location": "westeurope", "properties": {"securityRules": rules}}),
    ).result()
    worker = await start_worker(JOBS)

    run_ids = []
    for port in ports:
        run_id = f"azure-many-{port}-{uuid.uuid4().hex[:8]}"
        spec = RemediationSpec(
            steps=[
                JobStep(job="azure_network_security_group_close_port", parameters={"port": port})
            ]
        )
        await client.start_workflow(
            "RemediationWorkflow",
            RemediationInput(payload=azure_finding(azure_env, name), spec=spec),
            id=run_id,
            task_queue=f"remedy-{worker.group_id}",
        )
        run_ids.append(run_id)
    statuses = await asyncio.gather(*(wait_for_result(client, r) for r in run_ids))

    assert [s.state for s in statuses] == [RunState.SUCCEEDED] * len(ports), [
        s.message for s in statuses
    ]
    found = network.network_security_groups.get(resource_group, name)
    left = {
        r.name: (r.destination_port_range, r.destination_port_ranges)
        for r in found.security_rules or []
    }
    assert set(left) == {"web", "range"}, left
    assert left["web"][0] == "443"
    assert sorted(left["range"][1] or [left["range"][0]]) == ["8000-8079", "8081-8100"]
    logs = "\n".join(s.steps[2].log_tail for s in statuses)
    assert "changed since it was read (412 on If-Match" in logs  # they did collide


async def test_the_opt_out_is_read_live_on_azure(azure_env: AzureSandbox) -> None:
    """activities/opt_out.py: a storage account tagged remedy:skip since the scan is heard; a type
    Remedy cannot read falls back to the finding's tags, saying so."""
    from activities.opt_out import OptOutActivities
    from remedy.types import OptOutInput
    from tests.test_job_modes_azure_azstorage import GROUP, admin_storage, new_account

    azure_env.create_resource_group(GROUP)
    storage = admin_storage(azure_env)
    name = new_account(storage)
    storage.storage_accounts.update(GROUP, name, {"tags": {"Remedy:Skip": "owner says no"}})
    reader = OptOutActivities(CredentialStore(azure=AzureSettings.from_env(azure_env.worker_env())))
    account = AccountRef(
        provider="azure", account_id=azure_env.subscription_id, resource_group=GROUP
    )

    def ask(resource: str, kind: str) -> OptOutInput:
        return OptOutInput(
            account=account,
            resource_id=resource,
            resource_type=kind,
            skip_tag="remedy:skip",
            run_id="r",
        )

    heard = await ActivityEnvironment().run(reader.read_opt_out, ask(name, "azure:storage-account"))
    assert heard.read and heard.opted_out is not None
    assert heard.opted_out.startswith("the resource is tagged Remedy:Skip=owner says no")
    unread = await ActivityEnvironment().run(reader.read_opt_out, ask("vault1", "azure:key-vault"))
    assert not unread.read and unread.opted_out is None
    assert unread.message == "its tags cannot be read live: the finding's were used"


async def test_an_azure_remediation_rolls_back_to_the_rules_it_found(
    client: Client, start_worker, azure_env: AzureSandbox, resource_group: str
) -> None:
    """`remedy rollback` on Azure: the rollback run puts the NSG's rule back as the run found it,
    and tags the NSG with the rollback run (the dev server, the worker, the emulator)."""
    from remedy.starter import start_rollback

    worker = await start_worker(JOBS)
    nsg = new_nsg(azure_env, resource_group)
    network = azure_env.network_client()
    before = [
        r.as_dict()
        for r in network.network_security_groups.get(resource_group, nsg).security_rules or []
    ]
    run_id = await start(
        client,
        azure_finding(azure_env, nsg),
        "azure_network_security_group_close_port_22",
        worker.group_id,
    )
    fixed = await wait_for_result(client, run_id)
    assert fixed.state == RunState.SUCCEEDED, fixed.message
    assert [r.name for r in network.security_rules.list(resource_group, nsg)] == ["web"]

    undo_id = await start_rollback(client, run_id)
    undone = await wait_for_result(client, undo_id)
    assert undone.state == RunState.SUCCEEDED, undone.message
    assert undone.message == f"rolled back {run_id}: 1 change(s) undone"
    after = network.network_security_groups.get(resource_group, nsg)

    def comparable(rules: list[dict[str, Any]]) -> list[tuple[str, Any, Any, Any]]:
        return sorted(
            (
                r["name"],
                r.get("destination_port_range"),
                r.get("source_address_prefix"),
                r.get("priority"),
            )
            for r in rules
        )

    assert comparable([r.as_dict() for r in after.security_rules or []]) == comparable(before)
    assert (after.tags or {})["remediation-rollback-run-id"] == undo_id
    assert (after.tags or {})["owner"] == "team-a"
