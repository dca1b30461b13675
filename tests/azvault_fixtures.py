"""Key vaults and their diagnostic settings on the Azure sandbox, for the azvault tests.

Setup and inspection go through Resource Manager as the sandbox administrator (plain HTTP,
`AzureSandbox.admin_request`); the jobs run as the worker's app with their role's actions only.
"""

from __future__ import annotations

import uuid
from typing import Any

from azure.identity import ClientSecretCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.secrets import SecretClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.monitor import MonitorManagementClient

from sandbox.azure import TENANT_ID, AzureSandbox
from tests.test_azure_jobs import GROUP

SETTINGS = "providers/Microsoft.Insights/diagnosticSettings"


def vault_path(sandbox: AzureSandbox, name: str, group: str = GROUP) -> str:
    return (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{group}"
        f"/providers/Microsoft.KeyVault/vaults/{name}"
    )


def resource_id(sandbox: AzureSandbox, kind: str, name: str) -> str:
    """A destination's resource id, e.g. kind `Microsoft.Storage/storageAccounts`."""
    return (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}/providers/{kind}/{name}"
    )


def storage_id(sandbox: AzureSandbox, name: str = "auditlogs") -> str:
    return resource_id(sandbox, "Microsoft.Storage/storageAccounts", name)


def workspace_id(sandbox: AzureSandbox, name: str = "la-security") -> str:
    return resource_id(sandbox, "Microsoft.OperationalInsights/workspaces", name)


def new_vault(sandbox: AzureSandbox, **properties: Any) -> str:
    """A vault with settings of its own (access policy, network rules, tags) beside `properties`."""
    name = f"kv-{uuid.uuid4().hex[:10]}"
    body = {
        "location": sandbox.location,
        "tags": {"team": "payments"},
        "properties": {
            "tenantId": TENANT_ID,
            "sku": {"family": "A", "name": "standard"},
            "accessPolicies": [
                {
                    "tenantId": TENANT_ID,
                    "objectId": "00000000-0000-0000-0000-00000000abcd",
                    "permissions": {"secrets": ["get", "list"]},
                }
            ],
            "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
            "enableRbacAuthorization": False,
            **properties,
        },
    }
    status, answer = sandbox.admin_request("PUT", vault_path(sandbox, name), body)
    assert status in (200, 201), answer
    return name


def vault_document(sandbox: AzureSandbox, name: str) -> dict[str, Any]:
    """The vault as Resource Manager returns it, less what changes on every write."""
    status, answer = sandbox.admin_request("GET", vault_path(sandbox, name))
    assert status == 200, answer
    return {k: v for k, v in answer.items() if k != "etag"}


def put_setting(sandbox: AzureSandbox, vault: str, name: str, properties: dict[str, Any]) -> None:
    path = f"{vault_path(sandbox, vault)}/{SETTINGS}/{name}"
    status, answer = sandbox.admin_request("PUT", path, {"properties": properties})
    assert status in (200, 201), answer


def settings_of(sandbox: AzureSandbox, vault: str) -> dict[str, dict[str, Any]]:
    """The vault's diagnostic settings: name -> properties."""
    status, answer = sandbox.admin_request("GET", f"{vault_path(sandbox, vault)}/{SETTINGS}")
    assert status == 200, answer
    return {
        s["name"]: {k: v for k, v in s["properties"].items() if k != "provisioningState"}
        for s in answer["value"]
    }


def _credential(sandbox: AzureSandbox, admin: bool) -> ClientSecretCredential:
    return ClientSecretCredential(
        sandbox.tenant_id,
        sandbox.admin_client_id if admin else sandbox.client_id,
        sandbox.admin_client_secret if admin else sandbox.client_secret,
        authority=sandbox.authority_host,
        disable_instance_discovery=True,
        connection_verify=sandbox.ca_file,
    )


def keyvault_client(sandbox: AzureSandbox, admin: bool = True) -> KeyVaultManagementClient:
    """A real azure-mgmt-keyvault client on the sandbox."""
    return KeyVaultManagementClient(
        _credential(sandbox, admin),
        sandbox.subscription_id,
        base_url=sandbox.endpoint,
        credential_scopes=[f"{sandbox.endpoint}/.default"],
        polling_interval=0,
        connection_verify=sandbox.ca_file,
    )


def monitor_client(sandbox: AzureSandbox, admin: bool = True) -> MonitorManagementClient:
    """A real azure-mgmt-monitor client on the sandbox."""
    return MonitorManagementClient(
        _credential(sandbox, admin),
        sandbox.subscription_id,
        base_url=sandbox.endpoint,
        credential_scopes=[f"{sandbox.endpoint}/.default"],
        connection_verify=sandbox.ca_file,
    )


def vault_uri(sandbox: AzureSandbox, vault: str) -> str:
    return str(vault_document(sandbox, vault)["properties"]["vaultUri"])


def key_client(sandbox: AzureSandbox, vault: str, admin: bool = True) -> KeyClient:
    """A real azure-keyvault-keys client on the vault's data plane in the sandbox."""
    return KeyClient(
        vault_uri(sandbox, vault),
        _credential(sandbox, admin),
        verify_challenge_resource=False,  # the sandbox's host is not *.vault.azure.net
        connection_verify=sandbox.ca_file,
    )


def secret_client(sandbox: AzureSandbox, vault: str, admin: bool = True) -> SecretClient:
    """A real azure-keyvault-secrets client on the vault's data plane in the sandbox."""
    return SecretClient(
        vault_uri(sandbox, vault),
        _credential(sandbox, admin),
        verify_challenge_resource=False,
        connection_verify=sandbox.ca_file,
    )
