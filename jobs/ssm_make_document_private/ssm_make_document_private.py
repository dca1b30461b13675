"""Stop sharing a Systems Manager document with everyone (SSM.4).

ObjectId: the document's name or ARN (`arn:aws:ssm:<region>:<account>:document/<name>`). A
document whose Share permission holds `all` (public) loses that entry with
ModifyDocumentPermission; shares with named accounts are kept.

Plan prints the same CHANGE line after reading only. The record (kind `ssm-document-share`)
keeps the sharing as it was (with the version shared publicly) and as the job left it; rollback
shares the document with `all` again, with that version, once the sharing is still the job's.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit

KIND = "ssm-document-share"
PUBLIC = "all"


def document_name(object_id: str) -> str:
    return object_id.split(":document/", 1)[-1] if object_id.startswith("arn:") else object_id


def sharing(ssm: Any, name: str) -> list[dict[str, str]]:
    """[{AccountId, SharedDocumentVersion}], ordered by account id."""
    found = ssm.describe_document_permission(Name=name, PermissionType="Share")
    listed = found.get("AccountSharingInfoList") or [
        {"AccountId": a} for a in found.get("AccountIds", [])
    ]
    return sorted(
        ({k: str(v) for k, v in entry.items()} for entry in listed),
        key=lambda e: e.get("AccountId", ""),
    )


def is_public(shares: list[dict[str, str]]) -> bool:
    return any(e.get("AccountId", "").lower() == PUBLIC for e in shares)


def remediate(finding: jobkit.Finding) -> None:
    ssm = jobkit.client("ssm", finding)
    name = document_name(finding.object_id)
    before = sharing(ssm, name)
    if not is_public(before):
        jobkit.info(f"ok: {name} is not shared publicly")
        return
    after = [e for e in before if e.get("AccountId", "").lower() != PUBLIC]
    jobkit.record(name, KIND, before, after)
    if not jobkit.planning():
        ssm.modify_document_permission(
            Name=name, PermissionType="Share", AccountIdsToRemove=[PUBLIC]
        )
    kept = f" (still shared with {len(after)} account(s))" if after else ""
    jobkit.change(f"{name}: no longer shared publicly{kept}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ssm = jobkit.client("ssm", finding)
    found = jobkit.modes.of_kind(records, KIND)
    name = document_name(finding.object_id)
    if any(r["resource"] != name for r in found):
        raise jobkit.RecordError(f"the change records are not about document {name}")
    now = sharing(ssm, name)
    if now != found[-1]["after"]:
        raise jobkit.ChangedSince(f"{name}'s sharing changed since the job made it private: {now}")
    public = next(e for e in found[0]["before"] if e.get("AccountId", "").lower() == PUBLIC)
    version = public.get("SharedDocumentVersion")
    extra = {"SharedDocumentVersion": version} if version else {}
    ssm.modify_document_permission(
        Name=name, PermissionType="Share", AccountIdsToAdd=[PUBLIC], **extra
    )
    jobkit.change(f"{name}: shared publicly again (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
