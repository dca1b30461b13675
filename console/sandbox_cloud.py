"""The sandbox cloud: AWS (moto), Azure and Jira emulators granted what the built-in jobs need."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remedy.config import BUILTIN_JOBS

if TYPE_CHECKING:
    from sandbox.aws import AwsSandbox
    from sandbox.azure import AzureSandbox
    from sandbox.jira import JiraSandbox


@dataclass
class Clouds:
    """The sandbox cloud: the emulators the demo, `remedy sandbox` and the tests run against."""

    aws: AwsSandbox
    azure: AzureSandbox
    jira: JiraSandbox

    def stop(self) -> None:
        self.jira.stop()
        self.azure.stop()
        self.aws.stop()


def builtin_aws_policies(job_code: Path = BUILTIN_JOBS) -> list[dict[str, Any]]:
    """The AWS jobs' minimum policies: what the sandbox's remediation role is granted."""
    policies = []
    for path in sorted(job_code.glob("*/minimum_policy.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and "Statement" in document:
            policies.append(document)
    return policies


def builtin_azure_actions(job_code: Path = BUILTIN_JOBS) -> list[str]:
    """The Azure jobs' role-definition Actions: what the sandbox grants the worker's app."""
    actions: set[str] = set()
    for path in sorted(job_code.glob("*/minimum_policy.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict):
            actions.update(document.get("Actions", []))
    return sorted(actions)


def start_sandbox_cloud(aws_port: int | None = None) -> Clouds:
    """AWS (moto, IAM enforced), Azure (Resource Manager + Entra ID) and Jira emulators."""
    from sandbox.aws import start_aws_sandbox
    from sandbox.azure import TAGGING_ACTIONS, start_azure_sandbox
    from sandbox.jira import start_jira_sandbox

    aws = start_aws_sandbox(builtin_aws_policies(), port=aws_port)
    try:
        azure = start_azure_sandbox([*builtin_azure_actions(), *TAGGING_ACTIONS])
    except BaseException:  # a failure or Ctrl-C half way: stop what did start
        aws.stop()
        raise
    try:
        return Clouds(aws=aws, azure=azure, jira=start_jira_sandbox())
    except BaseException:
        azure.stop()
        aws.stop()
        raise


def sandbox_admin_env(clouds: Clouds) -> dict[str, str]:
    """The sandbox administrator's environment (every action allowed, for setup and inspection
    from outside), every endpoint, and what a run against the sandbox needs to name."""
    aws = clouds.aws
    return {
        "AWS_ACCESS_KEY_ID": aws.admin.access_key_id,
        "AWS_SECRET_ACCESS_KEY": aws.admin.secret_access_key,
        "AWS_DEFAULT_REGION": aws.region,
        "AWS_ENDPOINT_URL": aws.endpoint,
        **clouds.azure.admin_env(),
        **clouds.jira.worker_env(),
        "REMEDY_SANDBOX_ROLE_ARN": aws.role_arn,
        "REMEDY_EXTERNAL_ID": aws.external_id,
        "REMEDY_SANDBOX_SUBSCRIPTION_ID": clouds.azure.subscription_id,
        "REMEDY_SANDBOX_JIRA_URL": clouds.jira.url,
    }


def sandbox_worker_env(clouds: Clouds) -> dict[str, str]:
    """What a worker needs in its environment to work against the sandbox cloud."""
    return {**clouds.aws.worker_env(), **clouds.azure.worker_env(), **clouds.jira.worker_env()}
