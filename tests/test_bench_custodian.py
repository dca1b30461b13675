"""The pure helpers of bench/custodian.py (the benchmark itself is not a test: it runs c7n)."""

from __future__ import annotations

import argparse

import pytest

from bench.custodian import custodian_policy, not_fixed, parse_sizes
from bench.throughput import percentile


def test_sizes_are_parsed_and_nonsense_is_refused_with_an_example() -> None:
    assert parse_sizes("50,500") == [50, 500]
    assert parse_sizes(" 5 ") == [5]
    for bad in ("", "50,,500", "0", "-5", "fifty"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 50,500"):
            parse_sizes(bad)


def test_the_policy_revokes_the_matched_rule_and_tags() -> None:
    (policy,) = custodian_policy()["policies"]
    assert policy["resource"] == "aws.security-group"
    assert policy["filters"] == [
        {"type": "ingress", "IpProtocol": "tcp", "Ports": [22], "Cidr": {"value": "0.0.0.0/0"}}
    ]
    assert policy["actions"] == [
        {"type": "remove-permissions", "ingress": "matched"},
        {"type": "tag", "key": "remediated-by", "value": "custodian"},
    ]


def test_a_group_is_fixed_when_the_rule_is_gone_and_the_tag_is_there() -> None:
    open_22 = {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    }
    private_22 = {**open_22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    tag = [{"Key": "remediated-by", "Value": "custodian"}]
    groups = [
        {"GroupId": "sg-fixed", "IpPermissions": [private_22], "Tags": tag},
        {"GroupId": "sg-open", "IpPermissions": [open_22], "Tags": tag},
        {"GroupId": "sg-untagged", "IpPermissions": []},
        {"GroupId": "sg-all-open", "IpPermissions": [{**open_22, "IpProtocol": "-1"}], "Tags": tag},
        {"GroupId": "sg-range", "IpPermissions": [{**open_22, "FromPort": 0, "ToPort": 1024}]},
    ]
    assert not_fixed(groups) == ["sg-open", "sg-untagged", "sg-all-open", "sg-range"]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0 and percentile(values, 0.5) == 50.0
    assert percentile([3.0], 0.95) == 3.0 and percentile([], 0.95) == 0.0
