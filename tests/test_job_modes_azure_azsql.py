"""The Azure SQL jobs in every mode, on the Azure emulator, run as the worker runs them.

The same life as tests/test_job_modes_azure.py: verify 3 then 0, plan sends no mutating request,
remediate fixes and records, a second run changes nothing, rollback restores, and refuses after
someone changed the setting. Also, per job, what it keeps and how it fails. Servers, databases
and settings are made and read back as the sandbox administrator, in plain Resource Manager calls.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox.azure import AzureSandbox
from sandbox.request_log import RequestLog
from tests.job_modes import Case, Run, exercise, runner
from tests.test_azure_jobs import GROUP, payload

AUDITING = "azure_sql_auditing_on_server"
AUDITING_RULE = "5c8c268a7a550e1fb6560cb9"
TDE = "azure_sql_data_encryption_on"
TDE_RULE = "5c8c268d7a550e1fb6560cc0"
ALERTS = "azure_sql_server_threat_detection"
ALERTS_ON_RULE = "5c8c26947a550e1fb6560cce"  # azure_sql_threat_detection_on_server
ALERTS_ALL_RULE = "5c8c26977a550e1fb6560cd6"  # azure_sql_threat_detection_types_all_server
ENDPOINT = "https://auditlogs1.blob.core.windows.net/"


@pytest.fixture(scope="module")
def sandbox(azure_sandbox: AzureSandbox) -> AzureSandbox:
    azure_sandbox.create_resource_group(GROUP)
    return azure_sandbox


@pytest.fixture
def run(tmp_path: Path, azure_sandbox: AzureSandbox) -> Run:
    assert azure_sandbox.emulator is not None
    log: RequestLog = azure_sandbox.emulator.requests
    return runner(tmp_path, azure_sandbox.worker_env(), log)


def server_path(sandbox: AzureSandbox, server: str) -> str:
    return (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.Sql/servers/{server}"
    )


def admin(sandbox: AzureSandbox, method: str, path: str, body: Any = None) -> Any:
    status, answer = sandbox.admin_request(method, path, body)
    assert status in (200, 201, 202), (status, answer)
    return answer


def new_server(sandbox: AzureSandbox, databases: tuple[str, ...] = ()) -> str:
    server = f"sql-{uuid.uuid4().hex[:10]}"
    body = {"location": sandbox.location, "properties": {"administratorLogin": "sqladmin"}}
    admin(sandbox, "PUT", server_path(sandbox, server), body)
    for db in databases:
        admin(
            sandbox,
            "PUT",
            f"{server_path(sandbox, server)}/databases/{db}",
            {
                "location": sandbox.location,
                "properties": {"collation": "SQL_Latin1_General_CP1_CI_AS"},
            },
        )
    return server


def setting_path(sandbox: AzureSandbox, server: str, tail: str) -> str:
    return f"{server_path(sandbox, server)}/{tail}"


def put_setting(sandbox: AzureSandbox, server: str, tail: str, props: dict[str, Any]) -> None:
    admin(sandbox, "PUT", setting_path(sandbox, server, tail), {"properties": props})


def setting(sandbox: AzureSandbox, server: str, tail: str) -> dict[str, Any]:
    props = dict(admin(sandbox, "GET", setting_path(sandbox, server, tail))["properties"])
    props.pop("provisioningState", None)
    return props


AUDIT_TAIL = "auditingSettings/default"
ALERT_TAIL = "securityAlertPolicies/Default"


def tde_tail(db: str) -> str:
    return f"databases/{db}/transparentDataEncryption/current"


# -- auditing -------------------------------------------------------------------------------------


def test_auditing_modes(sandbox: AzureSandbox, run: Run) -> None:
    server = new_server(sandbox)
    put_setting(
        sandbox,
        server,
        AUDIT_TAIL,
        {
            "state": "Disabled",
            "retentionDays": 90,
            "auditActionsAndGroups": ["BATCH_COMPLETED_GROUP"],
        },
    )

    def tamper() -> None:
        props = setting(sandbox, server, AUDIT_TAIL)
        put_setting(
            sandbox,
            server,
            AUDIT_TAIL,
            {**props, "storageEndpoint": ENDPOINT.replace("auditlogs1", "other1")},
        )

    finding = payload(sandbox, server, AUDITING_RULE, azure_monitor=True)
    exercise(run, Case(AUDITING, finding, lambda: setting(sandbox, server, AUDIT_TAIL), tamper))


def test_auditing_keeps_everything_else(sandbox: AzureSandbox, run: Run) -> None:
    server = new_server(sandbox)
    put_setting(
        sandbox,
        server,
        AUDIT_TAIL,
        {
            "state": "Disabled",
            "storageEndpoint": ENDPOINT,
            "retentionDays": 120,
            "auditActionsAndGroups": ["FAILED_DATABASE_AUTHENTICATION_GROUP"],
            "queueDelayMs": 4000,
        },
    )
    done = run(AUDITING, payload(sandbox, server, AUDITING_RULE, azure_monitor=True))
    assert done.returncode == 0, str(done)
    after = setting(sandbox, server, AUDIT_TAIL)
    assert after["state"] == "Enabled"
    # its own destination is used: the parameter's is not added
    assert after["storageEndpoint"] == ENDPOINT
    assert after.get("isAzureMonitorTargetEnabled") is not True
    assert after["retentionDays"] == 120
    assert after["auditActionsAndGroups"] == ["FAILED_DATABASE_AUTHENTICATION_GROUP"]
    assert after["queueDelayMs"] == 4000


def test_auditing_default_policy_to_a_storage_account(sandbox: AzureSandbox, run: Run) -> None:
    server = new_server(sandbox)  # never configured: Azure's default policy, Disabled
    done = run(AUDITING, payload(sandbox, server, AUDITING_RULE, storage_endpoint=ENDPOINT))
    assert done.returncode == 0, str(done)
    after = setting(sandbox, server, AUDIT_TAIL)
    assert (after["state"], after["storageEndpoint"]) == ("Enabled", ENDPOINT)


def test_auditing_without_a_destination_changes_nothing(sandbox: AzureSandbox, run: Run) -> None:
    server = new_server(sandbox)
    done = run(AUDITING, payload(sandbox, server, AUDITING_RULE))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "no destination" in done.errors[0], str(done)
    assert done.mutating == []
    assert setting(sandbox, server, AUDIT_TAIL)["state"] == "Disabled"


def test_auditing_of_a_missing_server_fails(sandbox: AzureSandbox, run: Run) -> None:
    done = run(AUDITING, payload(sandbox, "sql-nosuchserver", AUDITING_RULE, azure_monitor=True))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "404" in done.errors[0], str(done)


# -- threat detection -----------------------------------------------------------------------------


def test_threat_detection_all_types_modes(sandbox: AzureSandbox, run: Run) -> None:
    server = new_server(sandbox)
    put_setting(
        sandbox,
        server,
        ALERT_TAIL,
        {"state": "Disabled", "disabledAlerts": ["Sql_Injection", "Brute_Force"]},
    )

    def tamper() -> None:
        props = setting(sandbox, server, ALERT_TAIL)
        put_setting(sandbox, server, ALERT_TAIL, {**props, "emailAddresses": ["soc@example.com"]})

    finding = payload(sandbox, server, ALERTS_ALL_RULE)  # the alias's parameter: all types
    exercise(run, Case(ALERTS, finding, lambda: setting(sandbox, server, ALERT_TAIL), tamper))


def test_threat_detection_on_server_modes(sandbox: AzureSandbox, run: Run) -> None:
    server = new_server(sandbox)  # never configured: Azure's default policy, Disabled

    def tamper() -> None:
        props = setting(sandbox, server, ALERT_TAIL)
        put_setting(sandbox, server, ALERT_TAIL, {**props, "disabledAlerts": ["Unsafe_Action"]})

    finding = payload(sandbox, server, ALERTS_ON_RULE)
    exercise(run, Case(ALERTS, finding, lambda: setting(sandbox, server, ALERT_TAIL), tamper))


def test_threat_detection_keeps_everything_else(sandbox: AzureSandbox, run: Run) -> None:
    server = new_server(sandbox)
    kept = {
        "emailAddresses": ["soc@example.com"],
        "emailAccountAdmins": True,
        "retentionDays": 30,
        "storageEndpoint": ENDPOINT,
    }
    props = {"state": "Enabled", "disabledAlerts": ["Data_Exfiltration"], **kept}
    put_setting(sandbox, server, ALERT_TAIL, props)

    on_only = run(ALERTS, payload(sandbox, server, ALERTS_ON_RULE))  # already Enabled
    assert on_only.returncode == 0 and on_only.changes == [], str(on_only)
    assert setting(sandbox, server, ALERT_TAIL)["disabledAlerts"] == ["Data_Exfiltration"]

    every = run(ALERTS, payload(sandbox, server, ALERTS_ALL_RULE))
    assert every.returncode == 0 and len(every.changes) == 1, str(every)
    after = setting(sandbox, server, ALERT_TAIL)
    assert after["state"] == "Enabled" and not [a for a in after["disabledAlerts"] if a]
    assert {k: after[k] for k in kept} == kept


def test_threat_detection_of_a_missing_server_fails(sandbox: AzureSandbox, run: Run) -> None:
    done = run(ALERTS, payload(sandbox, "sql-nosuchserver", ALERTS_ALL_RULE))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "404" in done.errors[0], str(done)


# -- transparent data encryption ------------------------------------------------------------------


def tde_states(sandbox: AzureSandbox, server: str, databases: tuple[str, ...]) -> dict[str, Any]:
    return {db: setting(sandbox, server, tde_tail(db)) for db in databases}


def test_data_encryption_modes(sandbox: AzureSandbox, run: Run) -> None:
    databases = ("master", "orders", "billing", "reports")
    server = new_server(sandbox, databases)
    for db in ("orders", "billing"):
        put_setting(sandbox, server, tde_tail(db), {"state": "Disabled"})

    def tamper() -> None:
        put_setting(sandbox, server, tde_tail("billing"), {"state": "Disabled"})

    finding = payload(sandbox, server, TDE_RULE)
    exercise(run, Case(TDE, finding, lambda: tde_states(sandbox, server, databases), tamper))


def test_data_encryption_keeps_everything_else(sandbox: AzureSandbox, run: Run) -> None:
    databases = ("master", "orders", "reports")
    server = new_server(sandbox, databases)
    put_setting(sandbox, server, tde_tail("master"), {"state": "Disabled"})  # as if Azure's
    put_setting(sandbox, server, tde_tail("orders"), {"state": "Disabled"})
    before = admin(sandbox, "GET", f"{server_path(sandbox, server)}/databases/orders")

    done = run(TDE, payload(sandbox, server, TDE_RULE))
    assert done.returncode == 0, str(done)
    assert [c for c in done.changes if "orders" in c] == done.changes and len(done.changes) == 1
    states = tde_states(sandbox, server, databases)
    assert states["orders"]["state"] == "Enabled"
    assert states["master"]["state"] == "Disabled"  # master is not the job's
    assert states["reports"]["state"] == "Enabled"  # untouched: Azure's default
    after = admin(sandbox, "GET", f"{server_path(sandbox, server)}/databases/orders")
    assert after["properties"]["collation"] == before["properties"]["collation"]


def test_data_encryption_of_a_missing_server_fails(sandbox: AzureSandbox, run: Run) -> None:
    done = run(TDE, payload(sandbox, "sql-nosuchserver", TDE_RULE))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "404" in done.errors[0], str(done)


# -- TDE protector with a customer-managed key ----------------------------------------------------

CMK = "azure_sql_tde_protector_encrypted_cmk"
CMK_RULE = "7406e56f-bbf0-4571-8e50-21bd344e0fdb"
PROTECTOR_TAIL = "encryptionProtector/current"
KEY_PERMISSIONS = ["get", "wrapKey", "unwrapKey"]


def new_vault(sandbox: AzureSandbox, principal: str, keys: list[str]) -> str:
    vault = f"kv{uuid.uuid4().hex[:10]}"
    policy = {"tenantId": sandbox.tenant_id, "objectId": principal, "permissions": {"keys": keys}}
    body = {
        "location": sandbox.location,
        "properties": {
            "tenantId": sandbox.tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "accessPolicies": [policy],
        },
    }
    path = (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.KeyVault/vaults/{vault}"
    )
    admin(sandbox, "PUT", path, body)
    return vault


def server_with_identity(sandbox: AzureSandbox, identity: bool = True) -> tuple[str, str]:
    """A server (with a system-assigned identity, as Azure fills it in) and its principal id."""
    server = f"sql-{uuid.uuid4().hex[:10]}"
    principal = str(uuid.uuid4())
    body: dict[str, Any] = {"location": sandbox.location, "properties": {}}
    if identity:
        body["identity"] = {
            "type": "SystemAssigned",
            "principalId": principal,
            "tenantId": sandbox.tenant_id,
        }
    admin(sandbox, "PUT", server_path(sandbox, server), body)
    return server, principal


def key_id(vault: str, key: str = "tde", version: str = "0123456789abcdef0123456789abcdef") -> str:
    return f"https://{vault}.vault.azure.net/keys/{key}/{version}"


def test_tde_protector_modes(sandbox: AzureSandbox, run: Run) -> None:
    server, principal = server_with_identity(sandbox)
    vault = new_vault(sandbox, principal, KEY_PERMISSIONS)

    def tamper() -> None:
        props = setting(sandbox, server, PROTECTOR_TAIL)
        put_setting(sandbox, server, PROTECTOR_TAIL, {**props, "autoRotationEnabled": True})

    finding = payload(sandbox, server, CMK_RULE, key_id=key_id(vault))
    exercise(run, Case(CMK, finding, lambda: setting(sandbox, server, PROTECTOR_TAIL), tamper))
    key = setting(sandbox, server, f"keys/{vault}_tde_0123456789abcdef0123456789abcdef")
    assert key["uri"] == key_id(vault)


def test_tde_protector_keeps_a_customer_managed_key(sandbox: AzureSandbox, run: Run) -> None:
    server, principal = server_with_identity(sandbox)
    vault = new_vault(sandbox, principal, ["all"])
    theirs = key_id(vault, "theirs", "f" * 32)
    name = f"{vault}_theirs_{'f' * 32}"
    put_setting(sandbox, server, f"keys/{name}", {"serverKeyType": "AzureKeyVault", "uri": theirs})
    put_setting(
        sandbox,
        server,
        PROTECTOR_TAIL,
        {"serverKeyType": "AzureKeyVault", "serverKeyName": name, "autoRotationEnabled": True},
    )
    done = run(CMK, payload(sandbox, server, CMK_RULE, key_id=key_id(vault)))
    assert done.returncode == 0 and done.changes == [] and done.mutating == [], str(done)
    after = setting(sandbox, server, PROTECTOR_TAIL)
    assert (after["serverKeyName"], after["autoRotationEnabled"]) == (name, True)


def test_tde_protector_says_what_the_identity_lacks(sandbox: AzureSandbox, run: Run) -> None:
    server, principal = server_with_identity(sandbox)
    vault = new_vault(sandbox, principal, ["get", "list"])
    done = run(CMK, payload(sandbox, server, CMK_RULE, key_id=key_id(vault)))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1, str(done)
    assert "AzureKeyVaultMissingPermissions" in done.errors[0]
    assert "wrapKey, unwrapKey" in done.errors[0] and principal in done.errors[0]
    assert done.changes == [] and done.records == []
    assert setting(sandbox, server, PROTECTOR_TAIL)["serverKeyType"] == "ServiceManaged"

    bare, _ = server_with_identity(sandbox, identity=False)
    done = run(CMK, payload(sandbox, bare, CMK_RULE, key_id=key_id(vault)))
    assert done.returncode == 1 and len(done.errors) == 1, str(done)
    assert "AzureKeyVaultNoServerIdentity" in done.errors[0]
    assert "managed identity" in done.errors[0]


def test_tde_protector_of_a_missing_server_fails(sandbox: AzureSandbox, run: Run) -> None:
    done = run(CMK, payload(sandbox, "sql-nosuchserver", CMK_RULE, key_id=key_id("kvnone")))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "404" in done.errors[0], str(done)


def test_tde_protector_needs_a_key_to_fix(sandbox: AzureSandbox, run: Run) -> None:
    server, _ = server_with_identity(sandbox)
    done = run(CMK, payload(sandbox, server, CMK_RULE))
    assert done.returncode == 2 and len(done.errors) == 1, str(done)
    assert "remediationParameters.key_id is missing" in done.errors[0]
    assert done.mutating == []
