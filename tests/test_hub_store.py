"""The hub's store and API on both backends (SQLite and PostgreSQL): groups, secrets, accounts,
workers, actions, findings, logs, and the shape of every refusal."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text

from hub.models import Base
from hub.run_states import HubRunState
from remedy.types import JobInfo, RunState
from sandbox.aws import ACCOUNT_ID
from tests.findings import aws_finding
from tests.hub_fixtures import GroupCredentials, HubHarness, new_group, plant_run

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/remedy-remediation"
AZURE_SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"


def probe_jobs(provider: str = "aws") -> list[dict[str, Any]]:
    return [
        JobInfo(
            name="probe_env",
            provider=provider,  # type: ignore[arg-type]
            checksum="c" * 64,
            parameters={
                "type": "object",
                "properties": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
                "additionalProperties": False,
            },
        ).model_dump(mode="json"),
        JobInfo(name="azure_fix", provider="azure", checksum="d" * 64).model_dump(mode="json"),
    ]


async def register(
    h: HubHarness, group: GroupCredentials, worker_id: str = "w1", jobs: Any = None
) -> Any:
    async with h.worker_api(group.client_id, group.client_secret) as api:
        return await api.post(
            "/worker/register",
            json={
                "worker_id": worker_id,
                "host": "h",
                "version": "1",
                "jobs": jobs or probe_jobs(),
                "notify_destinations": ["127.0.0.1"],  # the webhook of action() (issue #11)
            },
        )


async def aws_account(h: HubHarness, group: GroupCredentials | None = None) -> None:
    await h.ok(
        "POST",
        "/accounts",
        json={
            "provider": "aws",
            "account_id": ACCOUNT_ID,
            "role_arn": ROLE_ARN,
            "external_id": "ext-id-1",
        },
    )
    if group:
        await h.ok("PUT", f"/worker-groups/{group.group_id}/accounts/{ACCOUNT_ID}")


def all_rows(h: HubHarness) -> str:
    """Every row of every hub table, as text."""
    dumped = []
    with h.hub.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                dumped.append(json.dumps([str(v) for v in row]))
    return "\n".join(dumped)


def test_the_migrations_build_exactly_the_models(hub_api: HubHarness) -> None:
    with hub_api.hub.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        reflected = MetaData()
        reflected.reflect(connection)
        assert "alembic_version" in reflected.tables
        assert connection.execute(text("select version_num from alembic_version")).scalar()


async def test_a_group_secret_is_shown_once_and_stored_hashed(hub_api: HubHarness) -> None:
    h = hub_api
    created = await h.ok("POST", "/worker-groups", json={"name": "prod-aws", "description": "d"})
    group, secret = created["group"], created["client_secret"]
    assert group["enabled"] and group["id"].startswith("wg-") and secret
    aws, azure = created["deploy"]["aws"], created["deploy"]["azure"]
    for command in (aws, azure):
        assert command.startswith("docker run") and "remedy-worker" in command
        assert f"VSS_CLIENT_ID={group['client_id']}" in command
        assert f"REMEDY_WORKER_GROUP={group['id']}" in command
        assert "TEMPORAL_ADDRESS=" in command and "VSS_CLIENT_SECRET=" in command
        assert secret not in command
    assert "AZURE_CLIENT_ID=" in azure and "AZURE_TENANT_ID=" in azure
    assert "AZURE_CLIENT_SECRET=" in azure and "AWS_ACCESS_KEY_ID" in aws

    listed = await h.admin.get("/worker-groups")
    fetched = await h.admin.get(f"/worker-groups/{group['id']}")
    deploy = await h.admin.get(f"/worker-groups/{group['id']}/deploy")
    for response in (listed, fetched, deploy):
        assert response.status_code == 200 and secret not in response.text
    assert fetched.json()["name"] == "prod-aws"
    rows = all_rows(h)
    assert secret not in rows and group["client_id"] in rows
    for token in h.tokens.values():
        assert token not in rows
    duplicate = await h.admin.post("/worker-groups", json={"name": "prod-aws"})
    assert duplicate.status_code == 409 and duplicate.json()["fix"]


async def test_a_regenerated_secret_replaces_the_old_one_at_once(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)
    assert (await register(h, group)).status_code == 200
    renewed = await h.ok("POST", f"/worker-groups/{group.group_id}/regenerate-secret")
    assert (
        renewed["client_id"] == group.client_id and renewed["client_secret"] != group.client_secret
    )
    refused = await register(h, group)
    assert refused.status_code == 401 and "client id or secret" in refused.json()["error"]
    renewed_group = GroupCredentials(group.group_id, group.client_id, renewed["client_secret"])
    assert (await register(h, renewed_group)).status_code == 200
    assert renewed["client_secret"] not in all_rows(h)
    wrong_group = await h.worker_api(group.client_id, renewed["client_secret"]).post(
        "/worker/register", json={"worker_id": "w", "group_id": "wg-other", "jobs": []}
    )
    assert wrong_group.status_code == 409 and "REMEDY_WORKER_GROUP" in wrong_group.json()["fix"]


async def test_groups_are_enabled_and_disabled(hub_api: HubHarness) -> None:
    group = await new_group(hub_api)
    disabled = await hub_api.ok("POST", f"/worker-groups/{group.group_id}/disable")
    assert disabled["enabled"] is False
    enabled = await hub_api.ok("POST", f"/worker-groups/{group.group_id}/enable")
    assert enabled["enabled"] is True
    missing = await hub_api.admin.post("/worker-groups/wg-nope/enable")
    assert missing.status_code == 404 and set(missing.json()) >= {"error", "fix"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "aws", "account_id": "1234", "role_arn": ROLE_ARN}, "account_id"),
        ({"provider": "aws", "account_id": ACCOUNT_ID}, "role_arn"),
        (
            {
                "provider": "aws",
                "account_id": ACCOUNT_ID,
                "role_arn": "arn:aws:iam::999999999999:role/x",
                "external_id": "e1",
            },
            "role_arn",
        ),
        ({"provider": "aws", "account_id": ACCOUNT_ID, "role_arn": ROLE_ARN}, "external_id"),
        ({"provider": "azure", "account_id": "not-a-uuid"}, "account_id"),
        ({"provider": "azure", "account_id": AZURE_SUB, "role_arn": ROLE_ARN}, "role_arn"),
        ({"provider": "gcp", "account_id": ACCOUNT_ID}, "body.provider"),
    ],
)
async def test_accounts_are_validated(
    hub_api: HubHarness, body: dict[str, Any], field: str
) -> None:
    response = await hub_api.admin.post("/accounts", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and response.json()["fix"]


async def test_an_account_can_serve_several_groups(hub_api: HubHarness) -> None:
    h = hub_api
    first, second = await new_group(h), await new_group(h)
    await aws_account(h, first)
    await h.ok("PUT", f"/worker-groups/{second.group_id}/accounts/{ACCOUNT_ID}")
    created = await h.admin.post("/accounts", json={"provider": "azure", "account_id": AZURE_SUB})
    assert created.status_code == 201
    await h.ok("PUT", f"/worker-groups/{first.group_id}/accounts/{AZURE_SUB}")
    # external ids are for admins only (issue #11): the viewer's read is in test_hub_limits.py
    account = await h.ok("GET", f"/accounts/{ACCOUNT_ID}", role="admin")
    assert sorted(account["groups"]) == sorted([first.group_id, second.group_id])
    assert account["role_arn"] == ROLE_ARN and account["external_id"] == "ext-id-1"
    group = await h.ok("GET", f"/worker-groups/{first.group_id}")
    assert group["accounts"] == sorted([ACCOUNT_ID, AZURE_SUB])
    listed = await h.ok("GET", f"/worker-groups/{first.group_id}/accounts")
    assert {a["account_id"] for a in listed} == {ACCOUNT_ID, AZURE_SUB}
    await h.ok("DELETE", f"/worker-groups/{second.group_id}/accounts/{ACCOUNT_ID}")
    assert (await h.ok("GET", f"/accounts/{ACCOUNT_ID}"))["groups"] == [first.group_id]
    again = await h.admin.delete(f"/worker-groups/{second.group_id}/accounts/{ACCOUNT_ID}")
    assert again.status_code == 404


@pytest.mark.parametrize("hub_settings", ["sqlite"], indirect=True)
async def test_workers_go_offline_after_missed_heartbeats_and_take_their_jobs_along(
    hub_settings: Any,
) -> None:
    from tests.hub_fixtures import make_harness

    h = make_harness(hub_settings.model_copy(update={"hub_heartbeat_interval_s": 0.1}))
    try:
        group = await new_group(h)
        registered = await register(h, group, "w-aws")
        assert registered.json()["heartbeat_interval_s"] == 0.1
        assert registered.json()["offline_after_s"] == pytest.approx(0.3)
        other = [JobInfo(name="only_here", provider="aws", checksum="e" * 64).model_dump()]
        await register(h, group, "w-other", other)
        jobs = await h.ok("GET", f"/worker-groups/{group.group_id}/jobs", role="viewer")
        assert {j["name"] for j in jobs} == {"probe_env", "azure_fix", "only_here"}
        async with h.worker_api(group.client_id, group.client_secret) as api:
            for _ in range(6):  # w-aws keeps beating, w-other falls silent
                assert (
                    await api.post("/worker/heartbeat", json={"worker_id": "w-aws"})
                ).status_code == 204
                await asyncio.sleep(0.08)
            unknown = await api.post("/worker/heartbeat", json={"worker_id": "w-never"})
            assert unknown.status_code == 404 and "register" in unknown.json()["fix"]
        workers = {
            w["worker_id"]: w for w in await h.ok("GET", f"/worker-groups/{group.group_id}/workers")
        }
        assert workers["w-aws"]["state"] == "Online" and workers["w-other"]["state"] == "Offline"
        assert workers["w-aws"]["jobs"][0]["checksum"] == "c" * 64
        jobs = await h.ok("GET", f"/worker-groups/{group.group_id}/jobs")
        assert {j["name"] for j in jobs} == {"probe_env", "azure_fix"}
        summary = await h.ok("GET", f"/worker-groups/{group.group_id}")
        assert (summary["workers_online"], summary["workers_total"]) == (1, 2)
    finally:
        await h.aclose()


def action(group: GroupCredentials, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"action-{uuid.uuid4().hex[:6]}",
        "provider": "aws",
        "worker_group_id": group.group_id,
        "rule_ids": ["rule-1"],
        "account_ids": [ACCOUNT_ID],
        "steps": [{"job": "probe_env", "parameters": {"port": 22}}],
        "criteria": {"regions": ["us-east-1"], "min_level": "Medium"},
        "notify": {"webhook": {"url": "http://127.0.0.1:9/hook"}},
    }
    body.update(changes)
    return body


async def test_an_action_is_validated_against_its_group(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)
    await aws_account(h, group)
    await h.ok("POST", "/accounts", json={"provider": "azure", "account_id": AZURE_SUB})
    await h.ok("PUT", f"/worker-groups/{group.group_id}/accounts/{AZURE_SUB}")

    async def refused(body: dict[str, Any]) -> dict[str, Any]:
        response = await h.admin.post("/remediations", json=body)
        assert response.status_code == 422, response.text
        return dict(response.json())

    # before any worker of the group registers: the built-in catalogue, with a warning
    unknown = await refused(action(group))  # probe_env is a test job, not a built-in one
    assert unknown["field"] == "steps.0.job" and "not a built-in job" in unknown["error"]
    assert "remedy jobs list" in unknown["fix"] and "/deploy" in unknown["fix"]
    early = await h.ok(
        "POST",
        "/remediations",
        json=action(
            group,
            name="before-the-workers",
            steps=[{"job": "security_group_close_port", "parameters": {"port": 22}}],
        ),
    )
    (warning,) = early["warnings"]
    assert "no worker of group" in warning and "built-in catalogue" in warning
    bad_builtin = await refused(
        action(group, steps=[{"job": "security_group_close_port", "parameters": {"port": "x"}}])
    )
    assert bad_builtin["field"] == "steps.0.parameters.port"  # checked against its schema too
    await register(h, group)
    assert (await h.ok("GET", f"/remediations/{early['id']}"))["warnings"] == []
    # a worker registered: only what the group's online workers offer
    not_offered = await refused(action(group, steps=[{"job": "security_group_close_port"}]))
    assert "no online worker" in not_offered["error"] and "probe_env" in not_offered["error"]
    assert (await refused(action(group, steps=[{"job": "nope"}])))["field"] == "steps.0.job"
    assert (await refused(action(group, steps=[{"job": "azure_fix"}])))["field"] == "steps.0.job"
    wrong_account = await refused(action(group, account_ids=["210987654321"]))
    assert wrong_account["field"] == "account_ids.0" and "associate" in wrong_account["fix"]
    assert (await refused(action(group, account_ids=[AZURE_SUB])))["field"] == "account_ids.0"
    assert (await refused(action(group, worker_group_id="wg-none")))["field"] == "worker_group_id"
    bad_param = await refused(
        action(group, steps=[{"job": "probe_env", "parameters": {"colour": 1}}])
    )
    assert bad_param["field"] == "steps.0.parameters.colour"
    out_of_range = await refused(
        action(group, steps=[{"job": "probe_env", "parameters": {"port": 0}}])
    )
    assert out_of_range["field"] == "steps.0.parameters.port"
    assert (await refused(action(group, rule_ids=[])))["field"] == "body.rule_ids"

    body = action(group)
    created = await h.ok("POST", "/remediations", json=body)
    assert created["status"] == "draft" and created["created_by"] == "admin-user"
    assert created["notify"]["webhook"]["url"] == "http://127.0.0.1:9/hook"
    duplicate = await h.admin.post("/remediations", json=body)
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "name"
    patched = await h.ok("PATCH", f"/remediations/{created['id']}", json={"auto_remediate": True})
    assert patched["auto_remediate"] and patched["name"] == body["name"]
    published = await h.ok("POST", f"/remediations/{created['id']}/publish")
    assert published["status"] == "published"
    chained = action(
        group, steps=[{"job": "probe_env"}, {"job": "probe_env", "parameters": {"port": 3389}}]
    )
    assert len((await h.ok("POST", "/remediations", json=chained))["steps"]) == 2
    listed = await h.ok("GET", "/remediations", role="viewer")
    assert len(listed) == 3  # with the one made before the workers


async def test_findings_are_deduplicated_and_each_answered(hub_api: HubHarness) -> None:
    h = hub_api
    finding = aws_finding("sg-1", finding_id="f-dedup")
    first = await h.ok("POST", "/findings", json=finding, role="analyst")
    assert first["items"][0]["result"] == "created" and first["items"][0]["status"] == "open"
    again = await h.ok("POST", "/findings", json=[finding], role="analyst")
    assert again["items"][0]["result"] == "updated"
    stored = await h.ok("GET", "/findings/f-dedup", role="viewer")
    assert stored["times_seen"] == 2 and stored["account_id"] == ACCOUNT_ID
    assert stored["rule_id"] == "5c8c26417a550e1fb6560c3f" and stored["object_id"] == "sg-1"
    assert stored["payload"] == finding

    broken = aws_finding("sg-2")
    del broken["notificationInfo"]["FindingInfo"]["ObjectId"]
    old_style = aws_finding("sg-3", old_style=True)  # no role in it: the account's gives it later
    batch = await h.ok("POST", "/findings", json={"findings": [broken, old_style, 7]})
    assert (batch["accepted"], batch["rejected"]) == (1, 2)
    assert batch["items"][0]["field"] == "notificationInfo.FindingInfo.ObjectId"
    assert batch["items"][1]["result"] == "created"
    single = await h.admin.post("/findings", json=broken)
    assert single.status_code == 422
    assert (
        single.json()["field"] == "notificationInfo.FindingInfo.ObjectId" and single.json()["fix"]
    )
    nan = aws_finding("sg-4")
    nan["notificationInfo"]["FindingInfo"]["Note"] = "nul\x00here"
    assert (await h.admin.post("/findings", json=nan)).status_code == 422

    listed = await h.ok("GET", "/findings", params={"status": "open"})
    assert listed["total"] == 2
    suppressed = await h.ok(
        "PATCH", "/findings/f-dedup", json={"status": "suppressed"}, role="analyst"
    )
    assert suppressed["status"] == "suppressed"
    assert (await h.ok("GET", "/findings", params={"status": "suppressed"}))["total"] == 1
    viewer = await h.as_("viewer").post("/findings", json=finding)
    assert viewer.status_code == 403


async def test_job_logs_are_redacted_on_receipt_and_paged_newest_first(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)
    # workers ship only for runs of their group, under a registered worker id (issue #11)
    await register(h, group, "w1")
    first, second = plant_run(h, group.group_id), plant_run(h, group.group_id)
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    async with h.worker_api(group.client_id, group.client_secret) as api:
        for index in range(5):
            shipped = await api.post(
                f"/worker/runs/{first}/logs",
                json={
                    "worker_id": "w1",
                    "job": "probe_env",
                    "lines": [f"line {index}", f"aws_secret_access_key={secret}", "nul\x00"],
                },
            )
            assert shipped.status_code == 202
        await api.post(
            f"/worker/runs/{second}/logs", json={"worker_id": "w1", "lines": ["other run"]}
        )
    page = await h.ok(
        "GET", f"/worker-groups/{group.group_id}/logs", params={"limit": 2}, role="viewer"
    )
    assert page["total"] == 6 and len(page["items"]) == 2
    assert page["items"][0]["text"] == "other run" and page["items"][1]["text"].startswith("line 4")
    later = await h.ok(
        "GET", f"/worker-groups/{group.group_id}/logs", params={"offset": 2, "limit": 2}
    )
    assert later["items"][0]["text"].startswith("line 3")
    assert secret not in json.dumps(page) and secret not in all_rows(h)
    assert "aws_secret_access_key=***" in later["items"][0]["text"]
    unknown_run = await h.admin.get("/runs/run-1/logs")
    assert unknown_run.status_code == 404  # logs of runs the hub did not start: per group only


async def test_every_refusal_says_what_is_wrong_and_how_to_fix_it(hub_api: HubHarness) -> None:
    h = hub_api
    missing_field = await h.admin.post("/worker-groups", json={"description": "no name"})
    assert missing_field.status_code == 422
    assert missing_field.json()["field"] == "body.name" and missing_field.json()["fix"]
    bad_json = await h.admin.post(
        "/worker-groups", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 422 and "JSON" in bad_json.json()["fix"]
    nul = await h.admin.post("/worker-groups", json={"name": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["field"] == "body.name"
    too_big = await h.admin.get("/remediations/99999999999")
    assert too_big.status_code == 422 and too_big.json()["field"] == "path.action_id"
    for response, status in [
        (await h.admin.get("/nowhere"), 404),
        (await h.admin.delete("/findings"), 405),
        (await h.as_(None).get("/runs"), 401),
        (await h.as_("viewer").post("/worker-groups", json={"name": "x"}), 403),
        (await h.admin.get("/runs/remedy-x-1"), 404),
        (await h.admin.get("/findings/none"), 404),
    ]:
        assert response.status_code == status, response.text
        assert response.json()["error"] and response.json()["fix"], response.text
    unauthorized = await h.as_(None).get("/runs")
    assert unauthorized.headers["www-authenticate"] == "Bearer"
    forged = await h.as_(None).get("/runs", headers={"Authorization": "Bearer rmt_forged"})
    assert forged.status_code == 401 and "not valid" in forged.json()["error"]


def test_run_states_are_the_strings_the_store_always_held() -> None:
    """One enum for a run's state; a StrEnum with the stored values, so no migration."""
    assert [state.value for state in HubRunState] == [
        "pending",
        "submitted",
        "running",
        "awaiting_approval",  # issue #14: a run waiting for a decision
        "succeeded",
        "succeeded_with_errors",
        "failed",
        "cancelled",
        "skipped",  # issue #14: the resource opted out
        # Temporal's own states (issue #20): new values, the stored ones unchanged
        "terminated",
        "timed_out",
        "stuck",
    ]
    for state in RunState:  # every state the workflow reports has its name in the hub
        assert HubRunState.of_workflow(state) == state.value
