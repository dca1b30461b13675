"""The Azure sandbox treats PostgreSQL and MySQL flexible servers' server parameters and firewall
rules as Azure does (sandbox/azdb_rules.py, which cites the pages), through the emulator without
its transport. The jobs' real clients on the wire: tests/test_job_modes_azure_azdb.py."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from sandbox.entra import AppRegistration
from tests.test_fidelity_azure import RG, SUB, Emulator, assert_refused

PG = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers"
MY = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DBforMySQL/flexibleServers"
TRANSPORT = "require_secure_transport"
PG_POLL = "Microsoft.DBforPostgreSQL/locations/azureAsyncOperation/read"


def server(arm: Emulator, base: str, name: str = "db", **props: Any) -> Any:
    answer = arm.call("PUT", f"{base}/{name}", {"location": "westeurope", "properties": props})
    assert answer.status in (200, 201), answer.body
    return answer


def parameter(arm: Emulator, base: str, name: str = TRANSPORT) -> dict[str, Any]:
    answer = arm.call("GET", f"{base}/db/configurations/{name}")
    assert answer.status == 200, answer.body
    return dict(answer.body["properties"])


@pytest.fixture
def arm() -> Emulator:
    return Emulator()


@pytest.mark.parametrize(("base", "default"), [(PG, "on"), (MY, "ON")])
def test_a_new_server_has_its_parameters_with_azures_defaults(
    arm: Emulator, base: str, default: str
) -> None:
    server(arm, base)
    found = parameter(arm, base)
    assert found["value"] == found["defaultValue"] == default
    assert found["source"] == "system-default"
    assert arm.call("GET", f"{base}/db/configurations").body["value"][0]["name"] == TRANSPORT


def test_a_parameter_write_changes_its_value_and_source_only(arm: Emulator) -> None:
    server(arm, PG)
    before = parameter(arm, PG)
    write = arm.call("PUT", f"{PG}/db/configurations/{TRANSPORT}", {"properties": {"value": "off"}})
    assert write.status == 202 and write.body is None  # as the PostgreSQL API answers it
    after = parameter(arm, PG)
    assert (after.pop("value"), after.pop("source")) == ("off", "user-override")
    assert after == {k: v for k, v in before.items() if k not in ("value", "source")}


def test_a_server_put_keeps_its_parameters_and_firewall_rules(arm: Emulator) -> None:
    server(arm, PG)
    arm.call("PUT", f"{PG}/db/configurations/{TRANSPORT}", {"properties": {"value": "off"}})
    rule = {"properties": {"startIpAddress": "10.0.0.1", "endIpAddress": "10.0.0.9"}}
    assert arm.call("PUT", f"{PG}/db/firewallRules/office", rule).status == 202
    server(arm, PG, version="17")  # an update of the server itself
    assert parameter(arm, PG)["value"] == "off"
    assert arm.call("GET", f"{PG}/db/firewallRules/office").status == 200


@pytest.mark.parametrize("value", ["maybe", "", "1"])
@pytest.mark.parametrize("base", [PG, MY])
def test_a_value_outside_the_allowed_values_is_refused(
    arm: Emulator, base: str, value: str
) -> None:
    server(arm, base)
    method = "PUT" if base == PG else "PATCH"
    answer = arm.call(
        method, f"{base}/db/configurations/{TRANSPORT}", {"properties": {"value": value}}
    )
    assert_refused(answer, 400, "InvalidParameterValue")
    assert parameter(arm, base)["source"] == "system-default"


def test_a_parameter_the_server_does_not_have_is_not_found(arm: Emulator) -> None:
    server(arm, PG)
    answer = arm.call(
        "PUT", f"{PG}/db/configurations/no_such_thing", {"properties": {"value": "on"}}
    )
    assert_refused(answer, 404, "ResourceNotFound")
    missing = arm.call("GET", f"{PG}/single-7/configurations/{TRANSPORT}")
    assert_refused(missing, 404, "ResourceNotFound")


@pytest.mark.parametrize(
    ("start", "end"),
    [("0.0.0.0", "not-an-ip"), ("::1", "::1"), (None, "10.0.0.1"), ("10.0.0.9", "10.0.0.1")],
)
def test_a_firewall_rule_needs_an_ipv4_range(arm: Emulator, start: Any, end: str) -> None:
    server(arm, PG)
    body = {"properties": {"startIpAddress": start, "endIpAddress": end}}
    assert_refused(arm.call("PUT", f"{PG}/db/firewallRules/r", body), 400, "InvalidParameterValue")
    assert arm.call("GET", f"{PG}/db/firewallRules").body["value"] == []


def _poll_url(answer: Any) -> str:
    url = urllib.parse.urlsplit(answer.headers["Azure-AsyncOperation"])
    return f"{url.path}?{url.query}" if url.query else url.path


def test_the_database_providers_operations_are_polled_with_their_own_action() -> None:
    actions = frozenset(
        {
            "Microsoft.DBforPostgreSQL/flexibleServers/configurations/read",
            "Microsoft.DBforPostgreSQL/flexibleServers/configurations/write",
        }
    )
    writer = AppRegistration("writer", "s", actions=actions)
    poller = AppRegistration("poller", "s", actions=actions | {PG_POLL})
    arm = Emulator(writer, poller)
    server(arm, PG)
    body = {"properties": {"value": "off"}}
    write = arm.call(
        "PUT", f"{PG}/db/configurations/{TRANSPORT}", body, token=arm.token("writer", "s")
    )
    assert write.status == 202
    assert "/locations/westeurope/azureAsyncOperation/" in write.headers["Azure-AsyncOperation"]
    refused = arm.call("GET", _poll_url(write), token=arm.token("writer", "s"))
    assert_refused(refused, 403, "AuthorizationFailed")
    assert PG_POLL in refused.body["error"]["message"]
    allowed = arm.call("GET", _poll_url(write), token=arm.token("poller", "s"))
    assert allowed.status == 200 and allowed.body["status"] in ("InProgress", "Succeeded")


def test_the_database_jobs_roles_allow_their_polls() -> None:
    for job, poll in (
        ("azure_postgresql_enforce_ssl_connection_enable", PG_POLL),
        ("azure_postgresql_allow_access_to_azure_service_disabled", PG_POLL),
        ("azure_mysql_enforce_ssl_connection_enable", PG_POLL.replace("PostgreSQL", "MySQL")),
    ):
        with open(f"jobs/{job}/minimum_policy.json", encoding="utf-8") as handle:
            assert poll in json.load(handle)["Actions"]
