"""Turn on one protective setting of an RDS DB instance, and change nothing else.

ObjectId: the DB instance identifier (or its ARN, `arn:aws:rds:<region>:<account>:db:<id>`).
Parameter `setting` says which one; each catalogue alias sets it:

- `backup_retention`: BackupRetentionPeriod raised to `retention_days` (1-35) when lower; a
  longer period is kept, and so is the backup window (PreferredBackupWindow is not sent);
- `no_public_access`: PubliclyAccessible=false;
- `auto_minor_version_upgrade`: AutoMinorVersionUpgrade=true;
- `deletion_protection`: DeletionProtection=true.

One ModifyDBInstance call carries that one setting and `ApplyImmediately` (parameter
`apply_immediately`, default true). AWS applies PubliclyAccessible, AutoMinorVersionUpgrade,
DeletionProtection and a retention change between two non-zero periods at once whatever
ApplyImmediately says; turning backups on (retention 0 -> N) waits for the next maintenance
window unless ApplyImmediately, and meanwhile shows in PendingModifiedValues: remediate then
counts the change as made (no second call), verify does not (the instance is not compliant yet).

Plan prints the same CHANGE line after DescribeDBInstances only. Before the change one record
(kind `rds-instance-setting`) keeps the setting's value before and after; rollback checks that
every recorded setting still has (or is pending to have) its `after` value, then puts each
`before` value back with the same call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_rds.client import RDSClient

KIND = "rds-instance-setting"


@dataclass(frozen=True)
class Setting:
    field: str  # the DBInstance field and ModifyDBInstance parameter
    what: str  # for the log


SETTINGS = {
    "backup_retention": Setting("BackupRetentionPeriod", "automated backup retention (days)"),
    "no_public_access": Setting("PubliclyAccessible", "public accessibility"),
    "auto_minor_version_upgrade": Setting("AutoMinorVersionUpgrade", "auto minor version upgrade"),
    "deletion_protection": Setting("DeletionProtection", "deletion protection"),
}
FIELDS = {s.field for s in SETTINGS.values()}


def instance_id(object_id: str) -> str:
    """The DB instance identifier, from itself or from its ARN."""
    if object_id.startswith("arn:"):
        parts = object_id.split(":")
        if len(parts) == 7 and parts[2] == "rds" and parts[5] == "db":
            return parts[6]
        raise jobkit.BadInput(
            "notificationInfo.FindingInfo.ObjectId must name a DB instance "
            f"(its identifier or arn:aws:rds:<region>:<account>:db:<id>), not {object_id[:200]!r}"
        )
    return object_id


def describe(rds: RDSClient, identifier: str) -> dict[str, Any]:
    """The DB instance as DescribeDBInstances tells it (DBInstanceNotFound: exit 1)."""
    return dict(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])


def target(finding: jobkit.Finding) -> tuple[Setting, Any]:
    """The setting the finding's parameters ask for, and the value it must have."""
    name: str = finding.parameters["setting"]  # remedy.json's schema: the kit checked it
    wanted: Any = {
        "backup_retention": finding.parameters["retention_days"],
        "no_public_access": False,
        "auto_minor_version_upgrade": True,
        "deletion_protection": True,
    }[name]
    return SETTINGS[name], wanted


def complies(field: str, value: Any, wanted: Any) -> bool:
    if value is None:
        return False
    if field == "BackupRetentionPeriod":
        return int(value) >= int(wanted)
    return bool(value) is wanted


def pending(instance: Mapping[str, Any], field: str) -> Any:
    """A value the instance is to take at its next maintenance window (None: nothing pending)."""
    return dict(instance.get("PendingModifiedValues") or {}).get(field)


def modify(rds: RDSClient, identifier: str, field: str, value: Any, apply: bool) -> Any:
    """One ModifyDBInstance call with one setting; the value AWS says is now pending, if any."""
    answer = rds.modify_db_instance(
        DBInstanceIdentifier=identifier, ApplyImmediately=apply, **{field: value}
    )
    return pending(dict(answer["DBInstance"]), field)


def remediate(finding: jobkit.Finding) -> None:
    rds: RDSClient = jobkit.client("rds", finding)
    identifier = instance_id(finding.object_id)
    setting, wanted = target(finding)
    instance = describe(rds, identifier)
    current = instance.get(setting.field)
    if complies(setting.field, current, wanted):
        jobkit.info(f"ok: {identifier} {setting.field} is {current}")
        return
    waiting = pending(instance, setting.field)
    if complies(setting.field, waiting, wanted):
        jobkit.info(
            f"ok: {identifier} {setting.field} is {current}, {waiting} pending for the next "
            "maintenance window (a change already asked for)"
        )
        return
    jobkit.record(identifier, KIND, {setting.field: current}, {setting.field: wanted})
    shown = "not set" if current is None else current
    if not jobkit.planning():
        apply = bool(finding.parameters["apply_immediately"])
        if (later := modify(rds, identifier, setting.field, wanted, apply)) is not None:
            jobkit.info(f"{identifier}: {setting.field}={later} is pending until the next window")
    jobkit.change(f"{identifier}: {setting.field} {shown} -> {wanted} ({setting.what})")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    rds: RDSClient = jobkit.client("rds", finding)
    identifier = instance_id(finding.object_id)
    found = jobkit.modes.of_kind(records, KIND)
    if any(r["resource"] != identifier for r in found):
        raise jobkit.RecordError(f"the change records are not about DB instance {identifier}")
    for r in found:
        if not (
            isinstance(r["after"], dict) and len(r["after"]) == 1 and set(r["after"]) <= FIELDS
        ):
            raise jobkit.RecordError(f"a change record names no setting of this job: {r['after']}")
    instance = describe(rds, identifier)
    changed = []  # check every record before touching anything
    for r in found:
        ((field, after),) = r["after"].items()
        now, waiting = instance.get(field), pending(instance, field)
        if now != after and waiting != after:
            changed.append(f"{field} is now {now}, the job left {after}")
    if changed:
        raise jobkit.ChangedSince(f"{identifier} changed since the job: {'; '.join(changed)}")
    apply = bool(finding.parameters.get("apply_immediately", True))
    for r in reversed(found):
        ((field, after),) = r["after"].items()
        before = r["before"].get(field) if isinstance(r["before"], dict) else None
        if before is None:  # the instance had no value to put back
            jobkit.info(f"{identifier}: {field} had no value before the job; left {after}")
            continue
        modify(rds, identifier, field, before, apply)
        jobkit.change(f"{identifier}: {field} {after} -> {before} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
