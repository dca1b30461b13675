"""Verify s3_remove_public_access: all four public-access-block settings on (unless the parameter
`public_access_block` is false), no ACL grant of `acl_permissions` to AllUsers or
AuthenticatedUsers."""

from __future__ import annotations

from s3_remove_public_access import (
    BLOCK_ALL,
    PERMISSIONS,
    granted,
    public_access_block,
    public_grants,
)

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    problems = []
    if finding.parameters.get("public_access_block", True):
        block = public_access_block(s3, bucket)
        problems += [
            f"{bucket}: {name} is off" for name in BLOCK_ALL if block.get(name) is not True
        ]
    permissions = finding.parameters.get("acl_permissions", PERMISSIONS)
    for grant in public_grants(s3.get_bucket_acl(Bucket=bucket).get("Grants", []), permissions):
        group = grant.get("Grantee", {}).get("URI", "")
        problems.append(
            f"{bucket}: the ACL grants {grant.get('Permission')} to {group.rsplit('/', 1)[-1]}"
        )
    blocks = (
        "blocks public access and its"
        if finding.parameters.get("public_access_block", True)
        else "'s"
    )
    jobkit.verdict(problems, f"{bucket} {blocks} ACL grants {granted(permissions)} public")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
