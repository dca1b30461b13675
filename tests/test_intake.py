"""Intake: ASFF, OCSF and VSS findings, detected by themselves, read into one normalised finding,
matched to the jobs whose metadata name one of its ids, and triaged offline.

The samples in tests/samples are real (SOURCES.md names them). Where a test needs a shape no sample
has (a Security Hub control id, an EventBridge event, a PASSED finding) it changes a copy of a
sample, and says so: that is synthetic data built on a real finding.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from remedy.intake import read_all
from remedy.intake.matching import JobIndex
from remedy.intake.triage import triage
from remedy.job_registry import discover
from tests.conftest import ROOT, SAMPLES_DIR
from tests.findings import aws_finding

REMEDY = str(Path(sys.executable).parent / "remedy")
CIS41 = SAMPLES_DIR / "asff_securityhub_cis41_sg_port22.json"
INSPECTOR = SAMPLES_DIR / "asff_inspector_ec2_with_tags.json"
PROWLER_AWS = SAMPLES_DIR / "prowler4_ocsf_aws_iam.ocsf.json"
PROWLER_AZURE = SAMPLES_DIR / "prowler_ocsf_azure.ocsf.json"
SUBSCRIPTION = "8b1f1c4e-5a0b-4b0e-9d3c-1e2f3a4b5c6d"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def cis41() -> dict[str, Any]:
    document: dict[str, Any] = load(CIS41)
    return document


def event(findings: list[dict[str, Any]], kind: str = "Imported") -> dict[str, Any]:
    """An EventBridge event of Security Hub (synthetic wrapper, AWS's documented shape)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": f"Security Hub Findings - {kind}",
        "source": "aws.securityhub",
        "account": "111111111111",
        "region": "us-east-1",
        "resources": [f["ProductArn"] for f in findings],
        "detail": {"findings": findings},
    }


def with_control(control: str) -> dict[str, Any]:
    """The CIS 4.1 sample as Security Hub's consolidated control findings carry it (synthetic)."""
    finding = cis41()
    finding["Compliance"] = {
        "Status": "FAILED",
        "SecurityControlId": control,
        "RelatedRequirements": ["CIS AWS Foundations Benchmark v1.2.0/4.1"]
        if control == "EC2.13"
        else [],
    }
    finding["ProductFields"] = {"ControlId": control}
    finding["GeneratorId"] = f"security-control/{control}"
    finding["Id"] = (
        f"arn:aws:securityhub:us-east-1:111111111111:security-control/{control}/finding/{uuid.uuid4()}"
    )
    return finding


@pytest.fixture(scope="module")
def index() -> JobIndex:
    return JobIndex.of(discover(ROOT / "jobs").jobs.values())


def test_a_bare_asff_finding_is_read_with_every_field() -> None:
    [read] = read_all(cis41())
    finding = read.finding
    assert read.format == "asff" and finding is not None
    assert finding.source_id == cis41()["Id"] and "/" in finding.source_id
    assert (finding.provider, finding.account_id, finding.region) == (
        "aws",
        "111111111111",
        "us-east-1",
    )
    assert finding.resource_type == "AwsEc2SecurityGroup"
    assert (
        finding.resource_id
        == "arn:aws:ec2:us-east-1:111111111111:security-group/sg-47dddc34c51b4be58"
    )
    assert finding.object_id == "sg-47dddc34c51b4be58"
    assert [str(c) for c in finding.controls] == [
        "cis-aws-1.2:4.1",
        "generator:arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/4.1",
    ]
    assert (finding.compliance, finding.workflow, finding.record_state) == (
        "FAILED",
        "NEW",
        "ACTIVE",
    )
    assert (finding.severity, finding.risk_score) == ("HIGH", 70.0)
    assert finding.original == cis41()


def test_every_asff_wrapper_holds_the_same_finding() -> None:
    finding = cis41()
    for document in (
        [finding],
        {"Findings": [finding]},
        {"findings": [finding]},
        event([finding]),
        event([finding], "Custom Action"),
        [event([finding])],
    ):
        reads = read_all(document)
        assert [r.finding.source_id for r in reads if r.finding] == [finding["Id"]], document


def test_the_vss_payload_built_from_asff_passes_the_finding_contract() -> None:
    [read] = read_all(with_control("EC2.13"))
    assert read.finding is not None
    payload = read.finding.vss_payload()
    contract = read.finding.finding()
    assert contract.finding_id == read.finding.source_id
    assert (contract.provider, contract.account_id, contract.region) == (
        "aws",
        "111111111111",
        "us-east-1",
    )
    assert (contract.object_id, contract.rule_id, contract.level) == (
        "sg-47dddc34c51b4be58",
        "EC2.13",
        "High",
    )
    assert payload["source"]["format"] == "asff"
    assert "securityhub:EC2.13" in payload["source"]["controls"]


def test_prowler_ocsf_aws_findings_are_read(index: JobIndex) -> None:
    reads = read_all(load(PROWLER_AWS))
    assert [r.format for r in reads] == ["ocsf"] * 3
    first, second, third = (r.finding for r in reads)
    assert first and second and third
    assert (
        str(first.controls[0])
        == "prowler:iam_role_administratoraccess_policy_permissive_trust_relationship"
    )
    assert first.object_id == "myAdministratorExecutionRole"
    assert first.resource_id == "arn:aws:iam::123456789012:role/myAdministratorExecutionRole"
    assert (first.compliance, first.severity) == ("FAILED", "HIGH")
    assert second.tags == {"some-label": "some value"}
    assert third.workflow == "SUPPRESSED" and third.disposition[0] == "record"
    rows, totals = triage(reads, index)
    assert rows[0].reason == (
        "no built-in job for Prowler check iam_role_administratoraccess_policy_permissive_trust_relationship"
    )
    assert (totals.findings, totals.actionable, totals.fixable) == (3, 2, 0)


def test_prowler_ocsf_azure_findings_keep_their_benchmark_ids() -> None:
    reads = read_all(load(PROWLER_AZURE))
    assert len(reads) == 5 and all(r.finding for r in reads)
    first = reads[0].finding
    assert first is not None and first.provider == "azure"
    ids = [str(c) for c in first.controls]
    assert ids[:2] == ["prowler:appinsights_ensure_is_configured", "cis-azure-2.1:5.3.1"]
    assert "cis-azure-3.0:6.3.1" in ids


def test_a_prowler_azure_nsg_finding_is_fixed_by_the_nsg_job(index: JobIndex) -> None:
    """The Azure sample's first finding, made an NSG one with a real-shaped resource id (synthetic)."""
    finding = copy.deepcopy(load(PROWLER_AZURE)[0])
    finding["metadata"]["event_code"] = "network_ssh_internet_access_restricted"
    finding["cloud"]["account"]["uid"] = SUBSCRIPTION
    finding["finding_info"]["uid"] = (
        f"prowler-azure-network_ssh_internet_access_restricted-{SUBSCRIPTION}"
    )
    finding["resources"][0]["uid"] = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/web-rg/providers/"
        "Microsoft.Network/networkSecurityGroups/web-nsg"
    )
    [read] = read_all(finding)
    assert read.finding is not None
    assert (read.finding.object_id, read.finding.resource_group) == ("web-nsg", "web-rg")
    assert read.finding.finding().resource_group == "web-rg"
    [row], _ = triage([read], index)
    assert row.job == "azure_network_security_group_close_port_22" and row.fixable


def test_a_vss_payload_passes_unchanged_and_matches_its_rule(index: JobIndex) -> None:
    payload = aws_finding("i-0123456789abcdef0")
    [read] = read_all(payload)
    assert read.format == "vss" and read.finding is not None
    assert read.finding.vss_payload() is payload
    [row], _ = triage([read], index)
    assert (row.job, row.fixable) == ("ec2_close_port_22", True)


@pytest.mark.parametrize(
    ("control", "job"),
    [("EC2.13", "security_group_close_port_22"), ("EC2.14", "security_group_close_port_3389")],
)
def test_a_security_hub_control_matches_the_alias_for_its_port(
    index: JobIndex, control: str, job: str
) -> None:
    [read] = read_all(with_control(control))
    assert read.finding is not None
    assert [j.name for j in index.matching_jobs(read.finding)] == [job]


def test_a_finding_no_job_fixes_says_why(index: JobIndex) -> None:
    rows, totals = triage(read_all(with_control("EC2.4")), index)
    assert rows[0].reason == "no built-in job for control EC2.4"
    assert (totals.actionable, totals.fixable) == (1, 0)


@pytest.mark.parametrize(
    ("compliance", "workflow", "record", "disposition"),
    [
        ("FAILED", "NEW", "ACTIVE", "act"),
        ("WARNING", "NOTIFIED", "ACTIVE", "act"),
        ("PASSED", "RESOLVED", "ACTIVE", "close"),
        ("FAILED", "SUPPRESSED", "ACTIVE", "record"),
        ("FAILED", "RESOLVED", "ACTIVE", "record"),
        ("FAILED", "NEW", "ARCHIVED", "record"),
        ("NOT_AVAILABLE", "NEW", "ACTIVE", "record"),
    ],
)
def test_lifecycle(compliance: str, workflow: str, record: str, disposition: str) -> None:
    finding = with_control("EC2.13")  # its states changed: synthetic
    finding["Compliance"]["Status"] = compliance
    finding["Workflow"] = {"Status": workflow}
    finding["RecordState"] = record
    [read] = read_all(finding)
    assert read.finding is not None
    assert read.finding.disposition[0] == disposition
    assert read.finding.actionable is (disposition == "act")


def test_a_forced_format_reads_every_finding_as_it() -> None:
    [read] = read_all(load(PROWLER_AWS)[0], "asff")
    assert read.format == "asff" and read.error is not None
    assert read.error.field == "Id"


def test_an_unknown_document_is_refused_saying_which_formats_are_read() -> None:
    [read] = read_all({"hello": "world"})
    assert read.finding is None and read.error is not None
    assert read.error.field == "notificationInfo"
    assert "ASFF" in str(read.error) and "OCSF" in str(read.error)


def test_a_finding_without_a_resource_names_the_field() -> None:
    finding = cis41()
    del finding["Resources"]
    [read] = read_all(finding)
    assert read.error is not None and read.error.field == "Resources"


def test_the_registry_exposes_each_alias_controls() -> None:
    registry = discover(ROOT / "jobs")
    job = registry.get("security_group_close_port_22")
    assert job.controls["securityhub"] == ("EC2.13",)
    assert job.info().controls["cis-aws-1.2"] == ["4.1"]
    assert registry.get("s3_remove_public_access").controls["securityhub"] == (
        "S3.2",
        "S3.3",
        "S3.8",
    )


def test_the_registry_refuses_controls_of_the_wrong_shape(tmp_path: Path) -> None:
    folder = tmp_path / "bad_controls"
    folder.mkdir()
    (folder / "bad_controls.py").write_text("")
    (folder / "remedy.json").write_text(json.dumps({"controls": {"securityhub": "EC2.13"}}))
    registry = discover(tmp_path)
    assert "bad_controls" not in registry.jobs
    assert any("controls.securityhub must be a list" in e for e in registry.errors)


def export(tmp_path: Path, count: int) -> Path:
    """A Security Hub export of `count` findings made from the samples (synthetic ids)."""
    base = [with_control("EC2.13"), with_control("EC2.4"), cis41(), load(INSPECTOR)["findings"][0]]
    findings = []
    for n in range(count):
        finding = copy.deepcopy(base[n % len(base)])
        finding["Id"] = f"{finding['Id']}-{n}"
        findings.append(finding)
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"Findings": findings}))
    return path


def test_triage_command_reports_each_finding_and_the_totals(tmp_path: Path) -> None:
    path = export(tmp_path, 8)
    done = subprocess.run(
        [REMEDY, "findings", "triage", "--json", str(path), str(PROWLER_AWS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["totals"] == {
        "findings": 11,
        "actionable": 10,
        "fixable": 4,
        "refused": 0,
        "by_job": {"security_group_close_port_22": 4},
    }
    rows = report["findings"]
    assert rows[1]["reason"] == "no built-in job for control EC2.4"
    assert rows[8]["format"] == "ocsf" and rows[8]["index"] == 8
    text = subprocess.run(
        [REMEDY, "findings", "triage", str(CIS41)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    ).stdout
    assert "security_group_close_port_22 would fix it" in text
    assert "1 findings, 1 actionable, 1 fixable" in text


def test_a_10000_finding_export_is_triaged_in_under_10_seconds(tmp_path: Path) -> None:
    path = export(tmp_path, 10_000)
    started = time.monotonic()
    done = subprocess.run(
        [REMEDY, "findings", "triage", "--json", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    elapsed = time.monotonic() - started
    totals = json.loads(done.stdout)["totals"]
    assert (totals["findings"], totals["fixable"]) == (10_000, 5_000)
    assert elapsed < 10, f"{elapsed:.1f} s"
    print(f"10,000 ASFF findings triaged in {elapsed:.2f} s")
