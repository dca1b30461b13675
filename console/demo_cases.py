"""The demo's five findings: the non-compliant resources it makes, and the check that each is fixed.

The three AWS findings are Security Hub findings (ASFF), imported into the sandbox's Security Hub
as Security Hub would hold them, and posted to the hub as such: their actions write the outcome
back (the finding RESOLVED). The two Azure findings (a network security group open on 22, a
storage account that accepts plain HTTP) are VSS payloads. It looks at the sandbox itself
(not at what the run says) for the fix, the run's tag, the Jira issue and the Security Hub
finding's workflow status.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    #: the ASFF finding posted for an AWS case; its workflow status in Security Hub after the run
    asff: dict[str, Any] = field(default_factory=dict)
    security_hub: str = ""


def asff_finding(case: Case, clouds: Clouds) -> dict[str, Any]:
    """The case as Security Hub reports it (ASFF): a consolidated control finding of Security
    Hub's (EC2.14, S3.2), or Prowler's through its Security Hub integration for the instance
    (GeneratorId `prowler-<check>`), whose control Security Hub does not have."""
    region, now = clouds.aws.region, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if case.job.startswith("ec2_close_port"):
        kind, arn = "AwsEc2Instance", f"arn:aws:ec2:{region}:{ACCOUNT_ID}:instance/{case.resource}"
    elif case.job.startswith("security_group"):
        kind = "AwsEc2SecurityGroup"
        arn = f"arn:aws:ec2:{region}:{ACCOUNT_ID}:security-group/{case.resource}"
    else:
        kind, arn = "AwsS3Bucket", f"arn:aws:s3:::{case.resource}"
    resource: dict[str, Any] = {"Type": kind, "Id": arn, "Partition": "aws", "Region": region}
    if kind == "AwsEc2SecurityGroup":
        resource["Details"] = {"AwsEc2SecurityGroup": {"GroupId": case.resource}}
    if case.rule_id.startswith("ec2_"):  # a Prowler check id
        product, generator = "prowler/prowler", f"prowler-{case.rule_id}"
        finding_id = f"prowler-{case.rule_id}-{ACCOUNT_ID}-{region}-{uuid.uuid4().hex[:10]}"
        compliance: dict[str, Any] = {"Status": "FAILED"}
    else:
        product, generator = "aws/securityhub", f"security-control/{case.rule_id}"
        finding_id = (
            f"arn:aws:securityhub:{region}:{ACCOUNT_ID}:security-control/{case.rule_id}/"
            f"finding/{uuid.uuid4()}"
        )
        compliance = {"Status": "FAILED", "SecurityControlId": case.rule_id}
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": f"arn:aws:securityhub:{region}::product/{product}",
        "GeneratorId": generator,
        "AwsAccountId": ACCOUNT_ID,
        "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": {"Label": "HIGH", "Normalized": 70},
        "Title": case.title,
        "Description": f"{case.title} (made by `remedy demo` in the sandbox)",
        "Region": region,
        "Resources": [resource],
        "Compliance": compliance,
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
    }


def import_to_security_hub(cases: list[Case], clouds: Clouds) -> None:
    """The AWS findings into the sandbox's Security Hub, where write-back will find them."""
    hub = clouds.aws.admin_client("securityhub")
    hub.enable_security_hub()
    findings = [case.asff for case in cases if case.asff]
    imported = hub.batch_import_findings(Findings=findings)
    if imported["FailedCount"]:
        raise RuntimeError(f"Security Hub refused the demo's findings: {imported}")


def finding_payload(case: Case, clouds: Clouds) -> dict[str, Any]:
    """What the demo posts for the case: its ASFF finding (AWS), or a VSS payload (Azure)."""
    if case.provider == "aws":
        case.asff = case.asff or asff_finding(case, clouds)
        return case.asff
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
        service = "Storage" if case.job.startswith("azure_storage") else "Network"
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
    """Make five non-compliant resources in the sandbox; return one case per finding."""
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
    storage = f"remedydemo{suffix}"  # 3-24 lowercase letters and digits
    clouds.azure.admin_request(
        "PUT",
        f"{_group_path(clouds)}/providers/Microsoft.Storage/storageAccounts/{storage}",
        {
            "location": clouds.azure.location,
            "kind": "StorageV2",
            "sku": {"name": "Standard_LRS"},
            "tags": {"owner": "data-team"},
            "properties": {"supportsHttpsTrafficOnly": False},
        },
    )
    return [
        # the AWS cases' rules are the control ids their ASFF findings carry (jobs' remedy.json)
        Case(
            "instance: SSH open",
            "ec2_close_port_22",
            "ec2_instance_port_ssh_exposed_to_internet",
            instance,
        ),
        Case("group: RDP open", "security_group_close_port_3389", "EC2.14", rdp_group),
        Case("bucket: public", "s3_remove_public_access", "S3.2", bucket),
        Case(
            "Azure NSG: SSH open",
            "azure_network_security_group_close_port_22",
            "5c8c26847a550e1fb6560cab",
            nsg,
            provider="azure",
        ),
        Case(
            "Azure storage: HTTP allowed",
            "azure_storage_account_allow_https_traffic_only",
            "5c8c269a7a550e1fb6560cdb",
            storage,
            provider="azure",
        ),
    ]


def _group_path(clouds: Clouds) -> str:
    return f"/subscriptions/{clouds.azure.subscription_id}/resourceGroups/{RESOURCE_GROUP}"


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
    if case.provider == "azure" and case.job.startswith("azure_storage"):
        path = f"{_group_path(clouds)}/providers/Microsoft.Storage/storageAccounts/{case.resource}"
        _, account = clouds.azure.admin_request("GET", path)
        case.fixed = account["properties"].get("supportsHttpsTrafficOnly") is True
        tags = account.get("tags") or {}
        # the fix changed only that setting: the account's own tag is kept beside the run's
        case.fixed = case.fixed and tags.get("owner") == "data-team"
    elif case.provider == "azure":
        path = f"{_group_path(clouds)}/providers/Microsoft.Network/networkSecurityGroups/{case.resource}"
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
        found = clouds.aws.admin_client("securityhub").get_findings(
            Filters={"Id": [{"Value": case.asff["Id"], "Comparison": "EQUALS"}]}
        )["Findings"]
        case.security_hub = found[0]["Workflow"]["Status"] if found else "missing"
    case.tagged = tags.get("remediation-run-id") == case.run_id
    label = f"remedy-run-{case.run_id}"
    case.ticket = ", ".join(i["key"] for i in clouds.jira.issues() if label in i["labels"])
