"""The sandbox's security groups refuse and answer what EC2 does (sandbox/ports_strict.py), with real
boto3 calls: port checks on Authorize*, IPv6 egress revokes, a default group's default rules; and
what moto enforces itself for the port jobs (checked so an upgrade that drops one is noticed).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox

OPEN4, OPEN6 = "0.0.0.0/0", "::/0"


def refused(call: Any, status: int, code: str, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    assert error["Error"]["Code"] == code, error
    return str(error["Error"].get("Message", ""))


@pytest.fixture
def ec2(aws_sandbox: AwsSandbox) -> Any:
    return aws_sandbox.admin_client("ec2")


def new_vpc_group(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(
        GroupName=f"fidelity-{uuid.uuid4().hex[:8]}", Description="test", VpcId=vpc
    )["GroupId"]
    return vpc, group


def rule(protocol: str, low: int | None, high: int | None, cidr: str = OPEN4) -> dict[str, Any]:
    found: dict[str, Any] = {"IpProtocol": protocol}
    if low is not None:
        found["FromPort"] = low
    if high is not None:
        found["ToPort"] = high
    found["Ipv6Ranges" if ":" in cidr else "IpRanges"] = [
        {"CidrIpv6" if ":" in cidr else "CidrIp": cidr}
    ]
    return found


@pytest.mark.parametrize("direction", ["ingress", "egress"])
@pytest.mark.parametrize("protocol", ["tcp", "udp", "6"])
@pytest.mark.parametrize(
    ("low", "high", "code", "message"),
    [
        (None, 22, "InvalidParameterValue", "Must specify both from and to ports with TCP/UDP."),
        (22, None, "InvalidParameterValue", "Must specify both from and to ports with TCP/UDP."),
        (30, 70000, "InvalidPermission.Malformed", "TCP/UDP port (70000) out of range"),
        (-1, -1, "InvalidPermission.Malformed", "TCP/UDP port (-1) out of range"),
        (30, 20, "InvalidParameterValue", "Invalid TCP/UDP port range (30-20)"),
    ],
)
def test_authorize_checks_tcp_and_udp_ports(
    ec2: Any,
    direction: str,
    protocol: str,
    low: int | None,
    high: int | None,
    code: str,
    message: str,
) -> None:
    _, group = new_vpc_group(ec2)
    call = getattr(ec2, f"authorize_security_group_{direction}")
    text = refused(call, 400, code, GroupId=group, IpPermissions=[rule(protocol, low, high)])
    assert message in text
    found = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert found["IpPermissions"] == []  # nothing was stored


def test_authorize_still_takes_what_ec2_takes(ec2: Any) -> None:
    _, group = new_vpc_group(ec2)
    for permission in (
        rule("tcp", 0, 65535),
        rule("udp", 11211, 11211, OPEN6),
        rule("icmp", -1, -1),
        rule("-1", None, None, "10.0.0.0/8"),
    ):
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
    found = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    assert len(found["IpPermissions"]) == 4


def test_revoke_egress_revokes_ipv6_in_a_vpc_without_ipv6(ec2: Any) -> None:
    _, group = new_vpc_group(ec2)
    https6 = rule("tcp", 443, 443, OPEN6)
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[https6])
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[https6])
    egress = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0][
        "IpPermissionsEgress"
    ]
    assert [p["IpProtocol"] for p in egress] == ["-1"]  # only the default rule to 0.0.0.0/0
    refused(
        ec2.revoke_security_group_egress,
        400,
        "InvalidPermission.NotFound",
        GroupId=group,
        IpPermissions=[https6],
    )


def test_a_vpc_default_group_has_the_default_rules(ec2: Any) -> None:
    vpc, _ = new_vpc_group(ec2)
    default = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]
    (ingress,) = default["IpPermissions"]
    assert ingress["IpProtocol"] == "-1"
    assert [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == [default["GroupId"]]
    (egress,) = default["IpPermissionsEgress"]
    assert egress["IpProtocol"] == "-1" and egress["IpRanges"] == [{"CidrIp": OPEN4}]
    ec2.revoke_security_group_ingress(GroupId=default["GroupId"], IpPermissions=[ingress])
    after = ec2.describe_security_groups(GroupIds=[default["GroupId"]])["SecurityGroups"][0]
    assert after["IpPermissions"] == []


# moto's own checks, which the port jobs rely on


def test_a_duplicate_rule_is_refused(ec2: Any) -> None:
    _, group = new_vpc_group(ec2)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[rule("tcp", 22, 22)])
    refused(
        ec2.authorize_security_group_ingress,
        400,
        "InvalidPermission.Duplicate",
        GroupId=group,
        IpPermissions=[rule("tcp", 22, 22)],
    )


def test_revoking_a_rule_the_group_lacks_is_refused(ec2: Any) -> None:
    _, group = new_vpc_group(ec2)
    refused(
        ec2.revoke_security_group_ingress,
        400,
        "InvalidPermission.NotFound",
        GroupId=group,
        IpPermissions=[rule("udp", 11211, 11211)],
    )


def test_the_61st_inbound_rule_is_refused(ec2: Any) -> None:
    """A job splitting a wide range near the quota fails before it revokes anything."""
    _, group = new_vpc_group(ec2)
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[rule("tcp", port, port) for port in range(1000, 1060)]
    )
    refused(
        ec2.authorize_security_group_ingress,
        400,
        "RulesPerSecurityGroupLimitExceeded",
        GroupId=group,
        IpPermissions=[rule("tcp", 2000, 2000)],
    )
