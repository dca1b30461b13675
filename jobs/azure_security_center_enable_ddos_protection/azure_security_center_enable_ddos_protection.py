"""Protect one virtual network with a DDoS protection plan (Azure DDoS Network Protection).

ObjectId: the virtual network's name; its subscription and resource group come from the
ObjectChain. Parameter `ddos_protection_plan_id`: the plan's resource id; empty (the default)
uses the subscription's only DDoS protection plan, and fails when it has none or several.

One read-modify-write of the whole virtual network: GET it, set `enableDdosProtection: true` and
`ddosProtectionPlan: {id}`, PUT it back with `If-Match: <etag>`, keeping its address space,
subnets, peerings, DNS servers and tags as read. A 412 (changed since read), or a 409
AnotherOperationInProgress after its Retry-After, re-reads and retries: three attempts in all. A
network already protected (enableDdosProtection true and a plan) is left as it is, whatever plan.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.network.models import VirtualNetwork

from remedy import jobkit
from remedy.jobkit import ChangedSince, RecordError, azure, change, info, planning, record
from remedy.jobkit.azure import (
    CannotRemediate,
    OperationEnded,
    another_operation_in_progress,
    ended_operation,
    retry_after,
)
from remedy.jobkit.modes import of_kind

if TYPE_CHECKING:
    from azure.mgmt.network import NetworkManagementClient

KIND = "azure-vnet-ddos"  # the change records' kind
ATTEMPTS = 3
#: A 409 AnotherOperationInProgress without Retry-After waits this long (at most MAX_WAIT_S),
#: as remedy/jobkit/azure_nsg.py does (not imported: its NSG calls are not this job's).
CONFLICT_WAIT_S, MAX_WAIT_S = 2.0, 60.0


def protection(document: dict[str, Any]) -> dict[str, Any]:
    """What the job changes of a virtual network: enableDdosProtection and the plan's id."""
    props = document.get("properties") or {}
    plan = props.get("ddosProtectionPlan") or {}
    return {
        "enableDdosProtection": bool(props.get("enableDdosProtection")),
        "ddosProtectionPlan": plan.get("id") or None,
    }


def protected(state: dict[str, Any]) -> bool:
    return bool(state["enableDdosProtection"] and state["ddosProtectionPlan"])


def chosen_plan(network: NetworkManagementClient, finding: jobkit.Finding) -> str:
    """The plan to attach: the parameter, else the subscription's only plan."""
    given = str(finding.parameters.get("ddos_protection_plan_id") or "").strip()
    if given:
        return given
    plans = sorted(str(p.id) for p in network.ddos_protection_plans.list())
    if len(plans) != 1:
        found = f"{len(plans)} ({', '.join(plans)})" if plans else "none"
        raise CannotRemediate(
            f"no ddos_protection_plan_id given and subscription {finding.subscription_id} has "
            f"{found} DDoS protection plans: say which plan protects {finding.object_id}"
        )
    return plans[0]


def put_if_unchanged(
    network: NetworkManagementClient, resource_group: str, name: str, document: dict[str, Any]
) -> None:
    """PUT the whole virtual network back with `If-Match: <the etag it was read with>`."""
    etag = document.get("etag")
    network.virtual_networks.begin_create_or_update(
        resource_group,
        name,
        VirtualNetwork(document),
        headers={"If-Match": etag} if etag else {},
    ).result()


def apply(document: dict[str, Any], state: dict[str, Any]) -> None:
    props = document.setdefault("properties", {})
    props["enableDdosProtection"] = state["enableDdosProtection"]
    if state["ddosProtectionPlan"]:
        props["ddosProtectionPlan"] = {"id": state["ddosProtectionPlan"]}
    else:
        props.pop("ddosProtectionPlan", None)


def remediate(finding: jobkit.Finding) -> None:
    network = azure.network_client(finding)
    group, name = finding.resource_group, finding.object_id
    for attempt in range(1, ATTEMPTS + 1):
        document = network.virtual_networks.get(group, name).as_dict()
        before = protection(document)
        if protected(before):
            info(f"ok: {name} is protected by DDoS protection plan {before['ddosProtectionPlan']}")
            return
        plan_id = chosen_plan(network, finding)
        after = {"enableDdosProtection": True, "ddosProtectionPlan": plan_id}
        line = (
            f"{name}: enableDdosProtection {str(before['enableDdosProtection']).lower()} -> true, "
            f"ddosProtectionPlan {before['ddosProtectionPlan'] or 'none'} -> {plan_id}"
        )
        if planning():
            change(line)
            return
        record(name, KIND, before, after)
        apply(document, after)
        try:
            put_if_unchanged(network, group, name, document)
        except HttpResponseError as exc:
            ended = ended_operation(exc)
            if ended is not None:
                raise OperationEnded(
                    f"the update of {name} {ended}; Azure did not report it applied: no change "
                    "is claimed (run the job again once the virtual network is Succeeded)"
                ) from exc
            if attempt == ATTEMPTS:
                raise
            if exc.status_code == 412:
                info(f"{name} changed since it was read (412 on If-Match); reading it again")
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
        change(line)
        return


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    network = azure.network_client(finding)
    group, name = finding.resource_group, finding.object_id
    mine = [r for r in of_kind(records, KIND) if r["resource"] == name]
    if not mine:
        raise RecordError(f"no change record is about virtual network {name}")
    last = mine[-1]
    document = network.virtual_networks.get(group, name).as_dict()
    now = protection(document)
    if now != last["after"]:
        raise ChangedSince(
            f"{name} changed since the job protected it (now enableDdosProtection "
            f"{str(now['enableDdosProtection']).lower()}, plan {now['ddosProtectionPlan'] or 'none'})"
        )
    apply(document, last["before"])
    try:
        put_if_unchanged(network, group, name, document)
    except HttpResponseError as exc:
        if exc.status_code != 412:
            raise
        raise ChangedSince(
            f"{name} changed while it was being restored (412 on If-Match)"
        ) from None
    before = last["before"]
    change(
        f"{name}: enableDdosProtection true -> {str(before['enableDdosProtection']).lower()}, "
        f"ddosProtectionPlan {now['ddosProtectionPlan']} -> {before['ddosProtectionPlan'] or 'none'}"
        " (rollback)"
    )


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
