"""The AWS sandbox refuses what AWS refuses, with AWS's status and error code (issue #21 item 7).

moto enforces some of these itself (checked here so an upgrade that drops one is noticed); the
rest are added around moto in sandbox/ (sandbox/moto_server.py: AssumeRole's external id, see
tests/test_sandbox_external_id.py; sandbox/s3_strict.py: S3's ACL and policy checks). What stays
lenient is listed in README.md's sandbox section.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}],
}


def refused(call: Any, status: int, code: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    assert error["Error"]["Code"] == code, error


def new_bucket(sandbox: AwsSandbox) -> tuple[Any, str]:
    s3 = sandbox.admin_client("s3")
    bucket = f"fidelity-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    return s3, bucket


def block(s3: Any, bucket: str, **settings: bool) -> None:
    config = {
        "BlockPublicAcls": False,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
        **settings,
    }
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=config)


# ----------------------------------------------------------------------------------------------
# S3 (added in sandbox/s3_strict.py)
# ----------------------------------------------------------------------------------------------


def test_a_public_acl_is_refused_under_block_public_acls(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    block(s3, bucket, BlockPublicAcls=True)
    refused(s3.put_bucket_acl, 403, "AccessDenied", Bucket=bucket, ACL="public-read")
    acl = s3.get_bucket_acl(Bucket=bucket)
    grant = {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}
    policy = {"Owner": acl["Owner"], "Grants": [*acl["Grants"], grant]}
    refused(s3.put_bucket_acl, 403, "AccessDenied", Bucket=bucket, AccessControlPolicy=policy)
    # a private ACL is still taken (what the S3 job writes after blocking)
    s3.put_bucket_acl(
        Bucket=bucket, AccessControlPolicy={"Owner": acl["Owner"], "Grants": acl["Grants"]}
    )


def test_a_public_acl_is_taken_without_the_block(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    block(s3, bucket, BlockPublicPolicy=True)  # blocks policies, not ACLs
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")


def test_acls_are_refused_when_the_owner_enforces_ownership(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    s3.put_bucket_ownership_controls(
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    refused(
        s3.put_bucket_acl, 400, "AccessControlListNotSupported", Bucket=bucket, ACL="public-read"
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="private")  # the owner's full control only: taken


def test_a_public_policy_is_refused_under_block_public_policy(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    block(s3, bucket, BlockPublicPolicy=True)
    refused(
        s3.put_bucket_policy, 403, "AccessDenied", Bucket=bucket, Policy=json.dumps(PUBLIC_POLICY)
    )
    private = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{aws_sandbox.account_id}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(private))


@pytest.mark.parametrize("policy", ["not json", "[1]", '{"Version": "2012-10-17"}'])
def test_a_malformed_policy_is_refused(aws_sandbox: AwsSandbox, policy: str) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    refused(s3.put_bucket_policy, 400, "MalformedPolicy", Bucket=bucket, Policy=policy)


# ----------------------------------------------------------------------------------------------
# EC2 security groups (moto enforces these itself)
# ----------------------------------------------------------------------------------------------


def _ingress(port: int, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}


def test_a_duplicate_rule_is_refused(aws_sandbox: AwsSandbox) -> None:
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22)
    refused(
        ec2.authorize_security_group_ingress,
        400,
        "InvalidPermission.Duplicate",
        GroupId=group,
        IpPermissions=[_ingress(22)],
    )


def test_more_rules_than_a_group_holds_are_refused(aws_sandbox: AwsSandbox) -> None:
    # 60 inbound rules per group by default:
    # https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups
    ec2 = aws_sandbox.admin_client("ec2")
    group = ec2.create_security_group(
        GroupName=f"full-{uuid.uuid4().hex[:8]}", Description="rule limit"
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[_ingress(1000 + n) for n in range(60)]
    )
    refused(
        ec2.authorize_security_group_ingress,
        400,
        "RulesPerSecurityGroupLimitExceeded",
        GroupId=group,
        IpPermissions=[_ingress(2000)],
    )


# ----------------------------------------------------------------------------------------------
# IAM conditions: the jobs rely on none the sandbox cannot evaluate
# ----------------------------------------------------------------------------------------------


def test_the_aws_jobs_policies_rely_on_no_condition_key() -> None:
    """moto evaluates a policy's Condition only against keys it takes from the request's own
    parameters (no aws:SourceIp, aws:RequestedRegion, aws:PrincipalTag...), so a job policy with a
    condition could pass here and fail on AWS, or the reverse. The one condition key Remedy relies
    on is the trust policy's sts:ExternalId, enforced around moto (tests/test_sandbox_external_id.py)."""
    from pathlib import Path

    jobs = Path(__file__).resolve().parent.parent / "jobs"
    for path in sorted(jobs.glob("*/minimum_policy.json")):
        document = json.loads(path.read_text())
        for statement in document.get("Statement", []):
            assert "Condition" not in statement, f"{path}: the sandbox cannot check conditions"
