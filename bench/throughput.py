"""End-to-end throughput: N findings fixed through Remedy against a no-op chain, in one run.

Both run on the same Temporal dev server in the same run:
- remedy: N security groups open on 22 in the sandbox (moto, IAM enforced), N findings, a real
  `remedy worker` process running the real `security_group_close_port_22` job;
- baseline: N workflows of four no-op activities (what a remediation's validate, assume role, job
  and tag cost Temporal, with no work in them), on an in-process worker.

Prints remediations/s, the ratio to the no-op chain, p50/p95 latency from submission to the fixed
resource (the job step's end), the worker's peak RSS (and the fork server's, the Temporal
server's), and how many STS sessions the runs acted as (one per account with REMEDY_STS_REUSE,
the default; one per run with REMEDY_STS_REUSE=false in the environment).

    .venv/bin/python bench/throughput.py [N] [--launcher forkserver|subprocess]

`measure()` is the same run for another benchmark (bench/custodian.py): it can use a moto that
benchmark started, and returns the figures instead of printing them.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client
from temporalio.worker import Worker

from bench.noop import STEPS, NoopChain, noop
from console.local_processes import clean_env, wait_for_line, worker_process
from console.sandbox_cloud import builtin_aws_policies
from remedy.batch_starter import run_batches
from remedy.config import TemporalSettings
from remedy.starter import start_remediation, wait_for_result
from remedy.temporal import connect, start_dev_server, stop_process
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState
from sandbox.aws import AwsSandbox, free_port, start_aws_sandbox

STARTS_IN_FLIGHT = 50
#: the most no-op chains the baseline runs (its rate does not change past it)
BASELINE_MAX = 500


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


def rss_mb(pid: int | None) -> float:
    """Resident memory now (VmRSS), in MB."""
    if not pid:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (share 0.95: p95) of values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), round(share * len(ordered))) - 1)]


@dataclass
class Measurement:
    """One Remedy run of N findings, as bench/custodian.py and this script report it."""

    n: int
    verify: bool
    launcher: str
    noop_s: float = 0.0
    #: how many no-op chains the baseline ran (`BASELINE_MAX` at most)
    noop_n: int = 0
    remedy_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    worker_rss_mb: float = 0.0
    forkserver_rss_mb: float = 0.0
    server_rss_mb: float = 0.0
    moto_rss_mb: float = 0.0
    #: findings remediated before the measured ones (0: a worker's first runs are measured)
    warm_up: int = 0
    still_open: int = 0
    noop_server_cpu: float = 0.0
    #: CPU seconds per process during the remedy phase
    cpu: dict[str, float] = field(default_factory=dict)
    #: distinct role sessions the runs acted as (their assume-role steps)
    sessions: int = 0
    #: 0: one workflow per finding; else the findings went in batches of this size
    batch_size: int = 0

    @property
    def per_s(self) -> float:
        return self.n / self.remedy_s if self.remedy_s else 0.0

    @property
    def noop_per_s(self) -> float:
        return self.noop_n / self.noop_s if self.noop_s else 0.0


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
        starting = asyncio.Semaphore(STARTS_IN_FLIGHT)  # as Remedy's side submits

        async def start() -> Any:
            async with starting:
                return await client.start_workflow(
                    "NoopChain", id=f"noop-{uuid.uuid4().hex}", task_queue=queue
                )

        started = time.perf_counter()
        handles = await asyncio.gather(*(start() for _ in range(n)))
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
) -> tuple[float, list[float], set[str]]:
    spec = RemediationSpec(
        steps=[JobStep(job="security_group_close_port_22", verify=verify)],
        access=AccountAccess(external_id=sandbox.external_id),
    )
    submitted: dict[str, float] = {}
    identities: set[str] = set()
    # a client submits at most this many at once: 500 concurrent StartWorkflowExecution calls
    # time out on a loaded 2-core dev server; the wait counts in submission -> fixed
    starting = asyncio.Semaphore(STARTS_IN_FLIGHT)

    async def one(sg: str) -> float:
        at = time.time()
        async with starting:
            run_id = await start_remediation(client, finding(sg, sandbox), spec, group_id)
        submitted[run_id] = at
        status = await wait_for_result(client, run_id)
        if status.state != RunState.SUCCEEDED:
            raise RuntimeError(f"{run_id}: {status.message}")
        fixed_at = status.steps[2].ended_at
        assert fixed_at is not None
        identities.add(status.steps[1].message.split(" until ")[0])  # "acting as <session>"
        return fixed_at.timestamp() - at

    started = time.perf_counter()
    latencies = await asyncio.gather(*(one(sg) for sg in groups))
    return time.perf_counter() - started, list(latencies), identities


async def remediate_batches(
    client: Client,
    sandbox: AwsSandbox,
    groups: list[str],
    group_id: str,
    verify: bool,
    batch_size: int,
) -> tuple[float, list[float], set[str]]:
    """The same findings submitted together as batches (remedy/batch_starter.py `run_batches`:
    one workflow, one job process and one verify process per batch of `batch_size`, at most
    `DEFAULT_IN_FLIGHT` batches running at once); latency counts from the submission of all."""
    spec = RemediationSpec(
        steps=[JobStep(job="security_group_close_port_22", verify=verify)],
        access=AccountAccess(external_id=sandbox.external_id),
    )
    started = time.perf_counter()
    at = time.time()
    _, results = await run_batches(
        client, [finding(sg, sandbox) for sg in groups], spec, group_id, batch_size=batch_size
    )
    took = time.perf_counter() - started
    latencies, identities = [], set()
    for batch in results:
        for member in batch.members:
            if member.state != RunState.SUCCEEDED:
                raise RuntimeError(f"{member.run_id}: {member.message}")
            job = next(s for s in member.steps if s.kind == "job")
            assert job.ended_at is not None
            latencies.append(job.ended_at.timestamp() - at)
            identities.add(member.steps[1].message.split(" until ")[0])
    return took, latencies, identities


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


async def measure(
    n: int,
    launcher: str = "forkserver",
    profile: str | None = None,
    verify: bool = True,
    sandbox: AwsSandbox | None = None,
    batch_size: int = 0,
    profile_of: str = "worker",
    warm_up: int = 0,
) -> Measurement:
    """N findings through a fresh dev server and `remedy worker`, on `sandbox` when given (left
    running: its owner stops it) or on a moto of its own."""
    result = Measurement(n=n, verify=verify, launcher=launcher, batch_size=batch_size)
    state = Path(tempfile.mkdtemp(prefix="remedy-bench-"))
    port = free_port()
    server = start_dev_server(port, state / "temporal")
    own_sandbox = sandbox is None
    cloud = sandbox or start_aws_sandbox(builtin_aws_policies())
    group_id = f"bench-{uuid.uuid4().hex[:6]}"
    env = clean_env(
        **cloud.worker_env(),
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        REMEDY_LAUNCHER=launcher,
        REMEDY_LOG_LEVEL="INFO",
    )
    log = state / "worker.log"
    worker = worker_process(group_id, env, log)
    try:
        wait_for_line(log, "Worker started and is waiting for work", 90, worker)
        client = await connect(TemporalSettings(address=f"127.0.0.1:{port}"))
        groups = open_groups(cloud, n)
        await baseline(client, min(n, 20))  # warm the server's paths
        # the baseline is a rate: past 500 it only takes longer (5 000 no-op chains: minutes)
        result.noop_n = min(n, BASELINE_MAX)
        print(f"  baseline: {result.noop_n} no-op chains of {STEPS} activities", file=sys.stderr)
        server_before = cpu_seconds(server.pid)
        result.noop_s = await baseline(client, result.noop_n)
        result.noop_server_cpu = cpu_seconds(server.pid) - server_before
        if warm_up:  # a worker that has run before: its first AssumeRole, fork and imports done
            print(f"  warm-up: {warm_up} findings first, not measured", file=sys.stderr)
            extra = [cloud.open_security_group(22, "warm-up") for _ in range(warm_up)]
            if batch_size > 0:
                await remediate_batches(client, cloud, extra, group_id, verify, batch_size)
            else:
                await remediate(client, cloud, extra, group_id, verify)
            result.warm_up = warm_up
        print(f"  remedy: {n} findings (launcher {launcher})", file=sys.stderr)
        # the fork server is up since the worker started (its warm-up is not this phase's):
        # its CPU and its reaped jobs' from here on are
        jobs_before = sum(cpu_seconds(p, True) for p in children_of(worker.pid))
        processes = {
            "temporal server": (server.pid, False),
            "moto (the cloud)": (cloud.process.pid if cloud.process else None, False),
            "worker": (worker.pid, False),
        }
        before = {name: cpu_seconds(pid, kids) for name, (pid, kids) in processes.items()}
        spy = None
        if profile:  # py-spy (pip install py-spy) samples one process during the remedy phase
            sampled = {"worker": worker.pid, "moto": processes["moto (the cloud)"][0]}[profile_of]
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-p",
                    str(sampled),
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
        if batch_size > 0:
            result.remedy_s, result.latencies, identities = await remediate_batches(
                client, cloud, groups, group_id, verify, batch_size
            )
        else:
            result.remedy_s, result.latencies, identities = await remediate(
                client, cloud, groups, group_id, verify
            )
        result.sessions = len(identities)
        if spy:
            spy.send_signal(2)
            spy.wait(30)
        result.cpu = {
            name: cpu_seconds(pid, kids) - before[name] for name, (pid, kids) in processes.items()
        }
        result.cpu["jobs (fork server + children)"] = (
            sum(cpu_seconds(p, True) for p in children_of(worker.pid)) - jobs_before
        )
        result.still_open = still_open(cloud, groups)
        result.worker_rss_mb = peak_rss_mb(worker.pid)
        result.forkserver_rss_mb = max(
            (peak_rss_mb(c) for c in children_of(worker.pid)), default=0.0
        )
        result.server_rss_mb = peak_rss_mb(server.pid)
        result.moto_rss_mb = rss_mb(cloud.process.pid if cloud.process else None)
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        if own_sandbox:
            cloud.stop()
        stop_process(server)
        shutil.rmtree(state, ignore_errors=True)  # its Temporal database and the worker's log
    return result


def report(m: Measurement) -> None:
    n = m.n
    print(f"end to end, {n} findings, launcher {m.launcher}, {os.cpu_count()} cores")
    print(f"  no-op chain ({STEPS} activities): {m.noop_per_s:7.1f} workflows/s")
    what = "fix + verify + tag" if m.verify else "fix + tag"
    if m.batch_size:
        what += f", batches of {m.batch_size}"
    if m.warm_up:
        print(f"  (the worker warmed by {m.warm_up} findings first, not measured)")
    print(f"  remedy ({what}){' ' * (20 - len(what))}: {m.per_s:7.1f} remediations/s")
    print(f"  ratio remedy / no-op chain   : {m.per_s / m.noop_per_s:7.2f}")
    print(
        f"  submission -> fixed          : p50 {statistics.median(m.latencies):.2f} s   "
        f"p95 {percentile(m.latencies, 0.95):.2f} s"
    )
    print(
        f"  worker peak RSS              : {m.worker_rss_mb:.0f} MB (fork server "
        f"{m.forkserver_rss_mb:.0f} MB; temporal server {m.server_rss_mb:.0f} MB)"
    )
    reuse = os.environ.get("REMEDY_STS_REUSE", "true")
    print(f"  STS sessions acted as        : {m.sessions} (REMEDY_STS_REUSE={reuse})")
    print(f"  resources still open         : {m.still_open}")
    print(f"  temporal server CPU per no-op chain: {1000 * m.noop_server_cpu / m.noop_n:.1f} ms")
    print(f"  CPU during the remedy phase ({m.remedy_s:.1f} s wall, {os.cpu_count()} cores):")
    for name, seconds in m.cpu.items():
        print(f"    {name:30s} {seconds:6.2f} s  ({1000 * seconds / n:5.1f} ms per finding)")
    total = sum(m.cpu.values())
    print(f"    {'all':30s} {total:6.2f} s  ({1000 * total / n:5.1f} ms per finding)")


async def main(
    n: int,
    launcher: str,
    profile: str | None,
    verify: bool = True,
    batch_size: int = 0,
    profile_of: str = "worker",
    warm_up: int = 0,
) -> None:
    report(
        await measure(
            n,
            launcher,
            profile,
            verify,
            batch_size=batch_size,
            profile_of=profile_of,
            warm_up=warm_up,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("n", type=int, nargs="?", default=50, help="findings (and no-op chains)")
    parser.add_argument("--launcher", choices=["forkserver", "subprocess"], default="forkserver")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy samples of one process (raw format)"
    )
    parser.add_argument(
        "--profile-of",
        choices=["worker", "moto"],
        default="worker",
        help="with --profile: the process sampled (default: the worker)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the job's verify.py step (JobStep.verify)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        metavar="SIZE",
        help="submit the findings as batches of SIZE (one workflow and one job process each)",
    )
    parser.add_argument(
        "--warm",
        type=int,
        default=0,
        metavar="N",
        help="remediate N findings first, not measured: a worker that has run before",
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.n,
            arguments.launcher,
            arguments.profile,
            not arguments.no_verify,
            arguments.batch,
            arguments.profile_of,
            arguments.warm,
        )
    )
