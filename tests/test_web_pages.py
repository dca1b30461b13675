"""The hub's pages in a real Chromium (Playwright, the operating system's browser), on the hub
served over HTTP with the embedded store, the dev server, a hub-linked worker and the sandbox
cloud: each role sees what it may do and no more, and does the flows end to end."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from playwright.async_api import expect

from sandbox.aws import AwsSandbox
from tests.findings import aws_finding
from tests.hub_fixtures import associate_account, new_group, wait_until
from tests.test_jobs import rules
from tests.web_fixtures import (  # noqa: F401
    JOBS,
    WebHub,
    browser,
    csrf_of,
    sign_in,
    snap,
    web_hub,
)


async def test_a_viewer_sees_the_pages_and_can_change_nothing(
    browser: Any,  # noqa: F811
    web_hub: WebHub,  # noqa: F811
) -> None:
    group = await new_group(web_hub.api, f"viewed-{uuid.uuid4().hex[:6]}")
    # two workers on different job code (issue #18): one reloaded to a new version
    commit = "4f2a9c0d1e2b3c4d5e6f708192a3b4c5d6e7f809"
    async with web_hub.api.worker_api(group.client_id, group.client_secret) as api:
        for worker_id, version, checksum, from_git in [
            ("w-old", "0123456789ab", "c" * 64, commit),
            ("w-new", "ba9876543210", "e" * 64, ""),
        ]:
            job = {"name": "probe_env", "provider": "aws", "checksum": checksum}
            registered = await api.post(
                "/worker/register",
                json={
                    "worker_id": worker_id,
                    "jobs": [job],
                    "code_version": version,
                    "code_commit": from_git,
                },
            )
            assert registered.status_code == 200, registered.text
    page = await sign_in(browser, web_hub, "viewer")
    csrf = await csrf_of(page)
    for path, heading in [
        ("/ui/runs", "Runs"),
        ("/ui/findings", "Findings"),
        ("/ui/approvals", "Approvals"),
        ("/ui/actions", "Remediation actions"),
        (f"/ui/groups/{group.group_id}", "Worker group"),
        ("/ui/catalogue", "Catalogue coverage by standard"),
    ]:
        answer = await page.goto(path)
        assert answer is not None and answer.status == 200, path
        csp = await answer.header_value("content-security-policy")
        assert csp is not None and "script-src 'self'" in csp and "unsafe-inline" not in csp
        await expect(page.locator("h1")).to_contain_text(heading)
        if path.startswith("/ui/groups/"):
            old, new = page.locator("tr[data-worker=w-old]"), page.locator("tr[data-worker=w-new]")
            await expect(old).to_contain_text("0123456789ab")
            await expect(old).to_contain_text(commit[:12])
            await expect(new).to_contain_text("ba9876543210")
            await expect(new).to_contain_text("not from Git")
            drift = page.locator("#code-drift")
            await expect(drift).to_contain_text("serve 2 versions of the job code")
            await expect(drift).to_contain_text("job probe_env differs")
            await expect(page.locator("tr[data-job=probe_env]")).to_contain_text(
                "cccccccccccc… on w-old; eeeeeeeeeeee… on w-new"
            )
            await snap(page, "group-code-versions", whole=True)
        if path == "/ui/catalogue":
            await snap(page, "catalogue")
        # no button that changes anything: the only one a viewer gets signs out (in the header)
        assert await page.locator("main form[method=post] button").count() == 0, path
    assert await page.get_by_role("link", name="Users").count() == 0
    users = await page.goto("/ui/users")
    assert users is not None and users.status == 403

    # a forged POST, with the session's own CSRF token, is refused by the role check
    forged = await page.request.post(
        f"{web_hub.url}/ui/groups/{group.group_id}/disable", form={"csrf_token": csrf}
    )
    assert forged.status == 403
    assert "a viewer may not" in await forged.text()
    assert (await web_hub.api.ok("GET", f"/worker-groups/{group.group_id}"))["enabled"] is True
    await page.context.close()


async def test_forms_without_their_csrf_token_are_refused(
    browser: Any,  # noqa: F811
    web_hub: WebHub,  # noqa: F811
) -> None:
    page = await sign_in(browser, web_hub, "admin")
    name = f"forged-{uuid.uuid4().hex[:6]}"
    missing = await page.request.post(f"{web_hub.url}/ui/groups", form={"name": name})
    wrong = await page.request.post(
        f"{web_hub.url}/ui/groups", form={"name": name, "csrf_token": "not-this-one"}
    )
    assert missing.status == wrong.status == 403
    assert "CSRF token" in await missing.text()
    groups = await web_hub.api.ok("GET", "/worker-groups")
    assert name not in {g["name"] for g in groups}

    # the same form with its token makes the group, and shows its secret once
    await page.goto("/ui/groups")
    await page.fill("input[name=name]", name)
    await page.click("form[action='/ui/groups'] button")
    secret = await page.locator("#client-secret").inner_text()
    assert secret.startswith("rms_")
    listed = await page.goto("/ui/groups")
    assert listed is not None and secret not in await listed.text()

    # signing out ends the session: its cookie no longer opens a page
    await page.goto("/ui/runs")
    await page.click("header form button")
    await page.wait_for_url(re.compile(r".*/ui/sign-in$"))
    again = await page.goto("/ui/runs")
    assert again is not None and again.url.endswith("/ui/sign-in?next=/ui/runs")
    await page.context.close()


async def test_the_api_docs_render_offline(
    browser: Any,  # noqa: F811
    web_hub: WebHub,  # noqa: F811
) -> None:
    context = await browser.new_context(base_url=web_hub.url)
    page = await context.new_page()
    requested: list[str] = []
    console: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: console.append(message.text))
    answer = await page.goto("/docs")
    assert answer is not None and answer.status == 200
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Remedy hub")
    await expect(page.locator(".opblock-tag-section").first).to_be_visible()
    await snap(page, "api-docs")
    await page.goto("/redoc")
    await expect(page.locator("h1").first).to_contain_text("Remedy hub")
    await expect(page.get_by_text("API docs by Redocly")).to_be_visible()

    def outside() -> list[str]:
        return [url for url in requested if not url.startswith((web_hub.url, "blob:", "data:"))]

    async def all_refused() -> bool:
        violations = [m for m in console if "violates the following Content Security Policy" in m]
        return all(any(f"'{url}'" in m for m in violations) for url in outside())

    # ReDoc's bundle asks for Redocly's logo on a CDN: the CSP refuses it before it leaves
    await wait_until(all_refused, 10, f"the CSP refusing {outside()} ({console})")
    assert f"{web_hub.url}/openapi.json" in requested
    await context.close()


async def test_an_admin_creates_and_publishes_an_action_and_an_analyst_approves_its_run(
    browser: Any,  # noqa: F811
    web_hub: WebHub,  # noqa: F811
    aws_sandbox: AwsSandbox,
    hub_worker: Any,
) -> None:
    api = web_hub.api
    group = await new_group(api, f"web-{uuid.uuid4().hex[:6]}")
    await associate_account(api, group, aws_sandbox.role_arn, aws_sandbox.external_id)
    await hub_worker(api, group, JOBS)

    # the admin makes the action in the form, the job chosen from what the worker offers
    admin = await sign_in(browser, web_hub, "admin")
    await admin.goto(f"/ui/groups/{group.group_id}")
    await expect(admin.locator("main")).to_contain_text("Online")
    await snap(admin, "worker-group")
    await admin.goto("/ui/actions/new")
    rule = f"rule-{uuid.uuid4().hex[:8]}"
    name = f"close-ssh-{uuid.uuid4().hex[:6]}"
    await admin.fill("#f-name", name)
    await admin.select_option("#f-group", group.group_id)
    await admin.fill("#f-rules", rule)
    await admin.select_option("#f-job-0", "security_group_close_port")
    await admin.fill("input[name=parameters_0]", '{"port": 22}')
    await admin.check("#f-approval")
    await snap(admin, "action-new")
    await admin.click("form.grid button[type=submit]")
    await expect(admin.locator(".done")).to_have_text("Saved.")
    await expect(admin.locator("h1")).to_contain_text("draft")
    await admin.click("text=Publish")
    await expect(admin.locator("h1")).to_contain_text("published")
    action_id = int(admin.url.split("/ui/actions/")[1].split("?")[0])
    stored = await api.ok("GET", f"/remediations/{action_id}")
    assert stored["status"] == "published" and stored["created_by"] == "admin-user"
    assert stored["steps"][0] == {**stored["steps"][0], "job": "security_group_close_port"}
    assert stored["approval"]["forbid_self"] is True

    # the admin triggers it on a finding; the analyst (someone else) approves the plan
    ec2 = aws_sandbox.admin_client("ec2")
    sg = aws_sandbox.open_security_group(22, f"web-{uuid.uuid4().hex[:6]}")
    finding = aws_finding(sg, rule_id=rule)
    finding_id = finding["notificationInfo"]["FindingInfo"]["FindingId"]
    analyst = await sign_in(browser, web_hub, "analyst")
    await analyst.goto("/ui/import")
    await analyst.set_input_files(
        "input[name=file]",
        files=[
            {
                "name": "findings.json",
                "mimeType": "application/json",
                "buffer": json.dumps([finding]).encode(),
            }
        ],
    )
    await analyst.click("main form button")
    await expect(analyst.locator("#totals")).to_contain_text(
        "1 findings, 1 actionable, 0 fixable; the hub took 1, rejected 0"
    )
    await expect(analyst.locator("main table")).to_contain_text(f"no built-in job for rule {rule}")
    await snap(analyst, "import-triage")

    await admin.goto(f"/ui/findings/{finding_id}")
    await snap(admin, "finding")
    await admin.locator("tr", has_text=name).locator("button", has_text="Run it now").click()
    await admin.wait_for_url(re.compile(r".*/ui/runs/.+"))
    run_id = admin.url.split("/ui/runs/")[1].split("?")[0]

    async def waiting() -> bool:
        await analyst.goto("/ui/approvals")
        return await analyst.locator(f".approval[data-run='{run_id}']").count() == 1

    await wait_until(waiting, 60, "the run listed as waiting for approval")
    card = analyst.locator(f".approval[data-run='{run_id}']")
    await expect(card).to_contain_text(f"{sg}: revoked ingress tcp 22-22 from 0.0.0.0/0")
    opened = rules(ec2, sg)
    assert opened != set()  # nothing changed while it waits
    await snap(analyst, "approvals")
    await card.locator("form[action$='/approve'] input[name=comment]").fill("CHG-42")
    await card.locator("form[action$='/approve'] button").click()
    await expect(analyst.locator(".done")).to_contain_text("Approved")

    # the run page follows the run by itself until it has succeeded
    await analyst.goto(f"/ui/runs/{run_id}")
    await expect(analyst.locator("#run-state")).to_have_text("succeeded", timeout=90_000)
    await expect(analyst.locator("#run-live")).to_contain_text(
        "approved by analyst-user (analyst): CHG-42"
    )
    assert rules(ec2, sg) == set()
    assert await analyst.locator("#run-live").get_attribute("hx-get") is None  # stopped polling
    await snap(analyst, "run", whole=True)

    # and rolls it back: a rollback run, followed the same way, puts the rule back
    await analyst.click("button:has-text('Roll back')")
    await expect(analyst.locator(".done")).to_contain_text("Rollback started")
    assert analyst.url.split("/ui/runs/")[1].split("?")[0] != run_id
    await expect(analyst.locator("#run-state")).to_have_text("succeeded", timeout=90_000)
    await expect(analyst.locator("#run-live")).to_contain_text(f"rollback of {run_id}")
    assert rules(ec2, sg) == opened
    await analyst.goto("/ui/runs")
    await snap(analyst, "runs")
    await analyst.goto("/ui/findings")
    await snap(analyst, "findings")
    await admin.goto("/ui/users")
    await snap(admin, "users")
    await analyst.context.close()
    await admin.context.close()


async def test_an_analyst_rejects_a_plan_then_retries_the_run(
    browser: Any,  # noqa: F811
    web_hub: WebHub,  # noqa: F811
    aws_sandbox: AwsSandbox,
    hub_worker: Any,
) -> None:
    api = web_hub.api
    group = await new_group(api, f"retry-{uuid.uuid4().hex[:6]}")
    await associate_account(api, group, aws_sandbox.role_arn, aws_sandbox.external_id)
    await hub_worker(api, group, JOBS)
    rule = f"rule-{uuid.uuid4().hex[:8]}"
    action = await api.ok(
        "POST",
        "/remediations",
        json={
            "name": f"retry-{uuid.uuid4().hex[:6]}",
            "provider": "aws",
            "worker_group_id": group.group_id,
            "rule_ids": [rule],
            "steps": [{"job": "security_group_close_port", "parameters": {"port": 22}}],
            "approval": {"expires_hours": 1},
        },
    )
    sg = aws_sandbox.open_security_group(22, f"retry-{uuid.uuid4().hex[:6]}")
    finding = aws_finding(sg, rule_id=rule)
    await api.ok("POST", "/findings", json=finding, role="analyst")
    finding_id = finding["notificationInfo"]["FindingInfo"]["FindingId"]
    started = await api.ok(
        "POST", f"/remediations/{action['id']}/run", json={"finding_ids": [finding_id]}
    )
    run_id = started["runs"][0]["id"]

    analyst = await sign_in(browser, web_hub, "analyst")
    await analyst.goto(f"/ui/runs/{run_id}")
    await expect(analyst.locator("#run-state")).to_have_text("awaiting_approval", timeout=60_000)
    await analyst.locator("form[action$='/reject'] input[name=comment]").fill("not in prod hours")
    await analyst.click("form[action$='/reject'] button")
    await expect(analyst.locator(".done")).to_contain_text("Rejected")
    await expect(analyst.locator("#run-state")).to_have_text("failed", timeout=60_000)
    await expect(analyst.locator("#run-live")).to_contain_text("not in prod hours")

    await analyst.click("button:has-text('Retry')")
    await expect(analyst.locator(".done")).to_contain_text("Started again")
    assert analyst.url.split("/ui/runs/")[1].split("?")[0] == run_id  # the same run, again
    await expect(analyst.locator("#run-state")).to_have_text("awaiting_approval", timeout=60_000)
    again = await api.ok("GET", f"/runs/{run_id}")
    assert again["triggered_by"] == "analyst-user"
    # end it: nobody approves it in this test
    await api.ok("POST", f"/runs/{run_id}/reject", json={"comment": "test over"})
    await analyst.context.close()
