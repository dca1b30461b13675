"""The sandbox's AWS: moto in server mode (real HTTP, real boto3) with IAM enforced.

`start_aws_sandbox()` starts moto on a loopback port and builds a small least-privilege world:

- `sandbox-admin`, a user allowed everything: the demo and the tests use it to create and inspect
  resources;
- `remedy-worker`, the worker's own identity: it may only `sts:AssumeRole` the remediation role;
- `remedy-remediation`, the role the worker assumes (with an external id), carrying exactly the
  built-in jobs' `minimum_policy.json` documents plus what tagging needs.

Then it switches IAM enforcement on, so a job whose policy is short of an action fails with a real
AccessDenied, and a denied AssumeRole is denied on the wire.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
ROLE_NAME = "remedy-remediation"
EXTERNAL_ID = "remedy-sandbox-external-id"
WORKER_USER = "remedy-worker"
ADMIN_USER = "sandbox-admin"

#: What the tag step itself calls with the assumed role (see activities/tagging.py).
#: what a Security Hub pull and write-back take (activities/securityhub_pull.py, write_back.py)
SECURITY_HUB_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RemedySecurityHub",
            "Effect": "Allow",
            "Action": ["securityhub:GetFindings", "securityhub:BatchUpdateFindings"],
            "Resource": "*",
        }
    ],
}
TAGGING_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RemedyTagging",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateTags",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "tag:TagResources",
                # the opt-out read live before a change (activities/opt_out.py)
                "ec2:DescribeTags",
                "tag:GetResources",
            ],
            "Resource": "*",
        }
    ],
}


#: Real IAM action names that moto checks under another name. The jobs' policies keep the real
#: names (they are what a customer pastes into IAM); the sandbox grants moto's spelling beside them.
#: moto 5.x keys its bucket-level map on `public_access_block` while the query string says
#: `publicAccessBlock`, so it falls back to the method's default action.
MOTO_ACTION_ALIASES: dict[str, str] = {
    "s3:PutBucketPublicAccessBlock": "s3:CreateBucket",
    "s3:GetBucketPublicAccessBlock": "s3:ListBucket",
    "s3:DeleteBucketPublicAccessBlock": "s3:DeleteBucket",
    # the Resource Groups Tagging API's IAM prefix is `tag:`; moto checks `tagging:`
    "tag:TagResources": "tagging:TagResources",
    "tag:GetResources": "tagging:GetResources",
    # CloudWatch's IAM prefix is `cloudwatch:`; moto checks its endpoint's name, `monitoring:`
    **{
        f"cloudwatch:{action}": f"monitoring:{action}"
        for action in (
            "DescribeAlarms",
            "DescribeAlarmsForMetric",
            "PutMetricAlarm",
            "DeleteAlarms",
        )
    },
}


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str


@dataclass
class AwsSandbox:
    endpoint: str
    admin: Keys
    worker: Keys
    role_arn: str
    external_id: str = EXTERNAL_ID
    account_id: str = ACCOUNT_ID
    region: str = REGION
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def admin_client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client with the sandbox administrator's keys (setup and inspection)."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name=region or self.region,
            aws_access_key_id=self.admin.access_key_id,
            aws_secret_access_key=self.admin.secret_access_key,
        )

    def open_security_group(self, port: int, prefix: str = "open") -> str:
        """A new security group that lets the whole internet (0.0.0.0/0) reach tcp/<port>."""
        ec2 = self.admin_client("ec2")
        group = str(
            ec2.create_security_group(
                GroupName=f"{prefix}-{uuid.uuid4().hex[:8]}", Description=f"open on {port}"
            )["GroupId"]
        )
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        return group

    def worker_env(self) -> dict[str, str]:
        """The environment a worker needs to reach this sandbox with its own identity."""
        return {
            "AWS_ACCESS_KEY_ID": self.worker.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.worker.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def assume_role_env(self, session_name: str = "remedy-test") -> dict[str, str]:
        """Temporary credentials of the remediation role, as a job's environment carries them."""
        sts = boto3.client(
            "sts",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.worker.access_key_id,
            aws_secret_access_key=self.worker.secret_access_key,
        )
        creds = sts.assume_role(
            RoleArn=self.role_arn, RoleSessionName=session_name, ExternalId=self.external_id
        )["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def secrets(self) -> list[str]:
        """Every long-lived secret of the sandbox (for the no-secret-in-history sweeps)."""
        return [self.admin.secret_access_key, self.worker.secret_access_key]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the sandbox server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers: that is all we wait for
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"no answer from {url} after {timeout_s:.0f} s")


def start_moto(
    port: int | None = None, host: str = "127.0.0.1"
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start moto's server in its own process; return its endpoint and the process."""
    port = port or free_port(host)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        # moto's server, which also checks the trust policy's sts:ExternalId (moto_server.py)
        [sys.executable, "-m", "sandbox.moto_server", "-H", host, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    endpoint = f"http://{host}:{port}"
    _wait_http(f"{endpoint}/moto-api/", 30, process)
    return endpoint, process


def set_iam_enforcement(endpoint: str, enforced: bool) -> None:
    """moto's switch: `0` enforces IAM on every request from now on, `inf` on none."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0" if enforced else b"inf",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def _with_moto_aliases(statement: dict[str, Any]) -> dict[str, Any]:
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else list(actions)
    extra = [MOTO_ACTION_ALIASES[a] for a in actions if a in MOTO_ACTION_ALIASES]
    return {**statement, "Action": actions + extra} if extra else statement


def merge_policies(documents: Iterable[dict[str, Any]]) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        found = document.get("Statement", [])
        for statement in found if isinstance(found, list) else [found]:
            statement = _with_moto_aliases(statement)
            if "Sid" in statement:  # Sids must be unique within one document
                statement = {**statement, "Sid": f"{statement['Sid']}{index}"}
            statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def bootstrap(endpoint: str, role_policies: Iterable[dict[str, Any]]) -> AwsSandbox:
    """Create the admin, the worker identity and the remediation role; then enforce IAM."""
    set_iam_enforcement(endpoint, enforced=False)
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"

    def user_with_policy(name: str, policy: dict[str, Any]) -> Keys:
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Keys(key["AccessKeyId"], key["SecretAccessKey"])

    admin = user_with_policy(
        ADMIN_USER,
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        },
    )
    worker = user_with_policy(
        WORKER_USER,
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
        },
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/{WORKER_USER}"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="remedy-jobs-minimum-policy",
        PolicyDocument=json.dumps(
            merge_policies([*role_policies, TAGGING_POLICY, SECURITY_HUB_POLICY])
        ),
    )
    set_iam_enforcement(endpoint, enforced=True)
    return AwsSandbox(endpoint=endpoint, admin=admin, worker=worker, role_arn=role_arn)


def start_aws_sandbox(
    role_policies: Iterable[dict[str, Any]], port: int | None = None
) -> AwsSandbox:
    endpoint, process = start_moto(port)
    try:
        sandbox = bootstrap(endpoint, role_policies)
    except BaseException:
        process.kill()
        raise
    sandbox.process = process
    return sandbox
