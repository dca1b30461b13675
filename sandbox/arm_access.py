"""Who calls Resource Manager, and whether their role allows what they ask.

Every request needs a bearer token that Entra ID (sandbox/entra.py) issued and that has not
expired, else 401 InvalidAuthenticationToken (AuthenticationFailed with no header at all). The
request then maps to an RBAC action (`{resource type}/read|write|delete`); an app registration
whose role's `Actions` do not cover it is answered 403 AuthorizationFailed naming the action, as
Azure RBAC answers.

Also checked, as Resource Manager does:
- the token's audience is Resource Manager itself (401 InvalidAuthenticationTokenAudience; a
  token Entra ID issued for another resource, https://learn.microsoft.com/en-us/rest/api/azure/#acquire-an-access-token
  "the resource is https://management.azure.com/");
- polling a long-running operation is an action of its own, `{namespace}/locations/operations/read`
  (`operationResults/read` for the Location URL): a role with only the resource's read/write gets
  403 AuthorizationFailed on the poll after its write was applied
  (https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/networking,
  "Microsoft.Network/locations/operations/read: Gets Operation Resource that represents status of
  an asynchronous operation"; seen on the wire in https://github.com/Azure/azure-xplat-cli/issues/2051);
- a write of rules that name application security groups needs
  `Microsoft.Network/applicationSecurityGroups/joinNetworkSecurityRule/action` on each group, a
  linked check answered 403 LinkedAuthorizationFailed
  (https://learn.microsoft.com/en-us/azure/virtual-network/manage-network-security-group#permissions,
  and the networking permissions page above).
"""

from __future__ import annotations

import time

from sandbox.arm_paths import ArmError, ArmPath
from sandbox.entra import AppRegistration, EntraDirectory

JOIN_ASG = "Microsoft.Network/applicationSecurityGroups/joinNetworkSecurityRule/action"


def caller(
    directory: EntraDirectory, headers: dict[str, str], audience: str = ""
) -> AppRegistration:
    """The app registration behind the request's bearer token, or a 401 ArmError.

    `audience`: the resource the token must have been issued for (Resource Manager's URL)."""
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
    if audience and found.audience.rstrip("/").lower() != audience.rstrip("/").lower():
        raise ArmError(
            401,
            "InvalidAuthenticationTokenAudience",
            f"The access token has been obtained for wrong audience or resource "
            f"'{found.audience}'. It should exactly match with one of the allowed audiences "
            f"'{audience}', '{audience}/'.",
        )
    return found.app


def poll_action(namespace: str, kind: str) -> str:
    """The action polling an operation needs; `kind` "operations", "azureasyncoperation" or
    "operationresults"."""
    tails = {"operations": "operations", "azureasyncoperation": "azureAsyncOperation"}
    tail = tails.get(kind, "operationResults")
    return f"{namespace}/locations/{tail}/read"


def linked_denied(app: AppRegistration, group_id: str) -> ArmError:
    """The linked check's refusal: the write names a resource the caller may not join."""
    return ArmError(
        403,
        "LinkedAuthorizationFailed",
        f"The client '{app.client_id}' with object id '{app.client_id}' has permission to perform "
        f"action on the network security group; however, it does not have permission to perform "
        f"action '{JOIN_ASG}' on the linked scope(s) '{group_id}' or the linked scope(s) are "
        "invalid.",
    )


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
