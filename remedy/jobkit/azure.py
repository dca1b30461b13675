"""What every built-in Azure job shares: clients from the AZURE_* environment, and which Azure
errors make a job exit 1 and how they are told (added to `jobkit.FAILURES`).

An Azure job ends, like every job, with `jobkit.run(remediate, __file__)` and keeps the
conventions of remedy/jobkit/__init__.py. Its `Finding` carries `subscription_id` and
`resource_group` (read by the finding contract from the ObjectChain: its `cloudAccountId` and its
property named `ResourceGroup`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from azure.core.polling.base_polling import OperationFailed
from azure.mgmt.network import NetworkManagementClient

from remedy import services
from remedy.azure_env import AzureSettings, MissingAzureIdentity
from remedy.jobkit import FAILURES, Finding

#: SDK operation (operation group, method) -> the Azure RBAC action it needs, as the service
#: registry (remedy/services/azure.py) declares them. The catalogue meta-test holds every Azure
#: job's minimum_policy.json to exactly the actions of its calls.
OPERATION_ACTIONS: dict[tuple[str, str], str] = {
    operation: action
    for s in services.registered("azure")
    for operation, action in s.operations.items()
}


class CannotRemediate(Exception):
    """The resource needs a person's decision; nothing was changed (exit 1, one ERROR line)."""


class OperationEnded(Exception):
    """A long-running operation Resource Manager accepted ended Failed or Canceled (exit 1)."""


def ended_operation(exc: HttpResponseError) -> str | None:
    """`ended Failed (<code>: <message>)` when `exc` is a poller's report of an operation that
    ended Failed or Canceled, else None (the request itself was refused).

    azure-core raises it as an HttpResponseError caused by its OperationFailed, on the status
    poll's response, whose body carries Azure's `status` and `error`
    (https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/async-operations).
    """
    if not isinstance(exc.__cause__, OperationFailed):
        return None
    status, detail = "Failed", ""
    response: Any = exc.response  # azure-core types it without json()
    try:
        body = response.json() if response is not None else {}
    except ValueError:
        body = {}
    if isinstance(body, dict):
        status = str(body.get("status") or status)
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        if error:
            detail = f" ({error.get('code', 'Error')}: {error.get('message', '')})"
    return f"ended {status}{detail}"


def another_operation_in_progress(exc: HttpResponseError) -> bool:
    """409 AnotherOperationInProgress: another operation is changing the resource; Azure says to
    wait for it and try again
    (https://learn.microsoft.com/en-us/azure/azure-resource-manager/troubleshooting/common-deployment-errors)."""
    code = getattr(exc.error, "code", None) or ""
    return exc.status_code == 409 and code == "AnotherOperationInProgress"


def retry_after(exc: HttpResponseError, default: float, cap: float) -> float:
    """The response's Retry-After in seconds (the delta-seconds form ARM sends), else `default`."""
    response: Any = exc.response  # azure-core types it without headers
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return min(max(float(value), 0.0), cap) if value else default
    except ValueError:
        return default


def settings(environ: Mapping[str, str] | None = None) -> AzureSettings:
    """The app registration and endpoints from AZURE_* (MissingAzureIdentity names what lacks)."""
    return AzureSettings.from_env(os.environ if environ is None else environ)


def client(service: str, finding: Finding) -> Any:
    """A client of a registered Azure service (remedy/services/azure.py) for the finding's
    subscription, from AZURE_*."""
    azure = settings()
    return services.service(service).client(azure.credential(), finding.subscription_id, azure)


def network_client(finding: Finding) -> NetworkManagementClient:
    made: NetworkManagementClient = client("network", finding)
    return made


def describe_http_error(exc: HttpResponseError) -> str:
    """`<METHOD> <path> failed: <status> <code>: <message>`, with a hint for a missing action."""
    status = exc.status_code
    code = getattr(exc.error, "code", None) or getattr(exc, "reason", None) or "Error"
    message = getattr(exc.error, "message", None) or exc.message or str(exc)
    where = ""
    request = getattr(exc.response, "request", None) if exc.response is not None else None
    if request is not None:
        where = f"{request.method} {str(request.url).split('?', 1)[0]} "
    text = f"{where}failed: {status} {code}: {message}"
    if code == "LinkedAuthorizationFailed":
        text += (
            " (a rule of this NSG names an application security group: the app's role also "
            "needs Microsoft.Network/applicationSecurityGroups/joinNetworkSecurityRule/action "
            "on it, see the job's README)"
        )
    if code == "AuthorizationFailed" and (m := re.search(r"action '([^']+)'", message)):
        text += (
            f" (the app's role probably lacks {m.group(1)}: is it in the job's "
            "minimum_policy.json?)"
        )
    return text


def describe_sign_in_error(exc: ClientAuthenticationError) -> str:
    if exc.response is not None:  # Resource Manager refused the token
        return describe_http_error(exc)
    return f"the app could not sign in to Azure: {exc.message}"  # Entra ID: carries AADSTS code


# What makes an Azure job exit 1 (jobkit.run), most specific first: ClientAuthenticationError is
# an HttpResponseError, which is an AzureError.
FAILURES["azure"] = [
    (CannotRemediate, str),
    (OperationEnded, str),
    (MissingAzureIdentity, str),
    (ClientAuthenticationError, describe_sign_in_error),
    (HttpResponseError, describe_http_error),
    (AzureError, lambda exc: f"{type(exc).__name__}: {exc}"),
]
