"""An admin's pages without a browser (each store backend): users and their tokens, a worker
group's secret rotation; secrets appear in the answer to the POST that made them, and only there."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.orm import Session

from tests.hub_fixtures import HubHarness, new_group, plant_run
from tests.web_fixtures import session_of


async def test_an_admin_makes_a_user_whose_token_is_shown_once_and_revokes_it(
    hub_api: HubHarness,
) -> None:
    admin, csrf = await session_of(hub_api, "admin")
    made = await admin.post(
        "/ui/users", data={"csrf_token": csrf, "name": "carol", "role": "analyst"}
    )
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    token = re.search(r'<code id="new-token">(rmt_[^<]+)</code>', made.text)
    assert token
    carol = httpx.AsyncClient(transport=hub_api.transport, base_url="http://hub.test")
    assert (await carol.post("/ui/sign-in", data={"token": token[1]})).status_code == 303
    assert "carol (analyst)" in (await carol.get("/ui/runs")).text
    assert token[1] not in (await admin.get("/ui/users")).text

    listed = await hub_api.ok("GET", "/users/carol/tokens")
    revoked = await admin.post(
        f"/ui/users/carol/tokens/{listed[0]['id']}/revoke", data={"csrf_token": csrf}
    )
    assert revoked.status_code == 303
    assert (await hub_api.ok("GET", "/users/carol/tokens"))[0]["active"] is False
    assert (await carol.get("/ui/runs")).status_code == 303  # its session ended with the token

    demoted = await admin.post("/ui/users/carol/role", data={"csrf_token": csrf, "role": "viewer"})
    assert demoted.status_code == 303
    assert {"name": "carol", "role": "viewer"}.items() <= next(
        u for u in await hub_api.ok("GET", "/users") if u["name"] == "carol"
    ).items()


async def test_rotating_a_groups_secret_shows_the_new_one_once_and_the_old_one_stops(
    hub_api: HubHarness,
) -> None:
    group = await new_group(hub_api)
    admin, csrf = await session_of(hub_api, "admin")
    rotated = await admin.post(
        f"/ui/groups/{group.group_id}/regenerate-secret", data={"csrf_token": csrf}
    )
    secret = re.search(r'<code id="client-secret">(rms_[^<]+)</code>', rotated.text)
    assert rotated.status_code == 200 and secret and secret[1] != group.client_secret
    page = await admin.get(f"/ui/groups/{group.group_id}")
    assert secret[1] not in page.text and "the secret is a placeholder" in page.text
    old = hub_api.worker_api(group.client_id, group.client_secret)
    new = hub_api.worker_api(group.client_id, secret[1])
    beat = {"worker_id": "w-1"}
    assert (await old.post("/worker/heartbeat", json=beat)).status_code == 401
    assert (
        await new.post("/worker/heartbeat", json=beat)
    ).status_code == 404  # known, unregistered

    disabled = await admin.post(f"/ui/groups/{group.group_id}/disable", data={"csrf_token": csrf})
    assert disabled.status_code == 303
    assert (await hub_api.ok("GET", f"/worker-groups/{group.group_id}"))["enabled"] is False


async def test_an_action_paused_by_its_breaker_shows_why_and_an_admin_resumes_it(
    hub_api: HubHarness,
) -> None:
    from hub.models import Remediation, Run

    group = await new_group(hub_api)
    run_id = plant_run(hub_api, group.group_id)

    def pause(session: Session) -> int:
        action = session.get(Remediation, session.get(Run, run_id).remediation_id)
        action.paused_reason = "6 of the last 10 runs failed (over 50%)"
        return action.id

    action_id = hub_api.hub.db.run(pause)
    viewer, _ = await session_of(hub_api, "viewer")
    seen = await viewer.get(f"/ui/actions/{action_id}")
    assert "6 of the last 10 runs failed" in seen.text and "Resume" not in seen.text
    admin, csrf = await session_of(hub_api, "admin")
    page = await admin.get(f"/ui/actions/{action_id}")
    assert f'action="/ui/actions/{action_id}/resume"' in page.text
    resumed = await admin.post(f"/ui/actions/{action_id}/resume", data={"csrf_token": csrf})
    assert resumed.status_code == 303
    assert (await hub_api.ok("GET", f"/remediations/{action_id}"))["paused"] is None
    after = await admin.get(resumed.headers["location"])
    assert "closed: runs start" in after.text and "Resumed" in after.text

    # and pauses it by hand again (a change freeze): the page says by whom
    assert f'action="/ui/actions/{action_id}/pause"' in after.text
    paused = await admin.post(f"/ui/actions/{action_id}/pause", data={"csrf_token": csrf})
    assert paused.status_code == 303
    assert (await hub_api.ok("GET", f"/remediations/{action_id}"))["paused"].startswith(
        "paused by "
    )
    again = await admin.get(paused.headers["location"])
    assert "Paused: its runs wait until it is resumed." in again.text


async def test_an_action_form_with_a_mistake_comes_back_naming_the_field(
    hub_api: HubHarness,
) -> None:
    group = await new_group(hub_api)
    admin, csrf = await session_of(hub_api, "admin")
    form = {
        "csrf_token": csrf,
        "name": "close-ssh",
        "provider": "aws",
        "worker_group_id": group.group_id,
        "rule_ids": "EC2.13",
        "job_0": "security_group_close_port",
        "parameters_0": "{port: 22",
    }
    for changed, named in [
        ({}, "steps.0.parameters: not JSON"),
        ({"parameters_0": '{"port": 22}', "rule_ids": ""}, "rule_ids: List should have at least 1"),
        ({"job_0": "no_such_job", "parameters_0": "{}"}, "steps.0.job"),  # no such job
    ]:
        answer = await admin.post("/ui/actions/new", data={**form, **changed})
        assert answer.status_code == 422, answer.text[-500:]
        assert named in answer.text
        assert 'value="close-ssh"' in answer.text  # what was typed is kept
    assert await hub_api.ok("GET", "/remediations") == []


async def test_an_admin_registers_an_account_and_associates_it_others_see_no_external_id(
    hub_api: HubHarness,
) -> None:
    group = await new_group(hub_api)
    admin, csrf = await session_of(hub_api, "admin")
    account = {
        "provider": "aws",
        "account_id": "210987654321",
        "name": "prod",
        "role_arn": "arn:aws:iam::210987654321:role/remedy-remediation",
        "external_id": "ext-0123456789abcdef",
    }
    saved = await admin.post("/ui/accounts", data={"csrf_token": csrf, **account})
    assert saved.status_code == 303
    associated = await admin.post(
        f"/ui/groups/{group.group_id}/accounts",
        data={"csrf_token": csrf, "account_id": "210987654321"},
    )
    assert associated.status_code == 303
    stored = await hub_api.ok("GET", "/accounts/210987654321")
    assert stored["groups"] == [group.group_id] and stored["role_arn"] == account["role_arn"]

    assert "ext-0123456789abcdef" in (await admin.get("/ui/accounts")).text
    analyst, _ = await session_of(hub_api, "analyst")
    page = await analyst.get(f"/ui/groups/{group.group_id}")
    assert account["role_arn"] in page.text and "ext-0123456789abcdef" not in page.text
    assert "ext-0123456789abcdef" not in (await analyst.get("/ui/accounts")).text

    wrong = await admin.post(
        "/ui/accounts", data={"csrf_token": csrf, "provider": "aws", "account_id": "12"}
    )
    assert wrong.status_code == 422 and "12 digits" in wrong.text


async def test_before_any_worker_the_form_offers_the_built_in_jobs_and_the_action_warns(
    hub_api: HubHarness,
) -> None:
    group = await new_group(hub_api)
    admin, csrf = await session_of(hub_api, "admin")
    form = await admin.get("/ui/actions/new")
    assert "built-in catalogue: no worker yet" in form.text
    assert '<option value="security_group_close_port"' in form.text
    made = await admin.post(
        "/ui/actions/new",
        data={
            "csrf_token": csrf,
            "name": "early",
            "provider": "aws",
            "worker_group_id": group.group_id,
            "rule_ids": "EC2.13",
            "job_0": "security_group_close_port",
            "parameters_0": '{"port": 22}',
        },
    )
    assert made.status_code == 303
    page = await admin.get(made.headers["location"])
    assert f"no worker of group {group.group_id} has registered yet" in page.text
