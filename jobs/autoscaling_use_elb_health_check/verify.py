"""Verify autoscaling_use_elb_health_check: a group serving a load balancer uses ELB checks."""

from __future__ import annotations

from autoscaling_use_elb_health_check import describe, group_name, serves_a_load_balancer, uses_elb

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    name = group_name(finding.object_id)
    group = describe(jobkit.client("autoscaling", finding), name)
    problems = []
    if serves_a_load_balancer(group) and not uses_elb(group):
        problems.append(f"{name} serves a load balancer but its health checks are EC2 only")
    jobkit.verdict(problems, f"{name} uses ELB health checks or serves no load balancer")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
