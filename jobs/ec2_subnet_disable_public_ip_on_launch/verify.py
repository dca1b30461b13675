"""Verify ec2_subnet_disable_public_ip_on_launch: the subnet's MapPublicIpOnLaunch is false."""

from __future__ import annotations

from ec2_subnet_disable_public_ip_on_launch import maps_public_ip

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    subnet = finding.object_id
    problems = []
    if maps_public_ip(jobkit.ec2_client(finding), subnet):
        problems.append(f"{subnet} assigns a public IPv4 address to every instance it launches")
    jobkit.verdict(problems, f"{subnet} does not assign public IPv4 addresses at launch")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
