"""Verify elb_enable_access_logs: the load balancer (Classic or v2) writes access logs."""

from __future__ import annotations

from elb_enable_access_logs import Balancer

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    balancer = Balancer(finding)
    settings = balancer.settings()
    problems = [] if balancer.logging(settings) else [f"{balancer.name} writes no access logs"]
    jobkit.verdict(problems, f"{balancer.name} writes access logs")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
