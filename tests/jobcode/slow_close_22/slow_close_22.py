"""Closes tcp/22 on a security group, slowly: a job that is mid-flight when its worker dies."""

import os
import time

from remedy import jobkit
from remedy.jobkit.ec2_ports import close_port_on_group


def remediate(finding: jobkit.Finding) -> None:
    print(f"job pid {os.getpid()} on {finding.object_id}", flush=True)
    time.sleep(float(finding.parameters.get("seconds", 4)))
    close_port_on_group(jobkit.ec2_client(finding), finding.object_id, 22)


if __name__ == "__main__":
    jobkit.run(remediate, __file__)
