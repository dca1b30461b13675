"""The scale-set port 22 job and the DDoS protection job in every mode, on the Azure emulator.

Resources are made with real azure-mgmt-compute / azure-mgmt-network clients as the sandbox
administrator; each job runs as the worker runs it, with only its role's actions (the union of the
Azure jobs' minimum_policy.json) on the wire.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachine, VirtualMachineScaleSet
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import DdosProtectionPlan, NetworkInterface, VirtualNetwork

from sandbox.azure import AzureSandbox
from sandbox.request_log import RequestLog
from tests.job_modes import Case, Run, exercise, runner
from tests.test_azure_jobs import GROUP, new_nsg, payload, rule, rules_of
from tests.test_job_modes_azure import add_rule

VM_JOB = "azure_vm_close_port_22"
DDOS_JOB = "azure_security_center_enable_ddos_protection"
VM_RULE = "d7a3ad03-860c-4928-9ba8-789e84a835be"
DDOS_RULE = "3abf3147-ea53-4302-b237-caab4d764c77"
# the plan-listing case needs a subscription with exactly one plan: a group of its own is not
# enough (the list is subscription-wide), so the DDoS tests share one plan
PLAN_GROUP = f"remedy-ddos-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def network(azure_sandbox: AzureSandbox) -> NetworkManagementClient:
    azure_sandbox.create_resource_group(GROUP)
    return azure_sandbox.network_client()


@pytest.fixture(scope="module")
def compute(azure_sandbox: AzureSandbox) -> ComputeManagementClient:
    credential = ClientSecretCredential(
        azure_sandbox.tenant_id,
        azure_sandbox.admin_client_id,
        azure_sandbox.admin_client_secret,
        authority=azure_sandbox.authority_host,
        disable_instance_discovery=True,
        connection_verify=azure_sandbox.ca_file,
    )
    return ComputeManagementClient(
        credential,
        azure_sandbox.subscription_id,
        base_url=azure_sandbox.endpoint,
        credential_scopes=[f"{azure_sandbox.endpoint}/.default"],
        polling_interval=0,
        connection_verify=azure_sandbox.ca_file,
    )


@pytest.fixture
def run(tmp_path: Path, azure_sandbox: AzureSandbox) -> Run:
    assert azure_sandbox.emulator is not None
    log: RequestLog = azure_sandbox.emulator.requests
    return runner(tmp_path, azure_sandbox.worker_env(), log)


def nsg_id(sandbox: AzureSandbox, name: str) -> str:
    return (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"Microsoft.Network/networkSecurityGroups/{name}"
    )


def new_scale_set(
    sandbox: AzureSandbox, compute: ComputeManagementClient, nsgs: list[str | None]
) -> str:
    """A scale set with one network interface configuration per entry (its NSG, or none)."""
    name = f"vmss-{uuid.uuid4().hex[:8]}"
    configs: list[dict[str, Any]] = []
    for index, nsg in enumerate(nsgs):
        props: dict[str, Any] = {"primary": index == 0, "ipConfigurations": []}
        if nsg is not None:
            props["networkSecurityGroup"] = {"id": nsg_id(sandbox, nsg)}
        configs.append({"name": f"nic-config-{index}", "properties": props})
    document = {
        "location": "westeurope",
        "sku": {"name": "Standard_B1s", "capacity": 2},
        "properties": {
            "virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": configs}}
        },
    }
    compute.virtual_machine_scale_sets.begin_create_or_update(
        GROUP, name, VirtualMachineScaleSet(document)
    ).result()
    return name


def new_vm(
    sandbox: AzureSandbox,
    compute: ComputeManagementClient,
    network: NetworkManagementClient,
    nsg: str,
) -> str:
    """A virtual machine with one network interface, the NSG attached to it."""
    nic = f"nic-{uuid.uuid4().hex[:8]}"
    network.network_interfaces.begin_create_or_update(
        GROUP,
        nic,
        NetworkInterface(
            {
                "location": "westeurope",
                "properties": {
                    "ipConfigurations": [],
                    "networkSecurityGroup": {"id": nsg_id(sandbox, nsg)},
                },
            }
        ),
    ).result()
    name = f"vm-{uuid.uuid4().hex[:8]}"
    nic_id = (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"Microsoft.Network/networkInterfaces/{nic}"
    )
    compute.virtual_machines.begin_create_or_update(
        GROUP,
        name,
        VirtualMachine(
            {
                "location": "westeurope",
                "properties": {"networkProfile": {"networkInterfaces": [{"id": nic_id}]}},
            }
        ),
    ).result()
    return name


OPEN_SSH = [
    rule("ssh-anywhere", 100, "*", "22"),
    rule("range", 110, ["0.0.0.0/0", "10.0.0.0/8"], "20-25"),
    rule("web", 120, "0.0.0.0/0", "443"),
]


# -- azure_vm_close_port_22 ------------------------------------------------------------------


def test_scale_set_modes(
    azure_sandbox: AzureSandbox,
    network: NetworkManagementClient,
    compute: ComputeManagementClient,
    run: Run,
) -> None:
    first = new_nsg(network, OPEN_SSH)
    second = new_nsg(network, [rule("ssh-internet", 200, "Internet", "22")])
    scale_set = new_scale_set(azure_sandbox, compute, [first, second, first])

    def state() -> Any:
        return rules_of(network, first), rules_of(network, second)

    def tamper() -> None:
        add_rule(network, second, rule("added-by-hand", 300, "10.1.0.0/16", "8080"))

    finding = payload(azure_sandbox, scale_set, VM_RULE)
    exercise(run, Case(VM_JOB, finding, state, tamper))


def test_scale_set_keeps_everything_else(
    azure_sandbox: AzureSandbox,
    network: NetworkManagementClient,
    compute: ComputeManagementClient,
    run: Run,
) -> None:
    nsg = new_nsg(network, [*OPEN_SSH, rule("private-ssh", 130, "10.0.0.0/8", "22")])
    scale_set = new_scale_set(azure_sandbox, compute, [nsg])
    before = compute.virtual_machine_scale_sets.get(GROUP, scale_set).as_dict()
    done = run(VM_JOB, payload(azure_sandbox, scale_set, VM_RULE))
    assert done.returncode == 0, str(done)
    rules = rules_of(network, nsg)
    assert "ssh-anywhere" not in rules
    assert rules["range"][5] == ("10.0.0.0/8",) and rules["range"][6] == ("20-25",)
    assert rules["range-internet"][5] == ("0.0.0.0/0",)
    assert rules["range-internet"][6] == ("20-21", "23-25")
    assert rules["web"] == ("web", "Tcp", "Allow", "Inbound", 120, ("0.0.0.0/0",), ("443",))
    assert rules["private-ssh"][5] == ("10.0.0.0/8",)
    # the scale set itself is only read
    assert compute.virtual_machine_scale_sets.get(GROUP, scale_set).as_dict() == before
    assert not any("virtualMachineScaleSets" in m for m in done.mutating), str(done)


def test_a_virtual_machine(
    azure_sandbox: AzureSandbox,
    network: NetworkManagementClient,
    compute: ComputeManagementClient,
    run: Run,
) -> None:
    nsg = new_nsg(network, OPEN_SSH)
    vm = new_vm(azure_sandbox, compute, network, nsg)

    def tamper() -> None:
        add_rule(network, nsg, rule("added-by-hand", 300, "10.1.0.0/16", "8080"))

    finding = payload(azure_sandbox, vm, VM_RULE, resource="virtual-machine")
    exercise(run, Case(VM_JOB, finding, lambda: rules_of(network, nsg), tamper))


def test_a_configuration_without_an_nsg_fails_after_fixing_the_others(
    azure_sandbox: AzureSandbox,
    network: NetworkManagementClient,
    compute: ComputeManagementClient,
    run: Run,
) -> None:
    nsg = new_nsg(network, OPEN_SSH)
    scale_set = new_scale_set(azure_sandbox, compute, [nsg, None])
    finding = payload(azure_sandbox, scale_set, VM_RULE)
    done = run(VM_JOB, finding)
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "nic-config-1" in done.errors[0], str(done)
    assert "ssh-anywhere" not in rules_of(network, nsg)  # the NSG there is was fixed
    assert run(VM_JOB, finding, "verify").returncode == 3


def test_a_missing_scale_set_fails_with_one_error(azure_sandbox: AzureSandbox, run: Run) -> None:
    done = run(VM_JOB, payload(azure_sandbox, "vmss-that-is-not-there", VM_RULE))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "404" in done.errors[0], str(done)
    assert done.mutating == [] and done.changes == []


# -- azure_security_center_enable_ddos_protection -------------------------------------------


@pytest.fixture(scope="module")
def plan_id(azure_sandbox: AzureSandbox, network: NetworkManagementClient) -> str:
    azure_sandbox.create_resource_group(PLAN_GROUP)
    made = network.ddos_protection_plans.begin_create_or_update(
        PLAN_GROUP, "ddos-plan", DdosProtectionPlan({"location": "westeurope"})
    ).result()
    return str(made.id)


def new_vnet(network: NetworkManagementClient, **extra: Any) -> str:
    name = f"vnet-{uuid.uuid4().hex[:8]}"
    document = {
        "location": "westeurope",
        "tags": {"team": "web"},
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.20.0.0/16"]},
            "dhcpOptions": {"dnsServers": ["10.20.0.4"]},
            "subnets": [
                {"name": "front", "properties": {"addressPrefix": "10.20.1.0/24"}},
                {"name": "back", "properties": {"addressPrefix": "10.20.2.0/24"}},
            ],
            **extra,
        },
    }
    network.virtual_networks.begin_create_or_update(GROUP, name, VirtualNetwork(document)).result()
    return name


def ddos_state(network: NetworkManagementClient, name: str) -> tuple[Any, Any]:
    props = network.virtual_networks.get(GROUP, name).as_dict()["properties"]
    return bool(props.get("enableDdosProtection")), (props.get("ddosProtectionPlan") or {}).get(
        "id"
    )


def test_ddos_modes(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, plan_id: str, run: Run
) -> None:
    vnet = new_vnet(network)

    def tamper() -> None:
        document = network.virtual_networks.get(GROUP, vnet).as_dict()
        document["properties"]["enableDdosProtection"] = False
        network.virtual_networks.begin_create_or_update(
            GROUP, vnet, VirtualNetwork(document)
        ).result()

    finding = payload(azure_sandbox, vnet, DDOS_RULE, ddos_protection_plan_id=plan_id)
    exercise(run, Case(DDOS_JOB, finding, lambda: ddos_state(network, vnet), tamper))
    assert ddos_state(network, vnet) == (False, plan_id)  # as the tamper left it


def test_ddos_uses_the_subscriptions_only_plan_and_keeps_everything_else(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, plan_id: str, run: Run
) -> None:
    vnet = new_vnet(network)
    before = network.virtual_networks.get(GROUP, vnet).as_dict()
    done = run(DDOS_JOB, payload(azure_sandbox, vnet, DDOS_RULE))
    assert done.returncode == 0, str(done)
    after = network.virtual_networks.get(GROUP, vnet).as_dict()
    assert ddos_state(network, vnet) == (True, plan_id)
    assert after["tags"] == {"team": "web"}
    assert after["properties"]["addressSpace"] == before["properties"]["addressSpace"]
    assert after["properties"]["dhcpOptions"] == {"dnsServers": ["10.20.0.4"]}
    subnets = {s["name"]: s["properties"]["addressPrefix"] for s in after["properties"]["subnets"]}
    assert subnets == {"front": "10.20.1.0/24", "back": "10.20.2.0/24"}


def test_ddos_leaves_a_network_protected_by_another_plan(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, plan_id: str, run: Run
) -> None:
    vnet = new_vnet(network, enableDdosProtection=True, ddosProtectionPlan={"id": plan_id})
    done = run(DDOS_JOB, payload(azure_sandbox, vnet, DDOS_RULE, ddos_protection_plan_id="/x"))
    assert done.returncode == 0 and done.changes == [] and done.mutating == [], str(done)


def test_ddos_fails_with_one_error(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, plan_id: str, run: Run
) -> None:
    missing = run(DDOS_JOB, payload(azure_sandbox, "vnet-not-there", DDOS_RULE))
    assert missing.returncode == 1 and len(missing.errors) == 1, str(missing)
    assert "404" in missing.errors[0]
    vnet = new_vnet(network)
    no_plan = plan_id.replace("ddos-plan", "no-such-plan")
    wrong = run(DDOS_JOB, payload(azure_sandbox, vnet, DDOS_RULE, ddos_protection_plan_id=no_plan))
    assert wrong.returncode == 1 and len(wrong.errors) == 1, str(wrong)
    assert "InvalidResourceReference" in wrong.errors[0] and wrong.changes == []
    assert ddos_state(network, vnet) == (False, None)
