"""`remedy demo`: three findings fixed end to end on the embedded stack.

Starts the Temporal dev server (UI on :8233 when free), the sandbox cloud and a `remedy worker`
process; creates an instance whose security group opens 22 to the internet, a security group open on
3389 and a public bucket; remediates the three findings through workflows; checks on the sandbox
that each is fixed and tagged; prints a table; stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from remedy.config import TemporalSettings
from remedy.stack import STATE, builtin_aws_policies, clean_env, wait_for_line, worker_process
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState, RunStatus
from sandbox.aws import ACCOUNT_ID, AwsSandbox, free_port, start_aws_sandbox

console = Console()
GROUP = "demo"
OPEN = "0.0.0.0/0"
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


@dataclass
class Case:
    title: str
    job: str
    rule_id: str
    resource: str
    run_id: str = ""
    status: RunStatus | None = None
    fixed: bool = False
    tagged: bool = False
    seconds: float = 0.0


def _port_or_free(port: int) -> int:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            return free_port()


def _finding(case: Case, sandbox: AwsSandbox) -> dict[str, Any]:
    return {
        "cloudAccount": {"provider": "aws", "roleArn": sandbox.role_arn},
        "notificationInfo": {
            "CloudAccountID": ACCOUNT_ID,
            "RuleID": case.rule_id,
            "RuleDisplayName": case.title,
            "Level": "High",
            "Service": "EC2" if case.job.startswith(("ec2", "security")) else "S3",
            "FindingInfo": {
                "FindingId": f"demo-{uuid.uuid4().hex[:12]}",
                "ObjectId": case.resource,
                "Region": sandbox.region,
                "RiskScore": 80,
            },
        },
        "autoRemediate": True,
    }


def create_findings(sandbox: AwsSandbox) -> list[Case]:
    """Make three non-compliant resources in the sandbox; return one case per finding."""
    ec2, s3 = sandbox.admin_client("ec2"), sandbox.admin_client("s3")
    suffix = uuid.uuid4().hex[:8]

    def open_group(name: str, port: int) -> str:
        group = str(
            ec2.create_security_group(GroupName=f"{name}-{suffix}", Description=name)["GroupId"]
        )
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": OPEN}],
                }
            ],
        )
        return group

    ssh_group = open_group("web-ssh", 22)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SecurityGroupIds=[ssh_group]
    )["Instances"][0]["InstanceId"]
    rdp_group = open_group("jump-rdp", 3389)
    bucket = f"remedy-demo-public-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    return [
        Case("instance: SSH open", "ec2_close_port_22", "5c8c26417a550e1fb6560c3f", instance),
        Case(
            "group: RDP open",
            "security_group_close_port_3389",
            "5c8c25ef7a550e1fb6560bc4",
            rdp_group,
        ),
        Case("bucket: public", "s3_remove_public_access", "5c8c26507a550e1fb6560c57", bucket),
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


def verify(case: Case, sandbox: AwsSandbox) -> None:
    """Look at the sandbox itself: is the resource fixed, and tagged by this run?"""
    ec2, s3 = sandbox.admin_client("ec2"), sandbox.admin_client("s3")
    if case.job.startswith("ec2_close_port"):
        instance = ec2.describe_instances(InstanceIds=[case.resource])["Reservations"][0][
            "Instances"
        ][0]
        groups = [g["GroupId"] for g in instance["SecurityGroups"]]
        case.fixed = not _open_on(ec2, groups, 22)
    elif case.job.startswith("security_group_close_port"):
        case.fixed = not _open_on(ec2, [case.resource], 3389)
    else:
        block = s3.get_public_access_block(Bucket=case.resource)["PublicAccessBlockConfiguration"]
        grants = s3.get_bucket_acl(Bucket=case.resource)["Grants"]
        public = any(g["Grantee"].get("URI") in PUBLIC_GRANTEES for g in grants)
        case.fixed = all(block.values()) and not public
    if case.job.startswith("s3"):
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=case.resource)["TagSet"]}
    else:
        found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [case.resource]}])[
            "Tags"
        ]
        tags = {t["Key"]: t["Value"] for t in found}
    case.tagged = tags.get("remediation-run-id") == case.run_id


def _table(cases: list[Case]) -> Table:
    table = Table("finding", "resource", "job", "status", "time", "fixed", "tagged")
    for case in cases:
        state = case.status.state if case.status else "submitted"
        colour = {"succeeded": "green", "failed": "red"}.get(state, "yellow")
        table.add_row(
            case.title,
            case.resource,
            case.job,
            f"[{colour}]{state}[/{colour}]",
            f"{case.seconds:.1f}s" if case.seconds else "",
            "yes" if case.fixed else "no",
            "yes" if case.tagged else "no",
        )
    return table


async def remediate_all(
    cases: list[Case], sandbox: AwsSandbox, settings: TemporalSettings, timeout_s: float
) -> None:
    from remedy.starter import get_status, start_remediation
    from remedy.temporal import connect

    client = await connect(settings)
    started = time.monotonic()
    for case in cases:
        spec = RemediationSpec(
            steps=[JobStep(job=case.job)], access=AccountAccess(external_id=sandbox.external_id)
        )
        case.run_id = await start_remediation(client, _finding(case, sandbox), spec, GROUP)
    with Live(_table(cases), console=console, refresh_per_second=4) as live:
        while time.monotonic() - started < timeout_s:
            for case in cases:
                if case.status is None or case.status.state == RunState.RUNNING:
                    with contextlib.suppress(Exception):
                        case.status = await get_status(client, case.run_id)
                    if case.status and case.status.state != RunState.RUNNING:
                        case.seconds = time.monotonic() - started
            live.update(_table(cases))
            if all(c.status and c.status.state != RunState.RUNNING for c in cases):
                break
            await asyncio.sleep(0.3)
        for case in cases:
            verify(case, sandbox)
        live.update(_table(cases))
    for case in cases:
        console.print(
            f"  {case.job}: {settings.ui_url}/namespaces/{settings.namespace}/workflows/"
            f"{case.run_id}",
            soft_wrap=True,
        )


def demo(
    state_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its Temporal database and logs.")
    ] = STATE / "demo",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the remediations.")] = 180.0,
) -> None:
    """Fix three findings end to end on the embedded stack; exit 0 only if all are fixed.

    Everything it starts (dev server, sandbox, worker) is stopped before it exits. The runs stay in
    STATE_DIR/temporal: `remedy dev-server --state-dir STATE_DIR/temporal` shows them in the UI.
    """
    from remedy.temporal import start_dev_server, stop_process

    state_dir.mkdir(parents=True, exist_ok=True)
    port, ui_port = _port_or_free(7233), _port_or_free(8233)
    settings = TemporalSettings(address=f"127.0.0.1:{port}", ui_url=f"http://127.0.0.1:{ui_port}")
    processes: list[subprocess.Popen[bytes]] = []
    sandbox: AwsSandbox | None = None
    try:
        console.print(
            f"[bold]1/4[/bold] Temporal dev server on 127.0.0.1:{port} (UI {settings.ui_url})"
        )
        processes.append(start_dev_server(port, state_dir / "temporal", ui_port=ui_port))
        console.print(
            "[bold]2/4[/bold] sandbox cloud: moto with IAM enforced, a worker identity, "
            "a remediation role carrying the jobs' minimum policies"
        )
        sandbox = start_aws_sandbox(builtin_aws_policies())
        log_file = state_dir / "worker.log"
        log_file.unlink(missing_ok=True)
        env = clean_env(**sandbox.worker_env(), TEMPORAL_ADDRESS=settings.address)
        console.print(f"[bold]3/4[/bold] remedy worker --group {GROUP} (log: {log_file})")
        processes.append(worker_process(GROUP, env, log_file))
        console.print(
            "    "
            + wait_for_line(log_file, "Worker started and is waiting for work", 90, processes[-1]),
            markup=False,
            highlight=False,
        )
        cases = create_findings(sandbox)
        console.print(
            "[bold]4/4[/bold] three findings in the sandbox; remediating through Temporal"
        )
        asyncio.run(remediate_all(cases, sandbox, settings, timeout))
    finally:
        for process in reversed(processes):
            stop_process(process, 40)
        if sandbox:
            sandbox.stop()
    ok = all(
        c.fixed and c.tagged and c.status and c.status.state == RunState.SUCCEEDED for c in cases
    )
    if ok:
        console.print(
            f"[green]All three findings fixed and tagged.[/green] The runs are kept in "
            f"{state_dir / 'temporal'}: `remedy dev-server --state-dir {state_dir / 'temporal'}` "
            "shows them in the Temporal UI."
        )
    else:
        for case in cases:
            if case.status and case.status.state != RunState.SUCCEEDED:
                console.print(f"[red]{case.job}:[/red] {case.status.message}")
        console.print(
            f"[red]Not every finding was fixed.[/red] Worker log: {state_dir / 'worker.log'}"
        )
    raise typer.Exit(0 if ok else 1)
