"""Resource Manager's requests, transport-free: subscriptions, resources, operation polls.

- `GET /subscriptions/{id}` and `GET /subscriptions`: only the subscriptions the app registrations
  are associated with (another one is 404 SubscriptionNotFound, and its resources 403);
- resources by ARM path in a generic store (sandbox/arm.py): GET, PUT, PATCH, DELETE, list;
- PUT and DELETE are long-running (sandbox/arm_operations.py), except a resource group's PUT;
- every request needs `api-version` (any value) and a valid bearer token for Resource Manager,
  and the caller's role must allow the action, polls included (sandbox/arm_access.py);
- a body that is not a JSON object is 400 InvalidRequestFormat ("Cannot parse the request", as
  the network provider answers it); an NSG write is checked as Azure checks it
  (sandbox/nsg_rules.py), with its linked check on application security groups, a virtual
  network's DDoS protection plan as Azure checks it (sandbox/vnet_rules.py), a key vault's
  and a diagnostic setting's as sandbox/keyvault_rules.py says (diagnostic settings: synchronous),
  and a storage account, blob service or container write as the storage provider checks and
  fills it (sandbox/storage_rules.py, which also shapes how a storage account is answered);
- writes can be made to go wrong, a test at a time (sandbox/arm_faults.py).
"""

from __future__ import annotations

import json
from typing import Any

from sandbox import azdb_rules, keyvault_rules, nsg_rules, sql_rules, storage_rules, vnet_rules
from sandbox.arm import ArmStore
from sandbox.arm_access import JOIN_ASG, action, caller, denied, linked_denied, poll_action
from sandbox.arm_faults import Faults
from sandbox.arm_operations import Operations
from sandbox.arm_paths import ArmError, ArmPath, parse_path
from sandbox.azure_response import Response
from sandbox.entra import AppRegistration, EntraDirectory


class ResourceManager:
    """The subscriptions, their resources and the operations running on them."""

    def __init__(
        self, directory: EntraDirectory, subscriptions: dict[str, str], *, lro_polls: int = 1
    ) -> None:
        self.directory = directory
        self.subscriptions = dict(subscriptions)
        self.store = ArmStore()
        self.operations = Operations(lro_polls)
        self.faults = Faults()

    def handle(
        self,
        method: str,
        raw_path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Response:
        if "api-version" not in query:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        app = caller(self.directory, headers, self.operations.base_url)
        parts = [p for p in raw_path.split("/") if p]
        if parts == ["subscriptions"] and method == "GET":
            return Response(200, {"value": [self._subscription(s) for s in self.subscriptions]})
        if parts[0].lower() != "subscriptions" or len(parts) < 2:
            raise ArmError(404, "InvalidResourceNamespace", f"no resource at {raw_path}")
        subscription = parts[1]
        associated = next(
            (s for s in self.subscriptions if s.lower() == subscription.lower()), None
        )
        if len(parts) == 2:
            if method != "GET" or associated is None:
                raise ArmError(
                    404,
                    "SubscriptionNotFound",
                    f"The subscription '{subscription}' could not be found.",
                )
            return Response(200, self._subscription(associated))
        lowered = [p.lower() for p in parts]
        if len(parts) == 8 and lowered[2] == "providers" and lowered[4] == "locations":
            # status: operations (network), azureAsyncOperation (sandbox/azdb_rules.py)
            needed = poll_action(parts[3], lowered[6])
            if associated is None or not app.may(needed):
                raise denied(app, needed, "/" + "/".join(parts))
            return self.operations.poll(lowered[6], parts[7])
        _, path = parse_path(raw_path)
        assert path is not None
        needed = action(method, path)
        if associated is None or not app.may(needed):
            raise denied(app, needed, path.scope())
        return self._resource(method, path, query, headers, body, app)

    def _subscription(self, subscription_id: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{subscription_id}",
            "subscriptionId": subscription_id,
            "tenantId": self.directory.tenant_id,
            "displayName": self.subscriptions[subscription_id],
            "state": "Enabled",
        }

    def _resource(
        self,
        method: str,
        path: ArmPath,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        app: AppRegistration,
    ) -> Response:
        if path.is_collection:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{method} on a collection")
            return Response(200, {"value": storage_rules.shown(self.store.list(path))})
        if_match = headers.get("if-match")
        if method == "GET":
            return Response(200, storage_rules.shown([sql_rules.get(self.store, path)])[0])
        ending = "Succeeded" if path.is_resource_group else self._fault(path)
        synchronous = path.is_resource_group or keyvault_rules.synchronous(path)
        if method in ("PUT", "PATCH"):
            document = _json(body, path)
            azdb_rules.check_write(method, path, document, self._current)
            keyvault_rules.check_write(path, document, self._current(path), self._siblings(path))
            keyvault_rules.settle(path, method, document, self.operations.base_url)
            storage_rules.check_write(method, path, document, self.store)
            if method == "PATCH":
                patched = self.store.patch(path, document, if_match=if_match)
                return Response(200, storage_rules.shown([patched])[0])
            self._check_nsg_write(path, document, app)
            sql_rules.check(path, document, self.store)
            vnet_rules.check_vnet_write(self.store, path, document, app)
            if ending != "Succeeded":  # accepted, then the operation fails: nothing changes
                stored, created = self._as_if_written(path, document)
            else:
                stored, created = self.store.put(
                    path, document, if_match=if_match, if_none_match=headers.get("if-none-match")
                )
            if sql_rules.is_setting(path):  # 200, done: sandbox/sql_rules.py
                return Response(200, stored)
            if synchronous:  # resource groups, diagnostic settings (always 200): no operation
                return Response(201 if created and path.is_resource_group else 200, stored)
            if azdb_rules.accepted_only(path):  # 202, no body, Azure-AsyncOperation + Location
                return Response(202, None, self.operations.start(path, query, True, ending))
            stored.setdefault("properties", {})["provisioningState"] = "Updating"
            return Response(
                storage_rules.put_status(path, 201 if created else 200),
                storage_rules.shown([stored])[0],
                self.operations.start(path, query, delete=False, ending=ending),
            )
        if method == "DELETE":
            if synchronous and not path.is_resource_group:
                return Response(200 if self.store.delete(path, if_match=if_match) else 204)
            if ending != "Succeeded":
                return Response(202, None, self.operations.start(path, query, True, ending))
            if not self.store.delete(path, if_match=if_match):
                return Response(204)
            return Response(202, None, self.operations.start(path, query, delete=True))
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on {path.id()}")

    def _fault(self, path: ArmPath) -> str:
        """How this write's operation ends; raises the armed 409 / 429 (sandbox/arm_faults.py)."""
        return self.faults.next_write(path.id()) or "Succeeded"

    def _current(self, path: ArmPath) -> dict[str, Any] | None:
        try:
            return self.store.get(path)
        except ArmError:
            return None

    def _siblings(self, path: ArmPath) -> list[dict[str, Any]]:
        """The other resources of the collection an extension resource (by name) belongs to."""
        if not path.extends or path.is_collection:
            return []
        collection = ArmPath(
            path.subscription, path.resource_group, path.namespace, path.types, (), path.extends
        )
        return [r for r in self.store.list(collection) if r["id"].lower() != path.id().lower()]

    def _as_if_written(self, path: ArmPath, document: dict[str, Any]) -> tuple[Any, bool]:
        """What a PUT answers when its operation will fail: the body, nothing stored."""
        current = self._current(path)
        answer = {**document, "id": path.id(), "name": path.names[-1]}
        return answer, current is None

    def _check_nsg_write(
        self, path: ArmPath, document: dict[str, Any], app: AppRegistration
    ) -> None:
        """A write of an NSG or of one of its rules: the rules as they would be after it must be
        ones Azure takes (sandbox/nsg_rules.py), and their application security groups joinable."""
        kind = tuple(t.lower() for t in path.types)
        if path.namespace.lower() != "microsoft.network" or kind[:1] != ("networksecuritygroups",):
            return
        top = ArmPath(
            path.subscription, path.resource_group, path.namespace, path.types[:1], path.names[:1]
        )
        nsg_id = top.id()
        if kind == ("networksecuritygroups",):
            nsg_rules.settle(document, self._current(top))
            rules = document["properties"].get("securityRules") or []
        elif kind == ("networksecuritygroups", "securityrules") and len(path.names) == 2:
            parent = self._current(top) or {}
            rules = [
                r
                for r in (parent.get("properties") or {}).get("securityRules") or []
                if str(r.get("name", "")).lower() != path.names[1].lower()
            ]
            rules.append({**document, "name": path.names[1]})
        else:
            return
        nsg_rules.check_rules(nsg_id, rules)
        for group in nsg_rules.application_security_groups(rules):
            if not app.may(JOIN_ASG):
                raise linked_denied(app, group)


def _json(body: bytes, path: ArmPath) -> dict[str, Any]:
    # ARM's front door words a resource group's bad body so; the network provider (the
    # resources this emulator serves) answers 400 InvalidRequestFormat "Cannot parse the request"
    code = "InvalidRequestContent" if path.is_resource_group else "InvalidRequestFormat"
    try:
        document = json.loads(body or b"{}")
    except ValueError as exc:
        raise ArmError(
            400, code, f"Cannot parse the request: the body is not JSON: {exc}"
        ) from None
    if not isinstance(document, dict):
        raise ArmError(400, code, "Cannot parse the request: the body must be a JSON object")
    props = document.get("properties")
    if props is not None and not isinstance(props, dict):
        raise ArmError(400, code, "Cannot parse the request: properties must be an object")
    return document
