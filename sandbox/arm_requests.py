"""Resource Manager's requests, transport-free: subscriptions, resources, operation polls.

- `GET /subscriptions/{id}` and `GET /subscriptions`: only the subscriptions the app registrations
  are associated with (another one is 404 SubscriptionNotFound, and its resources 403);
- resources by ARM path in a generic store (sandbox/arm.py): GET, PUT, PATCH, DELETE, list;
- PUT and DELETE are long-running (sandbox/arm_operations.py), except a resource group's PUT;
- every request needs `api-version` (any value) and a valid bearer token, and the caller's role
  must allow the action (sandbox/arm_access.py).
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.arm import ArmStore
from sandbox.arm_access import action, caller, denied
from sandbox.arm_operations import Operations
from sandbox.arm_paths import ArmError, ArmPath, parse_path
from sandbox.azure_response import Response
from sandbox.entra import EntraDirectory


class ResourceManager:
    """The subscriptions, their resources and the operations running on them."""

    def __init__(
        self, directory: EntraDirectory, subscriptions: dict[str, str], *, lro_polls: int = 1
    ) -> None:
        self.directory = directory
        self.subscriptions = dict(subscriptions)
        self.store = ArmStore()
        self.operations = Operations(lro_polls)

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
        app = caller(self.directory, headers)
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
            return self.operations.poll(lowered[6], parts[7])
        _, path = parse_path(raw_path)
        assert path is not None
        needed = action(method, path)
        if associated is None or not app.may(needed):
            raise denied(app, needed, path.scope())
        return self._resource(method, path, query, headers, body)

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
    ) -> Response:
        if path.is_collection:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{method} on a collection")
            return Response(200, {"value": self.store.list(path)})
        if_match = headers.get("if-match")
        if method == "GET":
            return Response(200, self.store.get(path))
        if method in ("PUT", "PATCH"):
            document = _json(body)
            if method == "PATCH":
                return Response(200, self.store.patch(path, document, if_match=if_match))
            stored, created = self.store.put(
                path, document, if_match=if_match, if_none_match=headers.get("if-none-match")
            )
            if path.is_resource_group:  # resource groups are created synchronously
                return Response(201 if created else 200, stored)
            stored.setdefault("properties", {})["provisioningState"] = "Updating"
            return Response(
                201 if created else 200, stored, self.operations.start(path, query, delete=False)
            )
        if method == "DELETE":
            if not self.store.delete(path, if_match=if_match):
                return Response(204)
            return Response(202, None, self.operations.start(path, query, delete=True))
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on {path.id()}")


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError as exc:
        raise ArmError(400, "InvalidRequestContent", f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ArmError(400, "InvalidRequestContent", "the body must be a JSON object")
    return document
