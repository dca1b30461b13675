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
