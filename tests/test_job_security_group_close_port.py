"""security_group_close_port's own test, as `remedy jobs test security_group_close_port` runs it:
against the sandbox the command names in the environment (AWS_ENDPOINT_URL and the sandbox
administrator's keys), or, in the suite, the session's sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

JOB = "security_group_close_port"
FOLDER = Path(os.environ.get("REMEDY_JOB_FOLDER") or Path(__file__).parents[1] / "jobs" / JOB)
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


@pytest.fixture
def cloud(request: pytest.FixtureRequest) -> dict[str, str]:
    """The sandbox's endpoint and keys: from `remedy jobs test`, else the suite's sandbox."""
    if os.environ.get("AWS_ENDPOINT_URL") and os.environ.get("REMEDY_JOB") == JOB:
        return {k: os.environ[k] for k in ("AWS_ENDPOINT_URL", *AWS_VARIABLES)}
    sandbox = request.getfixturevalue("aws_sandbox")
    return {
        "AWS_ENDPOINT_URL": sandbox.endpoint,
        "AWS_ACCESS_KEY_ID": sandbox.admin.access_key_id,
        "AWS_SECRET_ACCESS_KEY": sandbox.admin.secret_access_key,
        "AWS_DEFAULT_REGION": sandbox.region,
    }


def ec2_of(cloud: dict[str, str]) -> Any:
    return boto3.client(
        "ec2",
        endpoint_url=cloud["AWS_ENDPOINT_URL"],
        region_name=cloud["AWS_DEFAULT_REGION"],
        aws_access_key_id=cloud["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=cloud["AWS_SECRET_ACCESS_KEY"],
    )


def run(cloud: dict[str, str], group_id: str, port: int) -> subprocess.CompletedProcess[str]:
    payload = {
        "notificationInfo": {
            "CloudAccountID": "123456789012",
            "RuleID": "rule-x",
            "FindingInfo": {
                "FindingId": f"f-{uuid.uuid4().hex[:8]}",
                "ObjectId": group_id,
                "Region": cloud["AWS_DEFAULT_REGION"],
            },
        },
        "remediationParameters": {"port": port},
    }
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", **cloud}
    return subprocess.run(
        [sys.executable, str(FOLDER / f"{JOB}.py"), json.dumps(payload)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def open_ports(ec2: Any, group_id: str) -> set[tuple[int, str]]:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return {
        (p["FromPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p.get("IpRanges", [])
    }


def test_it_closes_the_port_to_the_internet_and_keeps_the_rest(cloud: dict[str, str]) -> None:
    ec2 = ec2_of(cloud)
    group_id = ec2.create_security_group(
        GroupName=f"jobs-test-{uuid.uuid4().hex[:8]}", Description="remedy jobs test"
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": cidr}]}
            for p, cidr in [(22, "0.0.0.0/0"), (22, "10.0.0.0/8"), (443, "0.0.0.0/0")]
        ],
    )
    done = run(cloud, group_id, 22)
    assert done.returncode == 0, done.stderr
    assert f"CHANGE: {group_id}: revoked ingress" in done.stdout
    assert open_ports(ec2, group_id) == {(22, "10.0.0.0/8"), (443, "0.0.0.0/0")}

    again = run(cloud, group_id, 22)
    assert again.returncode == 0 and "CHANGE:" not in again.stdout, again.stdout
