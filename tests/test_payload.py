"""Payload validation and completion: both generations, every error names its field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activities.validate import ValidationActivities
from remedy.finding import OBJECT_CHAIN, PayloadError, parse_json, read_finding
from remedy.job_registry import discover
from remedy.jobkit.finding import Finding, parse_finding
from remedy.types import AccountAccess, JobStep, RemediationSpec, ValidateInput
from tests.findings import aws_finding

JOBCODE = Path(__file__).parent / "jobcode"

ROLE = "arn:aws:iam::123456789012:role/remedy-remediation"
SUB = "4b2a1b4e-9f0f-4c55-8f3e-2b0f7b6f0e11"


def azure_finding(resource_group: str | None = "rg-prod") -> dict[str, Any]:
    props = (
        [{"name": "ResourceGroup", "type": "string", "stringV": resource_group}]
        if resource_group
        else []
    )
    return {
        "cloudAccount": {"provider": "azure", "subscriptionId": SUB, "applicationId": "app"},
        "notificationInfo": {
            "RuleID": "5c8c26847a550e1fb6560cab",
            "FindingInfo": {
                "FindingId": "f-az",
                "ObjectId": "nsg-web",
                "Region": "eastus",
                "ObjectChain": json.dumps({"cloudAccountId": SUB, "properties": props}),
            },
        },
    }


def test_old_generation_is_completed_for_jobs_of_either_generation() -> None:
    payload = aws_finding("i-1", old_style=True)
    validated = ValidationActivities(discover(JOBCODE)).check(
        ValidateInput(
            payload=payload,
            spec=RemediationSpec(
                steps=[JobStep(job="probe_env")],
                access=AccountAccess(role_arn=ROLE, external_id="ext-1"),
            ),
        )
    )
    completed, account = validated.payload, validated.account
    info = completed["notificationInfo"]
    assert info["CloudAccountID"] == info["CloudAccountId"] == "123456789012"
    assert completed["cloudAccount"] == {"provider": "aws", "roleArn": ROLE}
    assert json.loads(info["FindingInfo"]["ObjectChain"])["cloudAccountId"] == "123456789012"
    assert account.provider == "aws" and account.role_arn == ROLE and account.external_id == "ext-1"
    assert "cloudAccount" not in payload  # the caller's payload is left as it was


def test_new_generation_keeps_extra_fields_and_reads_the_account_from_the_role() -> None:
    payload = aws_finding("i-1")
    del payload["notificationInfo"]["CloudAccountID"]
    payload["vendorField"] = {"x": [1, 2]}
    finding = read_finding(payload, for_run=True)
    assert finding.payload["vendorField"] == {"x": [1, 2]}
    assert finding.account_id == "123456789012"
    assert finding.payload["notificationInfo"]["CloudAccountId"] == "123456789012"


def test_azure_finding_takes_subscription_and_resource_group_from_the_object_chain() -> None:
    finding = read_finding(azure_finding(), for_run=True)
    assert finding.provider == "azure" and finding.account_id == SUB
    assert finding.resource_group == "rg-prod"
    assert finding.payload["notificationInfo"]["CloudAccountID"] == SUB


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (
            lambda p: p["notificationInfo"]["FindingInfo"].pop("FindingId"),
            "notificationInfo.FindingInfo.FindingId",
            "is missing",
        ),
        (
            lambda p: p["notificationInfo"]["FindingInfo"].update(RiskScore="high"),
            "notificationInfo.FindingInfo.RiskScore",
            "valid number",
        ),
        (
            lambda p: p["notificationInfo"]["FindingInfo"].update(ObjectChain="{oops"),
            "notificationInfo.FindingInfo.ObjectChain",
            "not a JSON document",
        ),
        (
            lambda p: p.update(cloudAccount={"provider": "gcp"}),
            "cloudAccount.provider",
            "'aws' or 'azure'",
        ),
        (
            lambda p: p["cloudAccount"].update(roleArn="not-an-arn"),
            "cloudAccount.roleArn",
            "is not an IAM role ARN",
        ),
        (
            lambda p: p["cloudAccount"].update(roleArn="arn:aws:iam::999999999999:role/x"),
            "cloudAccount.roleArn",
            "account 999999999999",
        ),
        (lambda p: p.pop("notificationInfo"), "notificationInfo", "Field required"),
    ],
)
def test_each_problem_names_its_field(mutate: Any, field: str, words: str) -> None:
    payload = aws_finding("i-1")
    mutate(payload)
    with pytest.raises(PayloadError) as raised:
        read_finding(payload, for_run=True)
    assert raised.value.field == field and words in str(raised.value)


def test_aws_finding_without_any_role_says_where_to_put_one() -> None:
    with pytest.raises(
        PayloadError, match=r"cloudAccount\.roleArn: no role to assume.*--account-role-arn"
    ):
        read_finding(aws_finding("i-1", old_style=True), for_run=True)


def test_azure_finding_without_resource_group_is_refused() -> None:
    with pytest.raises(PayloadError, match="ResourceGroup"):
        read_finding(azure_finding(resource_group=None), for_run=True)


def test_a_job_requirement_is_checked_on_the_completed_payload() -> None:
    payload = aws_finding("i-1")
    del payload["notificationInfo"]["FindingInfo"]["Region"]
    with pytest.raises(
        PayloadError, match=r"notificationInfo\.FindingInfo\.Region: is missing, and a job"
    ):
        read_finding(payload, for_run=True, requires=["notificationInfo.FindingInfo.Region"])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("[" * 100_000, "nested too deeply"),
        ('{"a": "' + "x" * 300_000 + '"}', "the limit is"),
    ],
)
def test_unparseable_payloads_say_why(text: str, words: str) -> None:
    with pytest.raises(PayloadError, match=words):
        parse_json(text)


def test_the_security_hub_sample_is_not_mistaken_for_a_vss_payload() -> None:
    """An ASFF finding is another shape: the error says what the VSS payload lacks."""
    from tests.conftest import SAMPLES_DIR

    sample = SAMPLES_DIR / "asff_securityhub_cis41_sg_port22.json"
    if not sample.exists():
        pytest.skip("shared samples not present")
    with pytest.raises(PayloadError) as raised:
        read_finding(parse_json(sample.read_text()), for_run=True)
    assert raised.value.field == "notificationInfo"


# ----------------------------------------------------------------------------------------------
# One reader: the hub, the run's edge and the job kit read a finding with the same code
# ----------------------------------------------------------------------------------------------


def kit_reads(payload: dict[str, Any], **environ: str) -> Finding:
    return parse_finding(["job.py", json.dumps(payload)], environ, {})


def test_the_kit_reads_an_old_generation_finding_as_the_edge_does() -> None:
    payload = aws_finding("i-1", old_style=True)
    del payload["notificationInfo"]["FindingInfo"]["Region"]
    at_edge = read_finding(payload, role_arn=ROLE, for_run=True)
    in_job = kit_reads(payload, AWS_DEFAULT_REGION="eu-west-1")
    assert (in_job.provider, in_job.account_id) == (at_edge.provider, at_edge.account_id)
    assert (in_job.object_id, in_job.finding_id) == ("i-1", at_edge.finding_id)
    assert in_job.region == "eu-west-1"  # the payload has none: the job's environment says
    # the completed payload, as the worker hands it to the job, reads the same
    assert kit_reads(at_edge.payload, AWS_DEFAULT_REGION="eu-west-1") == in_job


def test_the_kit_reads_an_azure_finding_from_its_object_chain() -> None:
    in_job = kit_reads(azure_finding())
    assert in_job.provider == "azure"
    assert (in_job.subscription_id, in_job.resource_group) == (SUB, "rg-prod")


def test_an_aws_finding_without_a_role_is_read_but_not_run() -> None:
    """The hub stores it (the role comes from the account's registration when a run starts)."""
    payload = aws_finding("i-1", old_style=True)
    assert read_finding(payload).role_arn is None
    with pytest.raises(PayloadError, match="no role to assume"):
        read_finding(payload, for_run=True)


def test_an_azure_object_chain_naming_no_subscription_is_refused_at_every_door() -> None:
    payload = azure_finding()
    details = payload["notificationInfo"]["FindingInfo"]
    details["ObjectChain"] = json.dumps({"cloudAccountId": "not-a-guid", "properties": []})
    with pytest.raises(PayloadError) as at_edge:
        read_finding(payload, for_run=True)
    with pytest.raises(PayloadError) as in_job:
        kit_reads(payload)
    assert at_edge.value.field == in_job.value.field == f"{OBJECT_CHAIN}.cloudAccountId"
    assert in_job.value.sentence() == (
        f"{OBJECT_CHAIN}.cloudAccountId must be an Azure subscription id (a GUID), not 'not-a-guid'"
    )


@pytest.mark.parametrize(
    ("mutate", "sentence"),
    [
        (
            lambda p: p["notificationInfo"]["FindingInfo"].pop("ObjectId"),
            "notificationInfo.FindingInfo.ObjectId is missing: the finding must carry it",
        ),
        (lambda p: p.pop("notificationInfo"), "notificationInfo is missing (Field required)"),
        (
            lambda p: p["notificationInfo"]["FindingInfo"].update(RiskScore="high"),
            "notificationInfo.FindingInfo.RiskScore: Input should be a valid number",
        ),
    ],
)
def test_a_job_says_what_the_edge_says_in_one_sentence(mutate: Any, sentence: str) -> None:
    payload = aws_finding("i-1")
    mutate(payload)
    with pytest.raises(PayloadError) as at_edge:
        read_finding(payload, for_run=True)
    with pytest.raises(PayloadError) as in_job:
        kit_reads(payload)
    assert str(at_edge.value) == str(in_job.value)
    assert in_job.value.sentence().startswith(sentence)
