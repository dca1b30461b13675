"""Verify s3_remove_public_access: all four public-access-block settings on, no public ACL grant."""

from __future__ import annotations

from s3_remove_public_access import BLOCK_ALL, PUBLIC_GROUPS, public_access_block

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    block = public_access_block(s3, bucket)
    problems = [f"{bucket}: {name} is off" for name in BLOCK_ALL if block.get(name) is not True]
    for grant in s3.get_bucket_acl(Bucket=bucket).get("Grants", []):
        group = grant.get("Grantee", {}).get("URI", "")
        if group in PUBLIC_GROUPS:
            problems.append(
                f"{bucket}: the ACL grants {grant.get('Permission')} to {group.rsplit('/', 1)[-1]}"
            )
    jobkit.verdict(problems, f"{bucket} blocks public access and its ACL grants nothing public")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
