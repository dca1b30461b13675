"""Per-job launch overhead: the plain launcher (a fresh `python job.py`, as the VSS worker does)
against the pre-warmed fork server, measured in one run on this machine.

The job makes a boto3 client and exits: what every AWS job pays before it does any work. Each
sample is the wall time from asking the launcher for a process to seeing it exit with its output
read. Runs alternate between the launchers so machine noise hits both alike.

    .venv/bin/python bench/launch.py [--runs 40] [--no-confine]

Jobs are write-confined as the worker confines them (REMEDY_CONFINE_WRITES, on by default);
`--no-confine` measures without, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.launchers import ForkServerLauncher, Launcher, SubprocessLauncher

JOB = """import boto3
boto3.client("sts", region_name="us-east-1")
print("client made")
"""


async def once(launcher: Launcher, workdir: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    job = await launcher.launch([sys.executable, "job.py", "{}"], workdir, env)
    output = await job.stdout.read()
    await job.exited.wait()
    job.close()
    elapsed = time.perf_counter() - started
    if job.returncode != 0 or b"client made" not in output:
        raise RuntimeError(f"{launcher.name}: the job failed ({job.returncode}): {output!r}")
    return elapsed


def describe(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


async def main(runs: int, confine_writes: bool) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="remedy-bench-"))
    (workdir / "job.py").write_text(JOB)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    plain = SubprocessLauncher(confine_writes=confine_writes)
    fork = ForkServerLauncher(confine_writes=confine_writes)
    try:
        await once(fork, workdir, env)  # start and warm the server (not counted: once per worker)
        await once(plain, workdir, env)
        timings: dict[str, list[float]] = {"plain": [], "forkserver": []}
        for index in range(runs):
            timings["plain"].append(await once(plain, workdir, env))
            timings["forkserver"].append(await once(fork, workdir, env))
            if (index + 1) % 10 == 0:
                print(f"  {index + 1}/{runs} runs each", file=sys.stderr)
    finally:
        await fork.close()
    plain_median, plain_p95 = describe(timings["plain"])
    fork_median, fork_p95 = describe(timings["forkserver"])
    confined = "writes confined" if fork.confine_writes else "writes not confined"
    print(f"launch overhead per job ({runs} runs each, {os.cpu_count()} cores, {confined})")
    print(
        f"  plain launcher : median {plain_median * 1000:7.1f} ms   p95 {plain_p95 * 1000:7.1f} ms"
    )
    print(f"  fork server    : median {fork_median * 1000:7.1f} ms   p95 {fork_p95 * 1000:7.1f} ms")
    print(f"  ratio (plain / fork server, median): {plain_median / fork_median:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=40, help="samples per launcher")
    parser.add_argument("--no-confine", action="store_true", help="jobs' writes not confined")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, not arguments.no_confine))
