"""What the PostgreSQL and MySQL flexible-server jobs share: the `require_secure_transport` fix and
its rollback, the Azure-services firewall rule, and what a single server's finding gets.

No azure-mgmt call is made here: each job passes its engine's calls in (`read`, `write`), so that
its minimum_policy.json names its own engine's actions only (the catalogue meta-test reads the
calls from the job's sources and the kit modules it imports).

Microsoft retired the single-server offerings (Azure Database for MySQL single server on
16 September 2024, for PostgreSQL single server on 28 March 2025); these jobs fix flexible
servers. A finding about a name that is no flexible server (a single server among them) ends with
exit 1 and one ERROR line saying so and what to do (`missing_server`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from azure.core.exceptions import HttpResponseError

from remedy.jobkit import ChangedSince, RecordError, change, info, planning, record
from remedy.jobkit.azure import CannotRemediate
from remedy.jobkit.modes import of_kind

SECURE_TRANSPORT = "require_secure_transport"
PARAMETER_KIND = "azure-db-server-parameter"  # change records of a server parameter
FIREWALL_KIND = "azure-db-firewall-rule"  # change records of a deleted firewall rule
#: The firewall rule that opens a server to every Azure service (the portal's "Allow public
#: access from any Azure service within Azure to this server"): from 0.0.0.0 to 0.0.0.0.
AZURE_SERVICES_RANGE = ("0.0.0.0", "0.0.0.0")

RETIREMENT = {
    "PostgreSQL": (
        "28 March 2025",
        "https://learn.microsoft.com/en-us/azure/postgresql/single-server/"
        "whats-happening-to-postgresql-single-server",
    ),
    "MySQL": (
        "16 September 2024",
        "https://learn.microsoft.com/en-us/azure/mysql/migrate/"
        "whats-happening-to-mysql-single-server",
    ),
}


def missing_server(
    exc: HttpResponseError, engine: str, server: str, resource_group: str
) -> Exception:
    """The exception to raise for an error reading the server: a 404 becomes a CannotRemediate
    naming the single-server retirement; anything else is returned as it is."""
    if exc.status_code != 404:
        return exc
    date, guide = RETIREMENT[engine]
    return CannotRemediate(
        f"{server}: resource group {resource_group} has no {engine} flexible server of that name "
        f"({getattr(exc.error, 'code', None) or 'ResourceNotFound'}). If it is a single server: "
        f"Microsoft retired Azure Database for {engine} single server on {date}, and this job "
        f"fixes flexible servers only; migrate it to a flexible server ({guide}) and run the job "
        "on that"
    )


def is_on(value: str) -> bool:
    return value.strip().lower() == "on"


Read = Callable[[], str]  # the parameter's current value
Write = Callable[[str], None]  # set the parameter to a value (waits for the operation)


def enforce_secure_transport(server: str, read: Read, write: Write, on: str) -> int:
    """Set require_secure_transport to `on` (the engine's spelling); 0 if it already is."""
    value = read()
    if is_on(value):
        info(f"ok: {server} already requires a secure transport ({SECURE_TRANSPORT} {value})")
        return 0
    record(
        server,
        PARAMETER_KIND,
        {"name": SECURE_TRANSPORT, "value": value},
        {"name": SECURE_TRANSPORT, "value": on},
    )
    if not planning():
        write(on)
    change(
        f"{server}: server parameter {SECURE_TRANSPORT} {value} -> {on} "
        "(clients must connect with TLS)"
    )
    return 1


def restore_secure_transport(
    server: str, records: Sequence[dict[str, Any]], read: Read, write: Write
) -> int:
    """Put require_secure_transport back as the last record of `server` found it."""
    mine = [r for r in of_kind(list(records), PARAMETER_KIND) if r["resource"] == server]
    if not mine:
        raise RecordError(f"no change record is about server {server}")
    before, after = mine[-1]["before"]["value"], mine[-1]["after"]["value"]
    value = read()
    if value.strip().lower() != str(after).lower():
        raise ChangedSince(
            f"{server}: {SECURE_TRANSPORT} changed since the job set it to {after} (now {value})"
        )
    write(before)
    change(f"{server}: server parameter {SECURE_TRANSPORT} {value} -> {before} (rollback)")
    return 1


def is_azure_services_rule(rule: dict[str, Any]) -> bool:
    return (rule.get("startIpAddress"), rule.get("endIpAddress")) == AZURE_SERVICES_RANGE


def firewall_rule(item: Any) -> dict[str, Any]:
    """A firewall rule of the SDK as `{name, startIpAddress, endIpAddress}`."""
    document = item.as_dict() if hasattr(item, "as_dict") else dict(item)
    props = document.get("properties") or document
    return {
        "name": document.get("name"),
        "startIpAddress": props.get("startIpAddress", props.get("start_ip_address")),
        "endIpAddress": props.get("endIpAddress", props.get("end_ip_address")),
    }
