"""What Resource Manager checks when a virtual network's write names a DDoS protection plan.

Each check cites the page that states it; the error codes are those Azure answers.

- `enableDdosProtection: true` needs a plan: "Indicates if DDoS protection is enabled for all the
  protected resources in the virtual network. It requires a DDoS protection plan associated with
  the resource" (400; `DdosProtectionPlanRequired` is the emulator's name for the refusal, Azure's
  own code for it is not documented):
  https://learn.microsoft.com/en-us/rest/api/virtualnetwork/virtual-networks/create-or-update#virtualnetwork
- `ddosProtectionPlan.id` must name a plan that exists (400 InvalidResourceReference, the network
  provider's answer for a reference to a resource that is not there), same page;
- attaching a plan is a linked check on the plan: the caller needs
  `Microsoft.Network/ddosProtectionPlans/join/action` on it, else 403 LinkedAuthorizationFailed;
  and "after enabling a DDoS protection plan on a virtual network, subsequent operations on that
  virtual network still require the Microsoft.Network/ddosProtectionPlans/join/action action
  permission", so a write of a network that has a plan needs it too, even one that detaches it
  (https://learn.microsoft.com/en-us/azure/ddos-protection/manage-permissions, "Permissions").

A PUT replaces the whole network (the generic store, sandbox/arm.py): subnets left out of the
body are gone, which is why a job writes the network back as it read it.
"""

from __future__ import annotations

from typing import Any

from sandbox.arm import ArmStore
from sandbox.arm_paths import ArmError, ArmPath, parse_path
from sandbox.entra import AppRegistration

JOIN_PLAN = "Microsoft.Network/ddosProtectionPlans/join/action"


def _plan_path(plan_id: str) -> ArmPath | None:
    try:
        _, path = parse_path(plan_id)
    except ArmError:
        return None
    if path is None or path.is_collection:
        return None
    if [t.lower() for t in path.types] != ["ddosprotectionplans"]:
        return None
    return path


def check_vnet_write(
    store: ArmStore, path: ArmPath, document: dict[str, Any], app: AppRegistration
) -> None:
    """Refuse, as Azure does, a virtual network PUT whose DDoS settings it would refuse."""
    kind = tuple(t.lower() for t in path.types)
    if path.namespace.lower() != "microsoft.network" or kind != ("virtualnetworks",):
        return
    props = document.get("properties") or {}
    plan = props.get("ddosProtectionPlan")
    plan_id = str(plan.get("id") or "") if isinstance(plan, dict) else ""
    if props.get("enableDdosProtection") and not plan_id:
        raise ArmError(
            400,
            "DdosProtectionPlanRequired",
            f"Virtual network {path.id()} has enableDdosProtection set to true but no DDoS "
            "protection plan is associated with it.",
        )
    if not plan_id:
        try:
            current = store.get(path)
        except ArmError:
            return
        had = ((current.get("properties") or {}).get("ddosProtectionPlan") or {}).get("id")
        if had:
            _check_join(app, path, str(had))
        return
    plan_path = _plan_path(plan_id)
    found = True
    if plan_path is None:
        found = False
    else:
        try:
            store.get(plan_path)
        except ArmError:
            found = False
    if not found:
        raise ArmError(
            400,
            "InvalidResourceReference",
            f"Resource {plan_id} referenced by resource {path.id()} was not found. Please make "
            "sure that the referenced resource exists, and that both resources are in the same "
            "region.",
        )
    _check_join(app, path, plan_id)


def _check_join(app: AppRegistration, path: ArmPath, plan_id: str) -> None:
    if not app.may(JOIN_PLAN):
        raise ArmError(
            403,
            "LinkedAuthorizationFailed",
            f"The client '{app.client_id}' with object id '{app.client_id}' has permission to "
            f"perform action 'Microsoft.Network/virtualNetworks/write' on scope '{path.id()}'; "
            f"however, it does not have permission to perform action '{JOIN_PLAN}' on the linked "
            f"scope(s) '{plan_id}' or the linked scope(s) are invalid.",
        )
