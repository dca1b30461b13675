"""Which network security groups guard a virtual machine scale set or a virtual machine: those
attached to the scale set's network interface configurations, or to the VM's network interfaces.

ObjectId: the name of the scale set (parameter `resource` "virtual-machine-scale-set", the
default: the rule is about scale sets) or of the virtual machine (`resource` "virtual-machine"),
in the ObjectChain's resource group. A network interface or NSG may be in another resource group
of the subscription: its id says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from remedy import jobkit
from remedy.jobkit import azure

SCALE_SET, VM = "virtualmachinescalesets", "virtualmachines"


@dataclass(frozen=True)
class Attached:
    """What the target is, the NSGs (resource group, name) attached, and the network interfaces
    (or configurations) that have none."""

    what: str
    nsgs: list[tuple[str, str]]
    bare: list[str]


def parse_id(resource_id: str) -> tuple[str, str, str]:
    """(resource group, lower-cased type, name) of an ARM id `/subscriptions/.../<type>/<name>`."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    group = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""
    return group, lowered[-2] if len(parts) >= 2 else "", parts[-1] if parts else ""


def target(finding: jobkit.Finding) -> tuple[str, str, str]:
    """(kind, resource group, name) the finding names: ObjectId is the name, in the ObjectChain's
    resource group; the parameter `resource` says whether it is a scale set (the default) or a
    virtual machine."""
    kind = VM if finding.parameters.get("resource") == "virtual-machine" else SCALE_SET
    return kind, finding.resource_group, finding.object_id


def _nsg_of(properties: dict[str, Any]) -> tuple[str, str] | None:
    nsg_id = (properties.get("networkSecurityGroup") or {}).get("id")
    if not nsg_id:
        return None
    group, _, name = parse_id(str(nsg_id))
    return group, name


def attached(finding: jobkit.Finding) -> Attached:
    kind, group, name = target(finding)
    nsgs: list[tuple[str, str]] = []
    bare: list[str] = []
    if kind == SCALE_SET:
        compute = azure.client("compute", finding)
        document = compute.virtual_machine_scale_sets.get(group, name).as_dict()
        profile = (document.get("properties") or {}).get("virtualMachineProfile") or {}
        configs = (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []
        for config in configs:
            found = _nsg_of(config.get("properties") or {})
            if found is None:
                bare.append(f"network interface configuration {config.get('name')}")
            elif found not in nsgs:
                nsgs.append(found)
        return Attached(f"scale set {name}", nsgs, bare)
    compute = azure.client("compute", finding)
    network = azure.network_client(finding)
    document = compute.virtual_machines.get(group, name).as_dict()
    profile = (document.get("properties") or {}).get("networkProfile") or {}
    for reference in profile.get("networkInterfaces") or []:
        nic_group, _, nic_name = parse_id(str(reference.get("id") or ""))
        nic = network.network_interfaces.get(nic_group, nic_name).as_dict()
        found = _nsg_of(nic.get("properties") or {})
        if found is None:
            bare.append(f"network interface {nic_name}")
        elif found not in nsgs:
            nsgs.append(found)
    return Attached(f"virtual machine {name}", nsgs, bare)


def no_nsg_message(target_: Attached) -> str:
    return (
        f"{target_.what}: {', '.join(target_.bare)} has no network security group of its own: "
        "only its subnet's NSG (if any) filters its traffic; close port 22 there with "
        "azure_network_security_group_close_port_22, or attach an NSG"
    )
