"""Create an IAM role for AWS Support incidents: the AWSSupportAccess managed policy, trusted by
`principal` (default: the account's root, i.e. IAM identities of the account allowed to assume it).

Account level: the target is the finding's account (its ObjectId is not read). The control (IAM.18,
CIS 1.20 / 1.17) passes when AWSSupportAccess is attached to any user, group or role: when it is,
the job changes nothing. Otherwise it creates the role `role_name` and attaches the policy. It
never changes an existing role: a role of that name without the policy makes the job fail (exit 1)
and asks for another name.

Plan prints the same CHANGE line after reading only. Before creating the role one record (kind
`iam-support-role`) names it; rollback deletes the role it created (detaching the policy first),
once the role is still as the job left it: the one policy attached, no other, no inline policy, the
same trust.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_iam.client import IAMClient

KIND = "iam-support-role"
POLICY_NAME = "AWSSupportAccess"


def iam_client(finding: jobkit.Finding) -> IAMClient:
    made: IAMClient = jobkit.client("iam", finding)
    return made


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def policy_arn(finding: jobkit.Finding) -> str:
    return f"arn:{partition(finding.region)}:iam::aws:policy/{POLICY_NAME}"


def trusted(finding: jobkit.Finding) -> str:
    """The principal the role trusts: the parameter (an account id is its root), or this account."""
    given = str(finding.parameters["principal"]).strip() or finding.account_id
    return f"arn:{partition(finding.region)}:iam::{given}:root" if given.isdigit() else given


def holders(iam: IAMClient, arn: str) -> list[str]:
    """The users, groups and roles the policy is attached to (`role/name`, ...)."""
    found = iam.list_entities_for_policy(PolicyArn=arn)
    return [
        *(f"role/{r['RoleName']}" for r in found.get("PolicyRoles", [])),
        *(f"user/{u['UserName']}" for u in found.get("PolicyUsers", [])),
        *(f"group/{g['GroupName']}" for g in found.get("PolicyGroups", [])),
    ]


def existing_role(iam: IAMClient, name: str) -> dict[str, Any] | None:
    try:
        return dict(iam.get_role(RoleName=name)["Role"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return None


def trust_policy(principal: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def remediate(finding: jobkit.Finding) -> None:
    iam = iam_client(finding)
    arn = policy_arn(finding)
    account = finding.account_id
    have = holders(iam, arn)
    if have:
        jobkit.info(f"ok: account {account}: {POLICY_NAME} is attached to {', '.join(have)}")
        return
    name: str = finding.parameters["role_name"]
    if existing_role(iam, name) is not None:
        jobkit.error(
            f"account {account}: role {name} exists without {POLICY_NAME}; the job does not change "
            "an existing role: give another role_name, or attach the policy to it yourself"
        )
        sys.exit(jobkit.EXIT_FAILED)
    principal = trusted(finding)
    jobkit.record(name, KIND, None, {"RoleName": name, "PolicyArn": arn, "Principal": principal})
    if not jobkit.planning():
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust_policy(principal)),
            Description="AWS Support access for incident management (CIS 1.20 / 1.17, IAM.18)",
        )
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    jobkit.change(
        f"account {account}: created role {name} with {POLICY_NAME}, trusted by {principal}"
    )


def principals(document: Any) -> list[str]:
    """The AWS principals a trust policy allows (the document as IAM returns it)."""
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    found: list[str] = []
    for statement in statements if isinstance(statements, list) else [statements]:
        aws = (statement.get("Principal") or {}).get("AWS", [])
        found += [aws] if isinstance(aws, str) else list(aws)
    return sorted(found)


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    iam = iam_client(finding)
    changed: list[str] = []
    for entry in found:  # check every role before deleting any
        left = entry["after"]
        name = left["RoleName"]
        role = existing_role(iam, name)
        if role is None:
            changed.append(f"role {name} is gone")
            continue
        attached = [
            p["PolicyArn"]
            for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        ]
        if attached != [left["PolicyArn"]]:
            changed.append(f"role {name} now has the managed policies {attached}")
        inline = iam.list_role_policies(RoleName=name)["PolicyNames"]
        if inline:
            changed.append(f"role {name} now has inline policies {inline}")
        if principals(role.get("AssumeRolePolicyDocument", {})) != [left["Principal"]]:
            changed.append(f"role {name} now trusts someone else than {left['Principal']}")
    if changed:
        raise jobkit.ChangedSince(
            f"the support role changed since the job made it: {'; '.join(changed)}"
        )
    for entry in found:
        name, arn = entry["after"]["RoleName"], entry["after"]["PolicyArn"]
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        iam.delete_role(RoleName=name)
        jobkit.change(
            f"account {finding.account_id}: deleted role {name} the job created (rollback)"
        )


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
