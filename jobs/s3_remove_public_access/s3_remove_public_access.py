"""Make an S3 bucket private: block public access, and drop ACL grants to everyone.

ObjectId: the bucket name. First the bucket's public access block gets all four settings on (which
already stops public ACLs and public bucket policies from taking effect); then the bucket ACL loses
its grants to the AllUsers and AuthenticatedUsers groups, so the bucket stays private even if the
block is lifted later. The owner and every other grant are kept; bucket policies are not edited.

Parameters: `public_access_block` (false: leave the block alone) and `acl_permissions` (which
grants to the two groups to remove; the rest are kept), so that alias
aws_s3_remove_fullaccess_authenticatedusers removes FULL_CONTROL grants and nothing else.

Plan prints the same CHANGE lines after reading only. Before each change a record keeps the
setting as it was: the public access block (kind `s3-public-access-block`; `{}` when the bucket
had none, which rollback restores by deleting the block) and the whole ACL (kind `s3-acl`).
Rollback lifts the block first (with BlockPublicAcls on, AWS refuses a public ACL), then puts the
old ACL back, once both are as the job left them.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import PublicAccessBlockConfigurationTypeDef

PUBLIC_GROUPS = frozenset(
    {
        "http://acs.amazonaws.com/groups/global/AllUsers",
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    }
)
#: every ACL permission (the default of `acl_permissions`)
PERMISSIONS = ("READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL")
BLOCK_ALL: PublicAccessBlockConfigurationTypeDef = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def public_access_block(s3: S3Client, bucket: str) -> PublicAccessBlockConfigurationTypeDef:
    """The bucket's public access block; {} when it has none."""
    try:
        return s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchPublicAccessBlockConfiguration":
            raise
        return {}


BLOCK_KIND, ACL_KIND = "s3-public-access-block", "s3-acl"


def block_public_access(s3: S3Client, bucket: str) -> None:
    current = public_access_block(s3, bucket)
    if all(current.get(name) is True for name in BLOCK_ALL):
        jobkit.info(f"ok: {bucket} already blocks all public access")
        return
    jobkit.record(bucket, BLOCK_KIND, dict(current), dict(BLOCK_ALL))
    if not jobkit.planning():
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=BLOCK_ALL)
    off = ", ".join(name for name in BLOCK_ALL if current.get(name) is not True)
    jobkit.change(f"{bucket}: public access block turned on ({off} were off)")


def granted(permissions: Collection[str]) -> str:
    """`nothing`, or `no FULL_CONTROL` when only some permissions are looked for."""
    if set(PERMISSIONS) <= set(permissions):
        return "nothing"
    return "no " + "/".join(p for p in PERMISSIONS if p in permissions)


def public_grants(grants: Any, permissions: Collection[str]) -> list[Any]:
    """The grants to AllUsers or AuthenticatedUsers of one of these permissions."""
    return [
        g
        for g in grants
        if g.get("Grantee", {}).get("URI") in PUBLIC_GROUPS and g.get("Permission") in permissions
    ]


def remove_public_grants(s3: S3Client, bucket: str, permissions: Collection[str]) -> None:
    acl = s3.get_bucket_acl(Bucket=bucket)
    grants = acl.get("Grants", [])
    public = public_grants(grants, permissions)
    if not public:
        jobkit.info(
            f"ok: {bucket} ACL grants {granted(permissions)} to AllUsers or AuthenticatedUsers"
        )
        return
    kept = [g for g in grants if g not in public]
    owner = acl["Owner"]
    jobkit.record(
        bucket, ACL_KIND, {"Owner": owner, "Grants": grants}, {"Owner": owner, "Grants": kept}
    )
    if not jobkit.planning():
        s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": kept})
    for grant in public:
        group = grant.get("Grantee", {}).get("URI", "").rsplit("/", 1)[-1]
        jobkit.change(f"{bucket}: removed ACL grant {grant.get('Permission')} to {group}")


def remediate(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    if finding.parameters.get("public_access_block", True):
        block_public_access(s3, finding.object_id)
    permissions = finding.parameters.get("acl_permissions", PERMISSIONS)
    remove_public_grants(s3, finding.object_id, permissions)


def _grant_keys(grants: Any) -> list[str]:
    """Grants comparable whatever their order and the fields S3 fills in (DisplayName, Type)."""
    return sorted(
        json.dumps(
            [g.get("Permission"), g.get("Grantee", {}).get("URI") or g.get("Grantee", {}).get("ID")]
        )
        for g in grants
    )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    found = jobkit.modes.of_kind(records, BLOCK_KIND, ACL_KIND)
    if any(r["resource"] != bucket for r in found):
        raise jobkit.RecordError(f"the change records are not about bucket {bucket}")
    block = next((r for r in found if r["kind"] == BLOCK_KIND), None)
    acl = next((r for r in found if r["kind"] == ACL_KIND), None)
    changed = []  # check both before touching either
    if block is not None:
        now = public_access_block(s3, bucket)
        if any(now.get(name) is not block["after"].get(name) for name in BLOCK_ALL):
            changed.append(f"its public access block is now {json.dumps(now, sort_keys=True)}")
    if acl is not None:
        now_grants = s3.get_bucket_acl(Bucket=bucket).get("Grants", [])
        if _grant_keys(now_grants) != _grant_keys(acl["after"]["Grants"]):
            changed.append("its ACL grants are not the ones the job left")
    if changed:
        raise jobkit.ChangedSince(
            f"{bucket} changed since the job made it private: {'; '.join(changed)}"
        )
    if block is not None and not block["before"]:  # the bucket had none: it has none again
        s3.delete_public_access_block(Bucket=bucket)
        jobkit.change(f"{bucket}: public access block deleted, as before the job (rollback)")
    elif block is not None:
        was = block["before"]
        before: PublicAccessBlockConfigurationTypeDef = {
            "BlockPublicAcls": was.get("BlockPublicAcls") is True,
            "IgnorePublicAcls": was.get("IgnorePublicAcls") is True,
            "BlockPublicPolicy": was.get("BlockPublicPolicy") is True,
            "RestrictPublicBuckets": was.get("RestrictPublicBuckets") is True,
        }
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=before)
        on = ", ".join(name for name, value in before.items() if value) or "none"
        jobkit.change(f"{bucket}: public access block restored (on: {on}) (rollback)")
    if acl is not None:
        s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=acl["before"])
        restored = [g for g in acl["before"]["Grants"] if g not in acl["after"]["Grants"]]
        for grant in restored:
            group = grant.get("Grantee", {}).get("URI", "").rsplit("/", 1)[-1]
            jobkit.change(
                f"{bucket}: ACL grant {grant.get('Permission')} to {group} restored (rollback)"
            )


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
