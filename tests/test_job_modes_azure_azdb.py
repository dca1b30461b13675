"""The PostgreSQL and MySQL flexible-server jobs in every mode, on the Azure emulator, run as the
worker runs them (tests/job_modes.py), plus what each keeps and how each fails.

Servers are made by the sandbox administrator (a PUT of the server seeds its server parameters,
sandbox/azdb_rules.py); the jobs run as the worker's app, whose role is the union of the Azure
jobs' minimum_policy.json, so a missing action fails them for real.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.mysqlflexibleservers import MySQLManagementClient
from azure.mgmt.mysqlflexibleservers.models import Configuration
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

from sandbox.azure import AzureSandbox
from sandbox.request_log import RequestLog
from tests.job_modes import Case, Run, exercise, runner
from tests.test_azure_jobs import GROUP, payload

PG_SSL = "azure_postgresql_enforce_ssl_connection_enable"
MY_SSL = "azure_mysql_enforce_ssl_connection_enable"
PG_AZURE = "azure_postgresql_allow_access_to_azure_service_disabled"
AZURE_RULE = "AllowAllAzureServicesAndResourcesWithinAzureIps_2026-11-30_10-0-0"
TRANSPORT = "require_secure_transport"


def admin_clients(
    sandbox: AzureSandbox,
) -> tuple[PostgreSQLManagementClient, MySQLManagementClient]:
    credential = ClientSecretCredential(
        sandbox.tenant_id,
        sandbox.admin_client_id,
        sandbox.admin_client_secret,
        authority=sandbox.authority_host,
        disable_instance_discovery=True,
        connection_verify=sandbox.ca_file,
    )
    options: dict[str, Any] = {
        "base_url": sandbox.endpoint,
        "credential_scopes": [f"{sandbox.endpoint}/.default"],
        "polling_interval": 0,
        "connection_verify": sandbox.ca_file,
    }
    return (
        PostgreSQLManagementClient(credential, sandbox.subscription_id, **options),
        MySQLManagementClient(credential, sandbox.subscription_id, **options),
    )


@pytest.fixture(scope="module")
def clients(
    azure_sandbox: AzureSandbox,
) -> tuple[PostgreSQLManagementClient, MySQLManagementClient]:
    azure_sandbox.create_resource_group(GROUP)
    return admin_clients(azure_sandbox)


@pytest.fixture
def run(tmp_path: Path, azure_sandbox: AzureSandbox) -> Run:
    assert azure_sandbox.emulator is not None
    log: RequestLog = azure_sandbox.emulator.requests
    return runner(tmp_path, azure_sandbox.worker_env(), log)


def new_server(sandbox: AzureSandbox, namespace: str) -> str:
    name = f"db-{uuid.uuid4().hex[:8]}"
    status, body = sandbox.admin_request(
        "PUT",
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"{namespace}/flexibleServers/{name}",
        {"location": "westeurope", "properties": {"version": "16"}, "tags": {"team": "db"}},
    )
    assert status in (200, 201), body
    return name


def pg_server(sandbox: AzureSandbox, pg: PostgreSQLManagementClient, transport: str) -> str:
    name = new_server(sandbox, "Microsoft.DBforPostgreSQL")
    set_pg(pg, name, transport)
    return name


def set_pg(pg: PostgreSQLManagementClient, server: str, value: str) -> None:
    body = {"properties": {"value": value, "source": "user-override"}}
    pg.configurations.begin_put(GROUP, server, TRANSPORT, body).result()


def pg_transport(pg: PostgreSQLManagementClient, server: str) -> str:
    return str(pg.configurations.get(GROUP, server, TRANSPORT).properties.value)


def set_my(my: MySQLManagementClient, server: str, value: str) -> None:
    update = Configuration(value=value, source="user-override")
    my.configurations.begin_update(GROUP, server, TRANSPORT, update).result()


def my_transport(my: MySQLManagementClient, server: str) -> str:
    return str(my.configurations.get(GROUP, server, TRANSPORT).value)


def add_rule(pg: PostgreSQLManagementClient, server: str, name: str, start: str, end: str) -> None:
    body = {"properties": {"startIpAddress": start, "endIpAddress": end}}
    pg.firewall_rules.begin_create_or_update(GROUP, server, name, body).result()


def firewall(pg: PostgreSQLManagementClient, server: str) -> list[tuple[str, str, str]]:
    return sorted(
        (str(r.name), str(r.properties.start_ip_address), str(r.properties.end_ip_address))
        for r in pg.firewall_rules.list_by_server(GROUP, server)
    )


# ----------------------------------------------------------------------------------------------
# Every mode
# ----------------------------------------------------------------------------------------------


def test_postgresql_ssl_modes(azure_sandbox: AzureSandbox, clients: Any, run: Run) -> None:
    pg, _ = clients
    server = pg_server(azure_sandbox, pg, "off")
    finding = payload(azure_sandbox, server, "e25a319c-0ca7-4e6a-b4b9-19beba480b3b")
    exercise(
        run,
        Case(PG_SSL, finding, lambda: pg_transport(pg, server), lambda: set_pg(pg, server, "off")),
    )
    assert pg_transport(pg, server) == "off"  # the tamper stays: rollback refused


def test_mysql_ssl_modes(azure_sandbox: AzureSandbox, clients: Any, run: Run) -> None:
    _, my = clients
    server = new_server(azure_sandbox, "Microsoft.DBforMySQL")
    set_my(my, server, "OFF")
    finding = payload(azure_sandbox, server, "677cbf2f-3096-4111-af16-05da43d95d80")
    exercise(
        run,
        Case(MY_SSL, finding, lambda: my_transport(my, server), lambda: set_my(my, server, "OFF")),
    )


def test_postgresql_azure_services_modes(
    azure_sandbox: AzureSandbox, clients: Any, run: Run
) -> None:
    pg, _ = clients
    server = new_server(azure_sandbox, "Microsoft.DBforPostgreSQL")
    add_rule(pg, server, AZURE_RULE, "0.0.0.0", "0.0.0.0")
    add_rule(pg, server, "office", "203.0.113.0", "203.0.113.255")

    def tamper() -> None:  # someone ticks "allow Azure services" in the portal again
        add_rule(
            pg,
            server,
            "AllowAllAzureServicesAndResourcesWithinAzureIps_2026-12-01",
            "0.0.0.0",
            "0.0.0.0",
        )

    finding = payload(azure_sandbox, server, "9b7b5a71-5eaa-4418-a6b0-17f796e8ebaa")
    exercise(run, Case(PG_AZURE, finding, lambda: firewall(pg, server), tamper))


# ----------------------------------------------------------------------------------------------
# What each keeps
# ----------------------------------------------------------------------------------------------


def server_document(sandbox: AzureSandbox, namespace: str, server: str) -> dict[str, Any]:
    status, body = sandbox.admin_request(
        "GET",
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"{namespace}/flexibleServers/{server}",
    )
    assert status == 200, body
    return {k: v for k, v in body.items() if k != "etag"}


def test_the_ssl_jobs_change_only_the_parameter(
    azure_sandbox: AzureSandbox, clients: Any, run: Run
) -> None:
    pg, my = clients
    server = pg_server(azure_sandbox, pg, "off")
    add_rule(pg, server, "office", "203.0.113.0", "203.0.113.255")
    before = pg.configurations.get(GROUP, server, TRANSPORT).as_dict()
    done = run(PG_SSL, payload(azure_sandbox, server))
    assert done.returncode == 0, str(done)
    after = pg.configurations.get(GROUP, server, TRANSPORT).as_dict()
    assert after["properties"].pop("value") == "on"
    before["properties"].pop("value")
    assert after["properties"] == before["properties"]  # allowed values, source... kept
    assert firewall(pg, server) == [("office", "203.0.113.0", "203.0.113.255")]
    document = server_document(azure_sandbox, "Microsoft.DBforPostgreSQL", server)
    assert document["tags"] == {"team": "db"} and document["properties"]["version"] == "16"

    mine = new_server(azure_sandbox, "Microsoft.DBforMySQL")
    set_my(my, mine, "OFF")
    done = run(MY_SSL, payload(azure_sandbox, mine))
    assert done.returncode == 0, str(done)
    assert my_transport(my, mine) == "ON"
    assert server_document(azure_sandbox, "Microsoft.DBforMySQL", mine)["tags"] == {"team": "db"}


def test_an_ssl_job_leaves_a_compliant_server_alone(
    azure_sandbox: AzureSandbox, clients: Any, run: Run
) -> None:
    assert clients  # the resource group
    server = new_server(azure_sandbox, "Microsoft.DBforPostgreSQL")  # on by default, as in Azure
    done = run(PG_SSL, payload(azure_sandbox, server))
    assert done.returncode == 0 and done.changes == [] and done.mutating == [], str(done)
    assert "already requires a secure transport" in done.stdout


def test_only_the_azure_services_rule_goes(
    azure_sandbox: AzureSandbox, clients: Any, run: Run
) -> None:
    pg, _ = clients
    server = new_server(azure_sandbox, "Microsoft.DBforPostgreSQL")
    add_rule(pg, server, AZURE_RULE, "0.0.0.0", "0.0.0.0")
    add_rule(pg, server, "everyone", "0.0.0.0", "255.255.255.255")  # another finding's business
    add_rule(pg, server, "one-host", "0.0.0.1", "0.0.0.1")
    done = run(PG_AZURE, payload(azure_sandbox, server))
    assert done.returncode == 0, str(done)
    assert done.changes == [
        f"CHANGE: {server}: removed firewall rule {AZURE_RULE} (0.0.0.0-0.0.0.0): access from "
        "Azure services disabled"
    ]
    assert firewall(pg, server) == [
        ("everyone", "0.0.0.0", "255.255.255.255"),
        ("one-host", "0.0.0.1", "0.0.0.1"),
    ]


# ----------------------------------------------------------------------------------------------
# Failures: exit 1, one ERROR line
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "engine"), [(PG_SSL, "PostgreSQL"), (MY_SSL, "MySQL"), (PG_AZURE, "PostgreSQL")]
)
def test_a_server_that_is_no_flexible_server_fails_naming_the_retirement(
    azure_sandbox: AzureSandbox, clients: Any, run: Run, job: str, engine: str
) -> None:
    done = run(job, payload(azure_sandbox, "single-server-7"))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1, str(done)
    assert f"no {engine} flexible server" in done.errors[0]
    assert f"retired Azure Database for {engine} single server" in done.errors[0]
    assert done.mutating == [] and done.changes == []
