"""The Key Vault jobs in every mode on the Azure emulator, run as the worker runs them.

azure_key_vault_logging_for_keyvault_enabled goes through `exercise` (verify, plan without a
mutating request, fix with a record, idempotence, rollback, refused rollback after a change).
azure_key_vault_is_recoverable is irreversible (Azure will not turn purge protection or soft
delete off again): the same life by hand, without the rollback, which it refuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.keyvault.keys import KeyClient
from azure.keyvault.secrets import SecretClient

from sandbox.azure import AzureSandbox
from sandbox.request_log import RequestLog
from tests.azvault_fixtures import (
    key_client,
    new_vault,
    put_setting,
    secret_client,
    settings_of,
    storage_id,
    vault_document,
    workspace_id,
)
from tests.job_modes import Case, ModeRun, Run, exercise, runner
from tests.test_azure_jobs import GROUP, payload

RECOVERABLE = "azure_key_vault_is_recoverable"
RECOVERABLE_RULE = "e2090e34-3580-4088-a815-2ead6a72700f"
LOGGING = "azure_key_vault_logging_for_keyvault_enabled"
LOGGING_RULE = "5c8c26687a550e1fb6560c72"


@pytest.fixture(scope="module", autouse=True)
def group(azure_sandbox: AzureSandbox) -> None:
    azure_sandbox.create_resource_group(GROUP)


@pytest.fixture
def run(tmp_path: Path, azure_sandbox: AzureSandbox) -> Run:
    assert azure_sandbox.emulator is not None
    log: RequestLog = azure_sandbox.emulator.requests
    return runner(tmp_path, azure_sandbox.worker_env(), log)


def one_error(done: ModeRun, *needles: str) -> None:
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1, str(done)
    assert all(n in done.errors[0] for n in needles), str(done)
    assert done.changes == [] and done.mutating == [], str(done)


# ----------------------------------------------------------------------------------------------
# azure_key_vault_is_recoverable (irreversible)
# ----------------------------------------------------------------------------------------------


def test_recoverable_modes_by_hand(azure_sandbox: AzureSandbox, run: Run) -> None:
    vault = new_vault(azure_sandbox, enableSoftDelete=True, softDeleteRetentionInDays=30)
    before = vault_document(azure_sandbox, vault)
    finding = payload(azure_sandbox, vault, RECOVERABLE_RULE)

    assert run(RECOVERABLE, finding, "verify").returncode == 3
    plan = run(RECOVERABLE, finding, "plan")
    assert plan.returncode == 0 and plan.changes, str(plan)
    assert plan.requests and plan.mutating == [] and plan.records == [], str(plan)
    assert vault_document(azure_sandbox, vault) == before

    fixed = run(RECOVERABLE, finding)
    assert fixed.returncode == 0, str(fixed)
    assert (
        fixed.changes
        == plan.changes
        == [
            f"CHANGE: {vault}: enablePurgeProtection -> true (Azure will not let it be turned off "
            "again)"
        ]
    )
    assert fixed.mutating, str(fixed)
    after = vault_document(azure_sandbox, vault)
    # only purge protection changed: access policies, network rules, retention, tags are kept
    expected = {**before, "properties": {**before["properties"], "enablePurgeProtection": True}}
    assert after == expected
    assert run(RECOVERABLE, finding, "verify").returncode == 0

    again = run(RECOVERABLE, finding)
    assert again.returncode == 0 and again.changes == [] and again.mutating == [], str(again)
    assert vault_document(azure_sandbox, vault) == after

    refused = run(
        RECOVERABLE,
        finding,
        "rollback",
        [{"resource": vault, "kind": "x", "before": 1, "after": 2}],
    )
    one_error(refused, "cannot be rolled back", "enablePurgeProtection")
    assert vault_document(azure_sandbox, vault) == after


def test_recoverable_turns_on_soft_delete_of_an_older_vault_too(
    azure_sandbox: AzureSandbox, run: Run
) -> None:
    vault = new_vault(azure_sandbox, enableSoftDelete=False)
    finding = payload(azure_sandbox, vault, RECOVERABLE_RULE)
    fixed = run(RECOVERABLE, finding)
    assert fixed.returncode == 0 and len(fixed.changes) == 2, str(fixed)
    properties = vault_document(azure_sandbox, vault)["properties"]
    assert properties["enableSoftDelete"] is True
    assert properties["enablePurgeProtection"] is True
    assert properties["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    assert run(RECOVERABLE, finding, "verify").returncode == 0


def test_recoverable_missing_vault_exits_1_with_one_error(
    azure_sandbox: AzureSandbox, run: Run
) -> None:
    finding = payload(azure_sandbox, "kv-does-not-exist", RECOVERABLE_RULE)
    one_error(run(RECOVERABLE, finding), "404", "ResourceNotFound", "kv-does-not-exist")


# ----------------------------------------------------------------------------------------------
# azure_key_vault_logging_for_keyvault_enabled
# ----------------------------------------------------------------------------------------------

METRICS_ONLY: dict[str, Any] = {
    "workspaceId": "",  # filled per test
    "metrics": [{"category": "AllMetrics", "enabled": True}],
    "logs": [{"category": "AuditEvent", "enabled": False}],
}


def metrics_only(sandbox: AzureSandbox) -> dict[str, Any]:
    return {**METRICS_ONLY, "workspaceId": workspace_id(sandbox)}


def test_logging_modes(azure_sandbox: AzureSandbox, run: Run) -> None:
    vault = new_vault(azure_sandbox)
    put_setting(azure_sandbox, vault, "metrics", metrics_only(azure_sandbox))
    finding = payload(
        azure_sandbox, vault, LOGGING_RULE, storage_account_id=storage_id(azure_sandbox)
    )

    def tamper() -> None:  # a person adds the metrics to the job's setting
        settings = settings_of(azure_sandbox, vault)
        changed = {
            **settings["remedy-keyvault-audit"],
            "metrics": metrics_only(azure_sandbox)["metrics"],
        }
        put_setting(azure_sandbox, vault, "remedy-keyvault-audit", changed)

    exercise(run, Case(LOGGING, finding, lambda: settings_of(azure_sandbox, vault), tamper))


def test_logging_creates_a_setting_and_keeps_the_others(
    azure_sandbox: AzureSandbox, run: Run
) -> None:
    vault = new_vault(azure_sandbox)
    put_setting(azure_sandbox, vault, "metrics", metrics_only(azure_sandbox))
    finding = payload(
        azure_sandbox, vault, LOGGING_RULE, storage_account_id=storage_id(azure_sandbox)
    )
    fixed = run(LOGGING, finding)
    assert fixed.returncode == 0, str(fixed)
    assert fixed.changes == [
        f"CHANGE: {vault}: diagnostic setting remedy-keyvault-audit created: AuditEvent "
        f"enabled, sent to {storage_id(azure_sandbox)}"
    ]
    settings = settings_of(azure_sandbox, vault)
    assert settings["metrics"] == metrics_only(azure_sandbox)
    assert settings["remedy-keyvault-audit"] == {
        "storageAccountId": storage_id(azure_sandbox),
        "logs": [{"category": "AuditEvent", "enabled": True}],
    }


def test_logging_completes_a_setting_of_its_name_and_keeps_the_rest_of_it(
    azure_sandbox: AzureSandbox, run: Run
) -> None:
    vault = new_vault(azure_sandbox)
    mine = {
        "workspaceId": workspace_id(azure_sandbox),
        "logAnalyticsDestinationType": "Dedicated",
        "metrics": [{"category": "AllMetrics", "enabled": True}],
        "logs": [
            {"category": "AuditEvent", "enabled": False},
            {"category": "AzurePolicyEvaluationDetails", "enabled": True},
        ],
    }
    put_setting(azure_sandbox, vault, "audit", mine)
    finding = payload(
        azure_sandbox,
        vault,
        LOGGING_RULE,
        storage_account_id=storage_id(azure_sandbox),
        setting_name="audit",
    )
    fixed = run(LOGGING, finding)
    assert fixed.returncode == 0 and len(fixed.changes) == 1, str(fixed)
    after = settings_of(azure_sandbox, vault)["audit"]
    # AuditEvent on; its workspace kept and no storage account added (it had a destination)
    assert after == {
        **mine,
        "logs": [
            {"category": "AuditEvent", "enabled": True},
            {"category": "AzurePolicyEvaluationDetails", "enabled": True},
        ],
    }
    assert run(LOGGING, finding, "verify").returncode == 0
    undone = run(LOGGING, finding, "rollback", fixed.records)
    assert undone.returncode == 0 and undone.changes, str(undone)
    assert settings_of(azure_sandbox, vault) == {"audit": mine}


def test_logging_takes_a_category_group_as_compliant(azure_sandbox: AzureSandbox, run: Run) -> None:
    vault = new_vault(azure_sandbox)
    put_setting(
        azure_sandbox,
        vault,
        "all",
        {
            "workspaceId": workspace_id(azure_sandbox),
            "logs": [{"categoryGroup": "allLogs", "enabled": True}],
        },
    )
    finding = payload(azure_sandbox, vault, LOGGING_RULE)  # no destination needed
    assert run(LOGGING, finding, "verify").returncode == 0
    again = run(LOGGING, finding)
    assert again.returncode == 0 and again.changes == [] and again.mutating == [], str(again)


def test_logging_without_a_destination_exits_2_naming_the_parameters(
    azure_sandbox: AzureSandbox, run: Run
) -> None:
    vault = new_vault(azure_sandbox)
    done = run(LOGGING, payload(azure_sandbox, vault, LOGGING_RULE))
    assert done.returncode == 2, str(done)
    assert len(done.errors) == 1 and "storage_account_id or workspace_id" in done.errors[0]
    assert done.mutating == [] and settings_of(azure_sandbox, vault) == {}


def test_logging_missing_vault_exits_1_with_one_error(
    azure_sandbox: AzureSandbox, run: Run
) -> None:
    finding = payload(
        azure_sandbox, "kv-gone", LOGGING_RULE, workspace_id=workspace_id(azure_sandbox)
    )
    one_error(run(LOGGING, finding), "404", "ResourceNotFound", "kv-gone")


def test_logging_rollback_refuses_when_the_setting_was_deleted(
    azure_sandbox: AzureSandbox, run: Run
) -> None:
    vault = new_vault(azure_sandbox)
    finding = payload(azure_sandbox, vault, LOGGING_RULE, workspace_id=workspace_id(azure_sandbox))
    fixed = run(LOGGING, finding)
    assert fixed.returncode == 0 and fixed.records, str(fixed)
    status, _ = azure_sandbox.admin_request(
        "DELETE",
        f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"Microsoft.KeyVault/vaults/{vault}/providers/Microsoft.Insights/diagnosticSettings/"
        "remedy-keyvault-audit",
    )
    assert status == 200
    refused = run(LOGGING, finding, "rollback", fixed.records)
    one_error(refused, "changed since", "deleted")


# ----------------------------------------------------------------------------------------------
# azure_key_vault_expiry_date_set (and its aliases for keys and secrets; irreversible)
# ----------------------------------------------------------------------------------------------

EXPIRY = "azure_key_vault_expiry_date_set"
KEYS_RULE = "5c8c26677a550e1fb6560c6e"
SECRETS_RULE = "5c8c26687a550e1fb6560c70"
LATER = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def key_state(keys: KeyClient) -> dict[str, Any]:
    return {
        p.name: (p.enabled, p.expires_on, p.not_before, p.tags, p.version)
        for p in keys.list_properties_of_keys()
    }


def secret_state(secrets: SecretClient) -> dict[str, Any]:
    return {
        p.name: (p.enabled, p.expires_on, p.content_type, p.tags, p.version)
        for p in secrets.list_properties_of_secrets()
    }


@pytest.mark.parametrize("kind", ["keys", "secrets"])
def test_expiry_modes_by_hand(azure_sandbox: AzureSandbox, run: Run, kind: str) -> None:
    vault = new_vault(azure_sandbox, enableRbacAuthorization=True)
    if kind == "keys":
        keys = key_client(azure_sandbox, vault)
        keys.create_rsa_key("signing", tags={"owner": "payments"})
        keys.create_rsa_key("dated", expires_on=LATER)
        keys.create_rsa_key("off", enabled=False)
        state: Callable[[], dict[str, Any]] = lambda: key_state(keys)  # noqa: E731
        rule, todo = KEYS_RULE, "signing"
    else:
        secrets = secret_client(azure_sandbox, vault)
        secrets.set_secret("db-password", "s3cret", content_type="text/plain")
        secrets.set_secret("dated", "x", expires_on=LATER)
        secrets.set_secret("off", "x", enabled=False)
        state = lambda: secret_state(secrets)  # noqa: E731
        rule, todo = SECRETS_RULE, "db-password"
    finding = payload(azure_sandbox, vault, rule, kind=kind, days=30)
    before = state()

    assert run(EXPIRY, finding, "verify").returncode == 3
    plan = run(EXPIRY, finding, "plan")
    assert plan.returncode == 0 and len(plan.changes) == 1 and todo in plan.changes[0], str(plan)
    assert plan.requests and plan.mutating == [] and plan.records == [], str(plan)
    assert state() == before

    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    fixed = run(EXPIRY, finding)
    assert fixed.returncode == 0 and fixed.mutating, str(fixed)
    assert [c.split(": expiry")[0] for c in fixed.changes] == [
        c.split(": expiry")[0] for c in plan.changes
    ]
    after = state()
    expires = after[todo][1]
    assert started + dt.timedelta(days=30) <= expires <= started + dt.timedelta(days=30, minutes=5)
    # only the expiry date changed: tags, content type, the same version; the others untouched
    assert after == {**before, todo: (*before[todo][:1], expires, *before[todo][2:])}
    assert run(EXPIRY, finding, "verify").returncode == 0

    again = run(EXPIRY, finding)
    assert again.returncode == 0 and again.changes == [] and again.mutating == [], str(again)
    assert state() == after

    refused = run(
        EXPIRY, finding, "rollback", [{"resource": vault, "kind": "x", "before": 1, "after": 2}]
    )
    one_error(refused, "cannot be rolled back", "expiry")
    assert state() == after


def test_expiry_alias_picks_its_kind_from_the_rule(azure_sandbox: AzureSandbox, run: Run) -> None:
    """A raw payload without parameters: the alias whose rule it names supplies `kind`."""
    vault = new_vault(azure_sandbox, enableRbacAuthorization=True)
    secrets = secret_client(azure_sandbox, vault)
    secrets.set_secret("api-token", "x")
    keys = key_client(azure_sandbox, vault)
    keys.create_rsa_key("k")
    fixed = run(EXPIRY, payload(azure_sandbox, vault, SECRETS_RULE))
    assert (
        fixed.returncode == 0 and len(fixed.changes) == 1 and "secret api-token" in fixed.changes[0]
    )
    assert secret_state(secrets)["api-token"][1] is not None
    assert key_state(keys)["k"][1] is None  # keys are the other alias's


def test_expiry_refused_by_key_vault_exits_1_with_one_error(
    azure_sandbox: AzureSandbox, run: Run
) -> None:
    """A not-before date later than the new expiry date: Key Vault answers 400 BadParameter."""
    vault = new_vault(azure_sandbox, enableRbacAuthorization=True)
    keys = key_client(azure_sandbox, vault)
    keys.create_rsa_key("future", not_before=LATER)
    done = run(EXPIRY, payload(azure_sandbox, vault, KEYS_RULE, kind="keys", days=1))
    assert done.returncode == 1 and len(done.errors) == 1, str(done)
    assert "BadParameter" in done.errors[0] and done.changes == [], str(done)
    assert key_state(keys)["future"][1] is None


def test_expiry_missing_vault_exits_1_with_one_error(azure_sandbox: AzureSandbox, run: Run) -> None:
    done = run(EXPIRY, payload(azure_sandbox, "kv-missing", KEYS_RULE, kind="keys"))
    one_error(done, "404", "ResourceNotFound", "kv-missing")
