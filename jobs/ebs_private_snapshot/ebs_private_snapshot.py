"""Make an EBS snapshot private: nobody outside the accounts it is shared with may restore it.

ObjectId: the snapshot id (snap-...). Removes the `all` group from the snapshot's
createVolumePermission, the one entry that makes it public (Security Hub EC2.1). The AWS accounts
it is shared with keep their permission; the snapshot and its tags are not touched.

Plan prints the same CHANGE line after reading only. Before the change, one record (kind
`ebs-snapshot-public`) keeps the permission entries as they were and as left; rollback adds the
`all` group back, once the snapshot is still private as the job left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

KIND = "ebs-snapshot-public"
PUBLIC = "all"


def permissions(ec2: EC2Client, snapshot_id: str) -> list[dict[str, str]]:
    """The snapshot's createVolumePermission entries, e.g. {"Group": "all"}, {"UserId": "1234"}."""
    found = ec2.describe_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission"
    ).get("CreateVolumePermissions", [])
    return sorted(
        ({k: str(v) for k, v in p.items()} for p in found), key=lambda p: sorted(p.items())
    )


def is_public(entries: list[dict[str, str]]) -> bool:
    return any(p.get("Group") == PUBLIC for p in entries)


def remediate(finding: jobkit.Finding) -> None:
    ec2 = jobkit.ec2_client(finding)
    snapshot = finding.object_id
    before = permissions(ec2, snapshot)
    if not is_public(before):
        jobkit.info(f"ok: {snapshot} is not public (no createVolumePermission for group all)")
        return
    after = [p for p in before if p.get("Group") != PUBLIC]
    jobkit.record(snapshot, KIND, before, after)
    if not jobkit.planning():
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot,
            Attribute="createVolumePermission",
            OperationType="remove",
            GroupNames=[PUBLIC],
        )
    kept = len(after)
    jobkit.change(
        f"{snapshot}: removed createVolumePermission for group all (public); "
        f"{kept} account permission(s) kept"
    )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ec2 = jobkit.ec2_client(finding)
    found = jobkit.modes.of_kind(records, KIND)
    undo = []
    for entry in found:  # check every snapshot before touching any
        snapshot = str(entry["resource"])
        if is_public(permissions(ec2, snapshot)):
            raise jobkit.ChangedSince(
                f"{snapshot} changed since the job made it private: it is public again"
            )
        if is_public(entry["before"]):
            undo.append(snapshot)
    for snapshot in undo:
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot,
            Attribute="createVolumePermission",
            OperationType="add",
            GroupNames=[PUBLIC],
        )
        jobkit.change(f"{snapshot}: createVolumePermission for group all added back (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
