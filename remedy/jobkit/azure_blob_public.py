"""Blob containers' public access: make an account's containers private, and (a parameter) set
the account's allowBlobPublicAccess false, so that none can be made public again
(https://learn.microsoft.com/en-us/azure/storage/blobs/anonymous-read-access-prevent).

Containers first, the account second; rollback the other way round: Azure refuses a public
container on an account that disallows public access (409 PublicAccessNotPermitted). Neither a
container's nor an account's update takes If-Match: the job reads right before it writes, and
rollback checks every container and the account before it writes anything. One change record
(kind `azure-blob-public-access`) keeps the containers' levels and the account setting as read.
"""

from __future__ import annotations

from typing import Any

from remedy.jobkit import ChangedSince, Finding, RecordError, change, info, planning, record
from remedy.jobkit.azure_storage import show, storage_client
from remedy.jobkit.modes import of_kind

__all__ = [
    "public_access_left",
    "remove_public_access",
    "restore_public_access",
    "storage_client",
]

PUBLIC_ACCESS_KIND = "azure-blob-public-access"
PRIVATE = "None"


def public_containers(storage: Any, group: str, account: str) -> dict[str, str]:
    """The account's containers that anyone may read, by name: their publicAccess (Blob or
    Container)."""
    found: dict[str, str] = {}
    for item in storage.blob_containers.list(group, account):
        level = str((item.as_dict().get("properties") or {}).get("publicAccess") or PRIVATE)
        if level != PRIVATE:
            found[str(item.name)] = level
    return found


def _public_access_plan(
    storage: Any, finding: Finding
) -> tuple[dict[str, str], Any, bool, list[str]]:
    """(public containers, allowBlobPublicAccess as read, whether to set it false, lines)."""
    account, group = finding.object_id, finding.resource_group
    document = storage.storage_accounts.get_properties(group, account).as_dict()
    allowed = (document.get("properties") or {}).get("allowBlobPublicAccess")
    containers = public_containers(storage, group, account)
    disallow = bool(finding.parameters["disallow_at_account"]) and allowed is not False
    lines = [
        f"{account}: container {name} publicAccess {level} -> {PRIVATE}"
        for name, level in sorted(containers.items())
    ]
    if disallow:
        lines.append(f"{account}: allowBlobPublicAccess {show(allowed)} -> False")
    return containers, allowed, disallow, lines


def public_access_left(storage: Any, finding: Finding) -> list[str]:
    """What removing public access would still change (empty: compliant)."""
    return [f"still to do: {line}" for line in _public_access_plan(storage, finding)[3]]


def remove_public_access(storage: Any, finding: Finding) -> int:
    """Make every container of the account private, then (parameter `disallow_at_account`) set
    the account's allowBlobPublicAccess false; return the number of changes."""
    account, group = finding.object_id, finding.resource_group
    containers, allowed, disallow, lines = _public_access_plan(storage, finding)
    if not lines:
        info(f"ok: {account} has no container that anyone may read")
        return 0
    if planning():
        for line in lines:
            change(line)
        return len(lines)
    before = {"containers": containers, "allowBlobPublicAccess": allowed if disallow else None}
    after = {
        "containers": dict.fromkeys(containers, PRIVATE),
        "allowBlobPublicAccess": False if disallow else None,
    }
    record(account, PUBLIC_ACCESS_KIND, before, after)
    for name in sorted(containers):  # first: a public container blocks nothing below
        storage.blob_containers.update(
            group, account, name, {"properties": {"publicAccess": PRIVATE}}
        )
    if disallow:
        storage.storage_accounts.update(
            group, account, {"properties": {"allowBlobPublicAccess": False}}
        )
    for line in lines:
        change(line)
    return len(lines)


def restore_public_access(storage: Any, finding: Finding, records: list[dict[str, Any]]) -> int:
    """Give the containers their public access back (and the account its allowBlobPublicAccess
    first: Azure refuses a public container on an account that disallows it), once all are
    checked to be as the job left them."""
    account, group = finding.object_id, finding.resource_group
    mine = [r for r in of_kind(records, PUBLIC_ACCESS_KIND) if r["resource"] == account]
    if not mine:
        raise RecordError(f"no change record is about storage account {account}")
    before, after = mine[-1]["before"], mine[-1]["after"]
    levels = {
        str(item.name): str((item.as_dict().get("properties") or {}).get("publicAccess") or PRIVATE)
        for item in storage.blob_containers.list(group, account)
    }
    differ = [n for n, level in after["containers"].items() if levels.get(n) != level]
    if differ:
        raise ChangedSince(
            f"{account}: container(s) {', '.join(sorted(differ))} changed since the job made "
            "them private (or are gone)"
        )
    if after["allowBlobPublicAccess"] is not None:
        document = storage.storage_accounts.get_properties(group, account).as_dict()
        now = (document.get("properties") or {}).get("allowBlobPublicAccess")
        if now != after["allowBlobPublicAccess"]:
            raise ChangedSince(
                f"{account}: allowBlobPublicAccess changed since the job set it (it is {show(now)})"
            )
        # not set before: public containers were allowed (Azure's default then), so true
        old = True if before["allowBlobPublicAccess"] is None else before["allowBlobPublicAccess"]
        storage.storage_accounts.update(
            group, account, {"properties": {"allowBlobPublicAccess": old}}
        )
        change(f"{account}: allowBlobPublicAccess -> {old} (rollback)")
    for name, level in sorted(before["containers"].items()):
        storage.blob_containers.update(
            group, account, name, {"properties": {"publicAccess": level}}
        )
        change(f"{account}: container {name} publicAccess -> {level} (rollback)")
    return len(before["containers"]) + (after["allowBlobPublicAccess"] is not None)
