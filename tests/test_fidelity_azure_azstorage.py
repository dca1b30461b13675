"""The sandbox's storage accounts refuse what Azure's storage resource provider refuses, and fill
what it fills (sandbox/storage_rules.py cites each page), with real azure-mgmt-storage calls."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.storage import StorageManagementClient

from sandbox.azure import AzureSandbox
from tests.test_job_modes_azure_azstorage import GROUP, account_state, admin_storage, new_account


@pytest.fixture(scope="module")
def storage(azure_sandbox: AzureSandbox) -> StorageManagementClient:
    azure_sandbox.create_resource_group(GROUP)
    return admin_storage(azure_sandbox)


def refused(call: Any, status: int, code: str) -> str:
    with pytest.raises(HttpResponseError) as caught:
        call()
    assert caught.value.status_code == status, caught.value
    assert caught.value.error is not None and caught.value.error.code == code, caught.value
    return str(caught.value.error.message)


def test_a_new_account_has_what_azure_fills(storage: StorageManagementClient) -> None:
    name = new_account(storage)  # begin_create: the create answers 200, never 201
    props = account_state(storage, name)["properties"]
    assert "blobServices" not in props  # served at its own path only
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["networkAcls"] == {
        "bypass": "AzureServices",
        "defaultAction": "Allow",
        "ipRules": [],
        "virtualNetworkRules": [],
    }
    assert props["encryption"]["keySource"] == "Microsoft.Storage"
    blob = storage.blob_services.get_service_properties(GROUP, name).as_dict()
    assert blob["name"] == "default"
    assert blob["properties"]["deleteRetentionPolicy"] == {"enabled": False}


def test_a_system_assigned_identity_gets_a_principal(storage: StorageManagementClient) -> None:
    name = f"st{uuid.uuid4().hex[:12]}"
    body = {
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "identity": {"type": "SystemAssigned"},
    }
    storage.storage_accounts.begin_create(GROUP, name, body).result()
    identity = storage.storage_accounts.get_properties(GROUP, name).as_dict()["identity"]
    assert uuid.UUID(identity["principalId"]) and identity["tenantId"]


@pytest.mark.parametrize(
    ("acls", "code"),
    [
        ({"defaultAction": "Block"}, "InvalidRequestPropertyValue"),
        ({"defaultAction": "Deny", "bypass": "None, Logging"}, "InvalidRequestPropertyValue"),
        ({"defaultAction": "Deny", "bypass": "Everything"}, "InvalidRequestPropertyValue"),
        (
            {"defaultAction": "Deny", "ipRules": [{"value": "10.0.0.300"}]},
            "NetworkAclsValidationFailure",
        ),
        (
            {"defaultAction": "Deny", "ipRules": [{"value": "2001:db8::/32"}]},
            "NetworkAclsValidationFailure",
        ),
    ],
)
def test_a_rule_set_azure_cannot_hold_is_refused(
    storage: StorageManagementClient, acls: dict[str, Any], code: str
) -> None:
    name = new_account(storage)
    before = account_state(storage, name)
    refused(
        lambda: storage.storage_accounts.update(GROUP, name, {"properties": {"networkAcls": acls}}),
        400,
        code,
    )
    assert account_state(storage, name) == before


def test_a_patched_rule_set_replaces_the_old_one(storage: StorageManagementClient) -> None:
    name = new_account(
        storage, networkAcls={"defaultAction": "Allow", "ipRules": [{"value": "203.0.113.0/24"}]}
    )
    storage.storage_accounts.update(
        GROUP, name, {"properties": {"networkAcls": {"defaultAction": "Deny"}}}
    )
    acls = account_state(storage, name)["properties"]["networkAcls"]
    assert acls["defaultAction"] == "Deny" and acls["ipRules"] == []  # left out: gone


def test_a_patched_encryption_replaces_the_old_one(storage: StorageManagementClient) -> None:
    name = new_account(
        storage,
        encryption={"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": True},
    )
    storage.storage_accounts.update(
        GROUP, name, {"properties": {"encryption": {"keySource": "Microsoft.Storage"}}}
    )
    encryption = account_state(storage, name)["properties"]["encryption"]
    assert encryption == {"keySource": "Microsoft.Storage"}


@pytest.mark.parametrize(
    ("identity", "encryption", "code"),
    [
        (
            {"type": "SystemAssigned"},
            {"keySource": "Microsoft.Keyvault"},
            "InvalidEncryptionKeySource",
        ),
        (
            None,
            {
                "keySource": "Microsoft.Keyvault",
                "keyvaultproperties": {"keyname": "k", "keyvaulturi": "https://v.vault.azure.net"},
            },
            "KeyVaultAuthenticationFailure",
        ),
        (
            {"type": "SystemAssigned"},
            {
                "keySource": "Microsoft.Keyvault",
                "keyvaultproperties": {"keyname": "k", "keyvaulturi": "https://v.vault.azure.net"},
                "identity": {
                    "userAssignedIdentity": "/subscriptions/x/resourceGroups/y/providers/"
                    "Microsoft.ManagedIdentity/userAssignedIdentities/z"
                },
            },
            "InvalidEncryptionIdentity",
        ),
    ],
)
def test_a_customer_managed_key_needs_its_properties_and_an_identity(
    storage: StorageManagementClient,
    identity: dict[str, Any] | None,
    encryption: dict[str, Any],
    code: str,
) -> None:
    name = f"st{uuid.uuid4().hex[:12]}"
    body: dict[str, Any] = {
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
    }
    if identity:
        body["identity"] = identity
    storage.storage_accounts.begin_create(GROUP, name, body).result()
    refused(
        lambda: storage.storage_accounts.update(
            GROUP, name, {"properties": {"encryption": encryption}}
        ),
        400,
        code,
    )
    assert account_state(storage, name)["properties"]["encryption"] == {
        "keySource": "Microsoft.Storage"
    }


@pytest.mark.parametrize("days", [0, 366, None])
def test_soft_delete_days_are_1_to_365(storage: StorageManagementClient, days: int | None) -> None:
    name = new_account(storage)
    policy = {"enabled": True, "days": days}
    refused(
        lambda: storage.blob_services.set_service_properties(
            GROUP, name, {"properties": {"deleteRetentionPolicy": policy}}
        ),
        400,
        "InvalidRequestPropertyValue",
    )


def test_the_blob_service_is_named_default(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient
) -> None:
    name = new_account(storage)
    path = (
        f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"Microsoft.Storage/storageAccounts/{name}/blobServices/other"
    )
    status, body = azure_sandbox.admin_request("PUT", path, {"properties": {}})
    assert status == 400 and body["error"]["code"] == "InvalidResourceName", body


def test_a_container_level_azure_does_not_know_is_refused(storage: StorageManagementClient) -> None:
    name = new_account(storage)
    refused(
        lambda: storage.blob_containers.create(
            GROUP, name, "c", {"properties": {"publicAccess": "Anyone"}}
        ),
        400,
        "InvalidRequestPropertyValue",
    )


def test_no_public_container_on_an_account_that_disallows_it(
    storage: StorageManagementClient,
) -> None:
    name = new_account(storage, allowBlobPublicAccess=False)
    message = refused(
        lambda: storage.blob_containers.create(
            GROUP, name, "c", {"properties": {"publicAccess": "Blob"}}
        ),
        409,
        "PublicAccessNotPermitted",
    )
    assert "not permitted" in message
    storage.blob_containers.create(GROUP, name, "c", {"properties": {"publicAccess": "None"}})
    refused(
        lambda: storage.blob_containers.update(
            GROUP, name, "c", {"properties": {"publicAccess": "Container"}}
        ),
        409,
        "PublicAccessNotPermitted",
    )


def test_the_worker_role_cannot_write_what_its_jobs_do_not(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient
) -> None:
    """The storage jobs' role definitions hold no delete: Azure RBAC answers 403 naming it."""
    name = new_account(admin_storage(azure_sandbox))
    worker_env = azure_sandbox.worker_env()
    credential = ClientSecretCredential(
        azure_sandbox.tenant_id,
        worker_env["AZURE_CLIENT_ID"],
        worker_env["AZURE_CLIENT_SECRET"],
        authority=azure_sandbox.authority_host,
        disable_instance_discovery=True,
        connection_verify=azure_sandbox.ca_file,
    )
    worker = StorageManagementClient(
        credential,
        azure_sandbox.subscription_id,
        base_url=azure_sandbox.endpoint,
        credential_scopes=[f"{azure_sandbox.endpoint}/.default"],
        connection_verify=azure_sandbox.ca_file,
    )
    message = refused(
        lambda: worker.storage_accounts.delete(GROUP, name), 403, "AuthorizationFailed"
    )
    assert "Microsoft.Storage/storageAccounts/delete" in message
