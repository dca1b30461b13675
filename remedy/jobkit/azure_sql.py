"""Azure SQL settings (a server's auditing or security alert policy, a database's transparent data
encryption), changed field by field and put back, for the SQL jobs.

A setting is one Resource Manager document under a server (`.../auditingSettings/default`,
`.../securityAlertPolicies/Default`, `.../databases/<db>/transparentDataEncryption/current`). A job
says which of its properties must change (`Wanted`: the properties as read -> the fields to set);
`apply` reads the setting, changes those fields only, keeps every other property as read, and
PUTs the whole document back. Plan mode prints the same CHANGE line and makes no PUT. Before each
PUT a change record (kind `azure-sql-setting`) keeps the properties as read and as written
(`comparable`: without what Azure fills in); `rollback` puts the old properties back once it has
checked, for every record, that the setting still holds exactly what the job wrote (else
ChangedSince, nothing changed).

Azure SQL offers no ETag on these settings (the REST reference names none, and PUT takes no
If-Match), so a read-modify-write cannot be made conditional: the job changes only the fields it
is about, and a rollback refuses when any of them changed since.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from remedy.jobkit import ChangedSince, RecordError, change, info, planning, record
from remedy.jobkit.modes import of_kind

SETTING_KIND = "azure-sql-setting"  # the change records' kind

Properties = dict[str, Any]
#: The properties as read -> the fields that must change (empty: compliant).
Wanted = Callable[[Properties], Properties]


@dataclass(frozen=True)
class Setting:
    """One SQL setting document: how it is named, read and written."""

    resource: str  # the change records' resource: `<server>/<setting>` or `<server>/<db>/<setting>`
    label: str  # how CHANGE lines name it: "server sql-1: auditing policy"
    read: Callable[[], Properties]  # GET: the document's properties
    write: Callable[[Properties], None]  # PUT the whole properties back, to the operation's end


def _show(value: Any) -> str:
    return "none" if value in (None, [], [""]) else str(value)


#: What Resource Manager fills in on its own: not part of what a record compares.
FILLED = frozenset({"provisioningState", "creationTime"})


def comparable(props: Properties) -> Properties:
    """The properties as a change record keeps them: without what Azure fills in or left unset."""
    return {k: v for k, v in sorted(props.items()) if k not in FILLED and v is not None}


def merged(props: Properties, fields: Properties) -> Properties:
    """The properties with the fields set; a field set to None is left out (Azure's default)."""
    return comparable({**props, **fields})


def changed_fields(before: Properties, after: Properties) -> Properties:
    return {
        k: after.get(k) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)
    }


def describe(label: str, before: Properties, after: Properties) -> str:
    fields = ", ".join(f"{k} {_show(before.get(k))} -> {_show(v)}" for k, v in after.items())
    return f"{label}: {fields}"


def still_to_do(setting: Setting, wanted: Wanted) -> list[str]:
    """What `apply` would change on the setting as it is now (empty: compliant)."""
    props = setting.read()
    fields = wanted(props)
    return [f"still to do: {describe(setting.label, props, fields)}"] if fields else []


def apply(setting: Setting, wanted: Wanted, compliant: str) -> int:
    """Set the wanted fields on the setting, keep the rest; return 1 if it changed, else 0."""
    props = setting.read()
    fields = wanted(props)
    if not fields:
        info(f"ok: {setting.label}: {compliant}")
        return 0
    line = describe(setting.label, props, fields)
    if planning():
        change(line)
        return 1
    written = merged(props, fields)
    record(setting.resource, SETTING_KIND, comparable(props), written)
    setting.write(written)
    change(line)
    return 1


def rollback(settings: Sequence[Setting], records: Sequence[dict[str, Any]]) -> int:
    """Put back the fields the records changed, on the settings named; return how many settings.

    Every record is checked first: if any setting no longer holds what the job wrote, nothing is
    changed (ChangedSince)."""
    mine = of_kind(list(records), SETTING_KIND)
    by_resource = {s.resource: s for s in settings}
    plan: list[tuple[Setting, Properties, dict[str, Any]]] = []  # setting, as now, its record
    for rec in mine:
        setting = by_resource.get(rec["resource"])
        if setting is None:
            raise RecordError(f"the change record about {rec['resource']} is not this finding's")
        now = comparable(setting.read())
        differ = list(changed_fields(rec["after"], now))
        if differ:
            raise ChangedSince(
                f"{setting.label} changed since the job set it ({', '.join(differ)} no longer "
                "as the job left it)"
            )
        plan.append((setting, now, rec))
    if not plan:
        raise RecordError("no change record is about this finding's SQL settings")
    for setting, now, rec in plan:
        setting.write(rec["before"])
        undone = changed_fields(rec["after"], rec["before"])
        change(f"{describe(setting.label, now, undone)} (rollback)")
    return len(plan)
