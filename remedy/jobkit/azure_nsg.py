"""Restrict what a network security group lets in from the internet, and nothing more.

A rule is *open* when it is an inbound Allow rule whose source (sourceAddressPrefix, or an entry
of sourceAddressPrefixes) is `*`, `Internet`, `0.0.0.0/0` or `::/0`. A job says what to take away
from an open rule through a `Restriction` (close tcp/<port>, or stop udp); this module plans and
applies it:

- every source of the rule is open: the rule is narrowed in place (same name, same priority,
  everything else kept), or removed when nothing would be left of it;
- the rule also has other sources (say `10.0.0.0/8` beside `0.0.0.0/0`): those keep the rule as it
  was, and the open sources move to a new rule `<name>-internet` holding what they may still
  reach, at a priority next to the original (p+1 or p-1, so no other rule comes between and the
  evaluation order is unchanged). If both neighbours are taken the job changes nothing and fails
  with a line saying so: that rule needs a person.

The NSG is changed by one read-modify-write: GET it, plan on the document, PUT it back with
`If-Match: <etag>`. If someone changed the NSG in between, Resource Manager answers 412 and the
job reads it again and re-plans (three attempts), so a concurrent change is never overwritten.
A PUT refused with 409 AnotherOperationInProgress is retried the same way after Retry-After (or
CONFLICT_WAIT_S); a 429 is retried by azure-core itself, after its Retry-After. An update whose
long-running operation ends Failed or Canceled is not retried: the job exits 1 with one ERROR
line. The CHANGE lines are printed once the PUT's operation Succeeded. Planning is pure (no Azure
call) and tested on its own. Plan mode prints the CHANGE lines after the GET and makes no PUT;
before each PUT a change record (kind `azure-nsg-rules`) keeps the rules as read and as written,
which remedy/jobkit/azure_nsg_rollback.py puts back.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.network.models import NetworkSecurityGroup

from remedy.jobkit import change, info, planning, record
from remedy.jobkit.azure import (
    CannotRemediate,
    OperationEnded,
    another_operation_in_progress,
    ended_operation,
    retry_after,
)

if TYPE_CHECKING:
    from azure.mgmt.network import NetworkManagementClient

OPEN_SOURCES = frozenset({"*", "internet", "0.0.0.0/0", "::/0"})
MIN_PORT, MAX_PORT = 0, 65535
MIN_PRIORITY, MAX_PRIORITY = 100, 4096
MAX_NAME = 80  # a security rule's name: 1-80 characters
ATTEMPTS = 3
RULES_KIND = "azure-nsg-rules"  # the change records' kind
#: How long to wait before re-reading an NSG that another operation is changing (409
#: AnotherOperationInProgress) when Resource Manager sends no Retry-After; at most MAX_WAIT_S.
CONFLICT_WAIT_S, MAX_WAIT_S = 2.0, 60.0

Rule = dict[str, Any]  # a securityRules item as Resource Manager returns it: name, properties


@dataclass(frozen=True)
class Narrowed:
    """What an open rule becomes for its open sources: new properties, or None (nothing left)."""

    properties: dict[str, Any] | None
    summary: str


#: Given an open rule's properties: None if the restriction has nothing to take from it.
Restriction = Callable[[dict[str, Any]], Narrowed | None]


def is_open(source: str) -> bool:
    return source.strip().lower() in OPEN_SOURCES


def _pair(props: dict[str, Any], single: str, many: str) -> list[str]:
    value = props.get(single)
    if value:
        return [str(value)]
    return [str(v) for v in props.get(many) or []]


def sources(props: dict[str, Any]) -> list[str]:
    return _pair(props, "sourceAddressPrefix", "sourceAddressPrefixes")


def port_ranges(props: dict[str, Any]) -> list[str]:
    return _pair(props, "destinationPortRange", "destinationPortRanges")


def _is_prefix(value: str) -> bool:
    """An IP address or CIDR block, as opposed to `*` or a service tag (`Internet`...)."""
    return any(c.isdigit() for c in value) and all(c in "0123456789abcdefABCDEF.:/" for c in value)


def _set_pair(
    props: dict[str, Any], single: str, many: str, values: list[str], force_single: bool = False
) -> None:
    """One value where the rule used the single field, else the list (Azure allows one of them)."""
    if len(values) == 1 and (props.get(single) or not props.get(many) or force_single):
        props[single] = values[0]
        props[many] = []
    else:
        props.pop(single, None)
        props[many] = values


def set_sources(props: dict[str, Any], values: list[str]) -> None:
    # `*` and service tags go in the single field: Azure refuses them in sourceAddressPrefixes
    lone_tag = len(values) == 1 and not _is_prefix(values[0])
    _set_pair(props, "sourceAddressPrefix", "sourceAddressPrefixes", values, lone_tag)


def set_port_ranges(props: dict[str, Any], values: list[str]) -> None:
    _set_pair(props, "destinationPortRange", "destinationPortRanges", values)


def parse_range(text: str) -> tuple[int, int] | None:
    """`*` -> (0, 65535), `22` -> (22, 22), `20-25` -> (20, 25); None when it is neither."""
    text = text.strip()
    if text == "*":
        return MIN_PORT, MAX_PORT
    low, dash, high = text.partition("-")
    try:
        bounds = (int(low), int(high)) if dash else (int(low), int(low))
    except ValueError:
        return None
    return bounds if MIN_PORT <= bounds[0] <= bounds[1] <= MAX_PORT else None


def format_range(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def without_port(ranges: Sequence[str], port: int) -> list[str]:
    """The ranges with `port` cut out: 20-25 closing 22 -> 20-21, 23-25; `*` -> 0-21, 23-65535."""
    kept: list[str] = []
    for text in ranges:
        bounds = parse_range(text)
        if bounds is None or not bounds[0] <= port <= bounds[1]:
            kept.append(text)
            continue
        low, high = bounds
        kept += [format_range(a, b) for a, b in ((low, port - 1), (port + 1, high)) if a <= b]
    return kept


def _is_inbound_allow(props: dict[str, Any]) -> bool:
    return (
        str(props.get("direction", "")).lower() == "inbound"
        and str(props.get("access", "")).lower() == "allow"
    )


def close_tcp_port(port: int) -> Restriction:
    """Tcp and `*` rules whose destination ports cover `port` lose it (udp/<port> on a `*` rule
    goes with it: a port range cannot be per protocol)."""

    def narrow(props: dict[str, Any]) -> Narrowed | None:
        protocol = str(props.get("protocol", ""))
        if not _is_inbound_allow(props) or protocol.lower() not in ("tcp", "*"):
            return None
        ranges = port_ranges(props)
        kept = without_port(ranges, port)
        if kept == ranges:
            return None
        if not kept:
            return Narrowed(None, f"port {port} was all it allowed")
        narrowed = copy.deepcopy(props)
        set_port_ranges(narrowed, kept)
        return Narrowed(narrowed, f"destination ports {','.join(ranges)} -> {','.join(kept)}")

    return narrow


def stop_udp(props: dict[str, Any]) -> Narrowed | None:
    """Udp rules go; `*` rules become Tcp (udp, icmp, esp and ah no longer allowed)."""
    protocol = str(props.get("protocol", ""))
    if not _is_inbound_allow(props):
        return None
    if protocol.lower() == "udp":
        return Narrowed(None, "it allowed udp")
    if protocol == "*":
        narrowed = copy.deepcopy(props)
        narrowed["protocol"] = "Tcp"
        return Narrowed(narrowed, "protocol * -> Tcp (udp, icmp, esp and ah no longer allowed)")
    return None


def describe(props: dict[str, Any]) -> str:
    return (
        f"{props.get('protocol')} {','.join(port_ranges(props)) or '*'} "
        f"from {','.join(sources(props))}"
    )


def _free_neighbour(priority: int, direction: str, rules: Sequence[Rule]) -> int | None:
    taken = {
        r["properties"].get("priority")
        for r in rules
        if str(r["properties"].get("direction", "")).lower() == direction.lower()
    }
    for candidate in (priority + 1, priority - 1):
        if MIN_PRIORITY <= candidate <= MAX_PRIORITY and candidate not in taken:
            return candidate
    return None


def _unique_name(name: str, rules: Sequence[Rule]) -> str:
    """`<name>-internet` (then `-2`, `-3`...), the original name cut so the whole fits in
    MAX_NAME: cutting the end instead could leave `<name>-`, and Azure refuses a rule name that
    does not end with a letter, digit or underscore (InvalidResourceName; see sandbox/nsg_rules.py
    for the documented rule)."""
    names = {str(r.get("name", "")).lower() for r in rules}
    n = 1
    while True:
        suffix = "-internet" if n == 1 else f"-internet-{n}"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
        if candidate.lower() not in names:
            return candidate
        n += 1


def plan(nsg: str, rules: Sequence[Rule], restriction: Restriction) -> tuple[list[Rule], list[str]]:
    """The NSG's rules after the restriction, and one change line per change (pure)."""
    result: list[Rule] = [copy.deepcopy(r) for r in rules]
    changes: list[str] = []
    for rule in list(result):
        props = rule.get("properties") or {}
        name = rule.get("name", "?")
        narrowed = restriction(props)
        all_sources = sources(props)
        open_sources = [s for s in all_sources if is_open(s)]
        if narrowed is None or not open_sources:
            continue
        others = [s for s in all_sources if not is_open(s)]
        if not others:
            if narrowed.properties is None:
                result.remove(rule)
                changes.append(
                    f"{nsg}: removed rule {name} ({describe(props)}): {narrowed.summary}"
                )
            else:
                rule["properties"] = narrowed.properties
                changes.append(f"{nsg}: rule {name} ({describe(props)}): {narrowed.summary}")
            continue
        # mixed sources: the others keep the rule as it is; the open ones get a rule of their own
        addition: Rule | None = None
        if narrowed.properties is not None:
            priority = _free_neighbour(
                int(props.get("priority", 0)), str(props.get("direction", "")), result
            )
            if priority is None:
                raise CannotRemediate(
                    f"{nsg}: rule {name} ({describe(props)}) lets in {','.join(open_sources)} and "
                    f"{','.join(others)}; splitting it needs a free priority next to "
                    f"{props.get('priority')} and both neighbours are taken: split it by hand"
                )
            new_props = copy.deepcopy(narrowed.properties)
            set_sources(new_props, open_sources)
            new_props["priority"] = priority
            new_props["description"] = f"internet part of {name} (remedy)"[:140]
            addition = {"name": _unique_name(name, result), "properties": new_props}
        kept = copy.deepcopy(props)
        set_sources(kept, others)
        rule["properties"] = kept
        changes.append(
            f"{nsg}: rule {name} ({describe(props)}): sources {','.join(open_sources)} removed, "
            f"{','.join(others)} kept"
        )
        if addition is not None:
            result.insert(result.index(rule) + 1, addition)
            changes.append(
                f"{nsg}: added rule {addition['name']} (priority {addition['properties']['priority']}"
                f", {describe(addition['properties'])}): {narrowed.summary}"
            )
    return result, changes


def comparable(rules: Sequence[Rule]) -> list[Rule]:
    """Rules as a change record keeps them: name and properties, without what Resource Manager
    fills in (id, etag, provisioningState) or leaves empty, sorted by name."""
    kept = []
    for rule in rules:
        props = rule.get("properties") or {}
        kept.append(
            {
                "name": rule.get("name"),
                "properties": {
                    k: v
                    for k, v in sorted(props.items())
                    if k != "provisioningState" and v not in (None, [], "")
                },
            }
        )
    return sorted(kept, key=lambda r: str(r["name"]).lower())


def still_open(
    network: NetworkManagementClient, resource_group: str, name: str, restriction: Restriction
) -> list[str]:
    """What the restriction would still change on the NSG as it is now (empty: compliant)."""
    document = network.network_security_groups.get(resource_group, name).as_dict()
    rules = (document.get("properties") or {}).get("securityRules") or []
    return [f"still to do: {line}" for line in plan(name, rules, restriction)[1]]


def put_if_unchanged(
    network: NetworkManagementClient, resource_group: str, name: str, document: dict[str, Any]
) -> None:
    """PUT the whole NSG back with `If-Match: <the etag it was read with>` and wait for the
    operation: Resource Manager answers 412 if someone changed it since."""
    etag = document.get("etag")
    network.network_security_groups.begin_create_or_update(
        resource_group,
        name,
        NetworkSecurityGroup(document),
        headers={"If-Match": etag} if etag else {},
    ).result()


def restrict_nsg(
    network: NetworkManagementClient,
    resource_group: str,
    name: str,
    restriction: Restriction,
    what: str,
) -> int:
    """Apply the restriction to one NSG; return how many changes were made.

    `what` completes the no-op line: "ok: <nsg> has no inbound rule that lets the internet reach
    <what>".
    """
    for attempt in range(1, ATTEMPTS + 1):
        document = network.network_security_groups.get(resource_group, name).as_dict()
        properties = document.setdefault("properties", {})
        rules, changes = plan(name, properties.get("securityRules") or [], restriction)
        if not changes:
            info(f"ok: {name} has no inbound rule that lets the internet reach {what}")
            return 0
        if planning():
            for line in changes:
                change(line)
            return len(changes)
        record(
            name, RULES_KIND, comparable(properties.get("securityRules") or []), comparable(rules)
        )
        properties["securityRules"] = rules
        etag = document.get("etag")
        try:
            put_if_unchanged(network, resource_group, name, document)
        except HttpResponseError as exc:
            ended = ended_operation(exc)
            if ended is not None:  # Resource Manager took the PUT, and then it did not succeed
                raise OperationEnded(
                    f"the update of {name} {ended}; Azure did not report it applied: "
                    "no change is claimed (run the job again once the NSG is Succeeded)"
                ) from exc
            if attempt == ATTEMPTS:
                raise
            if exc.status_code == 412:
                info(f"{name} changed since it was read (412 on If-Match {etag}); reading it again")
                continue
            if another_operation_in_progress(exc):
                wait = retry_after(exc, CONFLICT_WAIT_S, MAX_WAIT_S)
                info(
                    f"{name} is being changed by another operation (409 "
                    f"AnotherOperationInProgress); reading it again in {wait:g} s"
                )
                time.sleep(wait)
                continue
            raise
        for line in changes:
            change(line)
        return len(changes)
    raise AssertionError("unreachable")  # the last attempt returns or raises
