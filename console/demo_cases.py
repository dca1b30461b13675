"""The demo's four findings: the non-compliant resources it makes, and the check that each is fixed.

It looks at the sandbox itself (not at what the run says) for the fix, the run's tag and the
Jira issue.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from console.sandbox_cloud import Clouds
from sandbox.aws import ACCOUNT_ID

OPEN = "0.0.0.0/0"
INTERNET = {"*", "Internet", "0.0.0.0/0", "::/0"}
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
RESOURCE_GROUP = "remedy-demo"
JIRA_PROJECT = "SEC"


@dataclass
class Case:
    title: str
    job: str
    rule_id: str
    resource: str
    provider: str = "aws"
    run_id: str = ""
    state: str = "submitted"
    message: str = ""
    temporal_url: str = ""
    fixed: bool = False
    tagged: bool = False
    ticket: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def finding_payload(case: Case, clouds: Clouds) -> dict[str, Any]:
    info: dict[str, Any] = {
        "FindingId": f"demo-{uuid.uuid4().hex[:12]}",
        "ObjectId": case.resource,
        "RiskScore": 80,
    }
    if case.provider == "azure":
        chain = {
            "cloudAccountId": clouds.azure.subscription_id,
            "properties": [{"name": "ResourceGroup", "type": "string", "stringV": RESOURCE_GROUP}],
        }
        info.update(Region=clouds.azure.location, ObjectChain=json.dumps(chain))
        account: dict[str, Any] = {
            "provider": "azure",
            "subscriptionId": clouds.azure.subscription_id,
            "applicationId": clouds.azure.client_id,
        }
        service = "Network"
    else:
        info["Region"] = clouds.aws.region
        account = {"provider": "aws", "roleArn": clouds.aws.role_arn}
        service = "S3" if case.job.startswith("s3") else "EC2"
    return {
        "cloudAccount": account,
        "notificationInfo": {
            "CloudAccountID": ACCOUNT_ID
            if case.provider == "aws"
            else clouds.azure.subscription_id,
            "RuleID": case.rule_id,
            "RuleDisplayName": case.title,
            "Level": "High",
            "Service": service,
            "FindingInfo": info,
        },
        "autoRemediate": True,
    }


def create_findings(clouds: Clouds) -> list[Case]:
    """Make four non-compliant resources in the sandbox; return one case per finding."""
    ec2, s3 = clouds.aws.admin_client("ec2"), clouds.aws.admin_client("s3")
    suffix = uuid.uuid4().hex[:8]

    ssh_group = clouds.aws.open_security_group(22, "web-ssh")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SecurityGroupIds=[ssh_group]
    )["Instances"][0]["InstanceId"]
    rdp_group = clouds.aws.open_security_group(3389, "jump-rdp")
    bucket = f"remedy-demo-public-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    nsg = f"nsg-web-{suffix}"
    clouds.azure.create_resource_group(RESOURCE_GROUP)
    clouds.azure.admin_request(
        "PUT",
        f"/subscriptions/{clouds.azure.subscription_id}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"Microsoft.Network/networkSecurityGroups/{nsg}",
        {
            "location": clouds.azure.location,
            "properties": {
                "securityRules": [
                    {
                        "name": "allow-ssh-anywhere",
                        "properties": {
                            "protocol": "Tcp",
                            "access": "Allow",
                            "direction": "Inbound",
                            "priority": 100,
                            "sourceAddressPrefix": "Internet",
                            "sourcePortRange": "*",
                            "destinationAddressPrefix": "*",
                            "destinationPortRange": "22",
                        },
                    }
                ]
            },
        },
    )
    return [
        Case("instance: SSH open", "ec2_close_port_22", "5c8c26417a550e1fb6560c3f", instance),
        Case(
            "group: RDP open",
            "security_group_close_port_3389",
            "5c8c25ef7a550e1fb6560bc4",
            rdp_group,
        ),
        Case("bucket: public", "s3_remove_public_access", "5c8c26507a550e1fb6560c57", bucket),
        Case(
            "Azure NSG: SSH open",
            "azure_network_security_group_close_port_22",
            "5c8c26847a550e1fb6560cab",
            nsg,
            provider="azure",
        ),
    ]


def _open_on(ec2: Any, group_ids: list[str], port: int) -> bool:
    for group in ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]:
        for perm in group["IpPermissions"]:
            covers = perm["IpProtocol"] == "-1" or (
                perm["IpProtocol"] == "tcp"
                and perm.get("FromPort", 0) <= port <= perm.get("ToPort", 0)
            )
            if covers and any(r.get("CidrIp") == OPEN for r in perm.get("IpRanges", [])):
                return True
    return False


def _nsg_open_on(rules: list[dict[str, Any]], port: int) -> bool:
    for rule in rules:
        props = rule.get("properties", {})
        sources = {props.get("sourceAddressPrefix")} | set(props.get("sourceAddressPrefixes") or [])
        ranges = [props.get("destinationPortRange"), *(props.get("destinationPortRanges") or [])]
        if props.get("access") != "Allow" or props.get("direction") != "Inbound":
            continue
        if not (sources & INTERNET) or props.get("protocol") not in ("Tcp", "*"):
            continue
        for span in filter(None, ranges):
            low, _, high = str(span).partition("-")
            if span == "*" or int(low) <= port <= int(high or low):
                return True
    return False


def verify(case: Case, clouds: Clouds) -> None:
    """Look at the sandbox itself: is the resource fixed, tagged by this run, and ticketed?"""
    tags: dict[str, str]
    if case.provider == "azure":
        path = (
            f"/subscriptions/{clouds.azure.subscription_id}/resourceGroups/{RESOURCE_GROUP}/"
            f"providers/Microsoft.Network/networkSecurityGroups/{case.resource}"
        )
        _, nsg = clouds.azure.admin_request("GET", path)
        case.fixed = not _nsg_open_on(nsg["properties"].get("securityRules", []), 22)
        tags = nsg.get("tags") or {}
    else:
        ec2, s3 = clouds.aws.admin_client("ec2"), clouds.aws.admin_client("s3")
        if case.job.startswith("ec2_close_port"):
            instance = ec2.describe_instances(InstanceIds=[case.resource])["Reservations"][0][
                "Instances"
            ][0]
            case.fixed = not _open_on(ec2, [g["GroupId"] for g in instance["SecurityGroups"]], 22)
        elif case.job.startswith("security_group_close_port"):
            case.fixed = not _open_on(ec2, [case.resource], 3389)
        else:
            block = s3.get_public_access_block(Bucket=case.resource)[
                "PublicAccessBlockConfiguration"
            ]
            grants = s3.get_bucket_acl(Bucket=case.resource)["Grants"]
            public = any(g["Grantee"].get("URI") in PUBLIC_GRANTEES for g in grants)
            case.fixed = all(block.values()) and not public
        if case.job.startswith("s3"):
            tag_set = s3.get_bucket_tagging(Bucket=case.resource)["TagSet"]
        else:
            tag_set = ec2.describe_tags(
                Filters=[{"Name": "resource-id", "Values": [case.resource]}]
            )["Tags"]
        tags = {t["Key"]: t["Value"] for t in tag_set}
    case.tagged = tags.get("remediation-run-id") == case.run_id
    label = f"remedy-run-{case.run_id}"
    case.ticket = ", ".join(i["key"] for i in clouds.jira.issues() if label in i["labels"])
