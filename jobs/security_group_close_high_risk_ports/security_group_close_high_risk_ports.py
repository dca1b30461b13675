"""Close the high-risk ports (Security Hub EC2.19) to the internet on one security group.

ObjectId: the security group id (sg-...). Parameters `ports` (default: EC2.19's 24 ports) and
`protocols` (default: tcp and udp). See remedy/jobkit/ec2_ports.py for exactly what is revoked,
what is re-authorized around the ports, and in which order, and for plan and rollback.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit.ec2_ports import KIND, Closure, Ports, close_on_group, rollback_port_closures


def high_risk(parameters: dict[str, Any] | Any) -> Closure:
    ports, protocols = parameters["ports"], parameters["protocols"]
    return Closure.of(
        [Ports(p, port, port) for p in protocols for port in ports],
        f"the high-risk ports ({'+'.join(protocols)}/{','.join(str(p) for p in sorted(ports))})",
    )


def remediate(finding: jobkit.Finding) -> None:
    closure = high_risk(finding.parameters)  # remedy.json's schema: the kit checked them
    changes = close_on_group(jobkit.ec2_client(finding), finding.object_id, closure)
    jobkit.info(f"done: {changes} change(s) to close {closure.label} on {finding.object_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    changes = rollback_port_closures(jobkit.ec2_client(finding), found)
    jobkit.info(f"done: {changes} change(s) to restore {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
