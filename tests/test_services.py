"""The service registry (remedy/services) holds every service to one entry.

Every registered service has a client factory that makes its client, a permission map in its
provider's spelling, a warm-up the fork server performs, and its SDK among the dependencies; the
lookups the worker makes (tagging, a job's variables, IAM action names) answer from it. The
per-job side (resource types and policy actions of registered services) is in test_catalogue.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import botocore.session
import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.network import NetworkManagementClient

from activities.credentials import AwsCredentials
from remedy import jobkit, services
from remedy.azure_env import AzureSettings
from remedy.jobkit import azure as azure_kit
from remedy.services.aws import boto3_client

ROOT = Path(__file__).resolve().parent.parent
IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
AZURE_ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z]+)+/(read|write|delete|action)$")
SERVICES = list(services.registered())
each_service = pytest.mark.parametrize("service", SERVICES, ids=[s.name for s in SERVICES])
AZURE_SETTINGS = AzureSettings(
    tenant_id="00000000-0000-0000-0000-000000000001",
    client_id="00000000-0000-0000-0000-000000000002",
    client_secret="not-a-secret",
    authority_host="https://127.0.0.1:9",
    arm_endpoint="https://127.0.0.1:9",
)


def azure_client(service: services.Service) -> object:
    return service.client(
        ClientSecretCredential(
            AZURE_SETTINGS.tenant_id,
            AZURE_SETTINGS.client_id,
            AZURE_SETTINGS.client_secret,
            authority=AZURE_SETTINGS.authority_host,
        ),
        "00000000-0000-0000-0000-000000000003",
        AZURE_SETTINGS,
    )


def test_both_providers_and_their_services_are_registered() -> None:
    assert set(services.PROVIDERS) == {"aws", "azure"}
    assert {s.name for s in services.registered("aws")} >= {"ec2", "s3", "sts"}
    assert {s.name for s in services.registered("azure")} >= {"network", "compute"}
    assert all(s.provider in services.PROVIDERS for s in SERVICES)


@each_service
def test_every_service_has_a_client_factory_that_makes_its_client(
    service: services.Service,
) -> None:
    assert callable(service.client)
    if service.provider == "aws":
        made = service.client("eu-west-1")
        assert made.meta.service_model.service_name == service.name
        assert made.meta.region_name in {"eu-west-1", "aws-global"}  # IAM is global
    else:
        made = azure_client(service)
        assert type(made).__module__.startswith("azure.mgmt.")


@each_service
def test_every_service_has_a_permission_map_in_its_providers_spelling(
    service: services.Service,
) -> None:
    if service.provider == "aws":
        model = botocore.session.get_session().get_service_model(service.name)
        assert set(service.permissions) <= set(model.operation_names), "unknown operations"
        assert all(IAM_ACTION.match(a) for a in service.permissions.values())
        # Every operation has an action: listed, or the provider's rule.
        assert all(service.action(op) for op in model.operation_names)
        return
    assert service.permissions, "Azure actions follow no rule: every operation is listed"
    assert all(AZURE_ACTION.match(a) for a in service.permissions.values())
    client = azure_client(service)
    for group, method in service.operations:  # each one is a real call of the SDK's client
        assert callable(getattr(getattr(client, group), method)), f"{group}.{method}"
    assert service.action("no_such_group.get") is None


@each_service
def test_every_service_is_warmed_and_its_sdk_is_a_dependency(service: services.Service) -> None:
    assert not service.warm_up.empty(), f"{service.name}: what does the fork server warm?"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0] for d in project["dependencies"]}
    assert service.distribution in names, f"{service.distribution} is not in pyproject.toml"
    if service.provider == "aws":  # its type stubs, for mypy --strict on the kit and jobs
        stubs = next(d for d in project["optional-dependencies"]["dev"] if "boto3-stubs" in d)
        assert service.name in stubs, f"add {service.name} to boto3-stubs[...] in pyproject.toml"


def test_the_fork_server_warms_what_the_registry_names() -> None:
    code = "import json; from activities.forkserver import warm_up; print(json.dumps(warm_up()))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    warmed = json.loads(done.stdout.strip().splitlines()[-1])
    assert [s.name for s in SERVICES if s.warm_up.boto3_model] == [
        name for name in warmed if "." not in name and name in services.SERVICES
    ]
    assert set(services.modules_to_warm()) <= set(warmed)
    assert {"azure.identity", "azure.mgmt.network", "remedy.jobkit"} <= set(warmed)


def test_the_registry_and_the_job_kit_stay_light() -> None:
    """The kit runs in every job process: no pydantic, and the registry itself is stdlib only."""
    code = (
        "import sys, json, remedy.services; before = set(sys.modules);"
        "import remedy.jobkit, remedy.jobkit.azure;"
        "top = lambda names: sorted({n.split('.')[0] for n in names});"
        "print(json.dumps([top(before), top(sys.modules)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    registry_only, with_kit = json.loads(done.stdout)
    assert not {"boto3", "botocore", "azure", "pydantic"} & set(registry_only)
    assert "pydantic" not in with_kit


@pytest.mark.parametrize(
    ("provider", "resource_id", "resource_type", "expected"),
    [
        ("aws", "sg-1", "ec2:security-group", "ec2"),
        ("aws", "i-1", None, "ec2"),
        ("aws", "vol-1", "ec2:volume", "ec2"),
        ("aws", "bucket-1", "s3:bucket", "s3"),
        ("aws", "arn:aws:sns:us-east-1:123456789012:t", None, "resourcegroupstaggingapi"),
        ("aws", "arn:aws:s3:::b/key", "s3:object", "resourcegroupstaggingapi"),
        ("aws", "key", "s3:object", None),
        ("aws", "db-instance-7", None, None),
        ("azure", "nsg-1", "azure:network-security-group", "network"),
        ("azure", "storage1", "azure:storage-account", "storage"),
        ("azure", "vault1", "azure:key-vault", None),
        ("azure", "sg-1", None, None),
        ("gcp", "sg-1", None, None),
    ],
)
def test_the_tagger_is_the_registrys_answer(
    provider: str, resource_id: str, resource_type: str | None, expected: str | None
) -> None:
    found = services.tagging_service(provider, resource_id, resource_type)
    assert (found.name if found else None) == expected


def test_the_kits_permission_names_come_from_the_registry() -> None:
    assert jobkit.iam_action("s3", "HeadBucket") == "s3:ListBucket"
    assert jobkit.iam_action("s3", "PutPublicAccessBlock") == "s3:PutBucketPublicAccessBlock"
    assert jobkit.iam_action("ec2", "DescribeInstances") == "ec2:DescribeInstances"
    assert jobkit.iam_action("tag", "TagResources") == "tag:TagResources"
    assert jobkit.iam_action("unregistered", "DoIt") == "unregistered:DoIt"
    assert jobkit.IAM_ACTION_EXCEPTIONS["s3:ListObjectsV2"] == "s3:ListBucket"
    assert len(jobkit.IAM_ACTION_EXCEPTIONS) == 9
    assert azure_kit.OPERATION_ACTIONS[("security_rules", "begin_delete")] == (
        "Microsoft.Network/networkSecurityGroups/securityRules/delete"
    )
    assert len(azure_kit.OPERATION_ACTIONS) >= 17


def test_providers_name_every_variable_a_job_gets() -> None:
    aws = AwsCredentials("AKIA1", "secret", "token", datetime.now(UTC), "arn:aws:sts::1:x")
    assert set(aws.env("us-east-1")) <= services.PROVIDERS["aws"].job_variables
    assert set(AZURE_SETTINGS.env()) <= services.PROVIDERS["azure"].job_variables
    for provider in services.PROVIDERS.values():
        assert set(provider.endpoint_variables) <= provider.job_variables | {
            "AWS_ENDPOINT_URL",
            "AWS_CA_BUNDLE",
        }


def test_a_registered_service_is_refused_twice_and_an_unknown_one_named() -> None:
    ec2 = services.service("ec2")
    with pytest.raises(ValueError, match="registered twice"):
        services.registry.register(ec2)
    with pytest.raises(ValueError, match="provider gcp is not registered"):
        services.registry.register(services.Service("compute", "gcp", print, {}))
    with pytest.raises(KeyError, match="add its entry in remedy/services"):
        services.service("glacier")
    with pytest.raises(KeyError):
        jobkit.client(
            "glacier",
            jobkit.Finding(
                object_id="v", provider="aws", account_id="123456789012", region="us-east-1"
            ),
        )


@pytest.fixture
def glacier_entry() -> Iterator[services.Service]:
    """A service added the way the registry says: one entry (taken out again afterwards)."""
    entry = services.registry.register(
        services.Service(
            name="glacier",
            provider="aws",
            client=partial(boto3_client, "glacier"),
            permissions={},
            resource_types=("glacier:vault",),
            tagging=services.Tagging(method="arn"),
            warm_up=services.WarmUp(boto3_model=True),
            distribution="boto3",
        )
    )
    try:
        yield entry
    finally:
        del services.SERVICES["glacier"]


def test_adding_a_service_is_one_entry(glacier_entry: services.Service) -> None:
    made = jobkit.client(
        "glacier",
        jobkit.Finding(
            object_id="v", provider="aws", account_id="123456789012", region="us-east-1"
        ),
    )
    assert made.meta.service_model.service_name == "glacier"
    assert jobkit.iam_action("glacier", "UploadArchive") == "glacier:UploadArchive"
    assert services.service_for_resource_type("glacier:vault") is glacier_entry
    assert (
        services.tagging_service("aws", "arn:aws:glacier:us-east-1:1:vaults/v", "glacier:vault")
        is glacier_entry
    )
    assert isinstance(azure_client(services.service("network")), NetworkManagementClient)
