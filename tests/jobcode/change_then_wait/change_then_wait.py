"""Closes tcp/22 on a security group, then keeps reaching the cloud until it is stopped."""

import os
import time

from remedy import jobkit
from remedy.jobkit.ec2_ports import close_port_on_group


def remediate(finding: jobkit.Finding) -> None:
    print(f"job pid {os.getpid()}", flush=True)
    ec2 = jobkit.ec2_client(finding)
    close_port_on_group(ec2, finding.object_id, 22)
    while True:  # still at work: each call waits as long as the cloud is paused
        ec2.describe_security_groups(GroupIds=[finding.object_id])
        time.sleep(0.2)


if __name__ == "__main__":
    jobkit.run(remediate, __file__)
