"""The port jobs with protocols and ranges, EC2.18, EC2.19 and the default security group (EC2.2),
in every mode on moto, run as the worker runs them (tests/job_modes.py's `exercise`), plus what
each keeps and how each fails.

Outcomes are read back from moto with the sandbox administrator's keys; resources get unique
names (the moto server is session-wide).
"""

from __future__ import annotations

from typing import Any

import pytest

from remedy.jobkit.ec2_ports import HIGH_RISK_PORTS, Closure, Grant, Ports, plan_closure
from sandbox.aws import AwsSandbox
from tests.job_modes import Case, Run, exercise
from tests.test_jobs import Rule, new_group, new_instance, payload, rules, tcp

OPEN4, OPEN6, PRIVATE = "0.0.0.0/0", "::/0", "10.0.0.0/8"
ELASTICSEARCH_RULE = "04700175-adbe-49e1-bc7a-bc9605597ce2"  # ec2_close_port_9200_9300
MEMCACHED_UDP_RULE = "bd9d77b6-635d-4e06-9760-8957d8eaeb38"  # aws_ec2_close_port_11211
DEFAULT_SG_RULE = "5c8c25f37a550e1fb6560bca"  # aws_ec2_default_security_group_traffic
HIGH_RISK = "security_group_close_high_risk_ports"
UNAUTHORIZED = "security_group_restrict_unauthorized_ports"
DEFAULT_SG = "aws_ec2_default_security_group_traffic"


def udp(low: int, high: int, cidr: str = OPEN4, text: str | None = None) -> Rule:
    return ("udp", low, high, cidr, text)


def permission(protocol: str, low: int, high: int, *cidrs: str, text: str | None = None) -> Any:
    v4 = [{"CidrIp": c, **({"Description": text} if text else {})} for c in cidrs if ":" not in c]
    v6 = [{"CidrIpv6": c, **({"Description": text} if text else {})} for c in cidrs if ":" in c]
    found: dict[str, Any] = {"IpProtocol": protocol, "IpRanges": v4, "Ipv6Ranges": v6}
    if protocol != "-1":
        found |= {"FromPort": low, "ToPort": high}
    return found


def revoke(ec2: Any, group: str, protocol: str, low: int, high: int, cidr: str) -> None:
    ec2.revoke_security_group_ingress(
        GroupId=group, IpPermissions=[permission(protocol, low, high, cidr)]
    )


# ----------------------------------------------------------------------------------------------
# ec2_close_port / security_group_close_port: protocols and ranges, the new aliases
# ----------------------------------------------------------------------------------------------


def test_ec2_close_port_9200_9300_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    """The alias's rule alone picks tcp 9200-9300; udp on the same ports is not touched."""
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(
        ec2,
        [
            permission("tcp", 9000, 9500, OPEN4, PRIVATE, text="search"),
            permission("tcp", 9300, 9300, OPEN6),
            permission("udp", 9200, 9300, OPEN4),
        ],
    )
    instance = new_instance(ec2, [group])

    def tamper() -> None:  # someone closes a part the job kept open
        revoke(ec2, group, "tcp", 9000, 9199, OPEN4)

    finding = payload(instance, ELASTICSEARCH_RULE)
    finding["remediationParameters"] = {}  # as an old payload: the alias's rule picks them
    exercise(run, Case("ec2_close_port", finding, lambda: rules(ec2, group), tamper))
    done = run("ec2_close_port", finding)
    assert done.returncode == 0 and done.changes == [], str(done)
    assert rules(ec2, group) == {  # as fixed, less what tamper() revoked
        tcp(9301, 9500, OPEN4, "search"),
        tcp(9000, 9500, PRIVATE, "search"),
        udp(9200, 9300),  # udp: not this rule's
    }


def test_aws_ec2_close_port_11211_udp_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    """UDP 11211: tcp 11211 stays open; all traffic is split around udp/11211 only."""
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(
        ec2,
        [
            permission("udp", 11211, 11211, OPEN4),
            permission("udp", 11000, 12000, OPEN6, text="cache"),
            permission("tcp", 11211, 11211, OPEN4),
        ],
    )
    other = new_group(ec2, [permission("-1", 0, 0, OPEN4, text="anything")])
    instance = new_instance(ec2, [group, other])

    def state() -> Any:
        return (rules(ec2, group), rules(ec2, other))

    def tamper() -> None:  # someone closes a part the job kept open on the other group
        revoke(ec2, other, "udp", 0, 11210, OPEN4)

    finding = payload(instance, MEMCACHED_UDP_RULE, port=11211, protocol="udp")
    exercise(run, Case("ec2_close_port", finding, state, tamper))
    ec2.authorize_security_group_ingress(  # undo the tamper: back to the fixed state
        GroupId=other, IpPermissions=[permission("udp", 0, 11210, OPEN4, text="anything")]
    )
    assert rules(ec2, group) == {
        udp(11000, 11210, OPEN6, "cache"),
        udp(11212, 12000, OPEN6, "cache"),
        tcp(11211, 11211),  # tcp: never touched by a udp closure
    }
    assert rules(ec2, other) == {
        tcp(0, 65535, OPEN4, "anything"),
        udp(0, 11210, OPEN4, "anything"),
        udp(11212, 65535, OPEN4, "anything"),
        ("icmp", -1, -1, OPEN4, "anything"),
    }


def test_the_alias_of_a_rule_supplies_protocol_and_range(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(
        ec2, [permission("udp", 11211, 11211, OPEN4), permission("tcp", 11211, 11211, OPEN4)]
    )
    finding = payload(new_instance(ec2, [group]), MEMCACHED_UDP_RULE)
    finding["remediationParameters"] = {}
    done = run("ec2_close_port", finding)
    assert done.returncode == 0, str(done)
    assert "aws_ec2_close_port_11211" in done.stdout
    assert done.changes == [f"CHANGE: {group}: revoked ingress udp 11211-11211 from {OPEN4}"]
    assert rules(ec2, group) == {tcp(11211, 11211)}


def test_a_tcp_closure_leaves_udp_alone(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(
        ec2, [permission("udp", 53, 53, OPEN4, OPEN6), permission("tcp", 50, 60, OPEN4)]
    )
    done = run("security_group_close_port", payload(group, "rule-x", port=53, to_port=54))
    assert done.returncode == 0, str(done)
    assert rules(ec2, group) == {
        udp(53, 53),
        udp(53, 53, OPEN6),
        tcp(50, 52),
        tcp(55, 60),
    }
    assert "(kept open around tcp/53-54)" in done.changes[0]


def test_to_port_below_port_exits_2(aws_sandbox: AwsSandbox, run: Run) -> None:
    group = new_group(aws_sandbox.admin_client("ec2"), [permission("tcp", 1, 100, OPEN4)])
    done = run("security_group_close_port", payload(group, "rule-x", port=30, to_port=20))
    assert done.returncode == 2, str(done)
    assert done.errors == [
        "ERROR: remediationParameters.to_port (20) must not be below port (30)"
    ], str(done)
    assert done.mutating == []


def test_an_unknown_protocol_exits_2(run: Run) -> None:
    done = run(
        "security_group_close_port", payload("sg-0123456789abcdef0", "x", port=1, protocol="icmp")
    )
    assert done.returncode == 2 and len(done.errors) == 1, str(done)
    assert "remediationParameters.protocol" in done.errors[0]


@pytest.mark.parametrize(
    ("protocol", "low", "high", "closure", "kept"),
    [
        ("tcp", 0, 65535, [Ports("tcp", 9200, 9300)], [(0, 9199), (9301, 65535)]),
        ("tcp", 9250, 9250, [Ports("tcp", 9200, 9300)], []),
        ("tcp", 9100, 9200, [Ports("tcp", 9200, 9300)], [(9100, 9199)]),
        (
            "udp",
            1,
            10,
            [Ports("udp", 1, 1), Ports("udp", 3, 4), Ports("udp", 10, 10)],
            [(2, 2), (5, 9)],
        ),
        ("udp", 20, 30, [Ports("tcp", 20, 30)], None),  # another protocol's closure: no fix
        ("tcp", 9301, 9400, [Ports("tcp", 9200, 9300)], None),  # no overlap: no fix
    ],
)
def test_plan_closure_splits_ranges(
    protocol: str, low: int, high: int, closure: list[Ports], kept: list[tuple[int, int]] | None
) -> None:
    fixes = plan_closure([permission(protocol, low, high, OPEN4)], Closure.of(closure))
    if kept is None:
        assert fixes == []
        return
    assert [f.revoke for f in fixes] == [Grant(protocol, low, high, OPEN4)]
    assert [(g.protocol, g.from_port, g.to_port) for g in fixes[0].keep] == [
        (protocol, a, b) for a, b in kept
    ]


# ----------------------------------------------------------------------------------------------
# security_group_close_high_risk_ports (EC2.19)
# ----------------------------------------------------------------------------------------------


def high_risk_group(ec2: Any) -> str:
    return new_group(
        ec2,
        [
            permission("tcp", 0, 65535, OPEN4, text="wide"),
            permission("udp", 5000, 5001, OPEN6),
            permission("tcp", 443, 443, OPEN4),  # not high risk
            permission("tcp", 22, 22, PRIVATE),  # not open to the internet
            permission("icmp", -1, -1, OPEN4),  # no port
        ],
    )


def test_security_group_close_high_risk_ports_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = high_risk_group(ec2)

    def tamper() -> None:  # someone closes a part the job kept open
        revoke(ec2, group, "tcp", 26, 109, OPEN4)

    exercise(run, Case(HIGH_RISK, payload(group, "rule-x"), lambda: rules(ec2, group), tamper))


def test_high_risk_ports_keeps_everything_else(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = high_risk_group(ec2)
    done = run(HIGH_RISK, payload(group, "rule-x"))
    assert done.returncode == 0, str(done)
    after = rules(ec2, group)
    wide = sorted((r[1], r[2]) for r in after if r[0] == "tcp" and r[4] == "wide")
    assert wide[0] == (0, 19) and wide[-1] == (9301, 65535) and len(wide) == 21
    assert not any(a <= p <= b for a, b in wide for p in HIGH_RISK_PORTS)
    covered = sum(b - a + 1 for a, b in wide) + len(HIGH_RISK_PORTS)
    assert covered == 65536  # every other port stays open, with its Description
    assert udp(5001, 5001, OPEN6) in after and udp(5000, 5001, OPEN6) not in after
    assert {tcp(443, 443), tcp(22, 22, PRIVATE), ("icmp", -1, -1, OPEN4, None)} <= after
    assert "the high-risk ports (tcp+udp/20,21,22" in done.changes[0]


def test_high_risk_ports_on_tcp_only_leaves_udp(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(ec2, [permission("udp", 22, 22, OPEN4), permission("tcp", 3389, 3389, OPEN4)])
    done = run(HIGH_RISK, payload(group, "rule-x", protocols=["tcp"], ports=[22, 3389]))
    assert done.returncode == 0, str(done)
    assert rules(ec2, group) == {udp(22, 22)}


# ----------------------------------------------------------------------------------------------
# security_group_restrict_unauthorized_ports (EC2.18)
# ----------------------------------------------------------------------------------------------


def test_security_group_restrict_unauthorized_ports_modes(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(
        ec2,
        [
            permission("tcp", 0, 65535, OPEN4, text="all tcp"),
            permission("-1", 0, 0, OPEN6),
            permission("udp", 53, 53, OPEN4),
            permission("tcp", 443, 443, OPEN4),  # authorized already
            permission("tcp", 22, 22, PRIVATE),  # not open to the internet
        ],
    )

    def tamper() -> None:  # someone closes https to IPv6
        revoke(ec2, group, "tcp", 443, 443, OPEN6)

    finding = payload(group, "rule-x")
    exercise(run, Case(UNAUTHORIZED, finding, lambda: rules(ec2, group), tamper))
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[permission("tcp", 443, 443, OPEN6)]
    )
    assert rules(ec2, group) == {
        tcp(80, 80, OPEN4, "all tcp"),
        tcp(443, 443),
        tcp(80, 80, OPEN6),
        tcp(443, 443, OPEN6),
        ("icmpv6", -1, -1, OPEN6, None),
        tcp(22, 22, PRIVATE),
    }


def test_unauthorized_ports_keeps_the_authorized_udp_ports(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(
        ec2, [permission("udp", 0, 65535, OPEN4), permission("tcp", 8443, 8443, OPEN4)]
    )
    done = run(
        UNAUTHORIZED,
        payload(group, "rule-x", authorized_tcp_ports=[8443], authorized_udp_ports=[53, 123]),
    )
    assert done.returncode == 0, str(done)
    assert rules(ec2, group) == {udp(53, 53), udp(123, 123), tcp(8443, 8443)}
    again = run(
        UNAUTHORIZED,
        payload(group, "rule-x", authorized_tcp_ports=[8443], authorized_udp_ports=[53, 123]),
    )
    assert again.returncode == 0 and again.changes == [], str(again)
    assert "ok: " in again.stdout and "ports other than tcp/8443 and udp/53,123" in again.stdout


@pytest.mark.parametrize("job", [HIGH_RISK, UNAUTHORIZED, "security_group_close_port"])
def test_a_group_that_does_not_exist_exits_1(run: Run, job: str) -> None:
    done = run(job, payload("sg-0123456789abcdef0", "rule-x", port=22))
    if job != "security_group_close_port":
        done = run(job, payload("sg-0123456789abcdef0", "rule-x"))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "InvalidGroup.NotFound" in done.errors[0], str(done)
    assert done.mutating == [] and "Traceback" not in done.stderr


# ----------------------------------------------------------------------------------------------
# aws_ec2_default_security_group_traffic (EC2.2)
# ----------------------------------------------------------------------------------------------


def default_group(ec2: Any) -> tuple[str, str]:
    """A new VPC's default group (with AWS's default rules: the sandbox adds moto's missing
    self-referencing ingress), plus an ingress and an egress rule of someone's."""
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    group = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[permission("tcp", 22, 22, PRIVATE, text="admins")]
    )
    ec2.authorize_security_group_egress(
        GroupId=group, IpPermissions=[permission("tcp", 443, 443, OPEN6)]
    )
    return vpc, group


def everything(ec2: Any, group: str) -> Any:
    found = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    strip = ("UserIdGroupPairs", "IpRanges", "Ipv6Ranges", "PrefixListIds")

    def key(p: dict[str, Any]) -> str:
        pairs = sorted(g["GroupId"] for g in p.get("UserIdGroupPairs", []))
        ranges = sorted(str(r) for k in strip[1:] for r in p.get(k, []))
        rest = {k: v for k, v in p.items() if k not in strip}
        return f"{sorted(rest.items())} {pairs} {ranges}"

    return (
        sorted(key(p) for p in found["IpPermissions"]),
        sorted(key(p) for p in found["IpPermissionsEgress"]),
    )


def test_default_security_group_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    _, group = default_group(ec2)
    ingress, egress = everything(ec2, group)
    assert len(ingress) == 2 and len(egress) == 2  # self + ours; 0.0.0.0/0 + ours

    def tamper() -> None:  # someone lets the group talk to itself again
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}],
        )

    finding = payload(group, DEFAULT_SG_RULE)
    exercise(run, Case(DEFAULT_SG, finding, lambda: everything(ec2, group), tamper))


def test_default_security_group_by_its_vpc(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    vpc, group = default_group(ec2)
    other = new_group(ec2, [permission("tcp", 22, 22, OPEN4)])  # in the default VPC: untouched
    done = run(DEFAULT_SG, payload(vpc, DEFAULT_SG_RULE))
    assert done.returncode == 0, str(done)
    assert len(done.changes) == 4, str(done)
    assert f"CHANGE: {group}: revoked ingress all traffic from {group}" in done.changes
    assert f"CHANGE: {group}: revoked egress all traffic to {OPEN4}" in done.changes
    assert everything(ec2, group) == ([], [])
    assert rules(ec2, other) == {tcp(22, 22)}
    assert run(DEFAULT_SG, payload(vpc, DEFAULT_SG_RULE), "verify").returncode == 0


def test_a_group_that_is_not_default_is_refused(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(ec2, [permission("tcp", 22, 22, OPEN4)])
    done = run(DEFAULT_SG, payload(group, DEFAULT_SG_RULE))
    assert done.returncode == 2, str(done)
    assert len(done.errors) == 1 and "is not a VPC's default security group" in done.errors[0]
    assert done.mutating == [] and rules(ec2, group) == {tcp(22, 22)}


@pytest.mark.parametrize(
    ("object_id", "code", "needle"),
    [
        ("sg-0123456789abcdef0", 1, "DescribeSecurityGroups failed: InvalidGroup.NotFound"),
        ("vpc-0123456789abcdef0", 2, "has no default security group"),
    ],
)
def test_default_security_group_that_does_not_exist(
    run: Run, object_id: str, code: int, needle: str
) -> None:
    done = run(DEFAULT_SG, payload(object_id, DEFAULT_SG_RULE))
    assert done.returncode == code, str(done)
    assert len(done.errors) == 1 and needle in done.errors[0], str(done)
    assert done.mutating == [] and "Traceback" not in done.stderr
