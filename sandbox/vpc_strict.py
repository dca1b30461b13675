"""What EC2 refuses (or does) and moto (5.x) does not, for the calls the network jobs make.

Installed into the sandbox's moto server by sandbox/moto_server.py:

- CreateNetworkAclEntry / ReplaceNetworkAclEntry with a RuleNumber outside 1-32766: 400
  InvalidParameterValue ("Constraints: Positive integer from 1 to 32766. The range 32767 to 65535
  is reserved for internal use",
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html);
- the same calls for protocol 6 (TCP) or 17 (UDP) without a PortRange: 400 MissingParameter
  ("PortRange ... Required if specifying protocol 6 (TCP) or 17 (UDP)", same page);
- a protocol given by name (`tcp`, `udp`, `icmp`, `all`) is stored and described by its number
  (`6`, `17`, `1`, `-1`), as EC2 answers DescribeNetworkAcls (the Protocol field is "the protocol
  number", https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NetworkAclEntry.html);
  moto keeps the name;
- DeleteNetworkAclEntry of an entry that does not exist: 400 InvalidNetworkAclEntry.NotFound
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html); moto fails
  with a 500;
- DescribeNetworkAcls of an id that does not exist: 400 InvalidNetworkAclID.NotFound (same error
  list); moto answers InvalidRouteTableID.NotFound;
- ModifyInstanceMetadataOptions keeps every option it is not given ("If no parameter is
  specified, the existing state is maintained",
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceMetadataOptions.html);
  moto resets them (the hop limit falls back to 1). A hop limit outside 1-64, or an HttpTokens /
  HttpEndpoint value that is not one of the documented ones: 400 InvalidParameterValue (same page:
  "Possible values: Integers from 1 to 64", "optional | required", "disabled | enabled");
- DescribeTransitGateways / ModifyTransitGateway of an id that does not exist: 400
  InvalidTransitGatewayID.NotFound (the EC2 error list above); moto describes nothing, or fails
  with a 500.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError, InvalidNetworkAclIdError, MissingParameterError
from moto.ec2.models.instances import InstanceBackend, MetadataOptions
from moto.ec2.models.network_acls import NetworkAclBackend
from moto.ec2.models.transit_gateway import TransitGatewayBackend
from moto.ec2.responses.network_acls import NetworkACLs

MIN_RULE, MAX_RULE = 1, 32766
PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "all": "-1"}
PORTED_PROTOCOLS = ("6", "17")


class InvalidParameterValue(EC2ClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValue", message)


class TransitGatewayNotFound(EC2ClientError):
    def __init__(self, gateway_id: str) -> None:
        super().__init__(
            "InvalidTransitGatewayID.NotFound",
            f"Transit Gateway {gateway_id} was deleted or does not exist.",
        )


class NetworkAclEntryNotFound(EC2ClientError):
    def __init__(self, acl_id: str, rule_number: int, egress: bool) -> None:
        way = "egress" if egress else "ingress"
        super().__init__(
            "InvalidNetworkAclEntry.NotFound",
            f"The network acl entry identified by {rule_number} ({way}) does not exist in {acl_id}",
        )


def protocol_number(protocol: Any) -> str:
    text = str(protocol).strip().lower()
    return PROTOCOL_NUMBERS.get(text, text)


def _check_entry_request(response: NetworkACLs) -> None:
    """The checks EC2 makes of an entry a caller creates or replaces (not moto's own defaults)."""
    number = response._get_int_param("RuleNumber")
    if number is None or not MIN_RULE <= number <= MAX_RULE:
        raise InvalidParameterValue(
            f"Invalid value '{number}' for ruleNumber: it must be from {MIN_RULE} to {MAX_RULE}"
        )
    protocol = protocol_number(response._get_param("Protocol"))
    if protocol in PORTED_PROTOCOLS and (
        response._get_param("PortRange.From") is None or response._get_param("PortRange.To") is None
    ):
        raise MissingParameterError("portRange")


_create_entry_response = NetworkACLs.create_network_acl_entry
_replace_entry_response = NetworkACLs.replace_network_acl_entry
_create_entry = NetworkAclBackend.create_network_acl_entry
_describe_acls = NetworkAclBackend.describe_network_acls
_describe_gateways = TransitGatewayBackend.describe_transit_gateways
_modify_gateway = TransitGatewayBackend.modify_transit_gateway


def create_entry_response(self: NetworkACLs) -> Any:
    _check_entry_request(self)
    return _create_entry_response(self)


def replace_entry_response(self: NetworkACLs) -> Any:
    _check_entry_request(self)
    return _replace_entry_response(self)


def create_network_acl_entry(self: NetworkAclBackend, **kwargs: Any) -> Any:
    kwargs["protocol"] = protocol_number(kwargs["protocol"])
    return _create_entry(self, **kwargs)


def delete_network_acl_entry(
    self: NetworkAclBackend, network_acl_id: str, rule_number: int, egress: bool
) -> Any:
    acl = self.get_network_acl(network_acl_id)
    entry = next(
        (
            e
            for e in acl.network_acl_entries
            if e.egress == egress and int(e.rule_number) == int(rule_number)
        ),
        None,
    )
    if entry is None:
        raise NetworkAclEntryNotFound(network_acl_id, rule_number, egress)
    acl.network_acl_entries.remove(entry)
    return entry


def describe_network_acls(
    self: NetworkAclBackend, network_acl_ids: list[str] | None = None, filters: Any = None
) -> Any:
    for acl_id in network_acl_ids or []:
        if acl_id not in self.network_acls:
            raise InvalidNetworkAclIdError(acl_id)
    return _describe_acls(self, network_acl_ids, filters)


def modify_instance_metadata_options(
    self: InstanceBackend,
    instance_id: str,
    http_tokens: str | None = None,
    hop_limit: int | None = None,
    http_endpoint: str | None = None,
    dry_run: bool | None = False,
    http_protocol: str | None = None,
    metadata_tags: str | None = None,
) -> MetadataOptions:
    instance = self.get_instance(instance_id)
    if http_tokens is not None and http_tokens not in ("optional", "required"):
        raise InvalidParameterValue(f"Invalid value '{http_tokens}' for HttpTokens")
    if http_endpoint is not None and http_endpoint not in ("enabled", "disabled"):
        raise InvalidParameterValue(f"Invalid value '{http_endpoint}' for HttpEndpoint")
    if hop_limit is not None and not 1 <= int(hop_limit) <= 64:
        raise InvalidParameterValue(
            f"Invalid value '{hop_limit}' for HttpPutResponseHopLimit: it must be from 1 to 64"
        )
    now = instance.metadata_options
    options = MetadataOptions(
        {
            "State": "applied",
            "HttpTokens": http_tokens if http_tokens is not None else now.http_tokens,
            "HttpPutResponseHopLimit": (
                hop_limit if hop_limit is not None else now.http_put_response_hop_limit
            ),
            "HttpEndpoint": http_endpoint if http_endpoint is not None else now.http_endpoint,
            "HttpProtocolIpv6": (
                http_protocol if http_protocol is not None else now.http_protocol_ipv6
            ),
            "InstanceMetadataTags": (
                metadata_tags if metadata_tags is not None else now.instance_metadata_tags
            ),
        }
    )
    instance.metadata_options = options
    return options


def _known_gateway(backend: TransitGatewayBackend, gateway_id: str) -> None:
    if gateway_id not in backend.transit_gateways:
        raise TransitGatewayNotFound(gateway_id)


def describe_transit_gateways(
    self: TransitGatewayBackend, filters: Any, transit_gateway_ids: list[str] | None
) -> Any:
    for gateway_id in transit_gateway_ids or []:
        _known_gateway(self, gateway_id)
    return _describe_gateways(self, filters, transit_gateway_ids)


def modify_transit_gateway(
    self: TransitGatewayBackend, transit_gateway_id: str, **kwargs: Any
) -> Any:
    _known_gateway(self, transit_gateway_id)
    return _modify_gateway(self, transit_gateway_id, **kwargs)


def install() -> None:
    NetworkACLs.create_network_acl_entry = create_entry_response  # type: ignore[method-assign]
    NetworkACLs.replace_network_acl_entry = replace_entry_response  # type: ignore[method-assign]
    NetworkAclBackend.create_network_acl_entry = create_network_acl_entry  # type: ignore[method-assign,assignment]
    NetworkAclBackend.delete_network_acl_entry = delete_network_acl_entry  # type: ignore[method-assign]
    NetworkAclBackend.describe_network_acls = describe_network_acls  # type: ignore[method-assign]
    InstanceBackend.modify_instance_metadata_options = modify_instance_metadata_options  # type: ignore[method-assign]
    TransitGatewayBackend.describe_transit_gateways = describe_transit_gateways  # type: ignore[method-assign]
    TransitGatewayBackend.modify_transit_gateway = modify_transit_gateway  # type: ignore[method-assign,assignment]
