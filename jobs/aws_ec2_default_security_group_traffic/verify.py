"""Verify aws_ec2_default_security_group_traffic: the VPC's default group has no rule at all."""

from __future__ import annotations

from aws_ec2_default_security_group_traffic import (
    DIRECTIONS,
    _word,
    default_group,
    describe,
    rules_of,
)

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    group = default_group(jobkit.ec2_client(finding), finding.object_id)
    rules = rules_of(group)
    problems = [
        f"{group['GroupId']} allows {direction} {describe(p, _word(direction))}"
        for direction in DIRECTIONS
        for p in rules[direction]
    ]
    jobkit.verdict(
        problems, f"{group['GroupId']} (default group of {group.get('VpcId')}) has no rule"
    )


if __name__ == "__main__":
    jobkit.run(verify, __file__)
