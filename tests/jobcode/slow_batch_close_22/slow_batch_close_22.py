"""Closes tcp/22 on security groups, a batch per process, slowly: a batch that is mid-flight when
its worker dies. The pause is once per process (its prefetch), then each member is closed."""

import os
import time
from collections.abc import Sequence

from remedy import jobkit
from remedy.jobkit.ec2_ports import close_port_on_group, prefetch_groups


def prefetch(findings: Sequence[jobkit.Finding]) -> None:
    print(f"batch pid {os.getpid()} of {len(findings)}", flush=True)
    time.sleep(float(findings[0].parameters.get("seconds", 4)))
    prefetch_groups(jobkit.ec2_client(findings[0]), [f.object_id for f in findings])


def remediate(finding: jobkit.Finding) -> None:
    print(f"job pid {os.getpid()} on {finding.object_id}", flush=True)
    close_port_on_group(jobkit.ec2_client(finding), finding.object_id, 22)


if __name__ == "__main__":
    jobkit.run(remediate, __file__, prefetch=prefetch)
