"""The Azure sandbox serves and refuses Azure SQL's settings as Azure does (sandbox/sql_rules.py).

Each behaviour is documented by Microsoft (the pages are cited in sandbox/sql_rules.py); each is
shown here with the real azure-mgmt-sql client, as the sandbox administrator, on the wire.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.sql import SqlManagementClient

from sandbox.azure import AzureSandbox
from tests.test_azure_jobs import GROUP


@pytest.fixture(scope="module")
def sql(azure_sandbox: AzureSandbox) -> SqlManagementClient:
    azure_sandbox.create_resource_group(GROUP)
    credential = ClientSecretCredential(
        azure_sandbox.tenant_id,
        azure_sandbox.admin_client_id,
        azure_sandbox.admin_client_secret,
        authority=azure_sandbox.authority_host,
        disable_instance_discovery=True,
        connection_verify=azure_sandbox.ca_file,
    )
    return SqlManagementClient(
        credential,
        azure_sandbox.subscription_id,
        base_url=azure_sandbox.endpoint,
        credential_scopes=[f"{azure_sandbox.endpoint}/.default"],
        polling_interval=0,
        connection_verify=azure_sandbox.ca_file,
    )


def new_server(sandbox: AzureSandbox, *databases: str) -> str:
    server = f"sql-{uuid.uuid4().hex[:10]}"
    base = (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.Sql/servers/{server}"
    )
    status, _ = sandbox.admin_request("PUT", base, {"location": sandbox.location, "properties": {}})
    assert status in (200, 201)
    for db in databases:
        status, _ = sandbox.admin_request(
            "PUT", f"{base}/databases/{db}", {"location": sandbox.location, "properties": {}}
        )
        assert status in (200, 201)
    return server


def refused(call: Any) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as caught:
        call()
    return caught.value


def test_a_new_server_has_azures_default_settings(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    server = new_server(azure_sandbox, "orders")
    auditing = sql.server_blob_auditing_policies.get(GROUP, server).as_dict()
    assert auditing["name"] == "default"
    assert auditing["properties"]["state"] == "Disabled"
    alerts = sql.server_security_alert_policies.get(GROUP, server, "Default").as_dict()
    assert alerts["properties"]["state"] == "Disabled"
    assert alerts["properties"]["disabledAlerts"] == [""]  # Azure's "none disabled"
    tde = sql.transparent_data_encryptions.get(GROUP, server, "orders", "current").as_dict()
    assert tde["properties"]["state"] == "Enabled"  # the default since May 2017


def test_settings_of_a_missing_server_or_database_are_404(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    with pytest.raises(ResourceNotFoundError):
        sql.server_blob_auditing_policies.get(GROUP, "sql-nosuchserver")
    server = new_server(azure_sandbox)
    with pytest.raises(ResourceNotFoundError):
        sql.transparent_data_encryptions.get(GROUP, server, "nosuchdb", "current")
    with pytest.raises(ResourceNotFoundError):
        sql.databases.list_by_server(GROUP, "sql-nosuchserver").next()


def test_auditing_enabled_needs_a_destination(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    server = new_server(azure_sandbox)
    error = refused(
        lambda: sql.server_blob_auditing_policies.begin_create_or_update(
            GROUP, server, {"properties": {"state": "Enabled", "retentionDays": 90}}
        ).result()
    )
    assert error.status_code == 400
    assert (
        error.error is not None and error.error.code == "DataSecurityInvalidUserSuppliedParameter"
    )
    assert sql.server_blob_auditing_policies.get(GROUP, server).as_dict()["properties"][
        "state"
    ] == ("Disabled")
    for destination in (
        {"isAzureMonitorTargetEnabled": True},
        {"storageEndpoint": "https://auditlogs1.blob.core.windows.net/"},
    ):
        done = sql.server_blob_auditing_policies.begin_create_or_update(
            GROUP, server, {"properties": {"state": "Enabled", **destination}}
        ).result()
        assert done.as_dict()["properties"]["state"] == "Enabled"


def test_state_is_enabled_or_disabled(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    server = new_server(azure_sandbox, "orders")
    for call in (
        lambda: sql.server_security_alert_policies.begin_create_or_update(
            GROUP, server, "Default", {"properties": {"state": "On"}}
        ).result(),
        lambda: sql.transparent_data_encryptions.begin_create_or_update(
            GROUP, server, "orders", "current", {"properties": {}}
        ).result(),
    ):
        error = refused(call)
        assert error.status_code == 400
        assert error.error is not None
        assert error.error.code == "DataSecurityInvalidUserSuppliedParameter"


def test_disabled_alerts_are_the_documented_types(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    server = new_server(azure_sandbox)
    error = refused(
        lambda: sql.server_security_alert_policies.begin_create_or_update(
            GROUP,
            server,
            "Default",
            {"properties": {"state": "Enabled", "disabledAlerts": ["Sql_Injection", "Nope"]}},
        ).result()
    )
    assert error.status_code == 400 and "Nope" in str(error.message)
    done = sql.server_security_alert_policies.begin_create_or_update(
        GROUP,
        server,
        "Default",
        {"properties": {"state": "Enabled", "disabledAlerts": ["Sql_Injection", "Brute_Force"]}},
    ).result()
    assert done.as_dict()["properties"]["disabledAlerts"] == ["Sql_Injection", "Brute_Force"]


def test_a_setting_has_one_name(azure_sandbox: AzureSandbox, sql: SqlManagementClient) -> None:
    server = new_server(azure_sandbox, "orders")
    error = refused(
        lambda: sql.transparent_data_encryptions.begin_create_or_update(
            GROUP, server, "orders", "other", {"properties": {"state": "Enabled"}}
        ).result()
    )
    assert error.status_code == 400
    assert error.error is not None and error.error.code == "InvalidResourceName"


def test_a_settings_put_is_answered_done(azure_sandbox: AzureSandbox) -> None:
    """200 with the setting, no operation to poll (the REST pages' 200 answer)."""
    server = new_server(azure_sandbox)
    path = (
        f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.Sql/servers/{server}/securityAlertPolicies/Default"
    )
    status, body = azure_sandbox.admin_request("PUT", path, {"properties": {"state": "Enabled"}})
    assert status == 200
    assert body["properties"]["state"] == "Enabled"


def server_with_identity(sandbox: AzureSandbox, identity: bool = True) -> tuple[str, str]:
    server, principal = f"sql-{uuid.uuid4().hex[:10]}", str(uuid.uuid4())
    body: dict[str, Any] = {"location": sandbox.location, "properties": {}}
    if identity:
        body["identity"] = {"type": "SystemAssigned", "principalId": principal}
    path = (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.Sql/servers/{server}"
    )
    status, _ = sandbox.admin_request("PUT", path, body)
    assert status in (200, 201)
    return server, principal


def vault(sandbox: AzureSandbox, properties: dict[str, Any]) -> str:
    name = f"kv{uuid.uuid4().hex[:10]}"
    path = (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.KeyVault/vaults/{name}"
    )
    body = {
        "location": sandbox.location,
        "properties": {"tenantId": sandbox.tenant_id, **properties},
    }
    status, _ = sandbox.admin_request("PUT", path, body)
    assert status in (200, 201)
    return name


def key_body(vault_name: str) -> dict[str, Any]:
    uri = f"https://{vault_name}.vault.azure.net/keys/tde/{'a' * 32}"
    return {"properties": {"serverKeyType": "AzureKeyVault", "uri": uri}}


def policy(principal: str, keys: list[str]) -> dict[str, Any]:
    return {"accessPolicies": [{"objectId": principal, "permissions": {"keys": keys}}]}


def test_a_new_servers_tde_protector_is_service_managed(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    server = new_server(azure_sandbox)
    found = sql.encryption_protectors.get(GROUP, server, "current").as_dict()
    assert found["properties"]["serverKeyType"] == "ServiceManaged"


def test_a_server_key_is_named_after_its_uri(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    server, principal = server_with_identity(azure_sandbox)
    name = vault(azure_sandbox, policy(principal, ["get", "wrapKey", "unwrapKey"]))
    error = refused(
        lambda: sql.server_keys.begin_create_or_update(
            GROUP, server, "mykey", key_body(name)
        ).result()
    )
    assert error.status_code == 400
    assert error.error is not None and error.error.code == "InvalidKeyName"
    done = sql.server_keys.begin_create_or_update(
        GROUP, server, f"{name}_tde_{'a' * 32}", key_body(name)
    ).result()
    assert done.as_dict()["properties"]["serverKeyType"] == "AzureKeyVault"


@pytest.mark.parametrize(
    ("identity", "keys", "code"),
    [
        (False, ["get", "wrapKey", "unwrapKey"], "AzureKeyVaultNoServerIdentity"),
        (True, ["get"], "AzureKeyVaultMissingPermissions"),
        (True, [], "AzureKeyVaultMissingPermissions"),
    ],
)
def test_the_server_must_reach_the_key(
    azure_sandbox: AzureSandbox,
    sql: SqlManagementClient,
    identity: bool,
    keys: list[str],
    code: str,
) -> None:
    server, principal = server_with_identity(azure_sandbox, identity)
    name = vault(azure_sandbox, policy(principal, keys))
    error = refused(
        lambda: sql.server_keys.begin_create_or_update(
            GROUP, server, f"{name}_tde_{'a' * 32}", key_body(name)
        ).result()
    )
    assert error.status_code == 400
    assert error.error is not None and error.error.code == code
    with pytest.raises(ResourceNotFoundError):
        sql.server_keys.get(GROUP, server, f"{name}_tde_{'a' * 32}")


def test_a_key_of_a_vault_that_does_not_exist_is_refused(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    server, _ = server_with_identity(azure_sandbox)
    error = refused(
        lambda: sql.server_keys.begin_create_or_update(
            GROUP, server, f"kvnosuchvault_tde_{'a' * 32}", key_body("kvnosuchvault")
        ).result()
    )
    assert error.error is not None and error.error.code == "AzureKeyVaultKeyNotFound"


def test_a_vault_using_azure_rbac_is_taken_as_granting(
    azure_sandbox: AzureSandbox, sql: SqlManagementClient
) -> None:
    """Role assignments are not emulated (a limit the job's README names)."""
    server, _ = server_with_identity(azure_sandbox)
    name = vault(azure_sandbox, {"enableRbacAuthorization": True})
    done = sql.server_keys.begin_create_or_update(
        GROUP, server, f"{name}_tde_{'a' * 32}", key_body(name)
    ).result()
    assert done.as_dict()["properties"]["uri"].startswith(f"https://{name}.")
