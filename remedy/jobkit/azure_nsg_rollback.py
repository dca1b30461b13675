"""Put a network security group's rules back as a change record says they were.

A remediation by remedy/jobkit/azure_nsg.py records the NSG's rules before and after its PUT
(kind `azure-nsg-rules`, rules as `comparable()` keeps them). Rollback reads the NSG, and only
when its rules are still exactly the record's `after` does it PUT the `before` rules back, with
`If-Match` so that a change made in between is never overwritten (412: refused, nothing changed).
A 412 retry of the remediation prints a record per attempt: the last one of an NSG is its PUT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError

from remedy.jobkit import ChangedSince, RecordError, change
from remedy.jobkit.azure_nsg import RULES_KIND, comparable, put_if_unchanged
from remedy.jobkit.modes import of_kind

if TYPE_CHECKING:
    from azure.mgmt.network import NetworkManagementClient


def _names(rules: Sequence[dict[str, Any]]) -> set[str]:
    return {str(r.get("name")) for r in rules}


def rollback_nsg(
    network: NetworkManagementClient,
    resource_group: str,
    name: str,
    records: Sequence[dict[str, Any]],
) -> int:
    """Restore the NSG's rules as they were before the recorded change; return how many rules
    were put back, removed or restored. ChangedSince when the NSG is not as the job left it."""
    mine = [r for r in of_kind(list(records), RULES_KIND) if r["resource"] == name]
    if not mine:
        raise RecordError(f"no change record is about network security group {name}")
    last = mine[-1]
    document = network.network_security_groups.get(resource_group, name).as_dict()
    properties = document.setdefault("properties", {})
    now = comparable(properties.get("securityRules") or [])
    if now != last["after"]:
        differ = sorted(_names(now) ^ _names(last["after"])) or sorted(
            str(r["name"]) for r in now if r not in last["after"]
        )
        raise ChangedSince(
            f"{name} changed since the job restricted it (rules that differ: "
            f"{', '.join(differ) or 'their order'})"
        )
    before: list[dict[str, Any]] = last["before"]
    properties["securityRules"] = before
    try:
        put_if_unchanged(network, resource_group, name, document)
    except HttpResponseError as exc:
        if exc.status_code != 412:
            raise
        raise ChangedSince(
            f"{name} changed while it was being restored (412 on If-Match)"
        ) from None
    after_names = _names(last["after"])
    lines = [
        f"{name}: rule {r['name']} restored (rollback)" for r in before if r not in last["after"]
    ]
    lines += [
        f"{name}: removed rule {n} the job had added (rollback)"
        for n in sorted(after_names - _names(before))
    ]
    for line in lines:
        change(line)
    return len(lines)
