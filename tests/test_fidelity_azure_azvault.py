"""The Azure sandbox refuses what Azure refuses in a key vault write and a diagnostic setting
(sandbox/keyvault_rules.py, each rule with its Microsoft Learn page), through the real
azure-mgmt-keyvault and azure-mgmt-monitor clients; it serves diagnostic settings as Resource
Manager extension resources of the vault (sandbox/arm_paths.py), synchronously; and it serves
each vault's data plane (sandbox/keyvault_data.py) to the real azure-keyvault-keys / -secrets
clients, with Key Vault's challenge, audience and data-action checks.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.monitor import MonitorManagementClient

from sandbox.azure import AzureSandbox
from tests.azvault_fixtures import (
    key_client,
    keyvault_client,
    monitor_client,
    new_vault,
    put_setting,
    secret_client,
    settings_of,
    storage_id,
    vault_document,
    vault_path,
    vault_uri,
    workspace_id,
)
from tests.test_azure_jobs import GROUP


@pytest.fixture(scope="module")
def vaults(azure_sandbox: AzureSandbox) -> KeyVaultManagementClient:
    azure_sandbox.create_resource_group(GROUP)
    return keyvault_client(azure_sandbox)


@pytest.fixture(scope="module")
def monitor(azure_sandbox: AzureSandbox) -> MonitorManagementClient:
    return monitor_client(azure_sandbox)


def refused(call: Any, status: int, code: str, *needles: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        call()
    assert caught.value.status_code == status, caught.value
    assert caught.value.error is not None and caught.value.error.code == code, caught.value
    assert all(n in str(caught.value.error.message) for n in needles), caught.value


def patch(vaults: KeyVaultManagementClient, name: str, **properties: Any) -> Any:
    return lambda: vaults.vaults.update(GROUP, name, {"properties": properties})


# -- key vaults ----------------------------------------------------------------------------------


def test_purge_protection_cannot_be_turned_off_again(
    azure_sandbox: AzureSandbox, vaults: KeyVaultManagementClient
) -> None:
    name = new_vault(azure_sandbox, enableSoftDelete=True, enablePurgeProtection=True)
    refused(patch(vaults, name, enablePurgeProtection=False), 400, "BadRequest", "enablePurge")
    assert vault_document(azure_sandbox, name)["properties"]["enablePurgeProtection"] is True


def test_soft_delete_cannot_be_turned_off_again(
    azure_sandbox: AzureSandbox, vaults: KeyVaultManagementClient
) -> None:
    name = new_vault(azure_sandbox, enableSoftDelete=True)
    refused(patch(vaults, name, enableSoftDelete=False), 400, "BadRequest", "enableSoftDelete")
    # turning them on is taken, and the PATCH keeps every other property
    updated = vaults.vaults.update(GROUP, name, {"properties": {"enablePurgeProtection": True}})
    assert updated.properties.enable_purge_protection is True
    assert updated.properties.network_acls.default_action == "Deny"


@pytest.mark.parametrize("days", [6, 91])
def test_soft_delete_retention_is_7_to_90_days(
    azure_sandbox: AzureSandbox, vaults: KeyVaultManagementClient, days: int
) -> None:
    name = new_vault(azure_sandbox)
    refused(patch(vaults, name, softDeleteRetentionInDays=days), 400, "BadRequest", "7 and 90")


# -- diagnostic settings -------------------------------------------------------------------------


def audit_to(**destination: str) -> dict[str, Any]:
    return {**destination, "logs": [{"category": "AuditEvent", "enabled": True}]}


def test_a_diagnostic_setting_is_an_extension_of_its_vault_and_synchronous(
    azure_sandbox: AzureSandbox, monitor: MonitorManagementClient
) -> None:
    first, second = new_vault(azure_sandbox), new_vault(azure_sandbox)
    first_id = vault_path(azure_sandbox, first)
    written = monitor.diagnostic_settings.create_or_update(
        first_id,
        "audit",
        {
            "storage_account_id": storage_id(azure_sandbox),
            "logs": [{"category": "AuditEvent", "enabled": True}],
        },
    )
    assert written.id == f"{first_id}/providers/Microsoft.Insights/diagnosticSettings/audit"
    assert [s.name for s in monitor.diagnostic_settings.list(first_id)] == ["audit"]
    # listed per vault: the other vault has none
    assert list(monitor.diagnostic_settings.list(vault_path(azure_sandbox, second))) == []
    monitor.diagnostic_settings.delete(first_id, "audit")  # 200, no operation to poll
    monitor.diagnostic_settings.delete(first_id, "audit")  # 204: already gone
    assert settings_of(azure_sandbox, first) == {}


def test_a_diagnostic_setting_needs_its_vault(
    azure_sandbox: AzureSandbox, monitor: MonitorManagementClient
) -> None:
    missing = vault_path(azure_sandbox, "kv-nowhere")
    refused(
        lambda: monitor.diagnostic_settings.create_or_update(
            missing, "audit", {"workspace_id": workspace_id(azure_sandbox)}
        ),
        404,
        "ResourceNotFound",
        "kv-nowhere",
    )


def test_a_diagnostic_setting_needs_a_destination(azure_sandbox: AzureSandbox) -> None:
    vault = new_vault(azure_sandbox)
    path = f"{vault_path(azure_sandbox, vault)}/providers/Microsoft.Insights/diagnosticSettings/x"
    status, answer = azure_sandbox.admin_request("PUT", path, {"properties": audit_to()})
    assert status == 400 and answer["error"]["code"] == "BadRequest", answer
    assert "destination" in answer["error"]["message"]


def test_a_destination_is_a_resource_id_of_its_type(
    azure_sandbox: AzureSandbox, monitor: MonitorManagementClient
) -> None:
    vault_id = vault_path(azure_sandbox, new_vault(azure_sandbox))
    for destination in (
        {"storage_account_id": "auditlogs"},
        {"storage_account_id": workspace_id(azure_sandbox)},  # a workspace is no storage account
    ):
        refused(
            lambda d=destination: monitor.diagnostic_settings.create_or_update(
                vault_id,
                "x",
                {**d, "logs": [{"category": "AuditEvent", "enabled": True}]},
            ),
            400,
            "LinkedInvalidPropertyId",
            "properties.storageAccountId",
        )


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"category": "AuditEvent", "categoryGroup": "audit", "enabled": True}, "either"),
        ({"enabled": True}, "either"),
        ({"category": "SignInLogs", "enabled": True}, "SignInLogs"),
        ({"categoryGroup": "everything", "enabled": True}, "everything"),
    ],
)
def test_a_vaults_log_entries_name_a_category_or_group_it_has(
    azure_sandbox: AzureSandbox, entry: dict[str, Any], needle: str
) -> None:
    vault = new_vault(azure_sandbox)
    path = f"{vault_path(azure_sandbox, vault)}/providers/Microsoft.Insights/diagnosticSettings/x"
    body = {"properties": {"workspaceId": workspace_id(azure_sandbox), "logs": [entry]}}
    status, answer = azure_sandbox.admin_request("PUT", path, body)
    assert status == 400 and answer["error"]["code"] == "BadRequest", answer
    assert needle in answer["error"]["message"]


def test_at_most_five_diagnostic_settings_per_resource(azure_sandbox: AzureSandbox) -> None:
    vault = new_vault(azure_sandbox)
    for n in range(5):
        put_setting(
            azure_sandbox,
            vault,
            f"s{n}",
            audit_to(workspaceId=workspace_id(azure_sandbox, f"w{n}")),
        )
    put_setting(azure_sandbox, vault, "s0", audit_to(workspaceId=workspace_id(azure_sandbox)))
    path = f"{vault_path(azure_sandbox, vault)}/providers/Microsoft.Insights/diagnosticSettings/s5"
    body = {"properties": audit_to(workspaceId=workspace_id(azure_sandbox))}
    status, answer = azure_sandbox.admin_request("PUT", path, body)
    assert status == 400 and "at most 5" in answer["error"]["message"], answer
    assert len(settings_of(azure_sandbox, vault)) == 5


def test_diagnostic_settings_are_checked_against_their_own_actions() -> None:
    """Role enforcement sees Microsoft.Insights/diagnosticSettings/{read,write,delete}, not the
    vault's actions (https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/monitor)."""
    from sandbox.arm_access import action
    from sandbox.arm_paths import parse_path

    vault = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
    _, path = parse_path(f"{vault}/providers/Microsoft.Insights/diagnosticSettings/audit")
    assert path is not None
    assert action("PUT", path) == "Microsoft.Insights/diagnosticSettings/write"
    assert action("DELETE", path) == "Microsoft.Insights/diagnosticSettings/delete"
    _, collection = parse_path(f"{vault}/providers/Microsoft.Insights/diagnosticSettings")
    assert collection is not None and collection.is_collection
    assert action("GET", collection) == "Microsoft.Insights/diagnosticSettings/read"


# -- the vaults' data plane (sandbox/keyvault_data.py) ---------------------------------------


def raw(
    sandbox: AzureSandbox, method: str, url: str, token: str | None = None
) -> tuple[int, dict[str, str], Any]:
    context = ssl.create_default_context(cafile=sandbox.ca_file)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def token_for(sandbox: AzureSandbox, resource: str) -> str:
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": sandbox.admin_client_id,
            "client_secret": sandbox.admin_client_secret,
            "scope": f"{resource}/.default",
        }
    ).encode()
    url = f"{sandbox.authority_host}/{sandbox.tenant_id}/oauth2/v2.0/token"
    context = ssl.create_default_context(cafile=sandbox.ca_file)
    with urllib.request.urlopen(url, data=form, context=context, timeout=10) as answer:
        return str(json.loads(answer.read())["access_token"])


def test_a_vault_has_its_data_plane_uri(azure_sandbox: AzureSandbox) -> None:
    vault = new_vault(azure_sandbox)
    assert vault_uri(azure_sandbox, vault) == f"{azure_sandbox.endpoint}/keyvault/{vault}/"


def test_the_data_plane_challenges_a_request_without_a_token(azure_sandbox: AzureSandbox) -> None:
    url = f"{vault_uri(azure_sandbox, new_vault(azure_sandbox))}keys?api-version=7.5"
    status, headers, body = raw(azure_sandbox, "GET", url)
    assert status == 401 and body["error"]["code"] == "Unauthorized", body
    challenge = headers["WWW-Authenticate"]
    assert f'authorization="{azure_sandbox.authority_host}/{azure_sandbox.tenant_id}"' in challenge
    assert 'resource="https://vault.azure.net"' in challenge


def test_the_data_plane_refuses_a_resource_manager_token(azure_sandbox: AzureSandbox) -> None:
    url = f"{vault_uri(azure_sandbox, new_vault(azure_sandbox))}keys?api-version=7.5"
    status, _, body = raw(
        azure_sandbox, "GET", url, token_for(azure_sandbox, azure_sandbox.endpoint)
    )
    assert status == 401 and "AKV10022" in body["error"]["message"], body
    status, _, body = raw(
        azure_sandbox, "GET", url, token_for(azure_sandbox, "https://vault.azure.net")
    )
    assert status == 200 and body == {"value": [], "nextLink": None}, body


def test_each_data_plane_request_needs_its_data_action(azure_sandbox: AzureSandbox) -> None:
    """The worker's role holds the jobs' DataActions (read and update), not create or getSecret."""
    vault = new_vault(azure_sandbox, enableRbacAuthorization=True)
    worker_keys = key_client(azure_sandbox, vault, admin=False)
    with pytest.raises(HttpResponseError) as caught:
        worker_keys.create_rsa_key("k")
    assert caught.value.status_code == 403
    assert "Microsoft.KeyVault/vaults/keys/create/action" in str(caught.value.message)
    assert "ForbiddenByRbac" in str(caught.value)
    secret_client(azure_sandbox, vault).set_secret("s", "value")
    worker_secrets = secret_client(azure_sandbox, vault, admin=False)
    assert [p.name for p in worker_secrets.list_properties_of_secrets()] == ["s"]  # metadata
    with pytest.raises(HttpResponseError) as caught:
        worker_secrets.get_secret("s")  # the value: getSecret/action
    assert caught.value.status_code == 403
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in str(caught.value.message)


def test_unknown_keys_and_secrets_are_404(azure_sandbox: AzureSandbox) -> None:
    vault = new_vault(azure_sandbox)
    with pytest.raises(ResourceNotFoundError) as caught:
        key_client(azure_sandbox, vault).update_key_properties("nope", enabled=False)
    assert caught.value.error is not None and caught.value.error.code == "KeyNotFound"
    with pytest.raises(ResourceNotFoundError) as caught:
        secret_client(azure_sandbox, vault).update_secret_properties("nope", enabled=False)
    assert caught.value.error is not None and caught.value.error.code == "SecretNotFound"


def test_an_expiry_date_comes_after_the_not_before_date(azure_sandbox: AzureSandbox) -> None:
    vault = new_vault(azure_sandbox)
    keys = key_client(azure_sandbox, vault)
    start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    keys.create_rsa_key("k", not_before=start)
    refused(
        lambda: keys.update_key_properties("k", expires_on=start - dt.timedelta(days=1)),
        400,
        "BadParameter",
        "'exp'",
    )
    done = keys.update_key_properties("k", expires_on=start + dt.timedelta(days=1))
    assert done.properties.expires_on == start + dt.timedelta(days=1)
