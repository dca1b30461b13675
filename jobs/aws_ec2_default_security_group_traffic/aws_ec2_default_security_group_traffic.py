"""Revoke every inbound and outbound rule of a VPC's default security group (EC2.2, CIS 4.3/5.3/5.4).

ObjectId: the default security group's id (sg-...), or the VPC's id (vpc-...), whose default group
is then looked up. A group that is not a VPC's default group (its name is not `default`) is refused
(exit 2): emptying any other group would cut traffic the rule is not about.

Every permission is revoked as DescribeSecurityGroups returns it, ingress first, then egress. Before
that, one change record (kind `ec2-default-sg`) holds both lists (`before`) and the empty state the
job leaves (`after`). Rollback refuses while the group has any rule again, else authorizes every
recorded permission again. Plan prints the same CHANGE lines and only reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_ec2.type_defs import SecurityGroupTypeDef

KIND = "ec2-default-sg"
DIRECTIONS = ("ingress", "egress")
#: the fields of a permission (and of its source lists) that Authorize/Revoke take back
_PAIR_FIELDS = ("GroupId", "UserId", "Description", "VpcId", "VpcPeeringConnectionId")


def default_group(ec2: EC2Client, object_id: str) -> SecurityGroupTypeDef:
    """The default group the finding names, by its id or by its VPC's id."""
    if object_id.startswith("vpc-"):
        found = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [object_id]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
        if not found:
            raise jobkit.BadInput(
                f"notificationInfo.FindingInfo.ObjectId: VPC {object_id} has no default "
                "security group (does the VPC exist in this region?)"
            )
        return found[0]
    group = ec2.describe_security_groups(GroupIds=[object_id])["SecurityGroups"][0]
    if group.get("GroupName") != "default" or not group.get("VpcId"):
        raise jobkit.BadInput(
            f"notificationInfo.FindingInfo.ObjectId: {object_id} is not a VPC's default security "
            f"group (its name is {group.get('GroupName')!r}); this job empties default groups only"
        )
    return group


def clean(permission: Any) -> dict[str, Any]:
    """A permission as Authorize/Revoke take it (describe's answer, less what they refuse)."""
    out: dict[str, Any] = {"IpProtocol": permission["IpProtocol"]}
    if permission["IpProtocol"] != "-1":
        out |= {k: permission[k] for k in ("FromPort", "ToPort") if k in permission}
    for key in ("IpRanges", "Ipv6Ranges", "PrefixListIds"):
        if permission.get(key):
            out[key] = [dict(r) for r in permission[key]]
    pairs = permission.get("UserIdGroupPairs") or []
    if pairs:
        out["UserIdGroupPairs"] = [
            {k: v for k, v in pair.items() if k in _PAIR_FIELDS and v} for pair in pairs
        ]
    return out


def rules_of(group: SecurityGroupTypeDef) -> dict[str, list[dict[str, Any]]]:
    return {
        "ingress": [clean(p) for p in group.get("IpPermissions", [])],
        "egress": [clean(p) for p in group.get("IpPermissionsEgress", [])],
    }


def describe(permission: dict[str, Any], word: str = "from") -> str:
    """`tcp 22-22 from 0.0.0.0/0, sg-1`: one permission, for CHANGE lines."""
    protocol = permission["IpProtocol"]
    if protocol == "-1":
        what = "all traffic"
    elif "FromPort" in permission:
        what = f"{protocol} {permission['FromPort']}-{permission['ToPort']}"
    else:
        what = f"protocol {protocol}"
    sources = [r["CidrIp"] for r in permission.get("IpRanges", [])]
    sources += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
    sources += [r["PrefixListId"] for r in permission.get("PrefixListIds", [])]
    sources += [p.get("GroupId", "?") for p in permission.get("UserIdGroupPairs", [])]
    return f"{what} {word} {', '.join(sources)}"


def _word(direction: str) -> str:
    return "from" if direction == "ingress" else "to"


def _revoke(ec2: EC2Client, direction: str, group_id: str, permission: Any) -> None:
    if direction == "ingress":
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[permission])
    else:
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[permission])


def _authorize(ec2: EC2Client, direction: str, group_id: str, permission: Any) -> None:
    if direction == "ingress":
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])
    else:
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[permission])


def remediate(finding: jobkit.Finding) -> None:
    ec2 = jobkit.ec2_client(finding)
    group = default_group(ec2, finding.object_id)
    group_id = group["GroupId"]
    before = rules_of(group)
    if not any(before.values()):
        jobkit.info(f"ok: {group_id} (default group of {group.get('VpcId')}) has no rule")
        return
    jobkit.record(group_id, KIND, before, {"ingress": [], "egress": []})
    changes = 0
    for direction in DIRECTIONS:
        for permission in before[direction]:
            if not jobkit.planning():
                _revoke(ec2, direction, group_id, permission)
            jobkit.change(
                f"{group_id}: revoked {direction} {describe(permission, _word(direction))}"
            )
            changes += 1
    jobkit.info(f"done: {changes} change(s) to close the default group {group_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ec2 = jobkit.ec2_client(finding)
    found = jobkit.modes.of_kind(records, KIND)
    for entry in found:  # check every group before touching any
        group_id = str(entry["resource"])
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        now = rules_of(group)
        if any(now.values()):
            listed = "; ".join(f"{d} {describe(p, _word(d))}" for d in DIRECTIONS for p in now[d])
            raise jobkit.ChangedSince(
                f"{group_id} changed since the job emptied it: it has rules again: {listed}"
            )
    changes = 0
    for entry in found:
        group_id = str(entry["resource"])
        for direction in DIRECTIONS:
            for permission in entry["before"][direction]:
                _authorize(ec2, direction, group_id, permission)
                what = describe(permission, _word(direction))
                jobkit.change(f"{group_id}: authorized {direction} {what} again (rollback)")
                changes += 1
    jobkit.info(f"done: {changes} change(s) to restore the default group(s)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
