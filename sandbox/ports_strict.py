"""What EC2 security groups do and moto (5.x) does not, for the calls the port jobs and the
default-security-group job make.

Installed into the sandbox's moto server by sandbox/moto_server.py:

- AuthorizeSecurityGroupIngress / AuthorizeSecurityGroupEgress check each tcp or udp permission's
  ports, as EC2 does (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpPermission.html:
  "If the protocol is TCP or UDP, this is the start of the port range" / "the end of the port
  range"; ports are 0-65535):
  - no FromPort or no ToPort: 400 InvalidParameterValue, "Invalid value 'Must specify both from
    and to ports with TCP/UDP.' for portRange." (moto answers a 500 instead);
  - a port outside 0-65535: 400 InvalidPermission.Malformed, "TCP/UDP port (70000) out of range"
    (moto stores it);
  - FromPort above ToPort: 400 InvalidParameterValue (moto stores the empty range). EC2 documents
    no message for this one; the sandbox says "Invalid TCP/UDP port range (30-20)".
  A job that splits a range around a port by one too many or too few is caught here.
- RevokeSecurityGroupEgress revokes the IPv6 ranges it is given. moto drops them silently when the
  VPC has no IPv6 block (though it accepted them from AuthorizeSecurityGroupEgress) and answers
  success with the rule still there; EC2 revokes the rule
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RevokeSecurityGroupEgress.html:
  "Each rule consists of the protocol and the IPv4 or IPv6 CIDR range or destination security
  group"), or answers InvalidPermission.NotFound for one the group does not have.
- A VPC's default security group gets the inbound rule AWS gives it: all traffic from the group
  itself (https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html, "Default
  security group rules": inbound, source the security group's own ID, all traffic). moto creates
  only the outbound rule, so an EC2.2 fix would find less to revoke than on AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from moto.ec2.exceptions import EC2ClientError, InvalidPermissionNotFoundError
from moto.ec2.models.security_groups import SecurityGroup, SecurityGroupBackend

PORT_PROTOCOLS = frozenset({"tcp", "udp", "6", "17"})
MAX_PORT = 65535


def check_ports(ip_protocol: Any, from_port: Any, to_port: Any) -> None:
    """EC2ClientError (EC2's code and message) for a tcp/udp permission's bad ports."""
    if str(ip_protocol).lower() not in PORT_PROTOCOLS:
        return
    if from_port in (None, "") or to_port in (None, ""):
        raise EC2ClientError(
            "InvalidParameterValue",
            "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.",
        )
    low, high = int(from_port), int(to_port)
    for port in (low, high):
        if not 0 <= port <= MAX_PORT:
            raise EC2ClientError(
                "InvalidPermission.Malformed", f"TCP/UDP port ({port}) out of range"
            )
    if low > high:
        raise EC2ClientError("InvalidParameterValue", f"Invalid TCP/UDP port range ({low}-{high})")


def _checked(authorize: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(authorize)
    def wrapper(
        self: SecurityGroupBackend,
        group_name_or_id: str,
        ip_protocol: str,
        from_port: str,
        to_port: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        check_ports(ip_protocol, from_port, to_port)
        return authorize(self, group_name_or_id, ip_protocol, from_port, to_port, *args, **kwargs)

    setattr(wrapper, "_remedy_strict", True)  # noqa: B010
    return wrapper


def _revokes_ipv6(revoke: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(revoke)
    def wrapper(self: SecurityGroupBackend, **kwargs: Any) -> Any:
        ranges = list(kwargs.get("ip_ranges") or [])
        v6 = [r for r in ranges if isinstance(r, dict) and "CidrIpv6" in r]
        group = self.get_security_group_by_name_or_id(
            kwargs["group_name_or_id"], kwargs.get("vpc_id")
        )
        if not v6 or group is None or kwargs.get("security_rule_ids"):
            return revoke(self, **kwargs)
        found = []
        for rule in self._iterate_security_rules(
            kwargs["ip_protocol"],
            group.group_id,
            kwargs["from_port"],
            kwargs["to_port"],
            v6,
            [],
            [],
            is_egress=True,
        ):
            if rule not in group.egress_rules:
                raise InvalidPermissionNotFoundError()
            found.append(group.egress_rules[group.egress_rules.index(rule)].id)
        result = revoke(self, **{**kwargs, "ip_ranges": [r for r in ranges if r not in v6]})
        group.egress_rules = [r for r in group.egress_rules if r.id not in found]
        return result

    setattr(wrapper, "_remedy_strict", True)  # noqa: B010
    return wrapper


def _with_default_ingress(create: Callable[..., SecurityGroup]) -> Callable[..., SecurityGroup]:
    @wraps(create)
    def wrapper(self: SecurityGroupBackend, *args: Any, **kwargs: Any) -> SecurityGroup:
        group = create(self, *args, **kwargs)
        if group.is_default and group.vpc_id and not group.ingress_rules:
            self.authorize_security_group_ingress(
                group.id,
                "-1",
                None,  # type: ignore[arg-type]
                None,  # type: ignore[arg-type]
                [],
                source_groups=[{"GroupId": group.id, "UserId": group.owner_id}],
                vpc_id=group.vpc_id,
            )
        return group

    setattr(wrapper, "_remedy_strict", True)  # noqa: B010
    return wrapper


def install() -> None:
    """Patch moto's security-group backend (once: a second call changes nothing)."""
    backend: Any = SecurityGroupBackend
    for name in ("authorize_security_group_ingress", "authorize_security_group_egress"):
        if not getattr(getattr(backend, name), "_remedy_strict", False):
            setattr(backend, name, _checked(getattr(backend, name)))
    if not getattr(backend.revoke_security_group_egress, "_remedy_strict", False):
        backend.revoke_security_group_egress = _revokes_ipv6(backend.revoke_security_group_egress)
    if not getattr(backend.create_security_group, "_remedy_strict", False):
        backend.create_security_group = _with_default_ingress(backend.create_security_group)
