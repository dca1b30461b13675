"""The built-in Azure jobs, run exactly as the worker runs them, against the Azure emulator.

Each run copies the job folder to a fresh temporary directory and starts
`<python> <name>.py '<payload>'` there with only the contract's environment (AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET, AZURE_TENANT_ID, the authority host and Resource Manager endpoint, the CA
bundle, PATH, HOME, LANG). The worker's app may do only what the jobs' role definitions allow.
NSGs are created and read back with a real azure-mgmt-network client as the sandbox administrator;
each test has its own NSG in one session-wide resource group.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import NetworkSecurityGroup, SecurityRule

from remedy.jobkit.azure_nsg import Narrowed, close_tcp_port, plan, restrict_nsg, without_port
from sandbox.azure import AzureSandbox
from tests.job_process import run_like_the_worker

ROOT = Path(__file__).resolve().parent.parent
JOBS_DIR = ROOT / "jobs"
CLOSE_PORT = "azure_network_security_group_close_port"
UDP = "azure_security_udp_access_restricted_from_internet"
SSH_RULE = "5c8c26847a550e1fb6560cab"  # azure_network_security_group_close_port_22
RDP_RULE = "5c8c267e7a550e1fb6560c9c"  # azure_network_security_group_close_port_3389
UDP_RULE = "4e27676b-7e87-4e2e-b756-28c96ed4fdf8"
GROUP = f"remedy-tests-{uuid.uuid4().hex[:6]}"


@dataclass
class JobRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def changes(self) -> list[str]:
        return [
            ln[len("CHANGE: ") :] for ln in self.stdout.splitlines() if ln.startswith("CHANGE: ")
        ]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("ERROR: ")]

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


RunJob = Callable[..., JobRun]


@pytest.fixture(scope="module")
def network(azure_sandbox: AzureSandbox) -> NetworkManagementClient:
    azure_sandbox.create_resource_group(GROUP)
    return azure_sandbox.network_client()


@pytest.fixture
def run_job(tmp_path: Path, azure_sandbox: AzureSandbox) -> Iterator[RunJob]:
    """Run a job as the worker does: a private copy of its folder, the payload in argv[1]."""
    count = 0

    def run(name: str, payload: Any, env: dict[str, str] | None = None) -> JobRun:
        nonlocal count
        count += 1
        done = run_like_the_worker(
            JOBS_DIR / name,
            tmp_path / f"{name}-{count}",
            payload,
            env if env is not None else azure_sandbox.worker_env(),
        )
        return JobRun(done.returncode, done.stdout, done.stderr)

    yield run


def chain(subscription: str | None, resource_group: str | None) -> str:
    properties = [{"name": "Region", "type": "string", "stringV": "westeurope"}]
    if resource_group is not None:
        properties.append({"name": "ResourceGroup", "type": "string", "stringV": resource_group})
    document: dict[str, Any] = {"properties": properties}
    if subscription is not None:
        document["cloudAccountId"] = subscription
    return json.dumps(document)


def payload(
    sandbox: AzureSandbox,
    nsg: str | None,
    rule_id: str = "rule-x",
    *,
    resource_group: str | None = GROUP,
    subscription: str | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    """An Azure payload as the worker completes it (ObjectChain with subscription and group)."""
    sub = subscription or sandbox.subscription_id
    finding: dict[str, Any] = {
        "FindingId": f"f-{uuid.uuid4().hex[:8]}",
        "ObjectChain": chain(sub, resource_group),
        "Region": "westeurope",
    }
    if nsg is not None:
        finding["ObjectId"] = nsg
    document: dict[str, Any] = {
        "cloudAccount": {"provider": "azure", "subscriptionId": sub},
        "notificationInfo": {
            "CloudAccountID": sub,
            "CloudAccountId": sub,
            "RuleID": rule_id,
            "FindingInfo": finding,
        },
        "autoRemediate": False,
    }
    if parameters:
        document["remediationParameters"] = parameters
    return document


def rule(
    name: str,
    priority: int,
    source: str | list[str],
    ports: str | list[str],
    protocol: str = "Tcp",
    access: str = "Allow",
    direction: str = "Inbound",
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "protocol": protocol,
        "access": access,
        "direction": direction,
        "priority": priority,
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
    }
    if isinstance(source, list):
        props["sourceAddressPrefixes"] = source
    else:
        props["sourceAddressPrefix"] = source
    if isinstance(ports, list):
        props["destinationPortRanges"] = ports
    else:
        props["destinationPortRange"] = ports
    return {"name": name, "properties": props}


def new_nsg(network: NetworkManagementClient, rules: list[dict[str, Any]]) -> str:
    name = f"nsg-{uuid.uuid4().hex[:10]}"
    document = {"location": "westeurope", "properties": {"securityRules": rules}}
    network.network_security_groups.begin_create_or_update(
        GROUP, name, NetworkSecurityGroup(document)
    ).result()
    return name


# One rule as a comparable tuple: (name, protocol, access, direction, priority, sources, ports).
Shape = tuple[str, str, str, str, int, tuple[str, ...], tuple[str, ...]]


def shape(item: dict[str, Any]) -> Shape:
    p = item["properties"]
    sources = (
        [p["sourceAddressPrefix"]]
        if p.get("sourceAddressPrefix")
        else p.get("sourceAddressPrefixes", [])
    )
    ports = (
        [p["destinationPortRange"]]
        if p.get("destinationPortRange")
        else p.get("destinationPortRanges", [])
    )
    return (
        item["name"],
        p["protocol"],
        p["access"],
        p["direction"],
        p["priority"],
        tuple(sources),
        tuple(ports),
    )


def rules_of(network: NetworkManagementClient, nsg: str) -> dict[str, Shape]:
    found = network.network_security_groups.get(GROUP, nsg).as_dict()
    return {r["name"]: shape(r) for r in found["properties"].get("securityRules", [])}


def check_idempotent(
    run_job: RunJob, network: NetworkManagementClient, job: str, document: dict[str, Any], what: str
) -> None:
    nsg = document["notificationInfo"]["FindingInfo"]["ObjectId"]
    before = network.network_security_groups.get(GROUP, nsg).etag
    again = run_job(job, document)
    assert again.returncode == 0, str(again)
    assert again.changes == [], str(again)
    assert f"ok: {nsg} has no inbound rule that lets the internet reach {what}" in again.stdout
    assert network.network_security_groups.get(GROUP, nsg).etag == before  # not even rewritten


# ----------------------------------------------------------------------------------------------
# azure_network_security_group_close_port
# ----------------------------------------------------------------------------------------------


def test_close_port_22_for_every_internet_source(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob
) -> None:
    untouched = [
        rule("private-ssh", 150, "10.0.0.0/8", "22"),
        rule("vnet-ssh", 160, "VirtualNetwork", "22"),
        rule("https", 170, "*", "443"),
        rule("udp-22", 180, "*", "22", protocol="Udp"),
        rule("deny-ssh", 190, "Internet", "22", access="Deny"),
        rule("out-ssh", 100, "*", "22", direction="Outbound"),
    ]
    nsg = new_nsg(
        network,
        [
            rule("any-ssh", 100, "*", "22"),
            rule("internet-ssh", 110, "Internet", "22"),
            rule("ipv4-ssh", 120, "0.0.0.0/0", "22", protocol="*"),
            rule("ipv6-ssh", 130, ["::/0"], "22"),
            *untouched,
        ],
    )
    document = payload(azure_sandbox, nsg, port=22)

    run = run_job(CLOSE_PORT, document)

    assert run.returncode == 0, str(run)
    assert rules_of(network, nsg) == {r["name"]: shape(r) for r in untouched}
    assert sorted(run.changes) == [
        f"{nsg}: removed rule any-ssh (Tcp 22 from *): port 22 was all it allowed",
        f"{nsg}: removed rule internet-ssh (Tcp 22 from Internet): port 22 was all it allowed",
        f"{nsg}: removed rule ipv4-ssh (* 22 from 0.0.0.0/0): port 22 was all it allowed",
        f"{nsg}: removed rule ipv6-ssh (Tcp 22 from ::/0): port 22 was all it allowed",
    ]
    check_idempotent(run_job, network, CLOSE_PORT, document, "tcp/22")


def test_close_port_splits_ranges_and_port_lists(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob
) -> None:
    nsg = new_nsg(
        network,
        [
            rule("ftp-ssh", 100, "Internet", "20-25"),
            rule("listed", 110, "*", ["22", "80", "3000-4000"]),
            rule("overlapping", 120, "0.0.0.0/0", ["10-30", "22"]),
            rule("all-ports", 130, "::/0", "*", protocol="*"),
            rule("edge", 140, "*", "22-23"),
            rule("elsewhere", 150, "*", ["80", "443"]),
        ],
    )

    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, port=22))

    assert run.returncode == 0, str(run)
    after = rules_of(network, nsg)
    assert after["ftp-ssh"][-1] == ("20-21", "23-25")
    assert after["listed"][-1] == ("80", "3000-4000")
    assert after["overlapping"][-1] == ("10-21", "23-30")
    assert after["all-ports"][-1] == ("0-21", "23-65535")
    assert after["all-ports"][1] == "*"  # everything but the ports is kept
    assert after["edge"][-1] == ("23",)
    assert after["elsewhere"][-1] == ("80", "443")
    assert after["ftp-ssh"][:-1] == ("ftp-ssh", "Tcp", "Allow", "Inbound", 100, ("Internet",))
    assert sorted(run.changes) == sorted(
        [
            f"{nsg}: rule ftp-ssh (Tcp 20-25 from Internet): destination ports 20-25 -> 20-21,23-25",
            f"{nsg}: rule listed (Tcp 22,80,3000-4000 from *): destination ports 22,80,3000-4000 "
            "-> 80,3000-4000",
            f"{nsg}: rule overlapping (Tcp 10-30,22 from 0.0.0.0/0): destination ports 10-30,22 "
            "-> 10-21,23-30",
            f"{nsg}: rule all-ports (* * from ::/0): destination ports * -> 0-21,23-65535",
            f"{nsg}: rule edge (Tcp 22-23 from *): destination ports 22-23 -> 23",
        ]
    )
    check_idempotent(run_job, network, CLOSE_PORT, payload(azure_sandbox, nsg, port=22), "tcp/22")


def test_close_port_moves_internet_sources_of_a_mixed_rule_next_to_it(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob
) -> None:
    nsg = new_nsg(
        network,
        [
            rule("mixed", 200, ["0.0.0.0/0", "10.0.0.0/8"], "20-25"),  # no tag or * in a list
            rule("mixed-ssh-only", 300, ["0.0.0.0/0", "192.168.0.0/16"], "22"),
            rule("next", 201, "*", "8080"),  # takes 201: the split rule goes to 199
        ],
    )
    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, port=22))

    assert run.returncode == 0, str(run)
    assert rules_of(network, nsg) == {
        "mixed": ("mixed", "Tcp", "Allow", "Inbound", 200, ("10.0.0.0/8",), ("20-25",)),
        "mixed-internet": (
            "mixed-internet",
            "Tcp",
            "Allow",
            "Inbound",
            199,
            ("0.0.0.0/0",),
            ("20-21", "23-25"),
        ),
        "mixed-ssh-only": (
            "mixed-ssh-only",
            "Tcp",
            "Allow",
            "Inbound",
            300,
            ("192.168.0.0/16",),
            ("22",),
        ),
        "next": ("next", "Tcp", "Allow", "Inbound", 201, ("*",), ("8080",)),
    }
    assert len(run.changes) == 3, str(run)
    assert f"{nsg}: added rule mixed-internet (priority 199, Tcp 20-21,23-25 from " in "\n".join(
        run.changes
    )
    check_idempotent(run_job, network, CLOSE_PORT, payload(azure_sandbox, nsg, port=22), "tcp/22")


def test_mixed_rule_without_a_free_neighbour_priority_changes_nothing(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob
) -> None:
    nsg = new_nsg(
        network,
        [
            rule("ssh-open", 100, "*", "22"),
            rule("before", 199, "10.1.0.0/16", "80"),
            rule("mixed", 200, ["0.0.0.0/0", "10.0.0.0/8"], "20-25"),
            rule("after", 201, "10.2.0.0/16", "80"),
        ],
    )
    before = network.network_security_groups.get(GROUP, nsg).etag
    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, port=22))
    assert run.returncode == 1, str(run)
    assert len(run.errors) == 1 and "both neighbours are taken" in run.errors[0], str(run)
    assert "Traceback" not in run.stderr
    assert run.changes == []
    assert network.network_security_groups.get(GROUP, nsg).etag == before  # all or nothing


def test_aliases_pick_the_port_of_their_rule_from_an_older_payload(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob
) -> None:
    nsg = new_nsg(network, [rule("rdp", 100, "*", "3389"), rule("ssh", 110, "*", "22")])
    document = payload(azure_sandbox, nsg, RDP_RULE)  # no remediationParameters
    run = run_job(CLOSE_PORT, document)
    assert run.returncode == 0, str(run)
    assert "azure_network_security_group_close_port_3389" in run.stdout
    assert run.changes == [
        f"{nsg}: removed rule rdp (Tcp 3389 from *): port 3389 was all it allowed"
    ]
    assert set(rules_of(network, nsg)) == {"ssh"}
    run = run_job(CLOSE_PORT, payload(azure_sandbox, nsg, SSH_RULE))
    assert run.returncode == 0 and len(run.changes) == 1, str(run)
    assert rules_of(network, nsg) == {}


@pytest.mark.parametrize(
    ("ranges", "port", "expected"),
    [
        (["0-65535"], 0, ["1-65535"]),
        (["0-65535"], 65535, ["0-65534"]),
        (["22"], 22, []),
        (["23-25"], 22, ["23-25"]),  # does not cover the port
        (["*"], 1, ["0", "2-65535"]),
        (["not-a-port", "22"], 22, ["not-a-port"]),  # what cannot be read is left alone
    ],
)
def test_without_port_edges(ranges: list[str], port: int, expected: list[str]) -> None:
    assert without_port(ranges, port) == expected


def test_plan_is_pure_and_skips_rules_it_cannot_reach() -> None:
    rules = [
        rule("asg-source", 100, [], "22"),  # an application security group source: no prefix
        rule("deny", 110, "*", "22", access="Deny"),
        rule("icmp", 120, "*", "*", protocol="Icmp"),
    ]
    result, changes = plan("nsg", rules, close_tcp_port(22))
    assert result == rules and changes == []


def test_a_concurrent_change_is_never_overwritten(
    azure_sandbox: AzureSandbox,
    network: NetworkManagementClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nsg = new_nsg(network, [rule("ssh", 100, "*", "22")])
    close = close_tcp_port(22)
    raced: list[str] = []

    def racing(props: dict[str, Any]) -> Narrowed | None:
        if not raced:  # between the job's GET and its PUT, someone else adds a rule
            raced.append("once")
            added = SecurityRule(rule("added-meanwhile", 300, "10.0.0.0/8", "8443"))
            network.security_rules.begin_create_or_update(
                GROUP, nsg, "added-meanwhile", added
            ).result()
        return close(props)

    worker = azure_sandbox.network_client(admin=False)
    assert restrict_nsg(worker, GROUP, nsg, racing, "tcp/22") == 1

    assert set(rules_of(network, nsg)) == {"added-meanwhile"}  # both: the fix and the other change
    out = capsys.readouterr().out
    assert f"{nsg} changed since it was read (412 on If-Match" in out
    assert out.count("CHANGE: ") == 1


# ----------------------------------------------------------------------------------------------
# azure_security_udp_access_restricted_from_internet
# ----------------------------------------------------------------------------------------------


def test_udp_rules_from_the_internet_are_removed_and_any_protocol_becomes_tcp(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient, run_job: RunJob
) -> None:
    nsg = new_nsg(
        network,
        [
            rule("dns", 100, "*", "53", protocol="Udp"),
            rule("ipv6-udp", 110, "::/0", "*", protocol="Udp"),
            rule("anything", 120, "Internet", ["80", "443"], protocol="*"),
            rule("mixed-udp", 130, ["0.0.0.0/0", "10.0.0.0/8"], "500", protocol="Udp"),
            rule("mixed-any", 140, ["0.0.0.0/0", "172.16.0.0/12"], "8000-8100", protocol="*"),
            rule("private-udp", 150, "10.0.0.0/8", "53", protocol="Udp"),
            rule("web", 160, "*", "443"),
            rule("udp-deny", 170, "*", "*", protocol="Udp", access="Deny"),
        ],
    )
    document = payload(azure_sandbox, nsg, UDP_RULE)

    run = run_job(UDP, document)

    assert run.returncode == 0, str(run)
    after = rules_of(network, nsg)
    assert set(after) == {
        "anything",
        "mixed-udp",
        "mixed-any",
        "mixed-any-internet",
        "private-udp",
        "web",
        "udp-deny",
    }
    assert after["anything"] == (
        "anything",
        "Tcp",
        "Allow",
        "Inbound",
        120,
        ("Internet",),
        ("80", "443"),
    )
    assert after["mixed-udp"][4:] == (130, ("10.0.0.0/8",), ("500",))
    assert after["mixed-any"] == (
        "mixed-any",
        "*",
        "Allow",
        "Inbound",
        140,
        ("172.16.0.0/12",),
        ("8000-8100",),
    )
    assert after["mixed-any-internet"] == (
        "mixed-any-internet",
        "Tcp",
        "Allow",
        "Inbound",
        141,
        ("0.0.0.0/0",),
        ("8000-8100",),
    )
    assert after["private-udp"][1] == "Udp" and after["web"][1] == "Tcp"
    assert len(run.changes) == 6, str(run)
    assert f"{nsg}: removed rule dns (Udp 53 from *): it allowed udp" in run.changes
    check_idempotent(run_job, network, UDP, document, "udp")


# ----------------------------------------------------------------------------------------------
# Bad input (exit 2) and failed calls (exit 1): one clear line, never a traceback
# ----------------------------------------------------------------------------------------------


def assert_one_error(run: JobRun, code: int, *needles: str) -> None:
    assert run.returncode == code, str(run)
    assert "Traceback" not in run.stderr, str(run)
    assert len(run.errors) == 1, str(run)
    for needle in needles:
        assert needle in run.errors[0], str(run)
    assert run.changes == []


@pytest.mark.parametrize("job", [CLOSE_PORT, UDP])
def test_missing_resource_group_exits_2_naming_the_field(
    azure_sandbox: AzureSandbox, run_job: RunJob, job: str
) -> None:
    run = run_job(job, payload(azure_sandbox, "nsg-x", resource_group=None, port=22))
    assert_one_error(
        run,
        2,
        "notificationInfo.FindingInfo.ObjectChain",
        "property named ResourceGroup is missing",
    )


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["notificationInfo"]["FindingInfo"].pop("ObjectId"), "ObjectId is missing"),
        (
            lambda d: d["notificationInfo"]["FindingInfo"].pop("ObjectChain"),
            "notificationInfo.FindingInfo.ObjectChain is missing",
        ),
        (
            lambda d: d["notificationInfo"]["FindingInfo"].update(ObjectChain="{nope"),
            "ObjectChain is not a JSON document",
        ),
        (
            lambda d: d["notificationInfo"]["FindingInfo"].update(
                ObjectChain=chain("not-a-guid", GROUP)
            ),
            "ObjectChain.cloudAccountId must be an Azure subscription id",
        ),
        (lambda d: d.pop("remediationParameters"), "remediationParameters.port is missing"),
        (
            lambda d: d["remediationParameters"].update(port=70000),
            "remediationParameters.port must be an integer from 1 to 65535",
        ),
    ],
)
def test_bad_input_exits_2(
    azure_sandbox: AzureSandbox,
    run_job: RunJob,
    change: Callable[[dict[str, Any]], Any],
    needle: str,
) -> None:
    document = payload(azure_sandbox, "nsg-x", port=22)
    change(document)
    assert_one_error(run_job(CLOSE_PORT, document), 2, needle)


def test_nonexistent_nsg_exits_1(azure_sandbox: AzureSandbox, run_job: RunJob) -> None:
    run = run_job(CLOSE_PORT, payload(azure_sandbox, "nsg-that-is-not-there", port=22))
    assert_one_error(run, 1, "GET ", "404 ResourceNotFound", "nsg-that-is-not-there")


def test_unassociated_subscription_names_the_action_the_role_lacks(
    azure_sandbox: AzureSandbox, run_job: RunJob
) -> None:
    other = str(uuid.uuid4())
    run = run_job(CLOSE_PORT, payload(azure_sandbox, "nsg-x", subscription=other, port=22))
    assert_one_error(
        run,
        1,
        "403 AuthorizationFailed",
        f"/subscriptions/{other}/",
        "lacks Microsoft.Network/networkSecurityGroups/read",
        "minimum_policy.json",
    )


def test_wrong_client_secret_exits_1_with_the_entra_error_and_no_secret(
    azure_sandbox: AzureSandbox, run_job: RunJob
) -> None:
    wrong = "not-the-secret-" + uuid.uuid4().hex
    env = {**azure_sandbox.worker_env(), "AZURE_CLIENT_SECRET": wrong}
    run = run_job(UDP, payload(azure_sandbox, "nsg-x"), env=env)
    assert_one_error(run, 1, "could not sign in to Azure", "AADSTS7000215", azure_sandbox.client_id)
    assert wrong not in run.stdout + run.stderr
    assert azure_sandbox.client_secret not in run.stdout + run.stderr


def test_missing_identity_variable_exits_1_naming_it(
    azure_sandbox: AzureSandbox, run_job: RunJob
) -> None:
    env = {k: v for k, v in azure_sandbox.worker_env().items() if k != "AZURE_TENANT_ID"}
    run = run_job(UDP, payload(azure_sandbox, "nsg-x"), env=env)
    assert_one_error(run, 1, "AZURE_TENANT_ID is not set")
