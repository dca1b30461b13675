"""Cloud Custodian against the same moto: N security groups open on tcp/22, revoked and tagged.

The benchmark installs `c7n` in a virtualenv of its own (`.bench/c7n-venv`, made on first use: pip
from the registry), starts moto in server mode the sandbox's way (`sandbox.aws`, IAM enforced,
Custodian acting as the sandbox's administrator), and for each size: resets moto
(`POST /moto-api/reset`) and builds the sandbox's world again, opens N groups on tcp/22 to
0.0.0.0/0, runs

    custodian run --cache-period 0 -s OUT -r us-east-1 policy.json

(the `ingress` filter on port 22 from 0.0.0.0/0; `remove-permissions` of the matched ingress, then
`tag`), and checks that every group was fixed: the rule gone and the tag there. It reports the
wall time, findings/s, the CPU of the Custodian process (and its children) and of moto, per
finding, Custodian's peak RSS and moto's resident memory.

`--remedy` (on `--remedy-sizes`, by default the same) also runs Remedy's current path (`bench/throughput.py`'s `measure()`: a dev server, a
`remedy worker` process, the real `security_group_close_port_22` job with verify and tag) on the
same sizes, on the same moto (reset before each run), in the same sitting, and prints the two side
by side.

    .venv/bin/python bench/custodian.py [--sizes 50,500,5000] [--remedy [--remedy-sizes 50]]
        [--no-verify] [--batch SIZE] [--warm N]

Remedy's findings go in batches of `--batch` (100 by default; remedy/batch_starter.py), or with
`--batch 0` a workflow each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throughput import Measurement, cpu_seconds, measure, percentile, rss_mb
from console.local_processes import clean_env
from console.sandbox_cloud import builtin_aws_policies
from sandbox.aws import AwsSandbox, bootstrap, start_moto

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "c7n-venv"
TAG_KEY = "remediated-by"
TAG_VALUE = "custodian"
PORT = 22


def parse_sizes(text: str) -> list[int]:
    """`50,500` -> [50, 500]; refuses what is not a list of positive whole numbers."""
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(
                f"--sizes takes positive whole numbers separated by commas (e.g. 50,500), not {text!r}"
            )
        sizes.append(int(part))
    return sizes


def custodian_policy(
    port: int = PORT, key: str = TAG_KEY, value: str = TAG_VALUE
) -> dict[str, Any]:
    """The Custodian policy: groups open on tcp/<port> to the internet lose that rule, get a tag."""
    return {
        "policies": [
            {
                "name": f"sg-open-{port}",
                "resource": "aws.security-group",
                "filters": [
                    {
                        "type": "ingress",
                        "IpProtocol": "tcp",
                        "Ports": [port],
                        "Cidr": {"value": "0.0.0.0/0"},
                    }
                ],
                "actions": [
                    {"type": "remove-permissions", "ingress": "matched"},
                    {"type": "tag", "key": key, "value": value},
                ],
            }
        ]
    }


def not_fixed(
    groups: Iterable[dict[str, Any]], port: int = PORT, key: str = TAG_KEY, value: str = TAG_VALUE
) -> list[str]:
    """The ids of described security groups still open on tcp/<port> to 0.0.0.0/0, or untagged."""
    left = []
    for group in groups:
        open_rule = any(
            rule.get("IpProtocol") in ("tcp", "-1")
            and rule.get("FromPort", 0) <= port <= rule.get("ToPort", 65535)
            and any(r.get("CidrIp") == "0.0.0.0/0" for r in rule.get("IpRanges", []))
            for rule in group.get("IpPermissions", [])
        )
        tagged = any(t.get("Key") == key and t.get("Value") == value for t in group.get("Tags", []))
        if open_rule or not tagged:
            left.append(str(group["GroupId"]))
    return left


def custodian_bin(venv: Path = VENV) -> Path:
    """`custodian` from its own virtualenv, installed there on first use."""
    found = venv / "bin" / "custodian"
    if found.exists():
        return found
    print(f"  installing c7n in {venv} (once)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "c7n"], check=True
    )
    return found


def custodian_version(venv: Path = VENV) -> str:
    answer = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "show", "c7n"],
        capture_output=True,
        text=True,
        check=False,
    )
    return next(
        (
            line.split(":", 1)[1].strip()
            for line in answer.stdout.splitlines()
            if line.startswith("Version:")
        ),
        "?",
    )


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass


def fresh_world(endpoint: str, process: subprocess.Popen[bytes]) -> AwsSandbox:
    """moto emptied, then the sandbox's users and role made again (new keys each time)."""
    reset_moto(endpoint)
    cloud = bootstrap(endpoint, builtin_aws_policies())
    cloud.process = process
    return cloud


def open_groups(cloud: AwsSandbox, n: int) -> list[str]:
    return [cloud.open_security_group(PORT, "c7n") for _ in range(n)]


@dataclass
class CustodianRun:
    n: int
    wall_s: float
    cpu_s: float
    moto_cpu_s: float
    peak_rss_mb: float
    moto_rss_mb: float
    left: int

    @property
    def per_s(self) -> float:
        return self.n / self.wall_s


def run_custodian(custodian: Path, cloud: AwsSandbox, n: int) -> CustodianRun:
    groups = open_groups(cloud, n)
    work = Path(tempfile.mkdtemp(prefix="remedy-c7n-"))
    try:
        policy = work / "policy.json"
        policy.write_text(json.dumps(custodian_policy()))
        env = clean_env(
            AWS_ACCESS_KEY_ID=cloud.admin.access_key_id,
            AWS_SECRET_ACCESS_KEY=cloud.admin.secret_access_key,
            AWS_DEFAULT_REGION=cloud.region,
            AWS_ENDPOINT_URL=cloud.endpoint,
        )
        argv = [str(custodian), "run", "--cache-period", "0", "-s", str(work / "out")]
        argv += ["-r", cloud.region, str(policy)]
        moto_pid = cloud.process.pid if cloud.process else None
        moto_before = cpu_seconds(moto_pid)
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)  # this child's (and its children's) rusage
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"custodian exited {process.returncode}:\n{output.decode()[-3000:]}")
        described = cloud.admin_client("ec2").describe_security_groups(GroupIds=groups)
        return CustodianRun(
            n=n,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            moto_cpu_s=cpu_seconds(moto_pid) - moto_before,
            peak_rss_mb=usage.ru_maxrss / 1024,
            moto_rss_mb=rss_mb(moto_pid),
            left=len(not_fixed(described["SecurityGroups"])),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table(
    sizes: Sequence[int], custodian: dict[int, CustodianRun], remedy: dict[int, Measurement]
) -> list[str]:
    """The side-by-side table (markdown), one column per tool and size."""
    columns: list[tuple[str, list[str]]] = []
    for n in sizes:
        c = custodian[n]
        columns.append(
            (
                f"Custodian, {n}",
                [
                    f"{c.per_s:.1f}",
                    f"{c.wall_s:.2f} s",
                    f"{1000 * (c.cpu_s + c.moto_cpu_s) / n:.1f} ms",
                    f"custodian {1000 * c.cpu_s / n:.1f}, moto {1000 * c.moto_cpu_s / n:.1f}",
                    "(one batch)",
                    f"custodian {c.peak_rss_mb:.0f} MB peak, moto {c.moto_rss_mb:.0f} MB",
                    str(c.left),
                ],
            )
        )
        if n in remedy:
            m = remedy[n]
            per = {name.split(" ")[0]: 1000 * s / n for name, s in m.cpu.items()}
            columns.append(
                (
                    f"Remedy, {n}",
                    [
                        f"{m.per_s:.1f}",
                        f"{m.remedy_s:.2f} s",
                        f"{1000 * sum(m.cpu.values()) / n:.1f} ms",
                        ", ".join(f"{k} {v:.1f}" for k, v in per.items()),
                        f"p50 {statistics.median(m.latencies):.2f} s, "
                        f"p95 {percentile(m.latencies, 0.95):.2f} s",
                        f"worker {m.worker_rss_mb:.0f} MB peak (fork server "
                        f"{m.forkserver_rss_mb:.0f}), temporal {m.server_rss_mb:.0f} MB, "
                        f"moto {m.moto_rss_mb:.0f} MB",
                        str(m.still_open),
                    ],
                )
            )
    rows = [
        "findings/s",
        "wall",
        "CPU per finding, all processes",
        "CPU per finding per process (ms)",
        "submission -> fixed",
        "memory",
        "left unfixed",
    ]
    lines = ["| | " + " | ".join(name for name, _ in columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    for index, row in enumerate(rows):
        lines.append(f"| {row} | " + " | ".join(values[index] for _, values in columns) + " |")
    return lines


async def main(
    sizes: list[int], remedy_sizes: list[int], verify: bool, batch: int = 0, warm: int = 0
) -> None:
    custodian = custodian_bin()
    version = custodian_version()
    endpoint, process = start_moto()
    results: dict[int, CustodianRun] = {}
    remedy: dict[int, Measurement] = {}
    failed = ""
    try:
        for n in sizes:
            print(f"  custodian {version}: {n} groups", file=sys.stderr)
            results[n] = run_custodian(custodian, fresh_world(endpoint, process), n)
            if results[n].left:
                raise RuntimeError(f"custodian left {results[n].left} of {n} groups unfixed")
        print("\n".join(table(sizes, results, {})), file=sys.stderr)  # kept if Remedy fails
        for n in remedy_sizes:
            print(f"  remedy: {n} findings", file=sys.stderr)
            try:
                remedy[n] = await measure(
                    n,
                    verify=verify,
                    sandbox=fresh_world(endpoint, process),
                    batch_size=batch,
                    warm_up=warm,
                )
            except Exception as exc:  # report what was measured, and why the rest is not
                failed = f"Remedy at {n} did not finish: {type(exc).__name__}: {exc}"
                break
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    what = "fix + verify + tag" if verify else "fix + tag"
    what += f", batches of {batch}" if batch else ", a workflow per finding"
    what += f", its worker warmed by {warm} findings first" if warm else ", a fresh worker"
    print(
        f"Cloud Custodian {version} (remove-permissions + tag) and Remedy ({what}), one moto, "
        f"reset between runs; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    print("\n".join(table(sizes, results, remedy)))
    if failed:
        print(failed)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=parse_sizes, default=[50, 500], help="e.g. 50,500")
    parser.add_argument("--remedy", action="store_true", help="also run Remedy on the same sizes")
    parser.add_argument(
        "--remedy-sizes", type=parse_sizes, help="with --remedy: Remedy on these sizes only"
    )
    parser.add_argument("--no-verify", action="store_true", help="Remedy without verify.py")
    parser.add_argument(
        "--batch",
        type=int,
        default=100,
        metavar="SIZE",
        help="Remedy's findings in batches of SIZE (default 100); 0: a workflow per finding",
    )
    parser.add_argument(
        "--warm",
        type=int,
        default=0,
        metavar="N",
        help="Remedy's worker remediates N findings first, not measured (default 0: a fresh "
        "worker, its first AssumeRole and fork in the figures)",
    )
    arguments = parser.parse_args()
    remedy_sizes = (arguments.remedy_sizes or arguments.sizes) if arguments.remedy else []
    asyncio.run(
        main(
            arguments.sizes,
            remedy_sizes,
            not arguments.no_verify,
            arguments.batch,
            arguments.warm,
        )
    )
