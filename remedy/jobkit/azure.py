"""What every built-in Azure job shares: the finding's subscription and resource group, clients
from the AZURE_* environment, and Azure errors turned into one line and an exit code.

An Azure job ends with::

    if __name__ == "__main__":
        azure.run(remediate, __file__)

and keeps the conventions of remedy/jobkit/__init__.py (exit 0 fixed or compliant, 1 a cloud call
failed, 2 bad input; one `CHANGE:` line per change; one `ERROR:` line on failure). The subscription
and resource group come from `notificationInfo.FindingInfo.ObjectChain` (a JSON document inside a
string): its `cloudAccountId` and its property named `ResourceGroup`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from azure.mgmt.network import NetworkManagementClient

from remedy import services
from remedy.azure_env import AzureSettings, MissingAzureIdentity
from remedy.jobkit import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    BadInput,
    _field,
    _optional_str,
    _resolve_parameters,
    error,
    int_parameter,
    load_metadata,
    load_payload,
)

FINDING_INFO = "notificationInfo.FindingInfo"
OBJECT_CHAIN = f"{FINDING_INFO}.ObjectChain"
SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
RESOURCE_NAME = re.compile(r"^[^/\\?#%]{1,80}$")

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


@dataclass(frozen=True)
class AzureFinding:
    """The parts of the VSS finding payload that Azure jobs use."""

    object_id: str
    subscription_id: str
    resource_group: str
    finding_id: str | None = None
    rule_id: str | None = None
    #: Defaults < the alias whose rules hold `rule_id` < the payload's `remediationParameters`.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def int_parameter(self, name: str, minimum: int, maximum: int) -> int:
        """A required integer parameter in [minimum, maximum], or BadInput naming it."""
        return int_parameter(self.parameters, self.aliases, name, minimum, maximum)


def _object_chain(payload: Mapping[str, Any]) -> dict[str, Any]:
    raw = _field(payload, OBJECT_CHAIN)
    if raw is None or raw == "":
        raise BadInput(
            f"{OBJECT_CHAIN} is missing: Azure jobs read the subscription (cloudAccountId) and "
            "the resource group (a property named ResourceGroup) from it"
        )
    if isinstance(raw, dict):  # tolerated: the document itself rather than JSON in a string
        return raw
    if not isinstance(raw, str):
        raise BadInput(f"{OBJECT_CHAIN} must be a JSON document inside a string")
    try:
        chain = json.loads(raw)
    except ValueError as exc:
        raise BadInput(f"{OBJECT_CHAIN} is not a JSON document: {exc}") from None
    if not isinstance(chain, dict):
        raise BadInput(f"{OBJECT_CHAIN} must hold a JSON object")
    return chain


def _chain_property(chain: Mapping[str, Any], name: str) -> str | None:
    properties = chain.get("properties") or []
    if not isinstance(properties, list):
        raise BadInput(f"{OBJECT_CHAIN}.properties must be a list of {{name, stringV}} objects")
    for prop in properties:
        if isinstance(prop, dict) and prop.get("name") == name:
            value = prop.get("stringV") or prop.get("value")
            return str(value) if value else None
    return None


def parse_azure_finding(
    argv: Sequence[str], metadata: Mapping[str, Any] | None = None
) -> AzureFinding:
    """Read the payload in argv[1]; BadInput names the first field the job cannot do without."""
    payload, object_id = load_payload(argv)
    if not RESOURCE_NAME.match(object_id):
        raise BadInput(
            f"{FINDING_INFO}.ObjectId must be the resource's name (1-80 characters, no '/'), "
            f"not {object_id[:120]!r}"
        )
    chain = _object_chain(payload)
    subscription = (
        str(chain.get("cloudAccountId") or "")
        or _optional_str(
            payload,
            "cloudAccount.subscriptionId",
            "notificationInfo.CloudAccountID",
            "notificationInfo.CloudAccountId",
        )
        or ""
    )
    if not subscription:
        raise BadInput(
            f"{OBJECT_CHAIN}.cloudAccountId is missing (and so are cloudAccount.subscriptionId and "
            "notificationInfo.CloudAccountID): the job cannot tell the subscription"
        )
    if not SUBSCRIPTION_ID.match(subscription):
        raise BadInput(
            f"{OBJECT_CHAIN}.cloudAccountId must be an Azure subscription id (a GUID), "
            f"not {subscription[:80]!r}"
        )
    resource_group = _chain_property(chain, "ResourceGroup")
    if resource_group is None:
        raise BadInput(
            f"{OBJECT_CHAIN}: the property named ResourceGroup is missing: the job needs the "
            "resource group of the resource"
        )
    if not RESOURCE_GROUP.match(resource_group) or resource_group.endswith("."):
        raise BadInput(
            f"{OBJECT_CHAIN}: ResourceGroup {resource_group[:100]!r} is not a resource group name"
        )
    rule_id = _optional_str(payload, "notificationInfo.RuleID")
    metadata = metadata or {}
    return AzureFinding(
        object_id=object_id,
        subscription_id=subscription,
        resource_group=resource_group,
        finding_id=_optional_str(payload, f"{FINDING_INFO}.FindingId"),
        rule_id=rule_id,
        parameters=_resolve_parameters(payload, metadata, rule_id),
        aliases=tuple(metadata.get("aliases") or ()),
    )


def settings(environ: Mapping[str, str] | None = None) -> AzureSettings:
    """The app registration and endpoints from AZURE_* (MissingAzureIdentity names what lacks)."""
    return AzureSettings.from_env(os.environ if environ is None else environ)


def client(service: str, finding: AzureFinding) -> Any:
    """A client of a registered Azure service (remedy/services/azure.py) for the finding's
    subscription, from AZURE_*."""
    azure = settings()
    return services.service(service).client(azure.credential(), finding.subscription_id, azure)


def network_client(finding: AzureFinding) -> NetworkManagementClient:
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
    if code == "AuthorizationFailed" and (m := re.search(r"action '([^']+)'", message)):
        text += (
            f" (the app's role probably lacks {m.group(1)}: is it in the job's "
            "minimum_policy.json?)"
        )
    return text


def run(remediate: Callable[[AzureFinding], None], job_file: str) -> NoReturn:
    """Parse the payload, run the job, and turn expected failures into one line and an exit code."""
    try:
        finding = parse_azure_finding(sys.argv, load_metadata(job_file))
        remediate(finding)
    except BadInput as exc:
        error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    except (CannotRemediate, MissingAzureIdentity) as exc:
        error(str(exc))
        sys.exit(EXIT_FAILED)
    except ClientAuthenticationError as exc:
        if exc.response is not None:  # Resource Manager refused the token
            error(describe_http_error(exc))
        else:  # Entra ID refused the app: the message carries the AADSTS code
            error(f"the app could not sign in to Azure: {exc.message}")
        sys.exit(EXIT_FAILED)
    except HttpResponseError as exc:
        error(describe_http_error(exc))
        sys.exit(EXIT_FAILED)
    except AzureError as exc:
        error(f"{type(exc).__name__}: {exc}")
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_OK)
