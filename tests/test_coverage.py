"""`remedy jobs coverage`: which rules and controls the catalogue covers, by which job, and which
not (remedy/coverage.py reads the reference lists in docs/spec/ and the jobs' metadata)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from remedy import coverage as cov

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "spec"


def remedy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "jobs", "coverage", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_ranges_expand_to_every_control() -> None:
    assert cov.expand("CloudWatch.1-14") == [f"CloudWatch.{n}" for n in range(1, 15)]
    assert cov.expand("3.1-3.14") == [f"3.{n}" for n in range(1, 15)]
    assert cov.expand("EC2.13") == ["EC2.13"]
    assert cov.expand("5c8c25ec-7a55") == ["5c8c25ec-7a55"]  # not a range


def fake_jobs() -> list[cov.CatalogueJob]:
    return [
        cov.CatalogueJob("close", "aws", (), {}, None, ("remediate", "plan")),
        cov.CatalogueJob(
            "close_22", "aws", ("rule-22",), {"securityhub": ("EC2.13",)}, "close", ("remediate",)
        ),
        cov.CatalogueJob("alarm_1", "aws", (), {"cis-aws-1.2": ("3.3",), "pci-dss": ("PCI.CW.1",)}),
    ]


RULES = [
    {"provider": "aws", "rule_id": "rule-22", "rule_name": "ssh open", "anchor_job": "close_22"},
    {"provider": "azure", "rule_id": "rule-az", "rule_name": "nsg", "anchor_job": "az"},
]
CONTROLS = [
    {"control_id": "EC2.13", "cis_aws_1_2": "4.1", "title": "ssh", "priority": "must"},
    {"control_id": "CloudWatch.1-2", "cis_aws_1_2": "3.3-3.4", "title": "cw", "priority": "must"},
    {"control_id": "RDS.8", "cis_aws_1_2": "", "title": "rds", "priority": "stretch"},
]


def test_each_standard_names_who_covers_what() -> None:
    jobs = fake_jobs()
    vss = cov.coverage(jobs, RULES, CONTROLS, "vss")
    assert [(i.id, i.jobs) for i in vss.items] == [("rule-22", ["close_22"]), ("rule-az", [])]
    fsbp = cov.coverage(jobs, RULES, CONTROLS, "fsbp")
    assert [(i.id, i.covered) for i in fsbp.items] == [
        ("EC2.13", True),
        ("CloudWatch.1", False),
        ("CloudWatch.2", False),
        ("RDS.8", False),
    ]
    assert [i.id for i in fsbp.missing("must")] == ["CloudWatch.1", "CloudWatch.2"]
    cis = cov.coverage(jobs, RULES, CONTROLS, "cis-1.2")
    # 4.1 through its Security Hub control, 3.3 named directly, 3.4 by nobody
    assert [(i.id, i.jobs) for i in cis.items] == [
        ("4.1", ["close_22"]),
        ("3.3", ["alarm_1"]),
        ("3.4", []),
    ]
    pci = cov.coverage(jobs, RULES, CONTROLS, "pci")
    assert pci.reference is None and [i.id for i in pci.items] == ["PCI.CW.1"]
    modes = {j.name: j.modes for j in jobs}
    assert vss.as_dict(modes)["items"][0]["modes"] == ["remediate"]


def test_the_command_lists_the_catalogue_as_json() -> None:
    done = remedy("--standard", "vss", "--standard", "fsbp", "--json")
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    assert [s["standard"] for s in found] == ["vss", "fsbp"]
    vss = {i["id"]: i for i in found[0]["items"]}
    rules = cov.read_rules(SPEC / "catalogue-rules.csv")
    assert set(vss) == {r["rule_id"] for r in rules}
    ssh = vss["5c8c25ec7a550e1fb6560bbe"]
    assert ssh["covered"] and ssh["jobs"] == ["security_group_close_port_22"]
    assert {"plan", "verify", "rollback"} <= set(ssh["modes"])
    fsbp = {i["id"]: i for i in found[1]["items"]}
    assert fsbp["EC2.13"]["jobs"] == ["security_group_close_port_22"]
    assert found[1]["covered"] == sum(i["covered"] for i in found[1]["items"])


def test_the_command_shows_only_what_is_missing_and_refuses_an_unknown_standard() -> None:
    done = remedy("--standard", "vss", "--provider", "aws", "--missing")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("vss: ") and "of 45 covered" in lines[0]
    assert all("NOT COVERED" in line for line in lines[1:])
    wrong = remedy("--standard", "nist")
    assert wrong.returncode == 2
    assert "unknown standard nist: use vss, fsbp" in " ".join(wrong.stderr.split())
