"""The Azure emulator refuses a virtual network's DDoS settings as Azure refuses them
(sandbox/vnet_rules.py cites the pages), and the DDoS job meets each way a write goes wrong as it
should: a concurrent change (412 on If-Match), another operation (409), an operation that ends
Failed, a role without the join action."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import DdosProtectionPlan, VirtualNetwork

from sandbox.azure import AzureSandbox, start_azure_sandbox
from sandbox.entra import AppRegistration
from tests.azure_fixtures import azure_job_actions
from tests.job_modes import Run, runner
from tests.test_azure_jobs import GROUP, payload
from tests.test_fidelity_azure import RG, SUB, Emulator, assert_refused, faults
from tests.test_job_modes_azure_aznet import (
    DDOS_JOB,
    DDOS_RULE,
    ddos_state,
    network,
    new_vnet,
    plan_id,
    run,
)

__all__ = ["faults", "network", "plan_id", "run"]  # fixtures
JOBS = Path(__file__).resolve().parent.parent / "jobs"

NETWORK = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network"
PLAN = f"{NETWORK}/ddosProtectionPlans/plan"
VNET_ACTIONS = frozenset(
    {"Microsoft.Network/virtualNetworks/read", "Microsoft.Network/virtualNetworks/write"}
)


def vnet_body(**properties: Any) -> dict[str, Any]:
    return {
        "location": "westeurope",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, **properties},
    }


def with_plan(*apps: AppRegistration) -> Emulator:
    arm = Emulator(*apps)
    assert arm.call("PUT", PLAN, {"location": "westeurope"}).status == 201
    return arm


def test_enabling_ddos_protection_needs_a_plan() -> None:
    arm = with_plan()
    answer = arm.call("PUT", f"{NETWORK}/virtualNetworks/v", vnet_body(enableDdosProtection=True))
    assert_refused(answer, 400, "DdosProtectionPlanRequired")
    assert arm.call("GET", f"{NETWORK}/virtualNetworks/v").status == 404


def test_the_plan_must_exist() -> None:
    arm = with_plan()
    for missing in (f"{NETWORK}/ddosProtectionPlans/other", "not-an-id"):
        body = vnet_body(enableDdosProtection=True, ddosProtectionPlan={"id": missing})
        answer = arm.call("PUT", f"{NETWORK}/virtualNetworks/v", body)
        assert_refused(answer, 400, "InvalidResourceReference")
    body = vnet_body(enableDdosProtection=True, ddosProtectionPlan={"id": PLAN})
    assert arm.call("PUT", f"{NETWORK}/virtualNetworks/v", body).status == 201


def test_attaching_a_plan_needs_the_join_action_on_it() -> None:
    plain = AppRegistration("plain", "s", actions=VNET_ACTIONS)
    joiner = AppRegistration(
        "joiner", "s", actions=VNET_ACTIONS | {"Microsoft.Network/ddosProtectionPlans/join/action"}
    )
    arm = with_plan(plain, joiner)
    body = vnet_body(enableDdosProtection=True, ddosProtectionPlan={"id": PLAN})
    path = f"{NETWORK}/virtualNetworks/v"
    refused = arm.call("PUT", path, body, token=arm.token("plain", "s"))
    assert_refused(refused, 403, "LinkedAuthorizationFailed")
    assert "ddosProtectionPlans/join/action" in refused.body["error"]["message"]
    # a network without a plan needs no join
    assert arm.call("PUT", path, vnet_body(), token=arm.token("plain", "s")).status == 201
    assert arm.call("PUT", path, body, token=arm.token("joiner", "s")).status == 200
    # once it has a plan, every write of the network needs the join, detaching it included
    detached = arm.call("PUT", path, vnet_body(), token=arm.token("plain", "s"))
    assert_refused(detached, 403, "LinkedAuthorizationFailed")
    assert arm.call("PUT", path, vnet_body(), token=arm.token("joiner", "s")).status == 200


def test_the_job_without_the_join_action_fails_and_changes_nothing(tmp_path: Path) -> None:
    """A worker role without join/action on the plan: the PUT is refused and the job exits 1
    with one line naming the linked check; the network is unchanged."""
    join = "Microsoft.Network/ddosProtectionPlans/join/action"
    sandbox = start_azure_sandbox([a for a in azure_job_actions() if a != join])
    try:
        sandbox.create_resource_group(GROUP)
        network = sandbox.network_client()
        plan = network.ddos_protection_plans.begin_create_or_update(
            GROUP, "plan", DdosProtectionPlan({"location": "westeurope"})
        ).result()
        vnet = new_vnet(network)
        assert sandbox.emulator is not None
        run = runner(tmp_path, sandbox.worker_env(), sandbox.emulator.requests)
        finding = payload(sandbox, vnet, DDOS_RULE, ddos_protection_plan_id=str(plan.id))
        done = run(DDOS_JOB, finding)
        assert done.returncode == 1 and len(done.errors) == 1, str(done)
        assert "LinkedAuthorizationFailed" in done.errors[0] and done.changes == []
        assert ddos_state(network, vnet) == (False, None)
    finally:
        sandbox.stop()


def ddos_job() -> ModuleType:
    """The job's module, in process (its __main__ block does not run)."""
    path = JOBS / DDOS_JOB / f"{DDOS_JOB}.py"
    spec = importlib.util.spec_from_file_location("ddos_job", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_write_carries_if_match_so_a_change_in_between_is_refused(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient
) -> None:
    vnet = new_vnet(network)
    stale = network.virtual_networks.get(GROUP, vnet).as_dict()
    changed = dict(stale, tags={"changed": "meanwhile"})
    network.virtual_networks.begin_create_or_update(GROUP, vnet, VirtualNetwork(changed)).result()
    worker = azure_sandbox.network_client(admin=False)
    stale["properties"]["subnets"] = []  # what a blind PUT of the stale copy would do
    with pytest.raises(HttpResponseError) as refused:
        ddos_job().put_if_unchanged(worker, GROUP, vnet, stale)
    assert refused.value.status_code == 412
    after = network.virtual_networks.get(GROUP, vnet).as_dict()
    assert after["tags"] == {"changed": "meanwhile"} and len(after["properties"]["subnets"]) == 2


def test_a_conflict_is_waited_out_and_the_change_applied(
    azure_sandbox: AzureSandbox,
    network: NetworkManagementClient,
    plan_id: str,
    run: Run,
    faults: Any,
) -> None:
    vnet = new_vnet(network)
    faults.arm("conflict")
    done = run(DDOS_JOB, payload(azure_sandbox, vnet, DDOS_RULE, ddos_protection_plan_id=plan_id))
    assert done.returncode == 0, str(done)
    assert "409 AnotherOperationInProgress" in done.stdout and len(done.changes) == 1
    assert ddos_state(network, vnet) == (True, plan_id)


@pytest.mark.parametrize("ending", ["Failed", "Canceled"])
def test_an_operation_that_does_not_succeed_exits_1_claiming_no_change(
    azure_sandbox: AzureSandbox,
    network: NetworkManagementClient,
    plan_id: str,
    run: Run,
    faults: Any,
    ending: str,
) -> None:
    vnet = new_vnet(network)
    faults.arm(ending.lower())
    done = run(DDOS_JOB, payload(azure_sandbox, vnet, DDOS_RULE, ddos_protection_plan_id=plan_id))
    assert done.returncode == 1 and len(done.errors) == 1, str(done)
    assert f"the update of {vnet} ended {ending}" in done.errors[0]
    assert "Traceback" not in done.stderr and done.changes == []
    assert ddos_state(network, vnet) == (False, None)
