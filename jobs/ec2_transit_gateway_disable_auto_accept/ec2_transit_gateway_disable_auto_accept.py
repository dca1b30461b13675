"""Stop a transit gateway from accepting shared VPC attachments by itself (Security Hub EC2.23).

ObjectId: the transit gateway id (tgw-...). Sets its option AutoAcceptSharedAttachments to
`disable`, and only that option: ModifyTransitGateway changes the options it is given, so the
default route table association and propagation, DNS, VPN ECMP and multicast settings, the
description and the attachments it has already accepted stay as they are. From then on, an
attachment request from an account the transit gateway is shared with waits for an owner to
accept it (AcceptTransitGatewayVpcAttachment).

Plan prints the same CHANGE line after reading only. Before the change, one record (kind
`ec2-tgw-auto-accept`) keeps the option as it was (`enable`); rollback sets it back, once the
transit gateway still says `disable`, as the job left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

KIND = "ec2-tgw-auto-accept"
OPTION = "AutoAcceptSharedAttachments"


def auto_accept(ec2: EC2Client, gateway_id: str) -> str:
    found = ec2.describe_transit_gateways(TransitGatewayIds=[gateway_id])["TransitGateways"]
    return str(found[0].get("Options", {}).get(OPTION) or "disable")


def remediate(finding: jobkit.Finding) -> None:
    ec2 = jobkit.ec2_client(finding)
    gateway = finding.object_id
    if auto_accept(ec2, gateway) != "enable":
        jobkit.info(f"ok: {gateway} does not accept shared VPC attachments by itself")
        return
    jobkit.record(gateway, KIND, {OPTION: "enable"}, {OPTION: "disable"})
    if not jobkit.planning():
        ec2.modify_transit_gateway(
            TransitGatewayId=gateway, Options={"AutoAcceptSharedAttachments": "disable"}
        )
    jobkit.change(f"{gateway}: {OPTION} set to disable (was enable)")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ec2 = jobkit.ec2_client(finding)
    found = jobkit.modes.of_kind(records, KIND)
    gateways = sorted({str(r["resource"]) for r in found})
    changed = [g for g in gateways if auto_accept(ec2, g) != "disable"]  # check all first
    if changed:
        raise jobkit.ChangedSince(
            f"{', '.join(changed)} changed since the job set {OPTION} to disable: it is enable again"
        )
    for gateway in gateways:
        ec2.modify_transit_gateway(
            TransitGatewayId=gateway, Options={"AutoAcceptSharedAttachments": "enable"}
        )
        jobkit.change(f"{gateway}: {OPTION} set back to enable (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
