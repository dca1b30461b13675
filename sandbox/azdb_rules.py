"""What Resource Manager does with PostgreSQL and MySQL flexible servers' server parameters and
firewall rules, as far as the catalogue's database jobs write them.

Server parameters (`.../flexibleServers/{server}/configurations/{name}`) are not resources anyone
creates: every server has all of them from the start, each with a default value, its allowed
values and `source: system-default`; a write changes the `value` (and `source` to
`user-override`), never the rest:
https://learn.microsoft.com/en-us/azure/postgresql/server-parameters/concepts-server-parameters
https://learn.microsoft.com/en-us/azure/mysql/flexible-server/concepts-server-parameters
The emulator seeds the parameters its jobs touch when a server is created (PUT of a new server),
keeps them (and the firewall rules) across a PUT of the server, refuses a write to a parameter it
does not hold (404 ResourceNotFound, as for any unknown child) and a value outside
`allowedValues` (400 InvalidParameterValue). `require_secure_transport` is ON by default on both
engines (PostgreSQL: `on`/`off`,
https://learn.microsoft.com/en-us/azure/postgresql/security/security-tls ; MySQL: `ON`/`OFF`,
https://learn.microsoft.com/en-us/azure/mysql/flexible-server/how-to-connect-tls-ssl).

Firewall rules (`.../flexibleServers/{server}/firewallRules/{name}`): `startIpAddress` and
`endIpAddress` are required IPv4 addresses, start not after end (400 InvalidParameterValue); the
rule from 0.0.0.0 to 0.0.0.0 is the one the portal names
`AllowAllAzureServicesAndResourcesWithinAzureIps_<date>` ("Allow public access from any Azure
service within Azure to this server"):
https://learn.microsoft.com/en-us/rest/api/postgresql/flexibleserver/firewall-rules/create-or-update
https://learn.microsoft.com/en-us/azure/postgresql/network/concepts-networking-public#allow-all-azure-ip-addresses

Long-running operations of these providers are polled at `locations/{loc}/azureAsyncOperation/
{id}` (RBAC `Microsoft.DBfor{PostgreSQL,MySQL}/locations/azureAsyncOperation/read`), unlike the
network provider's `operations`: POLL_SEGMENTS, used by sandbox/arm_operations.py.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from typing import Any

from sandbox.arm_paths import ArmError, ArmPath

POSTGRESQL, MYSQL = "microsoft.dbforpostgresql", "microsoft.dbformysql"
#: Where each provider's long-running operations are polled (lower-case namespace -> segment).
POLL_SEGMENTS = {POSTGRESQL: "azureAsyncOperation", MYSQL: "azureAsyncOperation"}


def _parameter(name: str, value: str, allowed: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "value": value,
            "defaultValue": value,
            "allowedValues": allowed,
            "dataType": "Boolean" if allowed.lower() == "on,off" else "Enumeration",
            "source": "system-default",
            "description": description,
            "isReadOnly": False,
        },
    }


#: The server parameters a new server starts with, per engine (only those the jobs touch).
DEFAULT_PARAMETERS: dict[str, tuple[dict[str, Any], ...]] = {
    POSTGRESQL: (
        _parameter(
            "require_secure_transport", "on", "on,off", "Whether client connections must use SSL."
        ),
    ),
    MYSQL: (
        _parameter(
            "require_secure_transport",
            "ON",
            "ON,OFF",
            "Whether client connections must use a secure transport.",
        ),
    ),
}

Current = Callable[[ArmPath], "dict[str, Any] | None"]


def _kind(path: ArmPath) -> tuple[str, ...] | None:
    if path.namespace.lower() not in DEFAULT_PARAMETERS:
        return None
    kind = tuple(t.lower() for t in path.types)
    return kind if kind[:1] == ("flexibleservers",) and not path.is_collection else None


def accepted_only(path: ArmPath) -> bool:
    """A PUT of a server's child (parameter, firewall rule) is answered 202 Accepted with no body,
    the operation's URLs in Azure-AsyncOperation and Location; the PostgreSQL SDK takes nothing
    else (https://learn.microsoft.com/en-us/rest/api/postgresql/flexibleserver/configurations/put
    and .../firewall-rules/create-or-update: "202 Accepted")."""
    kind = _kind(path)
    return kind is not None and len(kind) == 2 and path.namespace.lower() == POSTGRESQL


def check_write(method: str, path: ArmPath, document: dict[str, Any], current: Current) -> None:
    """Check (and complete, in place) a PUT or PATCH body as these providers would take it."""
    kind = _kind(path)
    if kind is None:
        return
    props = document.setdefault("properties", {})
    if kind == ("flexibleservers",) and method == "PUT":
        existing = current(path)
        old = (existing or {}).get("properties") or {}
        seeded = DEFAULT_PARAMETERS[path.namespace.lower()]
        props["configurations"] = copy.deepcopy(old.get("configurations") or list(seeded))
        props["firewallRules"] = copy.deepcopy(old.get("firewallRules") or [])
    elif kind == ("flexibleservers", "configurations"):
        _check_parameter(path, props, current)
    elif kind == ("flexibleservers", "firewallrules") and method == "PUT":
        _check_firewall_rule(path, props)


def _check_parameter(path: ArmPath, props: dict[str, Any], current: Current) -> None:
    existing = current(path)
    if existing is None:
        server = ArmPath(
            path.subscription, path.resource_group, path.namespace, path.types[:1], path.names[:1]
        )
        what = f"{path.resource_type}/{'/'.join(path.names)}"
        if current(server) is not None:
            what = f"server parameter {path.names[1]} of {path.names[0]}"
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{what}' under resource group '{path.resource_group}' was not found.",
        )
    old = existing.get("properties") or {}
    value = props.get("value")
    allowed = [v.strip() for v in str(old.get("allowedValues", "")).split(",") if v.strip()]
    if value is None or (allowed and str(value).lower() not in {a.lower() for a in allowed}):
        raise ArmError(
            400,
            "InvalidParameterValue",
            f"Invalid value given for parameter '{path.names[1]}'. Specify a valid parameter "
            f"value ({', '.join(allowed)}).",
        )
    kept = {k: v for k, v in old.items() if k not in ("value", "source", "provisioningState")}
    props.clear()
    props.update(kept, value=str(value), source="user-override")


def _check_firewall_rule(path: ArmPath, props: dict[str, Any]) -> None:
    addresses = []
    for field in ("startIpAddress", "endIpAddress"):
        text = props.get(field)
        try:
            addresses.append(ipaddress.IPv4Address(str(text)))
        except ValueError:
            raise ArmError(
                400,
                "InvalidParameterValue",
                f"Invalid value given for parameter '{field}' of firewall rule "
                f"'{path.names[-1]}': {text!r} is not an IPv4 address.",
            ) from None
    if addresses[0] > addresses[1]:
        raise ArmError(
            400,
            "InvalidParameterValue",
            f"Firewall rule '{path.names[-1]}': the start IP address {addresses[0]} is after the "
            f"end IP address {addresses[1]}.",
        )
