"""The Azure emulator refuses a virtual network's DDoS settings as Azure refuses them
(sandbox/vnet_rules.py cites the pages), and the DDoS job fails as it should on each refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from azure.mgmt.network.models import DdosProtectionPlan

from sandbox.azure import start_azure_sandbox
from sandbox.entra import AppRegistration
from tests.azure_fixtures import azure_job_actions
from tests.job_modes import runner
from tests.test_azure_jobs import GROUP, payload
from tests.test_fidelity_azure import RG, SUB, Emulator, assert_refused
from tests.test_job_modes_azure_aznet import DDOS_JOB, DDOS_RULE, ddos_state, new_vnet

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
