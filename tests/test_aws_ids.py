"""Role ARNs and external ids are checked against AWS's constraints where they enter (issue #22).

An external id of one character once reached STS, which botocore refused with a
ParamValidationError that the assume-role step retried for minutes as if it were transient.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.credentials import CredentialStore
from activities.validate import ValidationActivities
from hub.schemas import AccountIn
from remedy.aws_ids import AwsIdError, check_access, check_external_id, check_role_arn
from remedy.job_registry import discover
from remedy.starter import start_remediation
from remedy.types import AccountAccess, AccountRef, JobStep, RemediationSpec, ValidateInput
from sandbox.aws import AwsSandbox
from tests.findings import aws_finding

JOBCODE = Path(__file__).parent / "jobcode"
REMEDY = [sys.executable, "-m", "console", "remediate"]
REFUSED_IDS = ["x", "a" * 1225, "with space", "semi;colon", "é-accent", ""]
ACCEPTED_IDS = ["ab", "a" * 1224, "ext-id_1+=,.@:/"]


@pytest.mark.parametrize("external_id", REFUSED_IDS)
def test_an_external_id_sts_would_refuse_is_refused(external_id: str) -> None:
    with pytest.raises(AwsIdError) as raised:
        check_external_id(external_id)
    assert raised.value.field == "external_id"


@pytest.mark.parametrize("external_id", [None, *ACCEPTED_IDS])
def test_an_external_id_sts_accepts_passes(external_id: str | None) -> None:
    check_external_id(external_id)


def test_a_role_arn_is_checked_with_the_external_id() -> None:
    check_access("arn:aws:iam::123456789012:role/path/remedy-remediation", "ext-1")
    check_role_arn(None)
    for bad in ("arn:aws:iam::123:role/x", "arn:aws:iam::123456789012:user/x", "x"):
        with pytest.raises(AwsIdError) as raised:
            check_access(bad, "ext-1")
        assert raised.value.field == "role_arn"


def test_the_credential_store_does_not_retry_a_request_botocore_refuses(
    worker_env: AwsSandbox,
) -> None:
    """Below every edge: a ParamValidationError is permanent, not retried as transient."""
    store = CredentialStore(endpoint_url=worker_env.endpoint)
    account = AccountRef(
        provider="aws",
        account_id=worker_env.account_id,
        role_arn=worker_env.role_arn,
        external_id="x",
    )
    with pytest.raises(ApplicationError) as raised:
        store.aws(account, "run-short-external-id")
    assert raised.value.non_retryable and raised.value.type == "InvalidParameter"
    assert "ExternalId" in str(raised.value)


def test_the_validate_activity_refuses_a_short_external_id_without_retry() -> None:
    spec = RemediationSpec(steps=[JobStep(job="probe_env")], access=AccountAccess(external_id="x"))
    request = ValidateInput(
        payload=aws_finding("sg-1", role_arn="arn:aws:iam::123456789012:role/r"), spec=spec
    )
    with pytest.raises(ApplicationError) as raised:
        ValidationActivities(discover(JOBCODE)).check(request)
    assert raised.value.non_retryable and raised.value.type == "AwsIdError"
    assert "external_id" in str(raised.value) and "2 to 1224" in str(raised.value)


async def test_the_starter_refuses_a_short_external_id_before_starting(client: Client) -> None:
    spec = RemediationSpec(steps=[JobStep(job="probe_env")], access=AccountAccess(external_id="x"))
    with pytest.raises(AwsIdError):
        await start_remediation(client, aws_finding("sg-1"), spec, "no-such-group")


def test_the_cli_refuses_a_short_external_id_and_names_the_option(tmp_path: Path) -> None:
    finding = tmp_path / "finding.json"
    finding.write_text("{}")
    done = subprocess.run(
        [*REMEDY, "probe_env", "--group", "g", "--payload", str(finding), "--external-id", "x"],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr  # a usage error: nothing started
    assert "--external-id: an external id is 2 to 1224 characters" in done.stdout + done.stderr


@pytest.mark.parametrize("external_id", ["x", "with space"])
def test_the_hub_refuses_an_account_whose_external_id_sts_would_refuse(external_id: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        AccountIn(
            provider="aws",
            account_id="123456789012",
            role_arn="arn:aws:iam::123456789012:role/r",
            external_id=external_id,
        )
