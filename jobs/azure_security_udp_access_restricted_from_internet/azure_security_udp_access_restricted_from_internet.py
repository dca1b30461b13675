"""Stop an Azure network security group from letting UDP in from the internet.

ObjectId: the NSG's name; its subscription and resource group come from the ObjectChain.
Inbound Allow rules from the internet (*, Internet, 0.0.0.0/0, ::/0): Udp rules are removed, `*`
(any protocol) rules become Tcp. See remedy/jobkit/azure_nsg.py for rules that mix internet and
other sources, and for how a concurrent change to the NSG is handled.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit import azure, info
from remedy.jobkit.azure_nsg import restrict_nsg, stop_udp
from remedy.jobkit.azure_nsg_rollback import rollback_nsg


def remediate(finding: jobkit.Finding) -> None:
    network = azure.network_client(finding)
    changes = restrict_nsg(network, finding.resource_group, finding.object_id, stop_udp, "udp")
    info(f"done: {changes} change(s) to stop udp from the internet on {finding.object_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    network = azure.network_client(finding)
    changes = rollback_nsg(network, finding.resource_group, finding.object_id, records)
    info(f"done: {changes} change(s) to restore {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
