"""The Azure sandbox refuses what Azure refuses, with Azure's status and error code (issue #21).

Each constraint below is documented by Microsoft; the page is cited where the emulator enforces
it (sandbox/nsg_rules.py, sandbox/arm_access.py, sandbox/arm_faults.py, sandbox/entra.py). The
second half runs the built-in Azure jobs against each way an Azure write goes wrong.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient

from sandbox.arm_paths import parse_path
from sandbox.azure import TENANT_ID, AzureSandbox
from sandbox.azure_emulator import AzureEmulator
from sandbox.entra import AppRegistration
from sandbox.nsg_rules import DEFAULT_RULES
from tests.test_azure_jobs import (
    CLOSE_PORT,
    GROUP,
    UDP,
    UDP_RULE,
    RunJob,
    network,
    new_nsg,
    payload,
    rule,
    rules_of,
    run_job,
)

__all__ = ["network", "run_job"]  # the fixtures, shared with tests/test_azure_jobs.py

SUB = "00000000-1111-2222-3333-444444444444"
BASE = "https://arm.example"
RG = "rg"
NSG = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/networkSecurityGroups"
POLL = "Microsoft.Network/locations/operations/read"


class Emulator:
    """The emulator without its transport: requests in, (status, body, headers) out."""

    def __init__(self, *apps: AppRegistration) -> None:
        admin = AppRegistration("admin", "admin-secret")
        self.emulator = AzureEmulator(TENANT_ID, [admin, *apps], {SUB: "sub"})
        self.emulator.base_url = BASE
        self.admin = self.token("admin", "admin-secret")
        self.call("PUT", f"/subscriptions/{SUB}/resourceGroups/{RG}", {"location": "westeurope"})

    def grant(self, client_id: str, secret: str, scope: str = f"{BASE}/.default") -> Any:
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": scope,
            }
        ).encode()
        answer = self.emulator.handle("POST", f"/{TENANT_ID}/oauth2/v2.0/token", {}, form)
        return answer

    def token(self, client_id: str, secret: str, scope: str = f"{BASE}/.default") -> str:
        answer = self.grant(client_id, secret, scope)
        assert answer.status == 200, answer.body
        return str(answer.body["access_token"])

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, raw: bytes = b""
    ) -> Any:
        data = raw or (b"" if body is None else json.dumps(body).encode())
        separator = "&" if "?" in path else "?"
        headers = {"authorization": f"Bearer {token or self.admin}"}
        return self.emulator.handle(
            method, f"{path}{separator}api-version=2024-05-01", headers, data
        )


def nsg_body(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"location": "westeurope", "properties": {"securityRules": list(rules)}}


def assert_refused(answer: Any, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.body["error"]["code"] == code, answer.body


@pytest.fixture
def arm() -> Emulator:
    return Emulator()


# ----------------------------------------------------------------------------------------------
# Item 2: NSG rule content, as Azure validates it
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ([rule("a", 100, "*", "22"), rule("b", 100, "10.0.0.0/8", "80")], "SecurityRuleConflict"),
        ([rule("a", 5000, "*", "22")], "SecurityRuleInvalidPriority"),
        ([rule("a", 99, "*", "22")], "SecurityRuleInvalidPriority"),
        ([rule("a", 100, "*", "22", protocol="Foo")], "InvalidRequestFormat"),
        ([rule("a", 100, "*", "99999")], "SecurityRuleInvalidPortRange"),
        ([rule("a", 100, "*", "30-20")], "SecurityRuleInvalidPortRange"),
        ([rule("a", 100, "*", ["22", "80,443"])], "SecurityRuleInvalidPortRange"),
        ([rule("a", 100, ["*"], "22")], "SecurityRuleParameterContainsUnsupportedValue"),
        (
            [rule("a", 100, ["Internet", "10.0.0.0/8"], "22")],
            "SecurityRuleParameterContainsUnsupportedValue",
        ),
        (
            [rule("a", 100, ["0.0.0.0/0", "::/0"], "22")],
            "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies",
        ),
        ([rule("a" * 81, 100, "*", "22")], "InvalidResourceName"),
        ([rule("ends-with-dash-", 100, "*", "22")], "InvalidResourceName"),
        ([rule("-starts-with-dash", 100, "*", "22")], "InvalidResourceName"),
    ],
    ids=[
        "duplicate-priority",
        "priority-5000",
        "priority-99",
        "protocol-Foo",
        "port-99999",
        "port-range-backwards",
        "port-list-with-comma",
        "star-in-prefix-list",
        "service-tag-in-prefix-list",
        "ipv4-and-ipv6-in-one-rule",
        "name-81-characters",
        "name-ending-in-dash",
        "name-starting-with-dash",
    ],
)
def test_an_nsg_azure_cannot_hold_is_refused(
    arm: Emulator, rules: list[dict[str, Any]], code: str
) -> None:
    assert_refused(arm.call("PUT", f"{NSG}/n", nsg_body(*rules)), 400, code)
    assert arm.call("GET", f"{NSG}/n").status == 404  # nothing was stored


def test_single_and_list_field_together_are_refused(arm: Emulator) -> None:
    both = rule("a", 100, "10.0.0.0/8", "22")
    both["properties"]["sourceAddressPrefixes"] = ["10.1.0.0/16"]
    answer = arm.call("PUT", f"{NSG}/n", nsg_body(both))
    assert_refused(answer, 400, "SecurityRuleParameterContainsUnsupportedValue")


def test_what_azure_holds_is_taken(arm: Emulator) -> None:
    name = "a" * 79 + "_"  # 80 characters, ending with an underscore
    rules = [
        rule(name, 100, "*", "22"),
        rule("out", 100, "Internet", "*", direction="Outbound"),  # same priority, other direction
        rule("list", 4096, ["10.0.0.0/8", "192.168.1.1"], ["22", "80-90"], protocol="Icmp"),
        rule("v6", 200, ["::/0", "2001:db8::/32"], "0-65535", protocol="Ah"),
    ]
    answer = arm.call("PUT", f"{NSG}/n", nsg_body(*rules))
    assert answer.status == 201, answer.body


def test_a_rule_put_is_checked_against_its_siblings(arm: Emulator) -> None:
    assert arm.call("PUT", f"{NSG}/n", nsg_body(rule("a", 100, "*", "22"))).status == 201
    clash = rule("b", 100, "*", "80")
    answer = arm.call("PUT", f"{NSG}/n/securityRules/b", {"properties": clash["properties"]})
    assert_refused(answer, 400, "SecurityRuleConflict")
    replaced = rule("a", 110, "*", "22")  # the same rule, moved: no conflict with itself
    answer = arm.call("PUT", f"{NSG}/n/securityRules/a", {"properties": replaced["properties"]})
    assert answer.status == 200, answer.body


def test_default_rules_are_present_and_read_only(arm: Emulator) -> None:
    body = nsg_body(rule("a", 100, "*", "22"))
    body["properties"]["defaultSecurityRules"] = [rule("AllowVnetInBound", 100, "*", "*")]
    assert arm.call("PUT", f"{NSG}/n", body).status == 201
    stored = arm.call("GET", f"{NSG}/n").body["properties"]["defaultSecurityRules"]
    assert [r["name"] for r in stored] == [r["name"] for r in DEFAULT_RULES]
    assert stored[0]["properties"]["priority"] == 65000
    assert stored[0]["id"].endswith(
        "/networkSecurityGroups/n/defaultSecurityRules/AllowVnetInBound"
    )


def test_associations_are_azures_and_a_get_round_trips(arm: Emulator) -> None:
    assert arm.call("PUT", f"{NSG}/n", nsg_body(rule("a", 100, "*", "22"))).status == 201
    subnet = {"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/"}
    _, path = parse_path(f"{NSG}/n")
    assert path is not None
    arm.emulator.store.set_by_azure(path, "subnets", [subnet])
    document = arm.call("GET", f"{NSG}/n").body
    document["properties"]["subnets"] = []  # a PUT does not detach a subnet
    answer = arm.call("PUT", f"{NSG}/n", document)  # the GET document, put back as it is
    assert answer.status == 200, answer.body
    assert arm.call("GET", f"{NSG}/n").body["properties"]["subnets"] == [subnet]


# ----------------------------------------------------------------------------------------------
# Items 1 and 4: polls and linked scopes are authorised
# ----------------------------------------------------------------------------------------------


def _poll_url(answer: Any) -> str:
    return urllib.parse.urlsplit(answer.headers["Azure-AsyncOperation"]).path


def test_polling_an_operation_needs_its_own_action() -> None:
    writer = AppRegistration(
        "writer",
        "s",
        actions=frozenset(
            {
                "Microsoft.Network/networkSecurityGroups/read",
                "Microsoft.Network/networkSecurityGroups/write",
            }
        ),
    )
    poller = AppRegistration("poller", "s", actions=writer.actions | {POLL})  # type: ignore[operator]
    arm = Emulator(writer, poller)
    write = arm.call("PUT", f"{NSG}/n", nsg_body(), token=arm.token("writer", "s"))
    assert write.status == 201  # the write itself is applied...
    poll = arm.call("GET", _poll_url(write), token=arm.token("writer", "s"))
    assert_refused(poll, 403, "AuthorizationFailed")  # ...and its poll refused
    assert POLL in poll.body["error"]["message"]
    allowed = arm.call("GET", _poll_url(write), token=arm.token("poller", "s"))
    assert allowed.status == 200 and allowed.body["status"] in ("InProgress", "Succeeded")


def test_rules_naming_an_application_security_group_need_the_join_action() -> None:
    nsg_actions = frozenset(
        {
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/networkSecurityGroups/write",
        }
    )
    plain = AppRegistration("plain", "s", actions=nsg_actions)
    joiner = AppRegistration(
        "joiner",
        "s",
        actions=nsg_actions
        | {"Microsoft.Network/applicationSecurityGroups/joinNetworkSecurityRule/action"},
    )
    arm = Emulator(plain, joiner)
    asg = rule("web", 100, "*", "443")
    asg["properties"].pop("destinationAddressPrefix")
    asg["properties"]["destinationApplicationSecurityGroups"] = [
        {
            "id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/"
            "applicationSecurityGroups/web"
        }
    ]
    body = nsg_body(asg, rule("ssh", 110, "*", "22"))
    refused = arm.call("PUT", f"{NSG}/n", body, token=arm.token("plain", "s"))
    assert_refused(refused, 403, "LinkedAuthorizationFailed")
    assert arm.call("PUT", f"{NSG}/n", body, token=arm.token("joiner", "s")).status == 201


# ----------------------------------------------------------------------------------------------
# Item 6: strictness of requests and of sign-in
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'{"properties": []}'])
def test_a_malformed_body_is_refused(arm: Emulator, raw: bytes) -> None:
    assert_refused(arm.call("PUT", f"{NSG}/n", raw=raw), 400, "InvalidRequestFormat")


def test_a_token_for_another_audience_is_refused(arm: Emulator) -> None:
    graph = arm.token("admin", "admin-secret", "https://graph.microsoft.com/.default")
    answer = arm.call("GET", f"{NSG}/n", token=graph)
    assert_refused(answer, 401, "InvalidAuthenticationTokenAudience")


def test_entra_refuses_an_unknown_resource(arm: Emulator) -> None:
    answer = arm.grant("admin", "admin-secret", "https://nowhere.example/.default")
    assert answer.status == 400 and answer.body["error"] == "invalid_resource"
    assert answer.body["error_codes"] == [500011]


def test_entra_refuses_an_expired_secret() -> None:
    arm = Emulator(AppRegistration("old", "s", secret_expires=time.time() - 1))
    answer = arm.grant("old", "s")
    assert answer.status == 401 and answer.body["error"] == "invalid_client"
    assert answer.body["error_codes"] == [7000222]


# ----------------------------------------------------------------------------------------------
# Item 5: writes that go wrong, as Resource Manager's do
# ----------------------------------------------------------------------------------------------


def test_switchable_conflict_throttle_and_failed_operations(arm: Emulator) -> None:
    arm.emulator.faults.arm("conflict")
    assert_refused(arm.call("PUT", f"{NSG}/n", nsg_body()), 409, "AnotherOperationInProgress")
    arm.emulator.faults.arm("throttle", retry_after_s=7)
    throttled = arm.call("PUT", f"{NSG}/n", nsg_body())
    assert throttled.status == 429 and throttled.headers["Retry-After"] == "7"
    for ending in ("Failed", "Canceled"):
        arm.emulator.faults.arm(ending.lower())
        accepted = arm.call("PUT", f"{NSG}/n", nsg_body(rule("a", 100, "*", "22")))
        assert accepted.status == 201
        status = arm.call("GET", _poll_url(accepted))
        while status.body["status"] == "InProgress":
            status = arm.call("GET", _poll_url(accepted))
        assert status.body["status"] == ending and status.body["error"]["code"]
        assert arm.call("GET", f"{NSG}/n").status == 404  # the failed write left nothing
    assert arm.call("PUT", f"{NSG}/n", nsg_body()).status == 201  # one write per fault armed


# ----------------------------------------------------------------------------------------------
# The jobs against the stricter sandbox
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def faults(azure_sandbox: AzureSandbox) -> Iterator[Any]:
    assert azure_sandbox.emulator is not None
    armed = azure_sandbox.emulator.faults
    armed.clear()
    yield armed
    armed.clear()


def test_a_75_character_rule_name_splits_into_a_name_azure_takes(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob
) -> None:
    long_name = "r" * 75
    nsg = new_nsg(network, [rule(long_name, 200, ["0.0.0.0/0", "10.0.0.0/8"], "20-25")])
    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, port=22))
    assert run.returncode == 0, str(run)
    added = [n for n in rules_of(network, nsg) if n != long_name]
    assert added == ["r" * 71 + "-internet"], added  # 80 characters, ending with a letter


def test_a_job_puts_back_what_a_real_get_returns(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob
) -> None:
    nsg = new_nsg(network, [rule("ssh", 100, "*", "22"), rule("web", 110, "*", "443")])
    assert azure_sandbox.emulator is not None
    nsg_path = (
        f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"Microsoft.Network/networkSecurityGroups/{nsg}"
    )
    _, path = parse_path(nsg_path)
    assert path is not None
    subnet = {
        "id": f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/{GROUP}/"
        "providers/Microsoft.Network/virtualNetworks/v/subnets/s"
    }
    nic = {
        "id": f"/subscriptions/{azure_sandbox.subscription_id}/resourceGroups/{GROUP}/"
        "providers/Microsoft.Network/networkInterfaces/nic/ipConfigurations/ip"
    }
    azure_sandbox.emulator.store.set_by_azure(path, "subnets", [subnet])
    azure_sandbox.emulator.store.set_by_azure(path, "networkInterfaces", [nic])
    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, port=22))
    assert run.returncode == 0, str(run)
    after = network.network_security_groups.get(GROUP, nsg).as_dict()["properties"]
    assert set(rules_of(network, nsg)) == {"web"}
    assert after["subnets"] == [subnet] and after["networkInterfaces"] == [nic]
    assert len(after["defaultSecurityRules"]) == len(DEFAULT_RULES)


def test_a_conflict_is_waited_out_and_the_change_applied(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob, faults: Any
) -> None:
    nsg = new_nsg(network, [rule("ssh", 100, "*", "22")])
    faults.arm("conflict")
    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, port=22))
    assert run.returncode == 0, str(run)
    assert "409 AnotherOperationInProgress" in run.stdout
    assert len(run.changes) == 1 and rules_of(network, nsg) == {}


def test_a_conflict_that_lasts_exits_1_with_one_error(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob, faults: Any
) -> None:
    nsg = new_nsg(network, [rule("ssh", 100, "*", "22")])
    faults.arm("conflict", times=3)
    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, port=22))
    assert run.returncode == 1, str(run)
    assert len(run.errors) == 1 and "409 AnotherOperationInProgress" in run.errors[0], str(run)
    assert "Traceback" not in run.stderr and run.changes == []


def test_a_throttled_write_is_retried_after_retry_after(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob, faults: Any
) -> None:
    nsg = new_nsg(network, [rule("dns", 100, "*", "53", protocol="Udp")])
    faults.arm("throttle", retry_after_s=1)
    started = time.monotonic()
    run = run_job(UDP, payload(azure_sandbox, nsg, UDP_RULE))
    assert run.returncode == 0, str(run)
    assert time.monotonic() - started >= 1  # it waited as Resource Manager asked
    assert faults.served == ["throttle"] and len(run.changes) == 1


@pytest.mark.parametrize("ending", ["Failed", "Canceled"])
def test_an_operation_that_does_not_succeed_exits_1_claiming_no_change(
    azure_sandbox: AzureSandbox,
    network: NetworkManagementClient,
    run_job: RunJob,
    faults: Any,
    ending: str,
) -> None:
    nsg = new_nsg(network, [rule("ssh", 100, "*", "22")])
    faults.arm(ending.lower())
    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, port=22))
    assert run.returncode == 1, str(run)
    assert len(run.errors) == 1, str(run)
    assert f"the update of {nsg} ended {ending}" in run.errors[0], str(run)
    assert "Traceback" not in run.stderr and run.changes == []
    assert set(rules_of(network, nsg)) == {"ssh"}


def test_the_jobs_roles_allow_their_polls() -> None:
    """What issue #21 item 1 feared: without locations/operations/read the PUT applies and the
    poll is refused. The jobs' role definitions carry it (the catalogue test keeps them so)."""
    for job in (CLOSE_PORT, UDP):
        path = f"jobs/{job}/minimum_policy.json"
        with open(path, encoding="utf-8") as handle:
            assert POLL in json.load(handle)["Actions"]
