"""The AWS sandbox refuses (and keeps) what EC2 does, for the network jobs' calls: the checks
sandbox/vpc_strict.py adds around moto, and those moto makes itself (checked so an upgrade that
drops one is noticed). Real boto3 calls against the session's sandbox.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox


def refused(call: Any, status: int, code: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    assert error["Error"]["Code"] == code, error


def new_acl(ec2: Any) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    acl: str = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    return acl


def inbound(ec2: Any, acl: str) -> list[tuple[int, str, Any]]:
    entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    return sorted(
        (e["RuleNumber"], e["Protocol"], e.get("PortRange")) for e in entries if not e["Egress"]
    )


SSH = {"Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": "0.0.0.0/0"}


@pytest.mark.parametrize("number", [0, 32767, 40000])
def test_a_rule_number_outside_1_to_32766_is_refused(aws_sandbox: AwsSandbox, number: int) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    acl = new_acl(ec2)
    entry = {**SSH, "PortRange": {"From": 22, "To": 22}}
    refused(
        ec2.create_network_acl_entry,
        400,
        "InvalidParameterValue",
        NetworkAclId=acl,
        RuleNumber=number,
        **entry,
    )
    assert all(n != number for n, _, _ in inbound(ec2, acl))
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=32766, **entry)  # the last allowed
    refused(
        ec2.replace_network_acl_entry,
        400,
        "InvalidParameterValue",
        NetworkAclId=acl,
        RuleNumber=number,
        **entry,
    )


def test_a_duplicate_rule_number_is_refused(aws_sandbox: AwsSandbox) -> None:  # moto's own
    ec2 = aws_sandbox.admin_client("ec2")
    acl = new_acl(ec2)
    entry = {**SSH, "PortRange": {"From": 22, "To": 22}}
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, **entry)
    refused(
        ec2.create_network_acl_entry,
        400,
        "NetworkAclEntryAlreadyExists",
        NetworkAclId=acl,
        RuleNumber=100,
        **entry,
    )
    # the same number on the other direction is another entry
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, **{**entry, "Egress": True})


def test_tcp_and_udp_entries_need_a_port_range(aws_sandbox: AwsSandbox) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    acl = new_acl(ec2)
    for protocol in ("6", "17", "tcp"):
        refused(
            ec2.create_network_acl_entry,
            400,
            "MissingParameter",
            NetworkAclId=acl,
            RuleNumber=10,
            **{**SSH, "Protocol": protocol},
        )
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=10, **{**SSH, "Protocol": "-1"})


def test_protocol_names_are_answered_as_numbers(aws_sandbox: AwsSandbox) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    acl = new_acl(ec2)
    ports = {"From": 3389, "To": 3389}
    ec2.create_network_acl_entry(
        NetworkAclId=acl, RuleNumber=20, PortRange=ports, **{**SSH, "Protocol": "tcp"}
    )
    ec2.create_network_acl_entry(
        NetworkAclId=acl, RuleNumber=30, PortRange=ports, **{**SSH, "Protocol": "udp"}
    )
    assert [(n, p) for n, p, _ in inbound(ec2, acl) if n < 100] == [(20, "6"), (30, "17")]


def test_deleting_an_entry_that_does_not_exist_is_refused(aws_sandbox: AwsSandbox) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    acl = new_acl(ec2)
    ec2.create_network_acl_entry(
        NetworkAclId=acl, RuleNumber=40, PortRange={"From": 22, "To": 22}, **SSH
    )
    refused(
        ec2.delete_network_acl_entry,
        400,
        "InvalidNetworkAclEntry.NotFound",
        NetworkAclId=acl,
        RuleNumber=41,
        Egress=False,
    )
    refused(  # entry 40 is inbound, not outbound
        ec2.delete_network_acl_entry,
        400,
        "InvalidNetworkAclEntry.NotFound",
        NetworkAclId=acl,
        RuleNumber=40,
        Egress=True,
    )
    ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=40, Egress=False)
    assert all(n != 40 for n, _, _ in inbound(ec2, acl))


def test_an_unknown_network_acl_is_named_as_one(aws_sandbox: AwsSandbox) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    refused(
        ec2.describe_network_acls,
        400,
        "InvalidNetworkAclID.NotFound",
        NetworkAclIds=["acl-0123456789abcdef0"],
    )


def new_instance(ec2: Any, **metadata: Any) -> str:
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    instance: str = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, MetadataOptions=metadata
    )["Instances"][0]["InstanceId"]
    return instance


def metadata_options(ec2: Any, instance: str) -> dict[str, Any]:
    found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    options: dict[str, Any] = found["MetadataOptions"]
    return {k: v for k, v in options.items() if k != "State"}


def test_modifying_one_metadata_option_keeps_the_others(aws_sandbox: AwsSandbox) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    instance = new_instance(
        ec2,
        HttpTokens="optional",
        HttpPutResponseHopLimit=3,
        HttpEndpoint="enabled",
        InstanceMetadataTags="enabled",
    )
    before = metadata_options(ec2, instance)
    assert before["HttpPutResponseHopLimit"] == 3
    ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="required")
    assert metadata_options(ec2, instance) == {**before, "HttpTokens": "required"}
    ec2.modify_instance_metadata_options(InstanceId=instance, HttpPutResponseHopLimit=2)
    assert metadata_options(ec2, instance) == {
        **before,
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
    }


@pytest.mark.parametrize(
    "options",
    [{"HttpPutResponseHopLimit": 0}, {"HttpPutResponseHopLimit": 65}, {"HttpTokens": "sometimes"}],
)
def test_metadata_options_out_of_range_are_refused(
    aws_sandbox: AwsSandbox, options: dict[str, Any]
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    instance = new_instance(ec2, HttpTokens="optional", HttpPutResponseHopLimit=2)
    before = metadata_options(ec2, instance)
    refused(
        ec2.modify_instance_metadata_options,
        400,
        "InvalidParameterValue",
        InstanceId=instance,
        **options,
    )
    assert metadata_options(ec2, instance) == before


def test_an_unknown_transit_gateway_is_refused(aws_sandbox: AwsSandbox) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    unknown = "tgw-0123456789abcdef0"
    refused(
        ec2.describe_transit_gateways,
        400,
        "InvalidTransitGatewayID.NotFound",
        TransitGatewayIds=[unknown],
    )
    refused(
        ec2.modify_transit_gateway,
        400,
        "InvalidTransitGatewayID.NotFound",
        TransitGatewayId=unknown,
        Options={"AutoAcceptSharedAttachments": "disable"},
    )


def test_modifying_one_transit_gateway_option_keeps_the_others(aws_sandbox: AwsSandbox) -> None:
    ec2 = aws_sandbox.admin_client("ec2")  # moto's own merge, as AWS changes only what is given
    gateway = ec2.create_transit_gateway(
        Options={"AutoAcceptSharedAttachments": "enable", "DnsSupport": "disable"}
    )["TransitGateway"]["TransitGatewayId"]
    ec2.modify_transit_gateway(
        TransitGatewayId=gateway, Options={"AutoAcceptSharedAttachments": "disable"}
    )
    options = ec2.describe_transit_gateways(TransitGatewayIds=[gateway])["TransitGateways"][0][
        "Options"
    ]
    assert options["AutoAcceptSharedAttachments"] == "disable"
    assert options["DnsSupport"] == "disable"
