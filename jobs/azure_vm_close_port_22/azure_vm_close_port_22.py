"""Close port 22 to the internet on the network security groups a scale set (or a VM) uses.

ObjectId: the scale set's name (or, with parameter `resource` "virtual-machine", a virtual
machine's; remedy/jobkit/azure_vm.py).
The NSGs attached to the scale set's network interface configurations (a VM: to its network
interfaces) are each changed as azure_network_security_group_close_port changes one NSG
(remedy/jobkit/azure_nsg.py: one read-modify-write with If-Match, a record per NSG). A network
interface (configuration) without an NSG of its own cannot be fixed here: the job closes port 22
on the NSGs there are, then exits 1 naming it.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit import ChangedSince, RecordError, azure, info
from remedy.jobkit.azure import CannotRemediate
from remedy.jobkit.azure_nsg import RULES_KIND, close_tcp_port, comparable, restrict_nsg
from remedy.jobkit.azure_nsg_rollback import rollback_nsg
from remedy.jobkit.azure_vm import attached, no_nsg_message
from remedy.jobkit.modes import of_kind

PORT = 22


def remediate(finding: jobkit.Finding) -> None:
    found = attached(finding)
    network = azure.network_client(finding)
    changes = 0
    for group, name in found.nsgs:
        changes += restrict_nsg(network, group, name, close_tcp_port(PORT), f"tcp/{PORT}")
    if found.bare:
        raise CannotRemediate(no_nsg_message(found))
    info(f"done: {changes} change(s) to close tcp/{PORT} on {found.what}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    """Every recorded NSG must still be as the job left it before any is restored."""
    found = attached(finding)
    network = azure.network_client(finding)
    recorded = {r["resource"] for r in of_kind(records, RULES_KIND)}
    if not recorded:
        raise RecordError(f"no change record is about an NSG of {found.what}")
    targets = [(g, n) for g, n in found.nsgs if n in recorded]
    missing = sorted(recorded - {n for _, n in targets})
    if missing:
        raise ChangedSince(f"{found.what} no longer uses {', '.join(missing)}")
    for group, name in targets:
        last = [r for r in of_kind(records, RULES_KIND) if r["resource"] == name][-1]
        document = network.network_security_groups.get(group, name).as_dict()
        now = comparable((document.get("properties") or {}).get("securityRules") or [])
        if now != last["after"]:
            raise ChangedSince(f"{name} changed since the job restricted it")
    changes = sum(rollback_nsg(network, g, n, records) for g, n in targets)
    info(f"done: {changes} change(s) to restore the NSGs of {found.what}")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
