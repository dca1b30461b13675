"""Turn on one protective setting of an Amazon Redshift cluster, and change nothing else.

ObjectId: the cluster identifier (or its ARN, `arn:aws:redshift:<region>:<account>:cluster:<id>`).
Parameter `setting` says which one; each alias sets it:

- `no_public_access`: PubliclyAccessible=false (Redshift.1);
- `snapshot_retention`: AutomatedSnapshotRetentionPeriod raised to `retention_days` (1-35) when
  lower; a longer period is kept (Redshift.3);
- `allow_version_upgrade`: AllowVersionUpgrade=true (Redshift.6).

One ModifyCluster call carries that one setting. A value Redshift shows in PendingModifiedValues
(it applies some changes in the maintenance window) counts as asked for in remediate (no second
call) and as not yet compliant in verify.

Plan prints the same CHANGE line after DescribeClusters only. Before the change one record (kind
`redshift-cluster-setting`) keeps the setting's value before and after; rollback checks that
every recorded setting still has (or is pending to have) its `after` value, then puts each
`before` value back with the same call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_redshift.client import RedshiftClient

KIND = "redshift-cluster-setting"


@dataclass(frozen=True)
class Setting:
    field: str  # the Cluster field and ModifyCluster parameter
    what: str  # for the log


SETTINGS = {
    "no_public_access": Setting("PubliclyAccessible", "public accessibility"),
    "snapshot_retention": Setting(
        "AutomatedSnapshotRetentionPeriod", "automated snapshot retention (days)"
    ),
    "allow_version_upgrade": Setting("AllowVersionUpgrade", "automatic major version upgrades"),
}
FIELDS = {s.field for s in SETTINGS.values()}


def cluster_id(object_id: str) -> str:
    """The cluster identifier, from itself or from its ARN."""
    if object_id.startswith("arn:"):
        parts = object_id.split(":")
        if len(parts) == 7 and parts[2] == "redshift" and parts[5] == "cluster":
            return parts[6]
        raise jobkit.BadInput(
            "notificationInfo.FindingInfo.ObjectId must name a Redshift cluster (its identifier "
            f"or arn:aws:redshift:<region>:<account>:cluster:<id>), not {object_id[:200]!r}"
        )
    return object_id


def describe(redshift: RedshiftClient, identifier: str) -> dict[str, Any]:
    """The cluster as DescribeClusters tells it (ClusterNotFound: exit 1)."""
    return dict(redshift.describe_clusters(ClusterIdentifier=identifier)["Clusters"][0])


def target(finding: jobkit.Finding) -> tuple[Setting, Any]:
    """The setting the finding's parameters ask for, and the value it must have."""
    name: str = finding.parameters["setting"]  # remedy.json's schema: the kit checked it
    wanted: Any = {
        "no_public_access": False,
        "snapshot_retention": finding.parameters["retention_days"],
        "allow_version_upgrade": True,
    }[name]
    return SETTINGS[name], wanted


def complies(field: str, value: Any, wanted: Any) -> bool:
    if value is None:
        return False
    if field == "AutomatedSnapshotRetentionPeriod":
        return int(value) >= int(wanted)
    return bool(value) is wanted


def pending(cluster: Mapping[str, Any], field: str) -> Any:
    """A value the cluster is to take later (None: nothing pending)."""
    return dict(cluster.get("PendingModifiedValues") or {}).get(field)


def modify(redshift: RedshiftClient, identifier: str, field: str, value: Any) -> None:
    redshift.modify_cluster(ClusterIdentifier=identifier, **{field: value})


def remediate(finding: jobkit.Finding) -> None:
    redshift: RedshiftClient = jobkit.client("redshift", finding)
    identifier = cluster_id(finding.object_id)
    setting, wanted = target(finding)
    cluster = describe(redshift, identifier)
    current = cluster.get(setting.field)
    if complies(setting.field, current, wanted):
        jobkit.info(f"ok: {identifier} {setting.field} is {current}")
        return
    waiting = pending(cluster, setting.field)
    if complies(setting.field, waiting, wanted):
        jobkit.info(f"ok: {identifier} {setting.field} is {current}, {waiting} pending")
        return
    jobkit.record(identifier, KIND, {setting.field: current}, {setting.field: wanted})
    if not jobkit.planning():
        modify(redshift, identifier, setting.field, wanted)
    shown = "not set" if current is None else current
    jobkit.change(f"{identifier}: {setting.field} {shown} -> {wanted} ({setting.what})")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    redshift: RedshiftClient = jobkit.client("redshift", finding)
    identifier = cluster_id(finding.object_id)
    found = jobkit.modes.of_kind(records, KIND)
    if any(r["resource"] != identifier for r in found):
        raise jobkit.RecordError(f"the change records are not about Redshift cluster {identifier}")
    for r in found:
        after = r["after"]
        if not (isinstance(after, dict) and len(after) == 1 and set(after) <= FIELDS):
            raise jobkit.RecordError(f"a change record names no setting of this job: {after}")
    cluster = describe(redshift, identifier)
    changed = []  # check every record before touching anything
    for r in found:
        ((field, after),) = r["after"].items()
        now, waiting = cluster.get(field), pending(cluster, field)
        if now != after and waiting != after:
            changed.append(f"{field} is now {now}, the job left {after}")
    if changed:
        raise jobkit.ChangedSince(f"{identifier} changed since the job: {'; '.join(changed)}")
    for r in reversed(found):
        ((field, after),) = r["after"].items()
        before = r["before"].get(field) if isinstance(r["before"], dict) else None
        if before is None:  # the cluster had no value to put back
            jobkit.info(f"{identifier}: {field} had no value before the job; left {after}")
            continue
        modify(redshift, identifier, field, before)
        jobkit.change(f"{identifier}: {field} {after} -> {before} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
