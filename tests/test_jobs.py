"""The built-in AWS jobs, run exactly as the worker runs them, against moto with IAM enforced.

Each run copies the job folder to a fresh temporary directory and starts
`<python> <name>.py '<payload>'` there with only the contract's environment (the remediation role's
temporary credentials, region, endpoint, PATH, HOME, LANG). Outcomes are read back from moto with
the sandbox administrator's keys. Resources get unique names: the moto server is session-wide.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from remedy.jobkit.ec2_ports import Grant, plan_port_closure
from sandbox.aws import AwsSandbox
from tests.job_process import run_like_the_worker

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import IpPermissionOutputTypeDef

ROOT = Path(__file__).resolve().parent.parent
JOBS_DIR = ROOT / "jobs"
REGION = "us-east-1"
ACCOUNT = "123456789012"
OPEN4, OPEN6 = "0.0.0.0/0", "::/0"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
SSH_INSTANCE_RULE = "5c8c26417a550e1fb6560c3f"  # ec2_close_port_22
SSH_GROUP_RULE = "5c8c25ec7a550e1fb6560bbe"  # security_group_close_port_22
S3_PUBLIC_RULE = "5c8c26507a550e1fb6560c57"  # s3_remove_public_access

# One rule as a comparable tuple: (protocol, from, to, source, description).
Rule = tuple[str, int | None, int | None, str, str | None]


@dataclass
class JobRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def changes(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("CHANGE: ")]

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


RunJob = Callable[..., JobRun]


@pytest.fixture(scope="module")
def role_env(aws_sandbox: AwsSandbox) -> dict[str, str]:
    return aws_sandbox.assume_role_env("remedy-test-jobs")


@pytest.fixture
def run_job(tmp_path: Path, role_env: dict[str, str]) -> Iterator[RunJob]:
    """Run a job as the worker does: a private copy of its folder, the payload in argv[1]."""
    count = 0

    def run(name: str, payload: Any, env: dict[str, str] | None = None) -> JobRun:
        nonlocal count
        count += 1
        done = run_like_the_worker(
            JOBS_DIR / name,
            tmp_path / f"{name}-{count}",
            payload,
            env if env is not None else role_env,
        )
        return JobRun(done.returncode, done.stdout, done.stderr)

    yield run


def payload(object_id: str | None, rule_id: str, **parameters: Any) -> dict[str, Any]:
    """A newer-generation payload as the worker completes it."""
    finding: dict[str, Any] = {
        "FindingId": f"f-{uuid.uuid4().hex[:8]}",
        "ObjectChain": json.dumps({"cloudAccountId": ACCOUNT, "properties": []}),
        "CloudTags": {},
        "RiskScore": 80,
        "Region": REGION,
    }
    if object_id is not None:
        finding["ObjectId"] = object_id
    return {
        "cloudAccount": {"provider": "aws", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/remedy"},
        "notificationInfo": {
            "CloudAccountID": ACCOUNT,
            "CloudAccountId": ACCOUNT,
            "RuleID": rule_id,
            "Level": "High",
            "FindingInfo": finding,
        },
        "autoRemediate": False,
        "remediationParameters": parameters,
    }


def old_payload(object_id: str, rule_id: str) -> dict[str, Any]:
    """An older-generation payload, untouched: no cloudAccount, no parameters, no Region."""
    return {
        "notificationInfo": {
            "CloudAccountID": ACCOUNT,
            "RuleID": rule_id,
            "FindingInfo": {"FindingId": "f-old", "ObjectId": object_id},
        },
        "autoRemediate": False,
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ----------------------------------------------------------------------------------------------
# EC2 helpers
# ----------------------------------------------------------------------------------------------


def new_group(ec2: Any, permissions: list[dict[str, Any]]) -> str:
    group_id: str = ec2.create_security_group(GroupName=unique("sg"), Description="test")["GroupId"]
    if permissions:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions)
    return group_id


def rules(ec2: Any, group_id: str) -> set[Rule]:
    """The group's ingress, one tuple per (protocol, range, source)."""
    found: set[Rule] = set()
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    for p in group["IpPermissions"]:
        proto, low, high = p["IpProtocol"], p.get("FromPort"), p.get("ToPort")
        sources = [(r["CidrIp"], r.get("Description")) for r in p.get("IpRanges", [])]
        sources += [(r["CidrIpv6"], r.get("Description")) for r in p.get("Ipv6Ranges", [])]
        sources += [(g["GroupId"], g.get("Description")) for g in p.get("UserIdGroupPairs", [])]
        found.update((proto, low, high, source, text) for source, text in sources)
    return found


def tcp(low: int, high: int, cidr: str = OPEN4, text: str | None = None) -> Rule:
    return ("tcp", low, high, cidr, text)


def expected_change_lines(group_id: str, before: set[Rule], after: set[Rule]) -> list[str]:
    def line(verb: str, rule: Rule) -> str:
        proto, low, high, cidr, _ = rule
        return f"{group_id}: {verb} ingress {Grant(proto, low, high, cidr)}"

    added = [line("authorized", r) for r in after - before]
    return sorted(added + [line("revoked", r) for r in before - after])


def check_group(
    ec2: Any, run: JobRun, group_id: str, before: set[Rule], expected: set[Rule]
) -> None:
    """The group ends as expected, with exactly one CHANGE line per rule added or removed."""
    assert run.returncode == 0, str(run)
    after = rules(ec2, group_id)
    assert after == expected, str(run)
    mine = sorted(c.removeprefix("CHANGE: ").split(" (")[0] for c in run.changes if group_id in c)
    assert mine == expected_change_lines(group_id, before, after), str(run)


def check_idempotent(
    run_job: RunJob, name: str, object_id: str, port: int, ec2: Any, groups: list[str]
) -> None:
    """A second run finds nothing to do: exit 0, no CHANGE line, the groups unchanged."""
    before = {g: rules(ec2, g) for g in groups}
    again = run_job(name, payload(object_id, "rule-x", port=port))
    assert again.returncode == 0, str(again)
    assert again.changes == [], str(again)
    for group_id in groups:
        assert f"ok: {group_id} has no rule open to the internet on tcp/{port}" in again.stdout
        assert rules(ec2, group_id) == before[group_id]


# ----------------------------------------------------------------------------------------------
# security_group_close_port and the shared port-closing logic
# ----------------------------------------------------------------------------------------------


def test_security_group_close_port_splits_range_and_keeps_private_cidr(
    aws_sandbox: AwsSandbox, run_job: RunJob
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group_id = new_group(
        ec2,
        [
            {
                "IpProtocol": "tcp",
                "FromPort": 20,
                "ToPort": 25,
                "IpRanges": [{"CidrIp": OPEN4, "Description": "ftp+ssh"}, {"CidrIp": "10.0.0.0/8"}],
            },
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": OPEN4}]},
            {"IpProtocol": "udp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": OPEN4}]},
        ],
    )
    before = rules(ec2, group_id)
    run = run_job("security_group_close_port", payload(group_id, SSH_GROUP_RULE, port=22))
    expected = {
        tcp(20, 21, OPEN4, "ftp+ssh"),
        tcp(23, 25, OPEN4, "ftp+ssh"),
        tcp(20, 25, "10.0.0.0/8"),
        tcp(443, 443),
        ("udp", 22, 22, OPEN4, None),
    }
    check_group(ec2, run, group_id, before, expected)
    assert len(run.changes) == 3
    check_idempotent(run_job, "security_group_close_port", group_id, 22, ec2, [group_id])


def test_security_group_close_port_full_range_ipv4_and_ipv6(
    aws_sandbox: AwsSandbox, run_job: RunJob
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group_id = new_group(
        ec2,
        [
            {
                "IpProtocol": "tcp",
                "FromPort": 0,
                "ToPort": 65535,
                "IpRanges": [{"CidrIp": OPEN4}],
                "Ipv6Ranges": [{"CidrIpv6": OPEN6}, {"CidrIpv6": "2001:db8::/32"}],
            }
        ],
    )
    before = rules(ec2, group_id)
    run = run_job("security_group_close_port", payload(group_id, "rule-x", port=22))
    expected = {
        tcp(0, 21, OPEN4),
        tcp(23, 65535, OPEN4),
        tcp(0, 21, OPEN6),
        tcp(23, 65535, OPEN6),
        tcp(0, 65535, "2001:db8::/32"),
    }
    check_group(ec2, run, group_id, before, expected)
    assert len(run.changes) == 6


def test_security_group_close_port_all_traffic(aws_sandbox: AwsSandbox, run_job: RunJob) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    peer = new_group(ec2, [])
    group_id = new_group(
        ec2,
        [
            {
                "IpProtocol": "-1",
                "IpRanges": [{"CidrIp": OPEN4, "Description": "anything"}],
                "Ipv6Ranges": [{"CidrIpv6": OPEN6}],
                "UserIdGroupPairs": [{"GroupId": peer}],
            },
            # already there: must not be authorized twice (that would be InvalidPermission.Duplicate)
            {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": OPEN4}]},
        ],
    )
    before = rules(ec2, group_id)
    run = run_job("security_group_close_port", payload(group_id, "rule-x", port=3389))
    expected = {
        ("-1", None, None, peer, None),
        ("udp", 0, 65535, OPEN4, None),
        tcp(0, 3388, OPEN4, "anything"),
        tcp(3390, 65535, OPEN4, "anything"),
        ("icmp", -1, -1, OPEN4, "anything"),
        tcp(0, 3388, OPEN6),
        tcp(3390, 65535, OPEN6),
        ("udp", 0, 65535, OPEN6, None),
        ("icmpv6", -1, -1, OPEN6, None),
    }
    check_group(ec2, run, group_id, before, expected)
    assert len(run.changes) == 2 + 3 + 4  # two revokes, three v4 parts, four v6 parts
    check_idempotent(run_job, "security_group_close_port", group_id, 3389, ec2, [group_id])


def test_security_group_close_port_old_payload_uses_the_alias_of_its_rule(
    aws_sandbox: AwsSandbox, run_job: RunJob
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group_id = new_group(
        ec2, [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": OPEN4}]}]
    )
    before = rules(ec2, group_id)
    run = run_job("security_group_close_port", old_payload(group_id, SSH_GROUP_RULE))
    check_group(ec2, run, group_id, before, set())
    assert run.changes == [f"CHANGE: {group_id}: revoked ingress tcp 22-22 from {OPEN4}"]
    assert "security_group_close_port_22" in run.stdout


@pytest.mark.parametrize(
    ("low", "high", "port", "expected"),
    [
        (0, 65535, 1, {(0, 0), (2, 65535)}),
        (0, 65535, 65535, {(0, 65534)}),
        (22, 22, 22, set()),
        (23, 25, 22, None),  # does not cover the port: no fix
    ],
)
def test_plan_port_closure_edges(
    low: int, high: int, port: int, expected: set[tuple[int, int]] | None
) -> None:
    permission: IpPermissionOutputTypeDef = {
        "IpProtocol": "tcp",
        "FromPort": low,
        "ToPort": high,
        "IpRanges": [{"CidrIp": OPEN4}],
    }
    fixes = plan_port_closure([permission], port)
    if expected is None:
        assert fixes == []
        return
    assert [f.revoke for f in fixes] == [Grant("tcp", low, high, OPEN4)]
    assert {(g.from_port, g.to_port) for g in fixes[0].keep} == expected


# ----------------------------------------------------------------------------------------------
# ec2_close_port
# ----------------------------------------------------------------------------------------------


def new_instance(ec2: Any, groups: list[str], extra_interface_group: str | None = None) -> str:
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    instance: str = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=groups, SubnetId=subnet
    )["Instances"][0]["InstanceId"]
    if extra_interface_group:
        eni = ec2.create_network_interface(SubnetId=subnet, Groups=[extra_interface_group])
        ec2.attach_network_interface(
            NetworkInterfaceId=eni["NetworkInterface"]["NetworkInterfaceId"],
            InstanceId=instance,
            DeviceIndex=1,
        )
    return instance


def test_ec2_close_port_closes_every_group_of_the_instance(
    aws_sandbox: AwsSandbox, run_job: RunJob
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
    first = new_group(ec2, [{**ssh, "IpRanges": [{"CidrIp": OPEN4}, {"CidrIp": "192.168.0.0/16"}]}])
    second = new_group(
        ec2,
        [{"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25, "Ipv6Ranges": [{"CidrIpv6": OPEN6}]}],
    )
    on_second_interface = new_group(ec2, [{**ssh, "IpRanges": [{"CidrIp": OPEN4}]}])
    instance = new_instance(ec2, [first, second], extra_interface_group=on_second_interface)
    before = {g: rules(ec2, g) for g in (first, second, on_second_interface)}

    run = run_job("ec2_close_port", payload(instance, SSH_INSTANCE_RULE, port=22))

    check_group(ec2, run, first, before[first], {tcp(22, 22, "192.168.0.0/16")})
    check_group(ec2, run, second, before[second], {tcp(20, 21, OPEN6), tcp(23, 25, OPEN6)})
    check_group(ec2, run, on_second_interface, before[on_second_interface], set())
    assert len(run.changes) == 1 + 3 + 1
    check_idempotent(
        run_job, "ec2_close_port", instance, 22, ec2, [first, second, on_second_interface]
    )


def test_ec2_close_port_old_payload_uses_the_alias_of_its_rule(
    aws_sandbox: AwsSandbox, run_job: RunJob
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group_id = new_group(
        ec2, [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": OPEN4}]}]
    )
    instance = new_instance(ec2, [group_id])
    run = run_job("ec2_close_port", old_payload(instance, SSH_INSTANCE_RULE))
    assert run.returncode == 0, str(run)
    assert rules(ec2, group_id) == set()
    assert run.changes == [f"CHANGE: {group_id}: revoked ingress tcp 22-22 from {OPEN4}"]


# ----------------------------------------------------------------------------------------------
# s3_remove_public_access
# ----------------------------------------------------------------------------------------------

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def group_grant(uri: str, permission: str) -> dict[str, Any]:
    return {"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission}


def test_s3_remove_public_access_blocks_and_strips_public_grants(
    aws_sandbox: AwsSandbox, run_job: RunJob
) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = unique("remedy-public")
    s3.create_bucket(Bucket=bucket)
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner_grants = acl["Grants"]
    logging_grant = group_grant(LOG_DELIVERY, "WRITE")
    s3.put_bucket_acl(
        Bucket=bucket,
        AccessControlPolicy={
            "Owner": acl["Owner"],
            "Grants": [
                *owner_grants,
                group_grant(ALL_USERS, "READ"),
                group_grant(AUTH_USERS, "READ"),
                group_grant(ALL_USERS, "WRITE"),
                logging_grant,
            ],
        },
    )

    run = run_job("s3_remove_public_access", payload(bucket, S3_PUBLIC_RULE))

    assert run.returncode == 0, str(run)
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == BLOCK_ALL
    assert s3.get_bucket_acl(Bucket=bucket)["Grants"] == [*owner_grants, logging_grant]
    assert sorted(run.changes) == sorted(
        [
            f"CHANGE: {bucket}: public access block turned on ({', '.join(BLOCK_ALL)} were off)",
            f"CHANGE: {bucket}: removed ACL grant READ to AllUsers",
            f"CHANGE: {bucket}: removed ACL grant READ to AuthenticatedUsers",
            f"CHANGE: {bucket}: removed ACL grant WRITE to AllUsers",
        ]
    )

    again = run_job("s3_remove_public_access", payload(bucket, S3_PUBLIC_RULE))
    assert again.returncode == 0, str(again)
    assert again.changes == [], str(again)
    assert f"ok: {bucket} already blocks all public access" in again.stdout


def test_s3_remove_public_access_old_payload_partial_block(
    aws_sandbox: AwsSandbox, run_job: RunJob
) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = unique("remedy-partial")
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={**BLOCK_ALL, "BlockPublicPolicy": False}
    )
    run = run_job("s3_remove_public_access", old_payload(bucket, S3_PUBLIC_RULE))
    assert run.returncode == 0, str(run)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert run.changes == [
        f"CHANGE: {bucket}: public access block turned on (BlockPublicPolicy were off)"
    ]
    assert f"ok: {bucket} ACL grants nothing to AllUsers or AuthenticatedUsers" in run.stdout


# ----------------------------------------------------------------------------------------------
# Bad input (exit 2) and failed calls (exit 1): one clear line, never a traceback
# ----------------------------------------------------------------------------------------------

PORT_JOBS = ["ec2_close_port", "security_group_close_port"]
ALL_JOBS = [*PORT_JOBS, "s3_remove_public_access"]


def assert_one_error(run: JobRun, code: int, *needles: str) -> None:
    assert run.returncode == code, str(run)
    assert "Traceback" not in run.stderr, str(run)
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, str(run)
    for needle in needles:
        assert needle in errors[0], str(run)
    assert run.changes == []


@pytest.mark.parametrize("name", ALL_JOBS)
def test_missing_object_id_exits_2(run_job: RunJob, name: str) -> None:
    run = run_job(name, payload(None, "rule-x", port=22))
    assert_one_error(run, 2, "notificationInfo.FindingInfo.ObjectId is missing")


@pytest.mark.parametrize("name", PORT_JOBS)
def test_missing_port_exits_2(run_job: RunJob, name: str) -> None:
    run = run_job(name, payload("sg-0123456789abcdef0", "rule-without-alias"))
    assert_one_error(
        run, 2, "remediationParameters.port is missing", f"or run an alias such as {name}_"
    )


@pytest.mark.parametrize(
    ("argument", "needle"),
    [
        (None, "the payload is missing"),
        ("{not json", "the payload is not valid JSON"),
        ('{"autoRemediate": true}', "notificationInfo is missing"),
        (
            json.dumps(payload("sg-0123456789abcdef0", "x", port=70000)),
            "remediationParameters.port must be",
        ),
        (
            json.dumps(payload("sg-0123456789abcdef0", "x", port="22")),
            "remediationParameters.port must be",
        ),
    ],
)
def test_bad_input_exits_2(run_job: RunJob, argument: str | None, needle: str) -> None:
    assert_one_error(run_job("security_group_close_port", argument), 2, needle)


@pytest.mark.parametrize(
    ("name", "object_id", "needle"),
    [
        (
            "ec2_close_port",
            "i-0123456789abcdef0",
            "DescribeInstances failed: InvalidInstanceID.NotFound",
        ),
        (
            "security_group_close_port",
            "sg-0123456789abcdef0",
            "DescribeSecurityGroups failed: InvalidGroup.NotFound",
        ),
        ("s3_remove_public_access", "remedy-no-such-bucket-7f3a", "NoSuchBucket"),
    ],
)
def test_nonexistent_resource_exits_1(
    run_job: RunJob, name: str, object_id: str, needle: str
) -> None:
    run = run_job(name, payload(object_id, "rule-x", port=22))
    assert_one_error(run, 1, needle)


def test_access_denied_names_the_missing_action(aws_sandbox: AwsSandbox, run_job: RunJob) -> None:
    # The worker's own identity may only assume the role: every EC2 call is denied.
    run = run_job(
        "security_group_close_port",
        payload("sg-0123456789abcdef0", "rule-x", port=22),
        env=aws_sandbox.worker_env(),
    )
    assert_one_error(run, 1, "AccessDenied", "ec2:DescribeSecurityGroups", "minimum_policy.json")
