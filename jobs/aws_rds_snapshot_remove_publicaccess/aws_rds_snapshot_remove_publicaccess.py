"""Make a manual RDS snapshot private: remove `all` from its `restore` attribute, nothing more.

ObjectId: the snapshot identifier, of a DB snapshot or a DB cluster snapshot (Aurora), or its
ARN (`arn:aws:rds:<region>:<account>:snapshot:<id>` or `...:cluster-snapshot:<id>`). A bare
identifier is looked up as a DB snapshot first, then as a DB cluster snapshot.

The one call is ModifyDBSnapshotAttribute (ModifyDBClusterSnapshotAttribute) with
`ValuesToRemove=["all"]`: the AWS account ids the snapshot is shared with stay shared.

Plan prints the same CHANGE line after reading the attribute only. Before the change one record
(kind `rds-snapshot-restore`) keeps the `restore` values before and after (and which kind of
snapshot it is); rollback checks that the values are still the ones the job left, then adds
`all` back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_rds.client import RDSClient

KIND = "rds-snapshot-restore"
PUBLIC = "all"
DB, CLUSTER = "db-snapshot", "db-cluster-snapshot"
ARN_KINDS = {"snapshot": DB, "cluster-snapshot": CLUSTER}


@dataclass(frozen=True)
class Snapshot:
    identifier: str
    kind: str  # DB or CLUSTER
    restore: list[str]  # the accounts that may restore it ("all": everyone)


def parse_id(object_id: str) -> tuple[str, str | None]:
    """(identifier, kind) from an identifier (kind unknown: None) or an RDS snapshot ARN."""
    if not object_id.startswith("arn:"):
        return object_id, None
    parts = object_id.split(":")
    if len(parts) == 7 and parts[2] == "rds" and parts[5] in ARN_KINDS:
        return parts[6], ARN_KINDS[parts[5]]
    raise jobkit.BadInput(
        "notificationInfo.FindingInfo.ObjectId must name an RDS snapshot (its identifier, or "
        f"arn:aws:rds:<region>:<account>:snapshot:<id> or ...:cluster-snapshot:<id>), "
        f"not {object_id[:200]!r}"
    )


def _restore(attributes: list[Any]) -> list[str]:
    values = next((a for a in attributes if a.get("AttributeName") == "restore"), {})
    return list(values.get("AttributeValues") or [])


def _read(rds: RDSClient, identifier: str, kind: str) -> Snapshot:
    if kind == DB:
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=identifier)
        found = result["DBSnapshotAttributesResult"].get("DBSnapshotAttributes", [])
    else:
        answer = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=identifier)
        found = answer["DBClusterSnapshotAttributesResult"].get("DBClusterSnapshotAttributes", [])
    return Snapshot(identifier, kind, _restore(list(found)))


def read(rds: RDSClient, object_id: str) -> Snapshot:
    """The snapshot and its restore attribute; a DB snapshot first, then a cluster snapshot."""
    identifier, kind = parse_id(object_id)
    if kind is not None:
        return _read(rds, identifier, kind)
    try:
        return _read(rds, identifier, DB)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "DBSnapshotNotFound":
            raise
    return _read(rds, identifier, CLUSTER)  # DBClusterSnapshotNotFoundFault: exit 1


def change_restore(rds: RDSClient, snapshot: Snapshot, add: list[str], remove: list[str]) -> None:
    if snapshot.kind == DB:
        rds.modify_db_snapshot_attribute(
            DBSnapshotIdentifier=snapshot.identifier,
            AttributeName="restore",
            ValuesToAdd=add,
            ValuesToRemove=remove,
        )
    else:
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=snapshot.identifier,
            AttributeName="restore",
            ValuesToAdd=add,
            ValuesToRemove=remove,
        )


def remediate(finding: jobkit.Finding) -> None:
    rds: RDSClient = jobkit.client("rds", finding)
    snapshot = read(rds, finding.object_id)
    if PUBLIC not in snapshot.restore:
        shared = ", ".join(snapshot.restore) or "no account"
        jobkit.info(
            f"ok: {snapshot.kind} {snapshot.identifier} is not public (shared with {shared})"
        )
        return
    kept = [v for v in snapshot.restore if v != PUBLIC]
    jobkit.record(
        snapshot.identifier,
        KIND,
        {"kind": snapshot.kind, "restore": snapshot.restore},
        {"kind": snapshot.kind, "restore": kept},
    )
    if not jobkit.planning():
        change_restore(rds, snapshot, [], [PUBLIC])
    still = f", still shared with {', '.join(kept)}" if kept else ""
    jobkit.change(f"{snapshot.kind} {snapshot.identifier}: no longer restorable by all{still}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    rds: RDSClient = jobkit.client("rds", finding)
    found = jobkit.modes.of_kind(records, KIND)
    identifier, _ = parse_id(finding.object_id)
    if any(r["resource"] != identifier for r in found):
        raise jobkit.RecordError(f"the change records are not about snapshot {identifier}")
    checked = []  # check every record before touching anything
    for r in found:
        snapshot = _read(rds, identifier, str(r["after"].get("kind")))
        if sorted(snapshot.restore) != sorted(r["after"].get("restore") or []):
            raise jobkit.ChangedSince(
                f"{snapshot.kind} {identifier} changed since the job made it private: it may "
                f"now be restored by {', '.join(snapshot.restore) or 'no other account'}"
            )
        checked.append((snapshot, r))
    for snapshot, r in checked:
        add = [v for v in r["before"].get("restore") or [] if v not in snapshot.restore]
        if add:
            change_restore(rds, snapshot, add, [])
            jobkit.change(
                f"{snapshot.kind} {identifier}: restorable by {', '.join(add)} (rollback)"
            )


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
