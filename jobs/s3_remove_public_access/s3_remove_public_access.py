"""Make an S3 bucket private: block public access, and drop ACL grants to everyone.

ObjectId: the bucket name. First the bucket's public access block gets all four settings on (which
already stops public ACLs and public bucket policies from taking effect); then the bucket ACL loses
its grants to the AllUsers and AuthenticatedUsers groups, so the bucket stays private even if the
block is lifted later. The owner and every other grant are kept; bucket policies are not edited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def block_public_access(s3: S3Client, bucket: str) -> None:
    current = public_access_block(s3, bucket)
    if all(current.get(name) is True for name in BLOCK_ALL):
        jobkit.info(f"ok: {bucket} already blocks all public access")
        return
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=BLOCK_ALL)
    off = ", ".join(name for name in BLOCK_ALL if current.get(name) is not True)
    jobkit.change(f"{bucket}: public access block turned on ({off} were off)")


def remove_public_grants(s3: S3Client, bucket: str) -> None:
    acl = s3.get_bucket_acl(Bucket=bucket)
    grants = acl.get("Grants", [])
    public = [g for g in grants if g.get("Grantee", {}).get("URI") in PUBLIC_GROUPS]
    if not public:
        jobkit.info(f"ok: {bucket} ACL grants nothing to AllUsers or AuthenticatedUsers")
        return
    kept = [g for g in grants if g not in public]
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": acl["Owner"], "Grants": kept})
    for grant in public:
        group = grant.get("Grantee", {}).get("URI", "").rsplit("/", 1)[-1]
        jobkit.change(f"{bucket}: removed ACL grant {grant.get('Permission')} to {group}")


def remediate(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    block_public_access(s3, finding.object_id)
    remove_public_grants(s3, finding.object_id)


if __name__ == "__main__":
    jobkit.run(remediate, __file__)
