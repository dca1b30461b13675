"""Who calls Resource Manager, and whether their role allows what they ask.

Every request needs a bearer token that Entra ID (sandbox/entra.py) issued and that has not
expired, else 401 InvalidAuthenticationToken (AuthenticationFailed with no header at all). The
request then maps to an RBAC action (`{resource type}/read|write|delete`); an app registration
whose role's `Actions` do not cover it is answered 403 AuthorizationFailed naming the action, as
Azure RBAC answers.
"""

from __future__ import annotations

import time

from sandbox.arm_paths import ArmError, ArmPath
from sandbox.entra import AppRegistration, EntraDirectory


def caller(directory: EntraDirectory, headers: dict[str, str]) -> AppRegistration:
    """The app registration behind the request's bearer token, or a 401 ArmError."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    found = directory.token(token) if scheme.lower() == "bearer" else None
    if found is None or found.expires <= time.time():
        problem = "expired" if found else ("invalid" if value else "missing")
        raise ArmError(
            401,
            "InvalidAuthenticationToken" if value else "AuthenticationFailed",
            f"The access token is {problem}."
            if value
            else "Authentication failed. The 'Authorization' header is missing.",
        )
    return found.app


def action(method: str, path: ArmPath) -> str:
    """The RBAC action a request on `path` needs, as a role definition's `Actions` name it."""
    verb = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(
        method, "action"
    )
    if path.is_resource_group:
        return f"Microsoft.Resources/subscriptions/resourceGroups/{verb}"
    return f"{path.resource_type}/{verb}"


def denied(app: AppRegistration, action: str, scope: str) -> ArmError:
    """Azure RBAC's refusal, word for word (clients and tests match on the action named)."""
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{app.client_id}' with object id '{app.client_id}' does not have "
        f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
        "invalid. If access was recently granted, please refresh your credentials.",
    )
