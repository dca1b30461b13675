"""The two built-in Azure jobs in every mode, on the Azure emulator, run as the worker runs them.

The same life as tests/test_job_modes.py: verify 3 then 0, plan sends no mutating request (the
emulator logs every request: sandbox/request_log.py), remediate fixes and records, a second run
changes nothing, rollback restores the rules, and refuses after someone changed the NSG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import NetworkSecurityGroup

from sandbox.azure import AzureSandbox
from sandbox.request_log import RequestLog
from tests.job_modes import Case, Run, exercise, runner
from tests.test_azure_jobs import GROUP, new_nsg, payload, rule, rules_of


@pytest.fixture(scope="module")
def network(azure_sandbox: AzureSandbox) -> NetworkManagementClient:
    azure_sandbox.create_resource_group(GROUP)
    return azure_sandbox.network_client()


@pytest.fixture
def run(tmp_path: Path, azure_sandbox: AzureSandbox) -> Run:
    assert azure_sandbox.emulator is not None
    log: RequestLog = azure_sandbox.emulator.requests
    return runner(tmp_path, azure_sandbox.worker_env(), log)


def add_rule(network: NetworkManagementClient, nsg: str, extra: dict[str, Any]) -> None:
    """A person's change: one more rule, through Resource Manager."""
    document = network.network_security_groups.get(GROUP, nsg).as_dict()
    document["properties"]["securityRules"].append(extra)
    network.network_security_groups.begin_create_or_update(
        GROUP, nsg, NetworkSecurityGroup(document)
    ).result()


def test_close_port_modes(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run: Run
) -> None:
    nsg = new_nsg(
        network,
        [
            rule("ssh-anywhere", 100, "*", "22"),
            rule("range", 110, ["0.0.0.0/0", "10.0.0.0/8"], "20-25"),
            rule("web", 120, "0.0.0.0/0", "443"),
        ],
    )

    def tamper() -> None:
        add_rule(network, nsg, rule("added-by-hand", 300, "10.1.0.0/16", "8080"))

    finding = payload(azure_sandbox, nsg, port=22)
    job = "azure_network_security_group_close_port"
    exercise(run, Case(job, finding, lambda: rules_of(network, nsg), tamper))


def test_udp_modes(azure_sandbox: AzureSandbox, network: NetworkManagementClient, run: Run) -> None:
    nsg = new_nsg(
        network,
        [
            rule("dns", 100, "Internet", "53", protocol="Udp"),
            rule("any", 110, "*", "1000-2000", protocol="*"),
            rule("ssh-private", 120, "10.0.0.0/8", "22"),
        ],
    )

    def tamper() -> None:
        add_rule(network, nsg, rule("udp-again", 130, "Internet", "123", protocol="Udp"))

    finding = payload(azure_sandbox, nsg)
    job = "azure_security_udp_access_restricted_from_internet"
    exercise(run, Case(job, finding, lambda: rules_of(network, nsg), tamper))
