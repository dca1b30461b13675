"""Close every TCP and UDP port open to the internet on one security group except the authorized
ones (Security Hub EC2.18).

ObjectId: the security group id (sg-...). Parameters `authorized_tcp_ports` (default 80, 443, as
Security Hub's authorizedTcpPorts) and `authorized_udp_ports` (default none). See
remedy/jobkit/ec2_ports.py for exactly what is revoked, what is re-authorized (the authorized
ports), in which order, and for plan and rollback.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit.ec2_ports import KIND, Closure, close_on_group, rollback_port_closures


def unauthorized(parameters: dict[str, Any] | Any) -> Closure:
    return Closure.all_but(
        {"tcp": parameters["authorized_tcp_ports"], "udp": parameters["authorized_udp_ports"]}
    )


def remediate(finding: jobkit.Finding) -> None:
    closure = unauthorized(finding.parameters)  # remedy.json's schema: the kit checked them
    changes = close_on_group(jobkit.ec2_client(finding), finding.object_id, closure)
    jobkit.info(f"done: {changes} change(s) to close {closure.label} on {finding.object_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    changes = rollback_port_closures(jobkit.ec2_client(finding), found)
    jobkit.info(f"done: {changes} change(s) to restore {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
