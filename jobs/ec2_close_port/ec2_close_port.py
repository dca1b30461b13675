"""Close a TCP or UDP port (or port range) to the internet on every security group of an EC2
instance.

ObjectId: the instance id. Parameters `port` (1-65535), `to_port` (default: `port`) and `protocol`
(tcp, the default, or udp). Every group attached to any of the instance's network interfaces is
fixed; see remedy/jobkit/ec2_ports.py for exactly what is revoked, what is re-authorized around
the ports, in which order, and for plan and rollback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit
from remedy.jobkit.ec2_ports import KIND, close_on_groups, closure_of, rollback_port_closures

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client


def security_groups_of_instance(ec2: EC2Client, instance_id: str) -> list[str]:
    """Every security group of the instance, across all its network interfaces, sorted."""
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    groups: set[str] = set()
    for instance in (i for r in reservations for i in r.get("Instances", [])):
        groups.update(g["GroupId"] for g in instance.get("SecurityGroups", []))
        for interface in instance.get("NetworkInterfaces", []):
            groups.update(g["GroupId"] for g in interface.get("Groups", []))
    return sorted(groups)


def remediate(finding: jobkit.Finding) -> None:
    closure = closure_of(finding.parameters)  # remedy.json's schema: the kit checked them
    ec2 = jobkit.ec2_client(finding)
    groups = security_groups_of_instance(ec2, finding.object_id)
    jobkit.info(f"{finding.object_id} has security groups: {', '.join(groups) or 'none'}")
    changes = close_on_groups(ec2, groups, closure)
    jobkit.info(f"done: {changes} change(s) to close {closure.label} on {finding.object_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    """Each group recorded as it was; groups since detached from the instance are restored too
    (the records name them)."""
    found = jobkit.modes.of_kind(records, KIND)
    changes = rollback_port_closures(jobkit.ec2_client(finding), found)
    jobkit.info(f"done: {changes} change(s) to restore the groups of {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
