"""End-to-end throughput: N findings fixed through Remedy against a no-op chain, in one run.

Both run on the same Temporal dev server in the same run:
- remedy: N security groups open on 22 in the sandbox (moto, IAM enforced), N findings, a real
  `remedy worker` process running the real `security_group_close_port_22` job;
- baseline: N workflows of four no-op activities (what a remediation's validate, assume role, job
  and tag cost Temporal, with no work in them), on an in-process worker.

Prints remediations/s, the ratio to the no-op chain, p50/p95 latency from submission to the fixed
resource (the job step's end), and the worker's peak RSS (and the fork server's).

    .venv/bin/python bench/throughput.py [N] [--launcher forkserver|subprocess]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client
from temporalio.worker import Worker

from bench.noop import STEPS, NoopChain, noop
from console.local_processes import clean_env, wait_for_line, worker_process
from console.sandbox_cloud import builtin_aws_policies
from remedy.config import TemporalSettings
from remedy.starter import start_remediation, wait_for_result
from remedy.temporal import connect, start_dev_server, stop_process
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState
from sandbox.aws import AwsSandbox, free_port, start_aws_sandbox


def peak_rss_mb(pid: int | None) -> float:
    if not pid:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int | None, with_children: bool = False) -> float:
    """User + system CPU of a process (and of its reaped children), from /proc."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    used = (
        int(fields[11])
        + int(fields[12])
        + (int(fields[13]) + int(fields[14]) if with_children else 0)
    )
    return used / ticks


def children_of(pid: int) -> list[int]:
    """Children of every thread of the process (the fork server is started from a thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


async def baseline(client: Client, n: int) -> float:
    queue = f"bench-noop-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[NoopChain],
        activities=[noop],
        max_concurrent_activities=50,
    ):
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(
                client.start_workflow("NoopChain", id=f"noop-{uuid.uuid4().hex}", task_queue=queue)
                for _ in range(n)
            )
        )
        await asyncio.gather(*(h.result() for h in handles))
        return time.perf_counter() - started


def open_groups(sandbox: AwsSandbox, n: int) -> list[str]:
    groups = []
    for index in range(n):
        groups.append(sandbox.open_security_group(22, "bench"))
        if (index + 1) % 50 == 0:
            print(f"  {index + 1}/{n} security groups made", file=sys.stderr)
    return groups


def finding(group: str, sandbox: AwsSandbox) -> dict[str, object]:
    return {
        "cloudAccount": {"provider": "aws", "roleArn": sandbox.role_arn},
        "notificationInfo": {
            "CloudAccountID": sandbox.account_id,
            "RuleID": "5c8c25ec7a550e1fb6560bbe",
            "FindingInfo": {
                "FindingId": f"bench-{uuid.uuid4().hex}",
                "ObjectId": group,
                "Region": sandbox.region,
            },
        },
    }


async def remediate(
    client: Client, sandbox: AwsSandbox, groups: list[str], group_id: str, verify: bool
) -> tuple[float, list[float]]:
    spec = RemediationSpec(
        steps=[JobStep(job="security_group_close_port_22", verify=verify)],
        access=AccountAccess(external_id=sandbox.external_id),
    )
    submitted: dict[str, float] = {}

    async def one(sg: str) -> float:
        at = time.time()
        run_id = await start_remediation(client, finding(sg, sandbox), spec, group_id)
        submitted[run_id] = at
        status = await wait_for_result(client, run_id)
        if status.state != RunState.SUCCEEDED:
            raise RuntimeError(f"{run_id}: {status.message}")
        fixed_at = status.steps[2].ended_at
        assert fixed_at is not None
        return fixed_at.timestamp() - at

    started = time.perf_counter()
    latencies = await asyncio.gather(*(one(sg) for sg in groups))
    return time.perf_counter() - started, list(latencies)


def still_open(sandbox: AwsSandbox, groups: list[str]) -> int:
    ec2 = sandbox.admin_client("ec2")
    found = ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"]
    return sum(
        1
        for g in found
        for p in g["IpPermissions"]
        if p.get("FromPort") == 22
        and any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", []))
    )


async def main(n: int, launcher: str, profile: str | None, verify: bool = True) -> None:
    state = Path(tempfile.mkdtemp(prefix="remedy-bench-"))
    port = free_port()
    server = start_dev_server(port, state / "temporal")
    sandbox = start_aws_sandbox(builtin_aws_policies())
    group_id = f"bench-{uuid.uuid4().hex[:6]}"
    env = clean_env(
        **sandbox.worker_env(),
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        REMEDY_LAUNCHER=launcher,
        REMEDY_LOG_LEVEL="INFO",
    )
    log = state / "worker.log"
    worker = worker_process(group_id, env, log)
    try:
        wait_for_line(log, "Worker started and is waiting for work", 90, worker)
        client = await connect(TemporalSettings(address=f"127.0.0.1:{port}"))
        groups = open_groups(sandbox, n)
        await baseline(client, min(n, 20))  # warm the server's paths
        print(f"  baseline: {n} no-op chains of {STEPS} activities", file=sys.stderr)
        server_before = cpu_seconds(server.pid)
        noop_s = await baseline(client, n)
        noop_server_cpu = cpu_seconds(server.pid) - server_before
        print(f"  remedy: {n} findings (launcher {launcher})", file=sys.stderr)
        processes = {
            "temporal server": (server.pid, False),
            "moto (the cloud)": (sandbox.process.pid if sandbox.process else None, False),
            "worker": (worker.pid, False),
        }
        before = {name: cpu_seconds(pid, kids) for name, (pid, kids) in processes.items()}
        spy = None
        if profile:  # py-spy (pip install py-spy) samples the worker during the remedy phase
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-p",
                    str(worker.pid),
                    "-o",
                    profile,
                    "-f",
                    "raw",
                    "-r",
                    "200",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        remedy_s, latencies = await remediate(client, sandbox, groups, group_id, verify)
        if spy:
            spy.send_signal(2)
            spy.wait(30)
        cpu = {
            name: cpu_seconds(pid, kids) - before[name] for name, (pid, kids) in processes.items()
        }
        # the fork server starts with the first job: all its time (and its jobs') is this phase's
        cpu["jobs (fork server + children)"] = sum(
            cpu_seconds(p, True) for p in children_of(worker.pid)
        )
        left = still_open(sandbox, groups)
        worker_rss = peak_rss_mb(worker.pid)
        forkserver_rss = max((peak_rss_mb(c) for c in children_of(worker.pid)), default=0.0)
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        sandbox.stop()
        stop_process(server)
        shutil.rmtree(state, ignore_errors=True)  # its Temporal database and the worker's log
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"end to end, {n} findings, launcher {launcher}, {os.cpu_count()} cores")
    print(f"  no-op chain ({STEPS} activities): {n / noop_s:7.1f} workflows/s")
    what = "fix + verify + tag" if verify else "fix + tag"
    print(f"  remedy ({what}){' ' * (20 - len(what))}: {n / remedy_s:7.1f} remediations/s")
    print(f"  ratio remedy / no-op chain   : {noop_s / remedy_s:7.2f}")
    print(
        f"  submission -> fixed          : p50 {statistics.median(latencies):.2f} s   p95 {p95:.2f} s"
    )
    print(
        f"  worker peak RSS              : {worker_rss:.0f} MB (fork server {forkserver_rss:.0f} MB)"
    )
    print(f"  resources still open         : {left}")
    print(f"  temporal server CPU per no-op chain: {1000 * noop_server_cpu / n:.1f} ms")
    print(f"  CPU during the remedy phase ({remedy_s:.1f} s wall, {os.cpu_count()} cores):")
    for name, seconds in cpu.items():
        print(f"    {name:30s} {seconds:6.2f} s  ({1000 * seconds / n:5.1f} ms per finding)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("n", type=int, nargs="?", default=50, help="findings (and no-op chains)")
    parser.add_argument("--launcher", choices=["forkserver", "subprocess"], default="forkserver")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy samples of the worker (raw format)"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the job's verify.py step (JobStep.verify)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.n, arguments.launcher, arguments.profile, not arguments.no_verify))
