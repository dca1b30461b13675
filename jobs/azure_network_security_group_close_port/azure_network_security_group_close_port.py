"""Close one TCP port to the internet on one Azure network security group.

ObjectId: the NSG's name; its subscription and resource group come from the ObjectChain.
Parameter `port` (1-65535). See remedy/jobkit/azure_nsg.py for exactly which rules are narrowed,
split or removed, and how a concurrent change to the NSG is handled.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit import azure, info
from remedy.jobkit.azure_nsg import close_tcp_port, restrict_nsg
from remedy.jobkit.azure_nsg_rollback import rollback_nsg


def remediate(finding: jobkit.Finding) -> None:
    port: int = finding.parameters["port"]  # remedy.json's schema: the kit checked it
    network = azure.network_client(finding)
    changes = restrict_nsg(
        network, finding.resource_group, finding.object_id, close_tcp_port(port), f"tcp/{port}"
    )
    info(f"done: {changes} change(s) to close tcp/{port} on {finding.object_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    network = azure.network_client(finding)
    changes = rollback_nsg(network, finding.resource_group, finding.object_id, records)
    info(f"done: {changes} change(s) to restore {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
