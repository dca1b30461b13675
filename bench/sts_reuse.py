"""What one AssumeRole costs the worker, and what a reused session costs instead.

The worker's side of the assume-role step, in process, against the sandbox's moto (IAM enforced):
N runs of one account through `CredentialStore.aws`, once with one session per run
(REMEDY_STS_REUSE=false) and once with the session reused (the default). Reports the worker's CPU
and the wall time per run, moto's CPU per run, and how many sessions were assumed. The end-to-end
effect is in `bench/throughput.py` (its "STS sessions acted as" line).

    .venv/bin/python bench/sts_reuse.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.credentials import CredentialStore
from bench.throughput import cpu_seconds
from console.sandbox_cloud import builtin_aws_policies
from remedy.types import AccountRef
from sandbox.aws import AwsSandbox, start_aws_sandbox


def runs(cloud: AwsSandbox, n: int, reuse: bool) -> tuple[float, float, float, int]:
    """(worker CPU s, wall s, moto CPU s, sessions) for n runs of one account."""
    store = CredentialStore(endpoint_url=cloud.endpoint, reuse_sessions=reuse)
    account = AccountRef(
        provider="aws",
        account_id=cloud.account_id,
        role_arn=cloud.role_arn,
        external_id=cloud.external_id,
        region=cloud.region,
    )
    store.aws(account, "warm-up")  # the STS client and its first connection
    moto = cloud.process.pid if cloud.process else None
    moto_before, cpu_before, wall_before = (
        cpu_seconds(moto),
        time.process_time(),
        time.perf_counter(),
    )
    keys = {store.aws(account, f"run-{reuse}-{index}").access_key_id for index in range(n)}
    return (
        time.process_time() - cpu_before,
        time.perf_counter() - wall_before,
        cpu_seconds(moto) - moto_before,
        len(keys),
    )


def main(n: int) -> None:
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[name]  # the store's own identity: the sandbox's worker user, nothing else
    cloud = start_aws_sandbox(builtin_aws_policies())
    os.environ.update(cloud.worker_env())
    try:
        print(f"{n} runs of one account, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        for reuse in (False, True):
            cpu, wall, moto, sessions = runs(cloud, n, reuse)
            print(
                f"  REMEDY_STS_REUSE={str(reuse).lower():5s}: worker CPU {1000 * cpu / n:6.2f} ms, "
                f"wall {1000 * wall / n:6.2f} ms, moto CPU {1000 * moto / n:6.2f} ms per run; "
                f"{sessions} session(s)"
            )
    finally:
        cloud.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    main(parser.parse_args().runs)
