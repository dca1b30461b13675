"""The storage-account jobs in every mode, on the Azure emulator, run as the worker runs them.

Accounts are made and read back with a real azure-mgmt-storage client as the sandbox
administrator; the jobs run as the worker's app, whose role holds only the jobs' role definitions.
Each alias of azure_storage_account_harden gets the whole life of `exercise` (tests/job_modes.py),
plus "keeps everything else" and a failure (exit 1, one ERROR line).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.storage import StorageManagementClient

from sandbox.azure import AzureSandbox
from sandbox.request_log import RequestLog
from tests.job_modes import Case, Run, exercise, runner
from tests.test_azure_jobs import payload

GROUP = f"remedy-storage-{uuid.uuid4().hex[:6]}"
HARDEN = "azure_storage_account_harden"
HTTPS_RULE = "5c8c269a7a550e1fb6560cdb"
DENY_RULE = "99d645b8-aa87-11ea-bb37-0242ac130002"
TRUSTED_RULE = "7ba94354-ab4c-11ea-bb37-0242ac130002"
SOFT_DELETE_RULE = "643eb5fc-7747-4df4-b217-41c4e97e0c07"
IP_RULES = [{"value": "203.0.113.0/24", "action": "Allow"}, {"value": "198.51.100.7"}]
SUBNET = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/net/providers/"
    "Microsoft.Network/virtualNetworks/vnet/subnets/app"
)


def admin_storage(sandbox: AzureSandbox) -> StorageManagementClient:
    """A real azure-mgmt-storage client on the sandbox, as its administrator."""
    credential = ClientSecretCredential(
        sandbox.tenant_id,
        sandbox.admin_client_id,
        sandbox.admin_client_secret,
        authority=sandbox.authority_host,
        disable_instance_discovery=True,
        connection_verify=sandbox.ca_file,
    )
    return StorageManagementClient(
        credential,
        sandbox.subscription_id,
        base_url=sandbox.endpoint,
        credential_scopes=[f"{sandbox.endpoint}/.default"],
        polling_interval=0,
        connection_verify=sandbox.ca_file,
    )


@pytest.fixture(scope="module")
def storage(azure_sandbox: AzureSandbox) -> StorageManagementClient:
    azure_sandbox.create_resource_group(GROUP)
    return admin_storage(azure_sandbox)


@pytest.fixture
def run(tmp_path: Path, azure_sandbox: AzureSandbox) -> Run:
    assert azure_sandbox.emulator is not None
    log: RequestLog = azure_sandbox.emulator.requests
    return runner(tmp_path, azure_sandbox.worker_env(), log)


def new_account(storage: StorageManagementClient, **properties: Any) -> str:
    name = f"st{uuid.uuid4().hex[:12]}"
    body = {
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "tags": {"owner": "data-team"},
        "properties": {"minimumTlsVersion": "TLS1_2", **properties},
    }
    storage.storage_accounts.begin_create(GROUP, name, body).result()
    return name


def account_state(storage: StorageManagementClient, name: str) -> dict[str, Any]:
    """The account's properties and tags."""
    found = storage.storage_accounts.get_properties(GROUP, name).as_dict()
    return {"tags": found.get("tags"), "properties": without_nulls(found["properties"])}


def without_nulls(value: Any) -> Any:
    """What is set: Resource Manager answers an unset property as null (or leaves it out)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def blob_state(storage: StorageManagementClient, name: str) -> dict[str, Any]:
    found: dict[str, Any] = storage.blob_services.get_service_properties(GROUP, name).as_dict()
    return found["properties"]


def finding(sandbox: AzureSandbox, account: str, rule_id: str, **parameters: Any) -> Any:
    return payload(sandbox, account, rule_id, resource_group=GROUP, **parameters)


def patch(storage: StorageManagementClient, name: str, properties: dict[str, Any]) -> None:
    """A person's change through Resource Manager."""
    storage.storage_accounts.update(GROUP, name, {"properties": properties})


def set_blob(storage: StorageManagementClient, name: str, **changes: Any) -> None:
    properties = {k: v for k, v in blob_state(storage, name).items() if k != "provisioningState"}
    storage.blob_services.set_service_properties(
        GROUP, name, {"properties": {**properties, **changes}}
    )


ALIASES: dict[str, tuple[str, str]] = {
    # alias -> (rule id, setting)
    "azure_storage_account_allow_https_traffic_only": (HTTPS_RULE, "https_only"),
    "azure_storage_default_network_access_deny": (DENY_RULE, "deny_public_network_access"),
    "azure_storage_trusted_microsoft_services_access_enabled": (
        TRUSTED_RULE,
        "trust_azure_services",
    ),
    "azure_storage_soft_delete_not_enabled": (SOFT_DELETE_RULE, "blob_soft_delete"),
}


def test_https_only_modes(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = new_account(storage, supportsHttpsTrafficOnly=False)
    case = Case(
        HARDEN,
        finding(azure_sandbox, name, HTTPS_RULE, setting="https_only"),
        lambda: account_state(storage, name),
        lambda: patch(storage, name, {"supportsHttpsTrafficOnly": False}),
    )
    exercise(run, case)


def test_default_network_deny_modes(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    acls = {
        "defaultAction": "Allow",
        "bypass": "Logging, Metrics",
        "ipRules": IP_RULES,
        "virtualNetworkRules": [{"id": SUBNET, "action": "Allow"}],
    }
    name = new_account(storage, networkAcls=acls)

    def tamper() -> None:  # someone adds an IP rule (the whole rule set, as Azure takes it)
        now = account_state(storage, name)["properties"]["networkAcls"]
        patch(
            storage,
            name,
            {"networkAcls": {**now, "ipRules": [*now["ipRules"], {"value": "192.0.2.1"}]}},
        )

    case = Case(
        HARDEN,
        finding(azure_sandbox, name, DENY_RULE, setting="deny_public_network_access"),
        lambda: account_state(storage, name),
        tamper,
    )
    exercise(run, case)


def test_trusted_services_modes(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    acls = {"defaultAction": "Deny", "bypass": "Logging, Metrics", "ipRules": IP_RULES}
    name = new_account(storage, networkAcls=acls)

    def tamper() -> None:
        now = account_state(storage, name)["properties"]["networkAcls"]
        patch(storage, name, {"networkAcls": {**now, "bypass": "AzureServices"}})

    case = Case(
        HARDEN,
        finding(azure_sandbox, name, TRUSTED_RULE, setting="trust_azure_services"),
        lambda: account_state(storage, name),
        tamper,
    )
    exercise(run, case)


def test_soft_delete_modes(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = new_account(storage)
    set_blob(storage, name, isVersioningEnabled=True, cors={"corsRules": []})

    case = Case(
        HARDEN,
        finding(azure_sandbox, name, SOFT_DELETE_RULE, setting="blob_soft_delete"),
        lambda: blob_state(storage, name),
        lambda: set_blob(storage, name, deleteRetentionPolicy={"enabled": True, "days": 30}),
    )
    exercise(run, case)


# -- keeps everything else -----------------------------------------------------------------------


def test_deny_keeps_the_ip_and_network_rules_and_every_other_setting(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    acls = {
        "defaultAction": "Allow",
        "bypass": "Logging, Metrics",
        "ipRules": IP_RULES,
        "virtualNetworkRules": [{"id": SUBNET, "action": "Allow"}],
    }
    name = new_account(storage, networkAcls=acls, supportsHttpsTrafficOnly=False)
    before = account_state(storage, name)
    done = run(
        HARDEN, finding(azure_sandbox, name, DENY_RULE, setting="deny_public_network_access")
    )
    assert done.returncode == 0, str(done)
    after = account_state(storage, name)
    assert after["properties"]["networkAcls"]["defaultAction"] == "Deny"
    kept = after["properties"]["networkAcls"]
    assert [r["value"] for r in kept["ipRules"]] == ["203.0.113.0/24", "198.51.100.7"]
    assert [r["id"] for r in kept["virtualNetworkRules"]] == [SUBNET]
    assert kept["bypass"] == "Logging, Metrics"
    # nothing else moved: another alias's setting, the TLS version, the tags
    before["properties"]["networkAcls"]["defaultAction"] = "Deny"
    assert after == before


def test_trusted_services_keeps_logging_and_metrics(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = new_account(storage, networkAcls={"defaultAction": "Deny", "bypass": "Logging, Metrics"})
    done = run(HARDEN, finding(azure_sandbox, name, TRUSTED_RULE, setting="trust_azure_services"))
    assert done.returncode == 0, str(done)
    acls = account_state(storage, name)["properties"]["networkAcls"]
    assert acls["bypass"] == "Logging, Metrics, AzureServices"
    assert acls["defaultAction"] == "Deny"


def test_soft_delete_keeps_the_blob_service_and_takes_the_days(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = new_account(storage)
    cors = {
        "corsRules": [
            {
                "allowedOrigins": ["https://app.example"],
                "allowedMethods": ["GET"],
                "maxAgeInSeconds": 60,
                "exposedHeaders": ["*"],
                "allowedHeaders": ["*"],
            }
        ]
    }
    set_blob(
        storage,
        name,
        isVersioningEnabled=True,
        cors=cors,
        containerDeleteRetentionPolicy={"enabled": True, "days": 3},
    )
    done = run(
        HARDEN,
        finding(
            azure_sandbox, name, SOFT_DELETE_RULE, setting="blob_soft_delete", retention_days=14
        ),
    )
    assert done.returncode == 0, str(done)
    after = blob_state(storage, name)
    assert after["deleteRetentionPolicy"] == {"enabled": True, "days": 14}
    assert after["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 3}  # its own days
    assert after["isVersioningEnabled"] is True
    assert after["cors"] == cors
    assert len(done.changes) == 1, str(done)


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_an_account_that_does_not_exist_exits_1_with_one_error(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run, alias: str
) -> None:
    rule_id, setting = ALIASES[alias]
    done = run(HARDEN, finding(azure_sandbox, "stnothere0000", rule_id, setting=setting))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1, str(done)
    assert "404 ResourceNotFound" in done.errors[0] and "stnothere0000" in done.errors[0]
    assert done.changes == [] and done.mutating == []


def test_an_alias_supplies_the_setting_from_the_rule_id(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = new_account(storage, supportsHttpsTrafficOnly=False)
    done = run(HARDEN, finding(azure_sandbox, name, HTTPS_RULE))
    assert done.returncode == 0, str(done)
    assert account_state(storage, name)["properties"]["supportsHttpsTrafficOnly"] is True


# -- azure_blob_remove_public_access -------------------------------------------------------------

PUBLIC = "azure_blob_remove_public_access"
PUBLIC_RULE = "5c8c26997a550e1fb6560cd9"


def new_container(storage: StorageManagementClient, account: str, name: str, level: str) -> None:
    storage.blob_containers.create(
        GROUP,
        account,
        name,
        {"properties": {"publicAccess": level, "metadata": {"team": "web"}}},
    )


def public_state(storage: StorageManagementClient, account: str) -> dict[str, Any]:
    containers = {
        str(c.name): (c.as_dict().get("properties") or {})
        for c in storage.blob_containers.list(GROUP, account)
    }
    props = account_state(storage, account)["properties"]
    return {
        "allowBlobPublicAccess": props.get("allowBlobPublicAccess"),
        "containers": {
            n: (p.get("publicAccess"), p.get("metadata")) for n, p in sorted(containers.items())
        },
    }


def public_account(storage: StorageManagementClient) -> str:
    name = new_account(storage, allowBlobPublicAccess=True)
    new_container(storage, name, "images", "Blob")
    new_container(storage, name, "site", "Container")
    new_container(storage, name, "private", "None")
    return name


def test_remove_public_access_modes(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = public_account(storage)

    def tamper() -> None:  # someone makes a container public again
        storage.storage_accounts.update(
            GROUP, name, {"properties": {"allowBlobPublicAccess": True}}
        )
        storage.blob_containers.update(
            GROUP, name, "images", {"properties": {"publicAccess": "Blob"}}
        )

    exercise(
        run,
        Case(
            PUBLIC,
            finding(azure_sandbox, name, PUBLIC_RULE),
            lambda: public_state(storage, name),
            tamper,
        ),
    )


def test_remove_public_access_keeps_the_rest(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = public_account(storage)
    before = account_state(storage, name)
    done = run(PUBLIC, finding(azure_sandbox, name, PUBLIC_RULE))
    assert done.returncode == 0, str(done)
    assert public_state(storage, name) == {
        "allowBlobPublicAccess": False,
        "containers": {
            "images": ("None", {"team": "web"}),
            "private": ("None", {"team": "web"}),
            "site": ("None", {"team": "web"}),
        },
    }
    after = account_state(storage, name)
    before["properties"]["allowBlobPublicAccess"] = False
    assert after == before  # nothing else of the account moved
    assert len(done.changes) == 3, str(done)  # two containers, the account


def test_remove_public_access_can_leave_the_account_setting(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = public_account(storage)
    done = run(PUBLIC, finding(azure_sandbox, name, PUBLIC_RULE, disallow_at_account=False))
    assert done.returncode == 0, str(done)
    state = public_state(storage, name)
    assert state["allowBlobPublicAccess"] is True
    assert {level for level, _ in state["containers"].values()} == {"None"}
    again = run(PUBLIC, finding(azure_sandbox, name, PUBLIC_RULE, disallow_at_account=False))
    assert again.returncode == 0 and again.changes == [], str(again)


def test_remove_public_access_on_a_missing_account_exits_1(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    done = run(PUBLIC, finding(azure_sandbox, "stnothere0000", PUBLIC_RULE))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "404 ResourceNotFound" in done.errors[0], str(done)
    assert done.changes == [] and done.mutating == []


# -- azure_storage_encryption_at_rest_not_configured_with_customer_managed_key -------------------

CMK = "azure_storage_encryption_at_rest_not_configured_with_customer_managed_key"
CMK_RULE = "02b672b7-a590-4434-8188-19325b2d1864"
KEY_URI = "https://kv-remedy.vault.azure.net/keys/storage-key"
SERVICES = {"blob": {"enabled": True, "keyType": "Account"}, "file": {"enabled": True}}


def encrypted_account(storage: StorageManagementClient, identity: dict[str, Any] | None) -> str:
    name = f"st{uuid.uuid4().hex[:12]}"
    body: dict[str, Any] = {
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "properties": {
            "encryption": {
                "keySource": "Microsoft.Storage",
                "services": SERVICES,
                "requireInfrastructureEncryption": True,
            }
        },
    }
    if identity is not None:
        body["identity"] = identity
    storage.storage_accounts.begin_create(GROUP, name, body).result()
    return name


def encryption_of(storage: StorageManagementClient, name: str) -> Any:
    return account_state(storage, name)["properties"]["encryption"]


def test_customer_managed_key_modes(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = encrypted_account(storage, {"type": "SystemAssigned"})

    def tamper() -> None:  # someone moves the account to another key
        now = encryption_of(storage, name)
        vault = {**now["keyvaultproperties"], "keyname": "other-key"}
        patch(storage, name, {"encryption": {**now, "keyvaultproperties": vault}})

    case = Case(
        CMK,
        finding(azure_sandbox, name, CMK_RULE, key_uri=KEY_URI),
        lambda: account_state(storage, name),
        tamper,
    )
    exercise(run, case)


def test_customer_managed_key_keeps_the_rest_of_the_encryption(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = encrypted_account(storage, {"type": "SystemAssigned"})
    done = run(CMK, finding(azure_sandbox, name, CMK_RULE, key_uri=f"{KEY_URI}/0a1b2c3d"))
    assert done.returncode == 0, str(done)
    encryption = encryption_of(storage, name)
    assert encryption["keySource"] == "Microsoft.Keyvault"
    assert encryption["keyvaultproperties"] == {
        "keyvaulturi": "https://kv-remedy.vault.azure.net",
        "keyname": "storage-key",
        "keyversion": "0a1b2c3d",
    }
    assert encryption["services"] == SERVICES
    assert encryption["requireInfrastructureEncryption"] is True


def test_customer_managed_key_says_what_identity_is_missing(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    name = encrypted_account(storage, None)
    before = account_state(storage, name)
    done = run(CMK, finding(azure_sandbox, name, CMK_RULE, key_uri=KEY_URI))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1, str(done)
    assert "no system-assigned managed identity" in done.errors[0]
    assert "Key Vault Crypto Service Encryption User" in done.errors[0]
    assert done.changes == [] and done.mutating == [] and done.records == []
    assert account_state(storage, name) == before

    user = (
        f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/storage-reader"
    )
    done = run(
        CMK, finding(azure_sandbox, name, CMK_RULE, key_uri=KEY_URI, user_assigned_identity=user)
    )
    assert done.returncode == 1 and len(done.errors) == 1, str(done)
    assert "is not assigned to the account" in done.errors[0] and user in done.errors[0]


def test_customer_managed_key_with_a_user_assigned_identity(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    user = (
        f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/storage-reader"
    )
    identity = {"type": "UserAssigned", "userAssignedIdentities": {user: {}}}
    name = encrypted_account(storage, identity)
    done = run(
        CMK, finding(azure_sandbox, name, CMK_RULE, key_uri=KEY_URI, user_assigned_identity=user)
    )
    assert done.returncode == 0, str(done)
    assert encryption_of(storage, name)["identity"] == {"userAssignedIdentity": user}


def test_customer_managed_key_on_a_missing_account_exits_1(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    done = run(CMK, finding(azure_sandbox, "stnothere0000", CMK_RULE, key_uri=KEY_URI))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "404 ResourceNotFound" in done.errors[0], str(done)
    assert done.changes == [] and done.mutating == []


def test_customer_managed_key_needs_a_key_uri(
    azure_sandbox: AzureSandbox, storage: StorageManagementClient, run: Run
) -> None:
    done = run(CMK, finding(azure_sandbox, "stany", CMK_RULE, key_uri="kv-remedy/storage-key"))
    assert done.returncode == 2 and len(done.errors) == 1, str(done)
    assert "key_uri" in done.errors[0]
    assert done.requests == []
    done = run(CMK, finding(azure_sandbox, "stany", CMK_RULE))  # intake matched, no key given
    assert done.returncode == 2 and len(done.errors) == 1, str(done)
    assert "remediationParameters.key_uri is missing" in done.errors[0]
    assert done.mutating == []
