"""What Resource Manager checks in a network security group's rules before it takes a PUT.

Each check cites the page that states it; the error codes are those Azure answers (400 unless
said). A whole-NSG PUT and a single rule's PUT are checked the same way, on the NSG's rules as
they would be after the write.

- priority 100-4096, unique per direction (SecurityRuleInvalidPriority, SecurityRuleConflict):
  https://learn.microsoft.com/en-us/azure/virtual-network/network-security-groups-overview#security-rules
- name 1-80 characters, letters, digits, `_`, `.`, `-`, starting with a letter or digit and ending
  with a letter, digit or `_` (InvalidResourceName):
  https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftnetwork
- protocol one of Tcp, Udp, Icmp, Esp, Ah, `*`; access Allow/Deny; direction Inbound/Outbound
  (InvalidRequestFormat: the body does not parse into the enum):
  https://learn.microsoft.com/en-us/rest/api/network/security-rules/create-or-update#securityruleprotocol
- ports: `*`, an integer or `low-high` within 0-65535 (SecurityRuleInvalidPortRange), same page;
- a single-value field or its list, not both; `*` and service tags only in the single-value
  fields (SecurityRuleParameterContainsUnsupportedValue); no IPv4 and IPv6 in one rule
  (ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies): "augmented security rules"
  and "service tags" in the overview page above;
- the default rules are Azure's, present on every NSG and not writable: "Default security rules"
  in the overview page above ("You can't remove the default rules").
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

from sandbox.arm_paths import ArmError

MIN_PRIORITY, MAX_PRIORITY = 100, 4096
PROTOCOLS = frozenset({"tcp", "udp", "icmp", "esp", "ah", "*"})
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")
_ADDRESS_PAIRS = (
    ("sourceAddressPrefix", "sourceAddressPrefixes"),
    ("destinationAddressPrefix", "destinationAddressPrefixes"),
)
_PORT_PAIRS = (
    ("sourcePortRange", "sourcePortRanges"),
    ("destinationPortRange", "destinationPortRanges"),
)


def _rule(direction: str, priority: int, access: str, name: str, source: str, dest: str) -> Any:
    return {
        "name": name,
        "properties": {
            "description": f"Azure default rule {name}",
            "protocol": "*",
            "sourcePortRange": "*",
            "destinationPortRange": "*",
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": dest,
            "access": access,
            "priority": priority,
            "direction": direction,
            "sourcePortRanges": [],
            "destinationPortRanges": [],
            "sourceAddressPrefixes": [],
            "destinationAddressPrefixes": [],
        },
    }


#: The six rules Azure puts in every NSG (overview page, "Default security rules").
DEFAULT_RULES = (
    _rule("Inbound", 65000, "Allow", "AllowVnetInBound", "VirtualNetwork", "VirtualNetwork"),
    _rule("Inbound", 65001, "Allow", "AllowAzureLoadBalancerInBound", "AzureLoadBalancer", "*"),
    _rule("Inbound", 65500, "Deny", "DenyAllInBound", "*", "*"),
    _rule("Outbound", 65000, "Allow", "AllowVnetOutBound", "VirtualNetwork", "VirtualNetwork"),
    _rule("Outbound", 65001, "Allow", "AllowInternetOutBound", "*", "Internet"),
    _rule("Outbound", 65500, "Deny", "DenyAllOutBound", "*", "*"),
)

#: What a PUT may carry back from a GET but never changes: Azure sets these itself.
READ_ONLY = ("defaultSecurityRules", "subnets", "networkInterfaces", "flowLogs", "resourceGuid")


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _is_prefix(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _check_addresses(rule_id: str, props: dict[str, Any]) -> None:
    families: set[int] = set()
    for single, many in _ADDRESS_PAIRS:
        one, listed = props.get(single), props.get(many) or []
        if one and listed:
            raise _bad(
                "SecurityRuleParameterContainsUnsupportedValue",
                f"Security rule {rule_id} specifies both {single} and {many}; only one of them "
                "may be set.",
            )
        for value in listed:
            if not _is_prefix(str(value)):
                raise _bad(
                    "SecurityRuleParameterContainsUnsupportedValue",
                    f"Security rule parameter {many[0].upper() + many[1:]} for rule with Id "
                    f"{rule_id} cannot specify existing VIRTUALNETWORK, INTERNET, "
                    f"AZURELOADBALANCER, '*' or system tags. Unsupported value used: {value}.",
                )
        values = [str(one)] if one else [str(v) for v in listed]
        families |= {ipaddress.ip_network(v, strict=False).version for v in values if _is_prefix(v)}
    if len(families) > 1:
        raise _bad(
            "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies",
            f"Security rule {rule_id} contains IP addresses or prefixes that belong to different "
            "address families. All IP addresses or prefixes in the resource should belong to the "
            "same address family.",
        )


def _port_ok(value: str) -> bool:
    if value == "*":
        return True
    low, dash, high = value.partition("-")
    if not low.isdigit() or (dash and not high.isdigit()):
        return False
    bounds = (int(low), int(high)) if dash else (int(low), int(low))
    return 0 <= bounds[0] <= bounds[1] <= 65535


def _check_ports(props: dict[str, Any]) -> None:
    for single, many in _PORT_PAIRS:
        values = ([props[single]] if props.get(single) else []) + list(props.get(many) or [])
        for value in values:
            if not _port_ok(str(value)):
                raise _bad(
                    "SecurityRuleInvalidPortRange",
                    f"Security rule has invalid Port range. Value provided: {value}. Value should "
                    "be an integer OR integer range with '-' delimiter. Valid range 0-65535.",
                )


def _enum(rule_id: str, field: str, value: Any, allowed: frozenset[str]) -> None:
    if str(value).lower() not in allowed:
        raise _bad(
            "InvalidRequestFormat",
            f"Cannot parse the request. Value '{value}' of {field} of {rule_id} is not one of "
            f"{', '.join(sorted(allowed))}.",
        )


def check_rules(nsg_id: str, rules: Any) -> None:
    """Refuse, as Azure does, a rule set an NSG cannot hold (ArmError 400)."""
    if not isinstance(rules, list):
        raise _bad("InvalidRequestFormat", "Cannot parse the request: securityRules is not a list.")
    seen: dict[tuple[str, int], str] = {}
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("properties"), dict):
            raise _bad("InvalidRequestFormat", "Cannot parse the request: a rule is not an object.")
        name = str(rule.get("name") or "")
        rule_id = f"{nsg_id}/securityRules/{name}"
        if not _NAME.match(name):
            raise _bad(
                "InvalidResourceName",
                f"Resource name {name} is invalid. The name can be up to 80 characters long. It "
                "must begin with a word character, and it must end with a word character or with "
                "'_'. The name may contain word characters or '.', '-', '_'.",
            )
        props = rule["properties"]
        _enum(rule_id, "protocol", props.get("protocol"), PROTOCOLS)
        _enum(rule_id, "access", props.get("access"), frozenset({"allow", "deny"}))
        direction = str(props.get("direction"))
        _enum(rule_id, "direction", direction, frozenset({"inbound", "outbound"}))
        priority = props.get("priority")
        if not isinstance(priority, int) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise _bad(
                "SecurityRuleInvalidPriority",
                f"Security rule has invalid Priority. Value provided: {priority} Allowed range "
                f"{MIN_PRIORITY}-{MAX_PRIORITY}.",
            )
        key = (direction.lower(), priority)
        if key in seen:
            raise _bad(
                "SecurityRuleConflict",
                f"Security rule {seen[key]} conflicts with rule {name}. Rules cannot have the "
                "same Priority and Direction. To learn more, see aka.ms/nsgrules.",
            )
        seen[key] = name
        _check_ports(props)
        _check_addresses(rule_id, props)


def application_security_groups(rules: list[Any]) -> list[str]:
    """The ids of the application security groups the rules name (for the linked check)."""
    found: list[str] = []
    for rule in rules:
        props = rule.get("properties") or {}
        for field in ("sourceApplicationSecurityGroups", "destinationApplicationSecurityGroups"):
            found += [str(g.get("id")) for g in props.get(field) or [] if isinstance(g, dict)]
    return found


def settle(document: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Put back what the caller may not write: the default rules (always Azure's six) and the
    associations Azure keeps (subnets, NICs: the current ones, whatever the PUT says)."""
    props = document.setdefault("properties", {})
    old = (current or {}).get("properties") or {}
    for key in READ_ONLY:
        props.pop(key, None)
        if key in old and key != "defaultSecurityRules":
            props[key] = copy.deepcopy(old[key])
    props["defaultSecurityRules"] = copy.deepcopy(list(DEFAULT_RULES))
