"""Make a customer-managed Key Vault key the TDE protector of an Azure SQL server.

ObjectId: the server's name; its subscription and resource group come from the ObjectChain.
Parameter `key_id`: the versioned key id (https://<vault>.vault.azure.net/keys/<name>/<version>).

A protector already of type AzureKeyVault is left alone (whatever key it names). Otherwise the key
is registered with the server as server key `<vault>_<name>_<version>` (unless it already is), then
the protector is switched to it, keeping its other properties. Azure checks that the server's
managed identity reaches the key (get, wrapKey, unwrapKey); when it does not, the job changes
nothing and says what is missing.
"""

from __future__ import annotations

import re
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from remedy import jobkit
from remedy.jobkit import BadInput, ChangedSince, RecordError, azure, change, info, planning, record
from remedy.jobkit.azure import CannotRemediate
from remedy.jobkit.azure_sql import Properties, comparable, describe
from remedy.jobkit.modes import of_kind

PROTECTOR = "current"  # a server's one encryption protector
KIND = "azure-sql-tde-protector"  # the change records' kind
#: What a rollback compares and restores of the protector.
SHOWN = ("serverKeyType", "serverKeyName", "autoRotationEnabled")
KEY_ID = re.compile(r"^https://([^.]+)\.vault\.[^/]+/keys/([^/]+)/([^/]+)$")
#: Azure's refusals of a key the server cannot reach (transparent-data-encryption-byok-identify-
#: troubleshoot on Microsoft Learn)
UNREACHABLE = ("AzureKeyVaultNoServerIdentity", "AzureKeyVaultMissingPermissions")
WHAT_IT_NEEDS = (
    "the server needs a system-assigned managed identity (az sql server update --assign-identity) "
    "and, on the vault, an access policy granting it get, wrapKey and unwrapKey on keys (or, on a "
    "vault using Azure RBAC, the Key Vault Crypto Service Encryption User role on the key)"
)


def key_name(key_id: str) -> str:
    """The server key's name Azure requires: `<vault>_<key>_<version>`."""
    found = KEY_ID.match(key_id)
    if found is None:
        raise CannotRemediate(f"{key_id} is not a versioned Key Vault key id")
    return "_".join(found.groups())


def sql_client(finding: jobkit.Finding) -> Any:
    return azure.client("sql", finding)


def protector(sql: Any, finding: jobkit.Finding) -> Properties:
    found = sql.encryption_protectors.get(finding.resource_group, finding.object_id, PROTECTOR)
    return dict(found.as_dict().get("properties") or {})


def is_customer_managed(props: Properties) -> bool:
    return str(props.get("serverKeyType", "")).lower() == "azurekeyvault"


def has_key(sql: Any, finding: jobkit.Finding, name: str) -> bool:
    try:
        sql.server_keys.get(finding.resource_group, finding.object_id, name)
    except ResourceNotFoundError:
        return False
    return True


def register_key(sql: Any, finding: jobkit.Finding, name: str, key_id: str) -> None:
    body = {"properties": {"serverKeyType": "AzureKeyVault", "uri": key_id}}
    try:
        sql.server_keys.begin_create_or_update(
            finding.resource_group, finding.object_id, name, body
        ).result()
    except HttpResponseError as exc:
        code = getattr(exc.error, "code", None) or ""
        if code not in UNREACHABLE:
            raise
        message = getattr(exc.error, "message", None) or str(exc)
        raise CannotRemediate(
            f"server {finding.object_id} cannot use key {key_id} ({code}: {message}): "
            f"{WHAT_IT_NEEDS}; nothing was changed"
        ) from None


def write_protector(sql: Any, finding: jobkit.Finding, props: Properties) -> None:
    sql.encryption_protectors.begin_create_or_update(
        finding.resource_group, finding.object_id, PROTECTOR, {"properties": props}
    ).result()


def remediate(finding: jobkit.Finding) -> None:
    key_id: str = finding.parameters.get("key_id") or ""  # remedy.json's schema checked its form
    server = finding.object_id
    sql = sql_client(finding)
    before = protector(sql, finding)
    if is_customer_managed(before):
        info(f"ok: server {server}: the TDE protector is Key Vault key {before.get('uri')}")
        return
    if not key_id:
        raise BadInput(
            "remediationParameters.key_id is missing: name the Key Vault key to protect server "
            f"{server} with (https://<vault>.vault.azure.net/keys/<name>/<version>)"
        )
    name = key_name(key_id)
    registered = has_key(sql, finding, name)
    fields: Properties = {"serverKeyType": "AzureKeyVault", "serverKeyName": name}
    if finding.parameters.get("auto_rotation", False):
        fields["autoRotationEnabled"] = True
    after = comparable(
        {k: v for k, v in {**before, **fields}.items() if k not in ("uri", "thumbprint")}
    )
    lines = [] if registered else [f"server {server}: registered Key Vault key {key_id} as {name}"]
    lines.append(describe(f"server {server}: TDE protector", before, fields))
    if planning():
        for line in lines:
            change(line)
        return
    if not registered:
        register_key(sql, finding, name, key_id)
    record(server, KIND, comparable(before), after)
    write_protector(sql, finding, after)
    for line in lines:
        change(line)
    info(f"done: the TDE protector of {server} is {key_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    server = finding.object_id
    mine = [r for r in of_kind(list(records), KIND) if r["resource"] == server]
    if not mine:
        raise RecordError(f"no change record is about the TDE protector of server {server}")
    last = mine[-1]
    sql = sql_client(finding)
    now = protector(sql, finding)
    differ = [k for k in SHOWN if now.get(k) != last["after"].get(k)]
    if differ:
        raise ChangedSince(
            f"server {server}: the TDE protector changed since the job set it ({', '.join(differ)}"
            f" now {', '.join(str(now.get(k)) for k in differ)})"
        )
    write_protector(sql, finding, last["before"])
    undone = {k: last["before"].get(k) for k in SHOWN if last["before"].get(k) != now.get(k)}
    change(f"{describe(f'server {server}: TDE protector', now, undone)} (rollback)")
    info(f"done: server {server} is back to its former TDE protector; the key stays registered")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
