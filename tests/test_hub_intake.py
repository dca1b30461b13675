"""The hub takes findings in every format intake reads, in batches, and follows their lifecycle.

The ASFF and OCSF findings are the real samples of tests/samples (SOURCES.md); where a test changes
one (its account, its control, its status) the copy is synthetic and says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sandbox.aws import ACCOUNT_ID
from tests.findings import aws_finding
from tests.hub_fixtures import HubHarness, new_group
from tests.test_hub_cli import Cli, cli  # noqa: F401 (the fixture)
from tests.test_hub_store import action, aws_account, register
from tests.test_intake import PROWLER_AWS, cis41, event, load, with_control


def ours(finding: dict[str, Any], status: str = "FAILED", workflow: str = "NEW") -> dict[str, Any]:
    """The finding moved into the sandbox's account, with the given states (synthetic)."""
    moved: dict[str, Any] = json.loads(json.dumps(finding).replace("111111111111", ACCOUNT_ID))
    moved["Compliance"]["Status"] = status
    moved["Workflow"] = {"Status": workflow}
    return moved


async def test_an_export_an_event_and_a_prowler_file_go_in(hub_api: HubHarness) -> None:
    h = hub_api
    control = ours(with_control("EC2.13"))
    export = await h.ok("POST", "/findings", json={"Findings": [ours(cis41()), control]})
    assert (export["accepted"], export["rejected"]) == (2, 0)
    assert [i["format"] for i in export["items"]] == ["asff", "asff"]
    from_event = await h.ok("POST", "/findings", json=event([control]))
    assert from_event["items"][0]["result"] == "updated"
    prowler = await h.ok("POST", "/findings", json=load(PROWLER_AWS), params={"format": "ocsf"})
    assert (prowler["accepted"], prowler["rejected"]) == (3, 0)
    assert prowler["items"][2]["status"] == "suppressed"  # Prowler muted it: recorded only
    assert "suppressed at the source" in prowler["items"][2]["note"]

    # an ASFF Id is an ARN: its '/' work in the path, as they are and URL-encoded
    finding_id = control["Id"]
    for path in (f"/findings/{finding_id}", f"/findings/{quote(finding_id, safe='')}"):
        stored = await h.ok("GET", path, role="viewer")
        assert stored["id"] == finding_id and stored["times_seen"] == 2
        assert stored["original"] == control
        assert stored["rule_id"] == "EC2.13" and stored["object_id"] == "sg-47dddc34c51b4be58"
        assert stored["payload"]["source"]["controls"][0] == "securityhub:EC2.13"
    patched = await h.ok(
        "PATCH", f"/findings/{quote(finding_id, safe='')}", json={"status": "suppressed"}
    )
    assert patched["status"] == "suppressed"
    runs = await h.ok("GET", "/runs", params={"finding_id": finding_id})
    assert runs["total"] == 0


async def test_the_source_lifecycle_is_followed(hub_api: HubHarness) -> None:
    h = hub_api
    failed = ours(with_control("EC2.13"))
    first = await h.ok("POST", "/findings", json=failed)
    assert first["items"][0]["status"] == "open" and first["items"][0]["note"] is None
    passed = await h.ok("POST", "/findings", json=ours(failed, "PASSED", "RESOLVED"))
    assert passed["items"][0]["status"] == "resolved"
    assert "closes the resource's open finding" in passed["items"][0]["note"]
    again = await h.ok("POST", "/findings", json=ours(failed))
    assert again["items"][0]["status"] == "open"  # failing again: open again

    suppressed = ours(with_control("EC2.14"), workflow="SUPPRESSED")
    recorded = await h.ok("POST", "/findings", json=suppressed)
    assert recorded["items"][0]["status"] == "suppressed"
    resolved = await h.ok("GET", "/findings", params={"status": "resolved"})
    assert resolved["total"] == 0


async def test_only_findings_to_act_on_start_runs(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)
    await aws_account(h, group)
    await register(h, group)
    body = action(group, rule_ids=["EC2.13"])
    created = await h.ok("POST", "/remediations", json=body)
    await h.ok("PATCH", f"/remediations/{created['id']}", json={"auto_remediate": True})
    await h.ok("POST", f"/remediations/{created['id']}/publish")

    act = await h.ok("POST", "/findings", json=ours(with_control("EC2.13")))
    assert act["items"][0]["matched"] == [created["id"]] and act["items"][0]["runs"]
    muted = ours(with_control("EC2.13"), workflow="SUPPRESSED")
    record = await h.ok("POST", "/findings", json=muted)
    assert record["items"][0]["matched"] == [created["id"]] and record["items"][0]["runs"] == []
    vss = await h.ok("POST", "/findings", json=aws_finding("sg-9", rule_id="EC2.13"))
    assert vss["items"][0]["matched"] == [created["id"]]  # VSS findings as before


async def test_actions_choose_findings_by_standard_and_resource_type(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)
    await aws_account(h, group)
    await register(h, group)
    wanted = {
        "cis": {"standards": ["cis-aws-1.2"], "resource_types": ["AwsEc2SecurityGroup"]},
        "pci": {"standards": ["pci-dss-3.2.1"]},
        "buckets": {"resource_types": ["AwsS3Bucket"]},
    }
    ids = {}
    for name, criteria in wanted.items():
        body = action(group, rule_ids=["4.1"], criteria=criteria, name=f"cis-41-{name}")
        ids[name] = (await h.ok("POST", "/remediations", json=body))["id"]
        await h.ok("POST", f"/remediations/{ids[name]}/publish")

    answer = await h.ok("POST", "/findings", json=ours(cis41()))

    assert answer["items"][0]["matched"] == [ids["cis"]]  # CIS 1.2 on a security group only
    bad = action(group, rule_ids=["4.1"], criteria={"standards": ["CIS 1.2!"]}, name="bad")
    refused = await h.admin.post("/remediations", json=bad)
    assert refused.status_code == 422
    assert "criteria.standards" in refused.text


def on_group(finding: dict[str, Any], sg: str, tag: str) -> dict[str, Any]:
    """The finding on its own security group, under its own id (synthetic)."""
    moved: dict[str, Any] = json.loads(json.dumps(finding))
    moved["Id"] = f"{finding['Id']}-{tag}"
    moved["Resources"][0]["Id"] = f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:security-group/{sg}"
    moved["Resources"][0]["Details"]["AwsEc2SecurityGroup"]["GroupId"] = sg
    return moved


async def test_a_batch_is_answered_as_its_findings_one_by_one(hub_api: HubHarness) -> None:
    """Batch ingest writes each table in one statement (hub/bulk.py); a finding repeated in the
    request, and a PASSED one closing another of the same request, still read as if each had
    been posted alone, in order."""
    h = hub_api
    group = await new_group(h)
    await aws_account(h, group)
    await register(h, group)
    created = await h.ok("POST", "/remediations", json=action(group, rule_ids=["EC2.13"]))
    await h.ok("PATCH", f"/remediations/{created['id']}", json={"auto_remediate": True})
    await h.ok("POST", f"/remediations/{created['id']}/publish")

    failed = ours(with_control("EC2.13"))
    a = on_group(failed, "sg-0000000000000000a", "a")
    b = on_group(ours(with_control("EC2.14")), "sg-00000000000000b", "b")  # no action for it
    closes_b = on_group(ours(with_control("EC2.14"), "PASSED"), "sg-00000000000000b", "pass")
    muted = on_group(ours(failed, workflow="SUPPRESSED"), "sg-0000000000000000c", "c")
    batch = await h.ok("POST", "/findings", json=[a, b, a, closes_b, muted, 7])
    first_a, first_b, again_a, passed, recorded, bad = batch["items"]
    assert [i["result"] for i in batch["items"]] == [
        "created",
        "created",
        "updated",
        "created",
        "created",
        "rejected",
    ]
    assert len(first_a["queued"]) == 1 and first_a["runs"] == first_a["queued"]
    assert first_a["status"] == "queued"
    assert first_b["status"] == "open" and first_b["queued"] == first_b["matched"] == []
    assert again_a["queued"] == [] and again_a["runs"] == first_a["runs"]
    assert again_a["status"] == "queued"
    assert passed["status"] == "resolved" and passed["runs"] == [] and passed["queued"] == []
    assert recorded["status"] == "suppressed" and recorded["runs"] == []
    assert recorded["matched"] == [created["id"]] and bad["result"] == "rejected"
    stored_a = await h.ok("GET", f"/findings/{quote(a['Id'], safe='')}", role="viewer")
    assert stored_a["times_seen"] == 2
    stored_b = await h.ok("GET", f"/findings/{quote(b['Id'], safe='')}", role="viewer")
    assert stored_b["status"] == "resolved"  # the PASSED finding closed it

    # the same findings again: all updated, no new run, none queued twice
    again = await h.ok("POST", "/findings", json=[a, b])
    assert [i["result"] for i in again["items"]] == ["updated", "updated"]
    assert all(i["queued"] == [] for i in again["items"])
    assert again["items"][0]["runs"] == first_a["runs"]
    runs = await h.ok("GET", "/runs", params={"finding_id": a["Id"]})
    assert runs["total"] == 1


async def test_refusals_name_the_field_in_each_format(hub_api: HubHarness) -> None:
    h = hub_api
    no_resource = ours(cis41())
    del no_resource["Resources"]
    refused = await h.admin.post("/findings", json=no_resource)
    assert refused.status_code == 422 and refused.json()["field"] == "Resources"
    unknown = await h.admin.post("/findings", json={"hello": "world"})
    assert unknown.status_code == 422 and "ASFF" in unknown.json()["error"]
    batch = await h.ok("POST", "/findings", json=[no_resource, ours(cis41())])
    assert [i["result"] for i in batch["items"]] == ["rejected", "created"]
    assert batch["items"][0]["finding_id"] == no_resource["Id"]


def test_the_cli_imports_an_export_in_batches(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    cli.env["REMEDY_HUB_TOKEN"] = cli.json("hub", "create-user", "ann", "--role", "admin")["token"]
    findings = []
    for n in range(1001):  # one more than the hub takes in one request (synthetic ids)
        finding = ours(with_control("EC2.13" if n % 2 else "EC2.4"))
        finding["Id"] = f"{finding['Id']}-{n}"
        findings.append(finding)
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"Findings": findings}))
    imported = cli.json("findings", "import", str(export))
    assert (imported["accepted"], imported["rejected"]) == (1001, 0)
    assert imported["items"][1000]["index"] == 1000
    assert imported["items"][1000]["finding_id"] == findings[1000]["Id"]
    prowler = cli("findings", "import", "--format", "ocsf", str(PROWLER_AWS))
    assert "3 accepted, 0 rejected" in prowler and "suppressed at the source" in prowler
    wrong = cli("findings", "import", "--format", "vss", str(PROWLER_AWS), code=1)
    assert "notificationInfo" in wrong
