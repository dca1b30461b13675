"""`remedy demo`: four findings fixed end to end on the embedded stack, one Jira issue each.

Starts the Temporal dev server (UI on :8233 when free), the sandbox cloud (AWS: moto with IAM
enforced; Azure: the Resource Manager + Entra ID emulator; Jira: the REST emulator) and a
`remedy worker` process; creates an EC2 instance whose security group opens 22 to the internet, a
security group open on 3389, a public bucket and an Azure network security group open on 22;
remediates the four findings through workflows; checks on the emulators that each is fixed and
tagged and has its Jira issue; prints a table; sweeps every history, log, database and hub answer
for the secrets it used (remedy/secret_sweep.py); stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from remedy.config import TemporalSettings
from remedy.demo_hub import DemoHub, hub_responses, start_hub, wait_online
from remedy.secret_sweep import (
    Sweep,
    files,
    find_leaks,
    moto_credentials,
    sqlite_rows,
    temporal_histories,
)
from remedy.stack import (
    STATE,
    Clouds,
    clean_env,
    sandbox_worker_env,
    start_sandbox_cloud,
    wait_for_line,
    worker_process,
)
from remedy.temporal import connect
from remedy.types import (
    RunState,
)
from sandbox.aws import ACCOUNT_ID, free_port

console = Console()
GROUP = "demo"
OPEN = "0.0.0.0/0"
INTERNET = {"*", "Internet", "0.0.0.0/0", "::/0"}
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
RESOURCE_GROUP = "remedy-demo"
JIRA_PROJECT = "SEC"


@dataclass
class Case:
    title: str
    job: str
    rule_id: str
    resource: str
    provider: str = "aws"
    run_id: str = ""
    state: str = "submitted"
    message: str = ""
    temporal_url: str = ""
    fixed: bool = False
    tagged: bool = False
    ticket: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _port_or_free(port: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            return free_port()


def _finding(case: Case, clouds: Clouds) -> dict[str, Any]:
    info: dict[str, Any] = {
        "FindingId": f"demo-{uuid.uuid4().hex[:12]}",
        "ObjectId": case.resource,
        "RiskScore": 80,
    }
    if case.provider == "azure":
        chain = {
            "cloudAccountId": clouds.azure.subscription_id,
            "properties": [{"name": "ResourceGroup", "type": "string", "stringV": RESOURCE_GROUP}],
        }
        info.update(Region=clouds.azure.location, ObjectChain=json.dumps(chain))
        account: dict[str, Any] = {
            "provider": "azure",
            "subscriptionId": clouds.azure.subscription_id,
            "applicationId": clouds.azure.client_id,
        }
        service = "Network"
    else:
        info["Region"] = clouds.aws.region
        account = {"provider": "aws", "roleArn": clouds.aws.role_arn}
        service = "S3" if case.job.startswith("s3") else "EC2"
    return {
        "cloudAccount": account,
        "notificationInfo": {
            "CloudAccountID": ACCOUNT_ID
            if case.provider == "aws"
            else clouds.azure.subscription_id,
            "RuleID": case.rule_id,
            "RuleDisplayName": case.title,
            "Level": "High",
            "Service": service,
            "FindingInfo": info,
        },
        "autoRemediate": True,
    }


def create_findings(clouds: Clouds) -> list[Case]:
    """Make four non-compliant resources in the sandbox; return one case per finding."""
    ec2, s3 = clouds.aws.admin_client("ec2"), clouds.aws.admin_client("s3")
    suffix = uuid.uuid4().hex[:8]

    ssh_group = clouds.aws.open_security_group(22, "web-ssh")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SecurityGroupIds=[ssh_group]
    )["Instances"][0]["InstanceId"]
    rdp_group = clouds.aws.open_security_group(3389, "jump-rdp")
    bucket = f"remedy-demo-public-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    nsg = f"nsg-web-{suffix}"
    clouds.azure.create_resource_group(RESOURCE_GROUP)
    clouds.azure.admin_request(
        "PUT",
        f"/subscriptions/{clouds.azure.subscription_id}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"Microsoft.Network/networkSecurityGroups/{nsg}",
        {
            "location": clouds.azure.location,
            "properties": {
                "securityRules": [
                    {
                        "name": "allow-ssh-anywhere",
                        "properties": {
                            "protocol": "Tcp",
                            "access": "Allow",
                            "direction": "Inbound",
                            "priority": 100,
                            "sourceAddressPrefix": "Internet",
                            "sourcePortRange": "*",
                            "destinationAddressPrefix": "*",
                            "destinationPortRange": "22",
                        },
                    }
                ]
            },
        },
    )
    return [
        Case("instance: SSH open", "ec2_close_port_22", "5c8c26417a550e1fb6560c3f", instance),
        Case(
            "group: RDP open",
            "security_group_close_port_3389",
            "5c8c25ef7a550e1fb6560bc4",
            rdp_group,
        ),
        Case("bucket: public", "s3_remove_public_access", "5c8c26507a550e1fb6560c57", bucket),
        Case(
            "Azure NSG: SSH open",
            "azure_network_security_group_close_port_22",
            "5c8c26847a550e1fb6560cab",
            nsg,
            provider="azure",
        ),
    ]


def _open_on(ec2: Any, group_ids: list[str], port: int) -> bool:
    for group in ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]:
        for perm in group["IpPermissions"]:
            covers = perm["IpProtocol"] == "-1" or (
                perm["IpProtocol"] == "tcp"
                and perm.get("FromPort", 0) <= port <= perm.get("ToPort", 0)
            )
            if covers and any(r.get("CidrIp") == OPEN for r in perm.get("IpRanges", [])):
                return True
    return False


def _nsg_open_on(rules: list[dict[str, Any]], port: int) -> bool:
    for rule in rules:
        props = rule.get("properties", {})
        sources = {props.get("sourceAddressPrefix")} | set(props.get("sourceAddressPrefixes") or [])
        ranges = [props.get("destinationPortRange"), *(props.get("destinationPortRanges") or [])]
        if props.get("access") != "Allow" or props.get("direction") != "Inbound":
            continue
        if not (sources & INTERNET) or props.get("protocol") not in ("Tcp", "*"):
            continue
        for span in filter(None, ranges):
            low, _, high = str(span).partition("-")
            if span == "*" or int(low) <= port <= int(high or low):
                return True
    return False


def verify(case: Case, clouds: Clouds) -> None:
    """Look at the sandbox itself: is the resource fixed, tagged by this run, and ticketed?"""
    tags: dict[str, str]
    if case.provider == "azure":
        path = (
            f"/subscriptions/{clouds.azure.subscription_id}/resourceGroups/{RESOURCE_GROUP}/"
            f"providers/Microsoft.Network/networkSecurityGroups/{case.resource}"
        )
        _, nsg = clouds.azure.admin_request("GET", path)
        case.fixed = not _nsg_open_on(nsg["properties"].get("securityRules", []), 22)
        tags = nsg.get("tags") or {}
    else:
        ec2, s3 = clouds.aws.admin_client("ec2"), clouds.aws.admin_client("s3")
        if case.job.startswith("ec2_close_port"):
            instance = ec2.describe_instances(InstanceIds=[case.resource])["Reservations"][0][
                "Instances"
            ][0]
            case.fixed = not _open_on(ec2, [g["GroupId"] for g in instance["SecurityGroups"]], 22)
        elif case.job.startswith("security_group_close_port"):
            case.fixed = not _open_on(ec2, [case.resource], 3389)
        else:
            block = s3.get_public_access_block(Bucket=case.resource)[
                "PublicAccessBlockConfiguration"
            ]
            grants = s3.get_bucket_acl(Bucket=case.resource)["Grants"]
            public = any(g["Grantee"].get("URI") in PUBLIC_GRANTEES for g in grants)
            case.fixed = all(block.values()) and not public
        if case.job.startswith("s3"):
            tag_set = s3.get_bucket_tagging(Bucket=case.resource)["TagSet"]
        else:
            tag_set = ec2.describe_tags(
                Filters=[{"Name": "resource-id", "Values": [case.resource]}]
            )["Tags"]
        tags = {t["Key"]: t["Value"] for t in tag_set}
    case.tagged = tags.get("remediation-run-id") == case.run_id
    label = f"remedy-run-{case.run_id}"
    case.ticket = ", ".join(i["key"] for i in clouds.jira.issues() if label in i["labels"])


def _table(cases: list[Case]) -> Table:
    table = Table("finding", "resource", "job", "status", "time", "fixed", "tagged", "Jira")
    for case in cases:
        state = case.state
        colour = {"succeeded": "green", "failed": "red"}.get(state, "yellow")
        table.add_row(
            case.title,
            case.resource,
            case.job,
            f"[{colour}]{state}[/{colour}]",
            f"{case.seconds:.1f}s" if case.seconds else "",
            "yes" if case.fixed else "no",
            "yes" if case.tagged else "no",
            case.ticket or "-",
        )
    return table


ENDED = {"succeeded", "succeeded_with_errors", "failed", "cancelled"}


def setup_hub(hub: DemoHub, clouds: Clouds) -> tuple[str, str, str]:
    """What a security engineer does first: a worker group, and the accounts it serves."""
    created = hub.call(
        "POST", "/worker-groups", {"name": GROUP, "description": "the demo's workers"}
    )
    group_id = created["group"]["id"]
    hub.call(
        "POST",
        "/accounts",
        {
            "provider": "aws",
            "account_id": ACCOUNT_ID,
            "name": "sandbox AWS",
            "role_arn": clouds.aws.role_arn,
            "external_id": clouds.aws.external_id,
        },
    )
    hub.call(
        "POST",
        "/accounts",
        {"provider": "azure", "account_id": clouds.azure.subscription_id, "name": "sandbox Azure"},
    )
    for account in (ACCOUNT_ID, clouds.azure.subscription_id):
        hub.call("PUT", f"/worker-groups/{group_id}/accounts/{account}")
    return group_id, created["group"]["client_id"], created["client_secret"]


def publish_actions(hub: DemoHub, group_id: str, cases: list[Case], clouds: Clouds) -> None:
    """One auto-remediating action per rule, filing a Jira issue per run."""
    notify = {"jira": {"server": clouds.jira.url, "project": JIRA_PROJECT}}
    for case in cases:
        action = hub.call(
            "POST",
            "/remediations",
            {
                "name": f"demo {case.job}",
                "provider": case.provider,
                "worker_group_id": group_id,
                "rule_ids": [case.rule_id],
                "steps": [{"job": case.job}],
                "notify": notify,
                "auto_remediate": True,
            },
        )
        hub.call("POST", f"/remediations/{action['id']}/publish")


def remediate_all(hub: DemoHub, cases: list[Case], clouds: Clouds, timeout_s: float) -> None:
    """Post the findings to the hub: it matches them to the actions and starts the runs."""
    started = time.monotonic()
    ingested = hub.call("POST", "/findings", [_finding(case, clouds) for case in cases])
    for case, item in zip(cases, ingested["items"], strict=True):
        if not item["runs"]:
            raise RuntimeError(f"the hub started no run for {case.job}: {item}")
        case.run_id = item["runs"][0]
    with Live(_table(cases), console=console, refresh_per_second=4) as live:
        while time.monotonic() - started < timeout_s:
            for case in cases:
                if case.state not in ENDED:
                    with contextlib.suppress(Exception):
                        run = hub.call("GET", f"/runs/{case.run_id}")
                        case.state, case.message = run["status"], run["message"]
                        case.temporal_url = run["temporal_url"]
                    if case.state in ENDED:
                        case.seconds = time.monotonic() - started
            live.update(_table(cases))
            if all(c.state in ENDED for c in cases):
                break
            time.sleep(0.3)
        for case in cases:
            verify(case, clouds)
        live.update(_table(cases))
    for case in cases:
        console.print(f"  {case.job}: {case.temporal_url}", soft_wrap=True)


def sweep_secrets(
    hub: DemoHub,
    clouds: Clouds,
    state_dir: Path,
    settings: TemporalSettings,
    group_id: str,
    client_secret: str,
) -> Sweep:
    """Every secret the demo used, looked for wherever it must not be."""
    secrets = {
        **moto_credentials(clouds.aws.endpoint),
        **{f"Azure secret #{n}": v for n, v in enumerate(clouds.azure.secrets(), 1)},
        **{f"Azure access token #{n}": v for n, v in enumerate(clouds.azure.issued_tokens(), 1)},
        "Jira API token": clouds.jira.token,
        "hub admin token": hub.token,
        "worker group client secret": client_secret,
    }

    async def histories() -> list[tuple[str, str]]:
        return await temporal_histories(await connect(settings))

    places: list[tuple[str, str | bytes]] = [
        *asyncio.run(histories()),
        *hub_responses(hub, group_id),
        *sqlite_rows(state_dir / "hub.db"),
        *files(
            [
                state_dir / "worker.log",
                state_dir / "hub.log",
                state_dir / "hub.db",
                *sorted((state_dir / "temporal").glob("*.db*")),
            ]
        ),
    ]
    return find_leaks(secrets, places)


def demo(
    state_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its Temporal database and logs.")
    ] = STATE / "demo",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the remediations.")] = 180.0,
) -> None:
    """Fix four findings (AWS and Azure) end to end on the embedded stack, one Jira issue each,
    then sweep for leaked secrets; exit 0 only if all are fixed, tagged and ticketed and no
    secret leaked.

    Everything it starts (dev server, sandbox cloud, worker) is stopped before it exits. The runs
    stay in STATE_DIR/temporal: `remedy dev-server --state-dir STATE_DIR/temporal` shows them in
    the UI.
    """
    from remedy.temporal import start_dev_server, stop_process

    state_dir.mkdir(parents=True, exist_ok=True)
    port, ui_port = _port_or_free(7233), _port_or_free(8233)
    ui_url = f"http://127.0.0.1:{ui_port}"
    settings = TemporalSettings(address=f"127.0.0.1:{port}", ui_url=ui_url)
    processes: list[subprocess.Popen[bytes]] = []
    clouds: Clouds | None = None
    hub: DemoHub | None = None
    cases: list[Case] = []
    sweep: Sweep | None = None
    try:
        console.print(f"[bold]1/6[/bold] Temporal dev server on 127.0.0.1:{port} (UI {ui_url})")
        processes.append(start_dev_server(port, state_dir / "temporal", ui_port=ui_port))
        console.print(
            "[bold]2/6[/bold] sandbox cloud: AWS (moto, IAM enforced: the remediation role carries "
            "the jobs' minimum policies), Azure (Resource Manager + Entra ID, role-checked), Jira"
        )
        clouds = start_sandbox_cloud()
        hub = start_hub(state_dir, settings.address, ui_url)
        group_id, client_id, client_secret = setup_hub(hub, clouds)
        console.print(
            f"[bold]3/6[/bold] hub at {hub.url}: worker group {group_id}, the sandbox's "
            "AWS account and Azure subscription associated"
        )
        log_file = state_dir / "worker.log"
        log_file.unlink(missing_ok=True)
        env = clean_env(
            **sandbox_worker_env(clouds),
            TEMPORAL_ADDRESS=settings.address,
            TEMPORAL_UI_URL=ui_url,
            REMEDY_HUB_URL=hub.url,
            VSS_CLIENT_ID=client_id,
            VSS_CLIENT_SECRET=client_secret,
        )
        console.print(f"[bold]4/6[/bold] remedy worker --group {group_id} (log: {log_file})")
        processes.append(worker_process(group_id, env, log_file))
        line = wait_for_line(log_file, "Worker started and is waiting for work", 90, processes[-1])
        console.print("    " + line, markup=False, highlight=False)
        worker = wait_online(hub, group_id)
        console.print(
            f"    the hub shows worker {worker['worker_id']} {worker['state']} with "
            f"{len(worker['jobs'])} jobs"
        )
        cases = create_findings(clouds)
        publish_actions(hub, group_id, cases, clouds)
        console.print(
            "[bold]5/6[/bold] four auto-remediating actions published; four findings "
            "posted to the hub, which starts their runs on Temporal"
        )
        remediate_all(hub, cases, clouds, timeout)
        sweep = sweep_secrets(hub, clouds, state_dir, settings, group_id, client_secret)
        console.print(f"[bold]6/6[/bold] secret sweep: {sweep.summary()}", soft_wrap=True)
        console.print(
            "    (every credential and secret used: the sandbox's and STS's AWS keys, the Azure "
            "app's secret, the Jira token, the hub's admin token and group secret; searched in "
            "every workflow history, the worker and hub logs, the Temporal and hub databases and "
            "the hub's answers)",
            markup=False,
        )
    finally:
        for process in reversed(processes):
            stop_process(process, 40)
        if hub:
            hub.stop()
        if clouds:
            clouds.stop()
    ok = (
        bool(cases)
        and all(c.fixed and c.tagged and c.ticket and c.state == RunState.SUCCEEDED for c in cases)
        and sweep is not None
        and not sweep.leaks
    )
    if ok:
        console.print(
            f"[green]All {len(cases)} findings fixed, tagged and ticketed.[/green] The runs are "
            f"kept in {state_dir / 'temporal'}: `remedy dev-server --state-dir "
            f"{state_dir / 'temporal'}` shows them in the Temporal UI."
        )
    else:
        for case in cases:
            if case.state != RunState.SUCCEEDED:
                console.print(f"[red]{case.job}:[/red] {case.state} {case.message}")
        console.print(
            f"[red]Not every finding was fixed.[/red] Worker log: {state_dir / 'worker.log'}"
        )
    raise typer.Exit(0 if ok else 1)
