"""The network and EBS jobs in every mode, on moto, run as the worker runs them: network ACL
administration ports (EC2.21), subnet public IPs (EC2.15), VPC flow logs (EC2.6), public EBS
snapshots (EC2.1), EBS default encryption (EC2.7) and IMDSv2 (EC2.8).

For each: `exercise` (verify 3 -> 0, plan sends no mutating request, remediate fixes and records,
a second run changes nothing, rollback restores, rollback refuses after tampering), what it keeps
(read back from moto), and a failure that exits 1 with one ERROR line.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox.aws import AwsSandbox
from tests.job_modes import JOBS_DIR, Case, Run, exercise
from tests.job_process import run_like_the_worker
from tests.test_jobs import payload

OPEN4, OPEN6, PRIVATE = "0.0.0.0/0", "::/0", "10.0.0.0/8"
OTHER_ACCOUNT = "111122223333"


def failed_once(done: Any) -> None:
    """Exit 1 with exactly one ERROR line and no traceback."""
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1, str(done)
    assert "Traceback" not in done.stderr, str(done)


def new_vpc(ec2: Any, cidr: str = "10.20.0.0/16") -> str:
    vpc: str = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    return vpc


# ----------------------------------------------------------------------------------------------
# aws_ec2_administration_ports_ingress_allowed (EC2.21)
# ----------------------------------------------------------------------------------------------

NACL = "aws_ec2_administration_ports_ingress_allowed"
Entry = tuple[int, str, str, str, Any]


def nacl_entry(
    ec2: Any, acl: str, number: int, protocol: str, action: str, cidr: str, ports: Any = None
) -> None:
    source = {"Ipv6CidrBlock": cidr} if ":" in cidr else {"CidrBlock": cidr}
    extra = {"PortRange": {"From": ports[0], "To": ports[1]}} if ports else {}
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=number,
        Protocol=protocol,
        RuleAction=action,
        Egress=False,
        **source,
        **extra,
    )


def inbound(ec2: Any, acl: str) -> set[Entry]:
    found = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    return {
        (
            e["RuleNumber"],
            e["Protocol"],
            e["RuleAction"],
            e.get("CidrBlock") or e.get("Ipv6CidrBlock"),
            json.dumps(e.get("PortRange"), sort_keys=True),
        )
        for e in found
        if not e["Egress"]
    }


def open_acl(ec2: Any) -> str:
    """A network ACL like a default one plus a private SSH entry and an IPv6 tcp range."""
    acl: str = ec2.create_network_acl(VpcId=new_vpc(ec2))["NetworkAcl"]["NetworkAclId"]
    nacl_entry(ec2, acl, 50, "6", "allow", PRIVATE, (22, 22))
    nacl_entry(ec2, acl, 100, "-1", "allow", OPEN4)
    nacl_entry(ec2, acl, 120, "6", "allow", OPEN6, (0, 1024))
    nacl_entry(ec2, acl, 130, "6", "allow", OPEN4, (443, 443))
    return acl


def test_nacl_administration_ports_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    acl = open_acl(ec2)

    def tamper() -> None:  # someone removes one of the job's DENY entries
        ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=99, Egress=False)

    exercise(run, Case(NACL, payload(acl, "rule-x"), lambda: inbound(ec2, acl), tamper))


def test_nacl_denies_before_the_allowing_entries_and_keeps_every_entry(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    acl = open_acl(ec2)
    before = inbound(ec2, acl)
    done = run(NACL, payload(acl, "rule-x"))
    assert done.returncode == 0, str(done)
    after = inbound(ec2, acl)
    assert before <= after  # every entry kept, unchanged
    ssh, rdp = json.dumps({"From": 22, "To": 22}), json.dumps({"From": 3389, "To": 3389})
    assert after - before == {
        # IPv4: all traffic allowed at 100: tcp and udp, 22 and 3389, right below it
        (99, "6", "deny", OPEN4, ssh),
        (98, "17", "deny", OPEN4, ssh),
        (97, "6", "deny", OPEN4, rdp),
        (96, "17", "deny", OPEN4, rdp),
        # IPv6: only tcp 0-1024 allowed (at 120), so only tcp 22; 3389 and udp stay denied by `*`
        (119, "6", "deny", OPEN6, ssh),
    }
    # the private SSH entry (50) still decides before the DENY entries
    assert min(n for n, *_ in after - before) > 50
    assert len(done.changes) == 5
    assert "before entry 100" in done.changes[0]


def test_nacl_ports_and_protocols_parameters(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    acl = open_acl(ec2)
    before = inbound(ec2, acl)
    done = run(NACL, payload(acl, "rule-x", ports=[443], protocols=["tcp"]))
    assert done.returncode == 0, str(done)
    https = json.dumps({"From": 443, "To": 443})
    # 443 from 0.0.0.0/0 first matches entry 100 (all traffic), so the DENY goes below 100
    assert inbound(ec2, acl) - before == {
        (99, "6", "deny", OPEN4, https),
        (119, "6", "deny", OPEN6, https),
    }


def test_nacl_without_room_below_the_allowing_entry_changes_nothing(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    acl: str = ec2.create_network_acl(VpcId=new_vpc(ec2))["NetworkAcl"]["NetworkAclId"]
    nacl_entry(ec2, acl, 1, "6", "allow", PRIVATE, (20, 30))  # decides tcp/22 for 10/8 first
    nacl_entry(ec2, acl, 2, "6", "allow", OPEN4, (22, 22))
    before = inbound(ec2, acl)
    done = run(NACL, payload(acl, "rule-x"))
    failed_once(done)
    assert "no free rule number below entry 2" in done.errors[0]
    assert "nothing was changed" in done.errors[0]
    assert done.mutating == [] and done.changes == []
    assert inbound(ec2, acl) == before


def test_nacl_of_a_vpc_fixes_each_of_its_network_acls(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    vpc = new_vpc(ec2)
    default = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "NetworkAcls"
    ][0]["NetworkAclId"]
    custom = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    nacl_entry(ec2, custom, 10, "6", "allow", OPEN4, (3389, 3389))
    assert run(NACL, payload(vpc, "rule-x"), "verify").returncode == 3
    done = run(NACL, payload(vpc, "rule-x"))
    assert done.returncode == 0, str(done)
    assert {line.split(":")[1].strip() for line in done.changes} == {default, custom}
    assert run(NACL, payload(vpc, "rule-x"), "verify").returncode == 0
    rdp = json.dumps({"From": 3389, "To": 3389})
    assert (9, "6", "deny", OPEN4, rdp) in inbound(ec2, custom)


def test_nacl_that_does_not_exist_fails(run: Run) -> None:
    done = run(NACL, payload("acl-0123456789abcdef0", "rule-x"))
    failed_once(done)
    assert "InvalidNetworkAclID.NotFound" in done.errors[0]
    for mode in ("remediate", "verify"):  # a VPC without network ACLs does not exist
        done = run(NACL, payload("vpc-0123456789abcdef0", "rule-x"), mode)
        failed_once(done)
        assert "InvalidVpcID.NotFound" in done.errors[0]


# ----------------------------------------------------------------------------------------------
# ec2_subnet_disable_public_ip_on_launch (EC2.15)
# ----------------------------------------------------------------------------------------------

SUBNET = "ec2_subnet_disable_public_ip_on_launch"


def subnet_state(ec2: Any, subnet: str) -> dict[str, Any]:
    found = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]
    keys = ("MapPublicIpOnLaunch", "AssignIpv6AddressOnCreation", "CidrBlock", "VpcId")
    return {k: found.get(k) for k in keys}


def public_subnet(ec2: Any) -> str:
    vpc = new_vpc(ec2, "10.30.0.0/16")
    subnet: str = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    return subnet


def test_subnet_public_ip_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    subnet = public_subnet(ec2)

    def tamper() -> None:  # someone turns it on again
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})

    exercise(
        run, Case(SUBNET, payload(subnet, "rule-x"), lambda: subnet_state(ec2, subnet), tamper)
    )


def test_subnet_keeps_its_other_attributes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    subnet = public_subnet(ec2)
    before = subnet_state(ec2, subnet)
    done = run(SUBNET, payload(subnet, "rule-x"))
    assert done.returncode == 0, str(done)
    assert subnet_state(ec2, subnet) == {**before, "MapPublicIpOnLaunch": False}


def test_subnet_that_does_not_exist_fails(run: Run) -> None:
    done = run(SUBNET, payload("subnet-0123456789abcdef0", "rule-x"))
    failed_once(done)
    assert "InvalidSubnetID.NotFound" in done.errors[0]


# ----------------------------------------------------------------------------------------------
# ec2_vpc_enable_flow_logs (EC2.6)
# ----------------------------------------------------------------------------------------------

FLOW = "ec2_vpc_enable_flow_logs"


def new_bucket(aws_sandbox: AwsSandbox) -> str:
    name = f"flow-logs-{uuid.uuid4().hex[:12]}"
    aws_sandbox.admin_client("s3").create_bucket(Bucket=name)
    return f"arn:aws:s3:::{name}"


def flow_state(ec2: Any, vpc: str) -> set[tuple[Any, ...]]:
    found = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    return {
        (
            f["TrafficType"],
            f.get("LogDestinationType"),
            f.get("LogDestination")
            if f.get("LogDestinationType") == "s3"
            else f.get("LogGroupName"),
        )
        for f in found
    }


def test_flow_logs_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    vpc, bucket, other = new_vpc(ec2), new_bucket(aws_sandbox), new_bucket(aws_sandbox)
    # an ACCEPT-only flow log does not capture rejected traffic: the VPC is not compliant
    ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ACCEPT",
        LogDestinationType="s3",
        LogDestination=other,
    )

    def tamper() -> None:  # someone deletes the flow log the job created
        found = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])
        ours = [f["FlowLogId"] for f in found["FlowLogs"] if f.get("LogDestination") == bucket]
        ec2.delete_flow_logs(FlowLogIds=ours)

    finding = payload(vpc, "rule-x", bucket_arn=bucket)
    exercise(run, Case(FLOW, finding, lambda: flow_state(ec2, vpc), tamper))
    assert ("ACCEPT", "s3", other) in flow_state(ec2, vpc)  # the VPC's own flow log was kept


def test_flow_logs_to_cloudwatch_logs(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2, logs = aws_sandbox.admin_client("ec2"), aws_sandbox.admin_client("logs")
    vpc, group = new_vpc(ec2), f"/vpc/flow-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    role = f"arn:aws:iam::{aws_sandbox.account_id}:role/flow-logs-delivery"
    finding = payload(
        vpc,
        "rule-x",
        destination_type="cloud-watch-logs",
        log_group_name=group,
        deliver_logs_role_arn=role,
        traffic_type="ALL",
    )
    done = run(FLOW, finding)
    assert done.returncode == 0, str(done)
    assert flow_state(ec2, vpc) == {("ALL", "cloud-watch-logs", group)}
    found = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    assert found[0]["DeliverLogsPermissionArn"] == role
    assert run(FLOW, finding, "verify").returncode == 0
    undone = run(FLOW, finding, "rollback", done.records)
    assert undone.returncode == 0, str(undone)
    assert flow_state(ec2, vpc) == set()


def test_flow_logs_to_a_bucket_that_does_not_exist_fails(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    vpc = new_vpc(ec2)
    done = run(FLOW, payload(vpc, "rule-x", bucket_arn="arn:aws:s3:::no-such-bucket-for-remedy"))
    failed_once(done)
    assert "CreateFlowLogs failed" in done.errors[0]
    assert flow_state(ec2, vpc) == set()


def test_flow_logs_without_a_destination_is_bad_input(aws_sandbox: AwsSandbox, run: Run) -> None:
    vpc = new_vpc(aws_sandbox.admin_client("ec2"))
    done = run(FLOW, payload(vpc, "rule-x"))
    assert done.returncode == 2, str(done)
    assert len(done.errors) == 1 and "remediationParameters.bucket_arn" in done.errors[0]
    assert done.mutating == []


def test_flow_logs_of_a_vpc_that_does_not_exist_fails(aws_sandbox: AwsSandbox, run: Run) -> None:
    done = run(FLOW, payload("vpc-0123456789abcdef0", "rule-x", bucket_arn=new_bucket(aws_sandbox)))
    failed_once(done)
    assert "InvalidVpcID.NotFound" in done.errors[0]


# ----------------------------------------------------------------------------------------------
# ebs_private_snapshot (EC2.1)
# ----------------------------------------------------------------------------------------------

SNAPSHOT = "ebs_private_snapshot"


def public_snapshot(ec2: Any) -> str:
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    snapshot: str = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot,
        Attribute="createVolumePermission",
        OperationType="add",
        GroupNames=["all"],
        UserIds=[OTHER_ACCOUNT],
    )
    return snapshot


def snapshot_state(ec2: Any, snapshot: str) -> list[str]:
    found = ec2.describe_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")
    return sorted(json.dumps(p, sort_keys=True) for p in found["CreateVolumePermissions"])


def test_ebs_private_snapshot_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    snapshot = public_snapshot(ec2)

    def tamper() -> None:  # someone makes it public again
        ec2.modify_snapshot_attribute(
            SnapshotId=snapshot,
            Attribute="createVolumePermission",
            OperationType="add",
            GroupNames=["all"],
        )

    finding = payload(snapshot, "2cdb8877-7ac3-4483-9ed0-1e792171d125")
    exercise(run, Case(SNAPSHOT, finding, lambda: snapshot_state(ec2, snapshot), tamper))


def test_ebs_private_snapshot_keeps_the_accounts_it_is_shared_with(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    snapshot = public_snapshot(ec2)
    done = run(SNAPSHOT, payload(snapshot, "rule-x"))
    assert done.returncode == 0, str(done)
    assert snapshot_state(ec2, snapshot) == [json.dumps({"UserId": OTHER_ACCOUNT})]
    assert "1 account permission(s) kept" in done.changes[0]


def test_ebs_private_snapshot_that_does_not_exist_fails(run: Run) -> None:
    done = run(SNAPSHOT, payload("snap-0123456789abcdef0", "rule-x"))
    failed_once(done)
    assert "InvalidSnapshot.NotFound" in done.errors[0]


# ----------------------------------------------------------------------------------------------
# ec2_enable_ebs_default_encryption (EC2.7, region level)
# ----------------------------------------------------------------------------------------------

EBS = "ec2_enable_ebs_default_encryption"


def test_ebs_default_encryption_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    ec2.disable_ebs_encryption_by_default()

    def state() -> Any:
        return ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]

    def tamper() -> None:  # someone turns it off again
        ec2.disable_ebs_encryption_by_default()

    # the account and region are the target; the ObjectId Security Hub gives is not read
    finding = payload(f"AWS::::Account:{aws_sandbox.account_id}", "rule-x")
    try:
        exercise(run, Case(EBS, finding, state, tamper))
    finally:
        ec2.disable_ebs_encryption_by_default()


def test_ebs_default_encryption_names_the_action_it_may_not_call(
    aws_sandbox: AwsSandbox, tmp_path: Path
) -> None:
    """The worker's own identity may not read EC2 settings: exit 1, one ERROR naming the action."""
    done = run_like_the_worker(
        JOBS_DIR / EBS,
        tmp_path / EBS,
        payload(aws_sandbox.account_id, "rule-x"),
        aws_sandbox.worker_env(),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, done.stderr
    assert "ec2:GetEbsEncryptionByDefault" in errors[0]


# ----------------------------------------------------------------------------------------------
# ec2_instance_require_imdsv2 (EC2.8)
# ----------------------------------------------------------------------------------------------

IMDS = "ec2_instance_require_imdsv2"


def imdsv1_instance(ec2: Any) -> str:
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    instance: str = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        MetadataOptions={
            "HttpTokens": "optional",
            "HttpPutResponseHopLimit": 3,
            "HttpEndpoint": "enabled",
            "InstanceMetadataTags": "enabled",
        },
    )["Instances"][0]["InstanceId"]
    return instance


def metadata(ec2: Any, instance: str) -> dict[str, Any]:
    found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    return {k: v for k, v in found["MetadataOptions"].items() if k != "State"}


def test_imdsv2_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    instance = imdsv1_instance(ec2)

    def tamper() -> None:  # someone allows IMDSv1 again
        ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="optional")

    exercise(run, Case(IMDS, payload(instance, "rule-x"), lambda: metadata(ec2, instance), tamper))


def test_imdsv2_keeps_the_other_metadata_options(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    instance = imdsv1_instance(ec2)
    before = metadata(ec2, instance)
    assert before["HttpPutResponseHopLimit"] == 3
    done = run(IMDS, payload(instance, "rule-x"))
    assert done.returncode == 0, str(done)
    assert metadata(ec2, instance) == {**before, "HttpTokens": "required"}


def test_imdsv2_instance_that_does_not_exist_fails(run: Run) -> None:
    done = run(IMDS, payload("i-0123456789abcdef0", "rule-x"))
    failed_once(done)
    assert "InvalidInstanceID.NotFound" in done.errors[0]


# ----------------------------------------------------------------------------------------------
# ec2_transit_gateway_disable_auto_accept (EC2.23, stretch)
# ----------------------------------------------------------------------------------------------

TGW = "ec2_transit_gateway_disable_auto_accept"


def gateway_options(ec2: Any, gateway: str) -> dict[str, Any]:
    found = ec2.describe_transit_gateways(TransitGatewayIds=[gateway])["TransitGateways"][0]
    return dict(found["Options"])


def auto_accepting_gateway(ec2: Any) -> str:
    gateway: str = ec2.create_transit_gateway(
        Description="shared",
        Options={"AutoAcceptSharedAttachments": "enable", "DnsSupport": "disable"},
    )["TransitGateway"]["TransitGatewayId"]
    return gateway


def test_transit_gateway_auto_accept_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    gateway = auto_accepting_gateway(ec2)

    def tamper() -> None:  # someone turns auto-accept on again
        ec2.modify_transit_gateway(
            TransitGatewayId=gateway, Options={"AutoAcceptSharedAttachments": "enable"}
        )

    finding = payload(gateway, "rule-x")
    exercise(run, Case(TGW, finding, lambda: gateway_options(ec2, gateway), tamper))


def test_transit_gateway_keeps_its_other_options(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    gateway = auto_accepting_gateway(ec2)
    before = gateway_options(ec2, gateway)
    done = run(TGW, payload(gateway, "rule-x"))
    assert done.returncode == 0, str(done)
    assert gateway_options(ec2, gateway) == {**before, "AutoAcceptSharedAttachments": "disable"}
    found = ec2.describe_transit_gateways(TransitGatewayIds=[gateway])["TransitGateways"][0]
    assert found["Description"] == "shared"


def test_transit_gateway_that_does_not_exist_fails(run: Run) -> None:
    done = run(TGW, payload("tgw-0123456789abcdef0", "rule-x"))
    failed_once(done)
    assert "InvalidTransitGatewayID.NotFound" in done.errors[0]


@pytest.mark.parametrize("job", [NACL, SUBNET, FLOW, SNAPSHOT, EBS, IMDS, TGW])
def test_rollback_without_records_is_refused(run: Run, job: str) -> None:
    done = run(
        job,
        payload("x-1", "rule-x", bucket_arn="arn:aws:s3:::b-1")
        if job == FLOW
        else payload("x-1", "rule-x"),
        "rollback",
    )
    assert done.returncode == 2, str(done)
    assert done.mutating == []
