"""Stop a subnet from giving instances a public IPv4 address at launch (Security Hub EC2.15).

ObjectId: the subnet id (subnet-...). Sets the subnet's MapPublicIpOnLaunch attribute to false and
nothing else: instances that already have a public address keep it, and the subnet's other
attributes (IPv6 assignment, DNS hostname settings, customer-owned IPs) are left as they are.

Plan prints the same CHANGE line after reading only. Before the change, one record (kind
`ec2-subnet-map-public-ip`) keeps the attribute as it was (true); rollback sets it back to true,
once the subnet still says false, as the job left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

KIND = "ec2-subnet-map-public-ip"


def maps_public_ip(ec2: EC2Client, subnet_id: str) -> bool:
    subnet = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    return bool(subnet.get("MapPublicIpOnLaunch"))


def remediate(finding: jobkit.Finding) -> None:
    ec2 = jobkit.ec2_client(finding)
    subnet = finding.object_id
    if not maps_public_ip(ec2, subnet):
        jobkit.info(f"ok: {subnet} does not assign public IPv4 addresses at launch")
        return
    jobkit.record(subnet, KIND, {"MapPublicIpOnLaunch": True}, {"MapPublicIpOnLaunch": False})
    if not jobkit.planning():
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": False})
    jobkit.change(f"{subnet}: MapPublicIpOnLaunch turned off (it was on)")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ec2 = jobkit.ec2_client(finding)
    found = jobkit.modes.of_kind(records, KIND)
    subnets = sorted({str(r["resource"]) for r in found})
    changed = [s for s in subnets if maps_public_ip(ec2, s)]  # check all before touching any
    if changed:
        raise jobkit.ChangedSince(
            f"{', '.join(changed)} changed since the job turned MapPublicIpOnLaunch off: "
            "it is on again"
        )
    for subnet in subnets:
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
        jobkit.change(f"{subnet}: MapPublicIpOnLaunch turned on again (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
