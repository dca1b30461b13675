"""Notifications: the real `jira` client against the Jira emulator, a real webhook receiver, and the
real workflow on the dev server. No mocks."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotifyActivities, finding_label, run_label
from remedy.starter import start_remediation, wait_for_result
from remedy.types import (
    AccountAccess,
    JiraSettings,
    JobStep,
    NotificationSettings,
    NotifyInput,
    RemediationSpec,
    RetrySettings,
    RunState,
    RunStatus,
    StepState,
    StepStatus,
    WebhookSettings,
)
from sandbox.aws import ACCOUNT_ID, AwsSandbox, free_port
from sandbox.jira import JiraProblem, JiraSandbox, parse_jql, start_jira_sandbox
from tests.findings import aws_finding

JOBCODE = Path(__file__).parent / "jobcode"
UI_URL = "http://temporal-ui.test:8080"
#: the worker may notify on loopback, where the emulators listen (remedy/destinations.py)
LOOPBACK_ALLOWED = {"REMEDY_NOTIFY_ALLOWED_HOSTS": "127.0.0.1"}


# ------------------------------------------------------------------------------------------------
# Helpers: a webhook receiver, specs, finished-run inputs for the activity alone.
# ------------------------------------------------------------------------------------------------


class Receiver:
    """A tiny HTTP endpoint that keeps what it is sent and answers with the statuses queued."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(
                    ({k.lower(): v for k, v in self.headers.items()}, json.loads(body))
                )
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/remedy-secret-path"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.stop()


@pytest.fixture
def jira_env(jira_sandbox: JiraSandbox, monkeypatch: pytest.MonkeyPatch) -> JiraSandbox:
    """The worker's Jira credentials and Temporal UI address, set before the worker is built."""
    for name, value in jira_sandbox.worker_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JIRA_TOKEN", raising=False)
    monkeypatch.setenv("TEMPORAL_UI_URL", UI_URL)
    return jira_sandbox


def jira_settings(sandbox: JiraSandbox, **changes: Any) -> JiraSettings:
    return JiraSettings(server=sandbox.url, project="SEC", **changes)


def spec_with(
    job: str, aws: AwsSandbox, notify: NotificationSettings, **step: Any
) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job, **step)],
        access=AccountAccess(role_arn=aws.role_arn, external_id=aws.external_id),
        notify=notify,
    )


def new_group(aws: AwsSandbox) -> str:
    ec2 = aws.admin_client("ec2")
    name = f"g-{uuid.uuid4().hex[:8]}"
    return str(ec2.create_security_group(GroupName=name, Description="t")["GroupId"])


def finished(
    state: RunState = RunState.SUCCEEDED, *, settings: NotificationSettings, run_id: str = ""
) -> NotifyInput:
    """A run as the workflow hands it to the notify step."""
    finding_id = f"finding-{uuid.uuid4().hex[:8]}"
    job = StepStatus(
        name="job probe_env_22",
        kind="job",
        state=StepState.SUCCEEDED if state == RunState.SUCCEEDED else StepState.FAILED,
        exit_code=0 if state == RunState.SUCCEEDED else 1,
        log_tail="identity: arn:aws:sts::123456789012:assumed-role/x\nCHANGE: probed sg-0abc",
        changes=["probed sg-0abc"] if state == RunState.SUCCEEDED else [],
    )
    status = RunStatus(
        run_id=run_id or f"remedy-probe_env_22-{uuid.uuid4().hex[:20]}",
        remediation="probe_env_22",
        state=state,
        message="1 change(s) made" if state == RunState.SUCCEEDED else "job failed: exit 1",
        finding_id=finding_id,
        resource="sg-0abc",
        rule_id="rule-22",
        account_id=ACCOUNT_ID,
        steps=[job],
    )
    payload = aws_finding("sg-0abc", rule_id="rule-22", finding_id=finding_id)
    return NotifyInput(status=status, settings=settings, payload=payload)


def run_activity(
    activities: NotifyActivities,
    request: NotifyInput,
    *,
    execution: str = "test-run",
    attempt: int = 1,
) -> Any:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        ActivityEnvironment.default_info(), workflow_run_id=execution, attempt=attempt
    )
    return env.run(activities.notify, request)


def basic_header(user: str, token: str) -> str:
    return base64.b64encode(f"{user}:{token}".encode()).decode()


# ------------------------------------------------------------------------------------------------
# Through the workflow: an in-process worker on the dev server.
# ------------------------------------------------------------------------------------------------


async def test_a_successful_run_files_one_issue_with_what_happened(
    client: Client, start_worker, aws_sandbox: AwsSandbox, jira_env: JiraSandbox, captured_logs
) -> None:
    worker = await start_worker(JOBCODE)
    sg = new_group(aws_sandbox)
    notify = NotificationSettings(jira=jira_settings(jira_env))
    run_id = await start_remediation(
        client, aws_finding(sg), spec_with("probe_env_22", aws_sandbox, notify), worker.group_id
    )

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED, status
    [issue] = jira_env.issues()
    assert issue["summary"] == f"[Remedy] Test rule: {sg}"
    assert issue["project"] == "SEC" and issue["issue_type"] == "Task"
    description = issue["description"]
    assert "Remedy remediation *succeeded*: 1 change(s) made" in description
    assert f"* probed {sg}" in description  # the change the job printed
    assert "assumed-role/remedy-remediation" in description  # the job's log tail
    assert f"{UI_URL}/namespaces/default/workflows/{run_id}" in description
    assert {"remedy", f"remedy-run-{run_id}"} <= set(issue["labels"])
    assert status.notification == f"Jira issue {issue['key']} created"
    notify_step = status.steps[-1]
    assert notify_step.kind == "notify" and notify_step.state == StepState.SUCCEEDED
    assert status.current_step is None
    # the credentials stay in the worker: not in the history, not in the logs
    history = (await client.get_workflow_handle(run_id).fetch_history()).to_json()
    for secret in (jira_env.token, basic_header(jira_env.user, jira_env.token)):
        assert secret not in history
        assert secret not in captured_logs.text()
    assert f"Jira issue {issue['key']} created" in captured_logs.text()


async def test_a_failed_run_still_files_an_issue_that_says_why(
    client: Client, start_worker, aws_sandbox: AwsSandbox, jira_env: JiraSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    notify = NotificationSettings(jira=jira_settings(jira_env, done_transition="Done"))
    the_spec = spec_with("fail_job", aws_sandbox, notify, retry=RetrySettings(max_attempts=1))
    run_id = await start_remediation(
        client, aws_finding(new_group(aws_sandbox)), the_spec, worker.group_id
    )

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.FAILED
    [issue] = jira_env.issues()
    assert "Remedy remediation *failed*: job fail_job failed: " in issue["description"]
    assert "exited with code 1: ERROR: the thing could not be fixed" in issue["description"]
    assert "working on it" in issue["description"]  # the failed job's log
    assert "No change was made." in issue["description"]
    assert issue["status"] == "To Do"  # a failed remediation is not marked done
    assert status.notification == f"Jira issue {issue['key']} created"
    assert status.steps[-1].state == StepState.SUCCEEDED


async def test_jira_down_is_retried_then_reported_and_the_run_still_succeeds(
    client: Client, start_worker, aws_sandbox: AwsSandbox, jira_env: JiraSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    jira_env.fail_next(100, status=503)
    notify = NotificationSettings(jira=jira_settings(jira_env), max_attempts=2)
    run_id = await start_remediation(
        client,
        aws_finding(new_group(aws_sandbox)),
        spec_with("probe_env_22", aws_sandbox, notify),
        worker.group_id,
    )

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED
    assert status.notification == (
        f"no notification could be made: Jira at {jira_env.url} is unavailable (HTTP 503) "
        "while connecting"
    )
    assert status.steps[-1].state == StepState.FAILED
    assert jira_env.issues() == []
    # two attempts by the workflow's retry policy, none hidden inside the client
    assert jira_env.requests().count(("GET", "/rest/api/2/serverInfo")) == 2


async def test_the_same_finding_remediated_again_comments_on_its_open_issue(
    client: Client, start_worker, aws_sandbox: AwsSandbox, jira_env: JiraSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    payload = aws_finding(new_group(aws_sandbox))
    the_spec = spec_with(
        "probe_env_22", aws_sandbox, NotificationSettings(jira=jira_settings(jira_env))
    )
    first = await start_remediation(client, payload, the_spec, worker.group_id)
    first_status = await wait_for_result(client, first)
    second = await start_remediation(client, payload, the_spec, worker.group_id)  # a new run
    second_status = await wait_for_result(client, second)

    [issue] = jira_env.issues()
    assert first_status.notification == f"Jira issue {issue['key']} created"
    assert second_status.notification == f"commented on Jira issue {issue['key']}"
    [comment] = issue["comments"]
    assert comment.startswith("Remedy remediated this finding again.")
    assert "Remedy remediation *succeeded*" in comment
    finding_id = payload["notificationInfo"]["FindingInfo"]["FindingId"]
    assert finding_label(finding_id) in issue["labels"]


async def test_the_webhook_receives_the_run_as_json(
    client: Client, start_worker, aws_sandbox: AwsSandbox, jira_env: JiraSandbox, receiver: Receiver
) -> None:
    worker = await start_worker(JOBCODE)
    sg = new_group(aws_sandbox)
    payload = aws_finding(sg)
    notify = NotificationSettings(
        jira=jira_settings(jira_env), webhook=WebhookSettings(url=receiver.url)
    )
    run_id = await start_remediation(
        client, payload, spec_with("probe_env_22", aws_sandbox, notify), worker.group_id
    )

    status = await wait_for_result(client, run_id)

    [(headers, document)] = receiver.received
    [issue] = jira_env.issues()
    assert status.notification == f"Jira issue {issue['key']} created; webhook answered 200"
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"].startswith(f"{run_id}/")
    assert document["run_id"] == run_id
    assert document["state"] == "succeeded"
    assert document["message"] == "1 change(s) made"
    assert document["finding_id"] == payload["notificationInfo"]["FindingInfo"]["FindingId"]
    assert document["resource"] == sg
    assert document["rule"] == "Test rule" and document["rule_id"] == "5c8c26417a550e1fb6560c3f"
    assert document["changes"] == [f"probed {sg}"]
    assert document["ui_url"] == f"{UI_URL}/namespaces/default/workflows/{run_id}"
    assert document["jira_issue"] == issue["key"]
    assert document["jira_url"] == f"{jira_env.url}/browse/{issue['key']}"


async def test_a_refused_token_reaches_neither_history_nor_logs(
    client: Client,
    start_worker,
    aws_sandbox: AwsSandbox,
    jira_sandbox: JiraSandbox,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs,
) -> None:
    wrong = "wrong-jira-api-token-0123456789"
    monkeypatch.setenv("JIRA_USER", jira_sandbox.user)
    monkeypatch.setenv("JIRA_API_TOKEN", wrong)
    monkeypatch.delenv("JIRA_TOKEN", raising=False)
    monkeypatch.setenv(
        "REMEDY_NOTIFY_ALLOWED_HOSTS", LOOPBACK_ALLOWED["REMEDY_NOTIFY_ALLOWED_HOSTS"]
    )
    worker = await start_worker(JOBCODE)
    notify = NotificationSettings(jira=jira_settings(jira_sandbox))
    run_id = await start_remediation(
        client,
        aws_finding(new_group(aws_sandbox)),
        spec_with("probe_env_22", aws_sandbox, notify),
        worker.group_id,
    )

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED
    assert status.notification.startswith(
        f"no notification could be made: Jira at {jira_sandbox.url} refused the credentials "
        "(HTTP 401) while connecting: check JIRA_USER and JIRA_API_TOKEN"
    )
    assert jira_sandbox.requests().count(("GET", "/rest/api/2/serverInfo")) == 1  # not retried
    history = (await client.get_workflow_handle(run_id).fetch_history()).to_json()
    for secret in (wrong, basic_header(jira_sandbox.user, wrong)):
        assert secret not in history
        assert secret not in captured_logs.text()


async def test_a_cancelled_run_files_a_ticket_worded_as_a_cancel_not_a_failure(
    client: Client, start_worker, aws_sandbox: AwsSandbox, jira_env: JiraSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    sg = aws_sandbox.open_security_group(22, "cancelled")
    notify = NotificationSettings(jira=jira_settings(jira_env))
    run_id = await start_remediation(
        client, aws_finding(sg), spec_with("change_then_wait", aws_sandbox, notify), worker.group_id
    )
    ec2 = aws_sandbox.admin_client("ec2")
    for _ in range(300):  # the job made its change and goes on
        found = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
        if not found["IpPermissions"]:
            break
        await asyncio.sleep(0.1)
    await client.get_workflow_handle(run_id).cancel()

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.CANCELLED, status
    [issue] = jira_env.issues()
    description = issue["description"]
    assert "Remedy remediation *was cancelled*: the run was cancelled during job" in description
    assert "*failed*" not in description
    assert f"* {sg}: revoked ingress tcp 22-22 from 0.0.0.0/0" in description  # kept, named
    assert status.notification == f"Jira issue {issue['key']} created"
    assert status.steps[-1].state == StepState.SUCCEEDED


# ------------------------------------------------------------------------------------------------
# The activity alone (temporalio.testing.ActivityEnvironment).
# ------------------------------------------------------------------------------------------------


async def test_a_retried_notify_step_files_one_issue(jira_sandbox: JiraSandbox) -> None:
    activities = NotifyActivities(ui_url=UI_URL, environ=jira_sandbox.worker_env())
    request = finished(settings=NotificationSettings(jira=jira_settings(jira_sandbox)))

    first = await run_activity(activities, request)
    second = await run_activity(activities, request, attempt=2)

    [issue] = jira_sandbox.issues()
    assert first.jira_issue == second.jira_issue == issue["key"] == "SEC-1"
    assert first.message == "Jira issue SEC-1 created"
    assert second.message == "Jira issue SEC-1 already filed for this run"
    assert first.jira_url == f"{jira_sandbox.url}/browse/SEC-1"
    assert set(issue["labels"]) == {
        "remedy",
        run_label(request.status.run_id),
        finding_label(str(request.status.finding_id)),
    }
    assert issue["comments"] == []
    assert ("POST", "/rest/api/2/issue") in jira_sandbox.requests()


async def test_jira_cloud_with_a_personal_token_uses_the_enhanced_search() -> None:
    sandbox = start_jira_sandbox(deployment="Cloud")
    try:
        activities = NotifyActivities(environ=sandbox.pat_env())
        request = finished(settings=NotificationSettings(jira=jira_settings(sandbox)))
        await run_activity(activities, request)
        again = await run_activity(activities, request, attempt=2)
    finally:
        sandbox.stop()
    assert again.message == "Jira issue SEC-1 already filed for this run"
    assert len(sandbox.issues()) == 1
    paths = {path for _, path in sandbox.requests()}
    assert "/rest/api/2/search/jql" in paths and "/rest/api/2/search" not in paths


async def test_done_transition_is_applied_when_the_run_succeeded(jira_sandbox: JiraSandbox) -> None:
    activities = NotifyActivities(environ=jira_sandbox.worker_env())
    settings = NotificationSettings(jira=jira_settings(jira_sandbox, done_transition="Done"))
    request = finished(settings=settings)

    result = await run_activity(activities, request)
    again = await run_activity(activities, request, attempt=2)

    [issue] = jira_sandbox.issues()
    assert issue["status"] == "Done"
    assert result.message == "Jira issue SEC-1 created and moved to Done"
    assert again.message == "Jira issue SEC-1 already filed for this run"  # not moved twice
    by_name = NotificationSettings(jira=jira_settings(jira_sandbox, done_transition="Resolve"))
    await run_activity(activities, finished(settings=by_name))
    assert jira_sandbox.issues()[1]["status"] == "Done"  # by the transition's own name
    unknown = NotificationSettings(jira=jira_settings(jira_sandbox, done_transition="Shipped"))
    said = await run_activity(activities, finished(settings=unknown))
    assert "not moved to 'Shipped': the transitions it offers are 'Start Progress', 'Resolve'" in (
        said.message
    )


async def test_a_job_that_does_not_report_its_changes_is_not_said_to_have_changed_nothing(
    jira_sandbox: JiraSandbox,
) -> None:
    activities = NotifyActivities(environ=jira_sandbox.worker_env())
    request = finished(settings=NotificationSettings(jira=jira_settings(jira_sandbox)))
    [job] = request.status.steps
    job.changes, job.reports_changes, job.name = [], False, "job vss_silent_close_22"

    await run_activity(activities, request)

    [issue] = jira_sandbox.issues()
    assert "No change was made." not in issue["description"]
    assert (
        "No change was reported: job vss_silent_close_22 does not report its changes, so the "
        "resource may have been changed (see its log)."
    ) in issue["description"]


def test_jira_credentials_without_an_allowlist_are_warned_about_at_start(
    captured_logs: Any,
) -> None:
    NotifyActivities(environ={"JIRA_USER": "u", "JIRA_API_TOKEN": "t0ken-xyz"})
    assert "REMEDY_NOTIFY_ALLOWED_HOSTS is empty: no Jira issue" in captured_logs.text()
    assert "t0ken-xyz" not in captured_logs.text()
    allowed = {"JIRA_TOKEN": "t", "REMEDY_NOTIFY_ALLOWED_HOSTS": "jira.example.com"}
    before = len(captured_logs.lines)
    NotifyActivities(environ=allowed)
    assert len(captured_logs.lines) == before  # configured: nothing to warn about


async def test_a_second_execution_comments_once_even_when_retried(
    jira_sandbox: JiraSandbox,
) -> None:
    activities = NotifyActivities(environ=jira_sandbox.worker_env())
    request = finished(settings=NotificationSettings(jira=jira_settings(jira_sandbox)))
    await run_activity(activities, request, execution="first")

    commented = await run_activity(activities, request, execution="second")
    retried = await run_activity(activities, request, execution="second", attempt=2)

    [issue] = jira_sandbox.issues()
    assert commented.message == "commented on Jira issue SEC-1"
    assert retried.message == "Jira issue SEC-1 already filed for this run"
    assert len(issue["comments"]) == 1 and "(remedy execution second)" in issue["comments"][0]
    no_comments = NotificationSettings(jira=jira_settings(jira_sandbox, comment_on_existing=False))
    separate = await run_activity(
        activities, request.model_copy(update={"settings": no_comments}), execution="third"
    )
    assert separate.message == "Jira issue SEC-2 created"


async def test_refused_credentials_are_not_retried_and_say_what_to_check(
    jira_sandbox: JiraSandbox,
) -> None:
    wrong = "wrong-token-abcdef123456"
    activities = NotifyActivities(
        environ={"JIRA_USER": jira_sandbox.user, "JIRA_API_TOKEN": wrong, **LOOPBACK_ALLOWED}
    )
    request = finished(settings=NotificationSettings(jira=jira_settings(jira_sandbox)))

    with pytest.raises(ApplicationError) as raised:
        await run_activity(activities, request)

    error = raised.value
    assert error.non_retryable and error.type == "NotificationFailed"
    assert f"Jira at {jira_sandbox.url} refused the credentials (HTTP 401)" in error.message
    assert "check JIRA_USER and JIRA_API_TOKEN in the worker's environment" in error.message
    assert wrong not in error.message and basic_header(jira_sandbox.user, wrong) not in str(error)
    assert error.__cause__ is None  # the client's exception (with the request headers) is dropped


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({}, "the worker has no Jira credentials"),
        ({"JIRA_API_TOKEN": "tok-123456"}, "JIRA_API_TOKEN is set but JIRA_USER is not"),
        ({"JIRA_USER": "me@example.com"}, "JIRA_USER is set but neither JIRA_API_TOKEN"),
    ],
)
async def test_missing_credentials_name_the_variables_to_set(
    jira_sandbox: JiraSandbox, environ: dict[str, str], problem: str
) -> None:
    request = finished(settings=NotificationSettings(jira=jira_settings(jira_sandbox)))
    with pytest.raises(ApplicationError) as raised:
        await run_activity(NotifyActivities(environ=environ), request)
    assert raised.value.non_retryable
    assert raised.value.message.startswith(problem)
    assert "set JIRA_USER and JIRA_API_TOKEN" in raised.value.message and "JIRA_TOKEN" in (
        raised.value.message
    )
    assert jira_sandbox.requests() == []  # nothing was sent


async def test_an_unknown_project_is_not_retried(jira_sandbox: JiraSandbox) -> None:
    activities = NotifyActivities(environ=jira_sandbox.worker_env())
    settings = NotificationSettings(jira=JiraSettings(server=jira_sandbox.url, project="NOPE"))
    with pytest.raises(ApplicationError) as raised:
        await run_activity(activities, finished(settings=settings))
    assert raised.value.non_retryable
    assert raised.value.message.startswith(
        f"project 'NOPE' was not found on Jira at {jira_sandbox.url} (HTTP 404)"
    )


async def test_forbidden_is_not_retried_and_names_the_permissions(
    jira_sandbox: JiraSandbox,
) -> None:
    activities = NotifyActivities(environ=jira_sandbox.worker_env())
    jira_sandbox.fail_next(1, status=403)
    with pytest.raises(ApplicationError) as raised:
        await run_activity(
            activities, finished(settings=NotificationSettings(jira=jira_settings(jira_sandbox)))
        )
    assert raised.value.non_retryable
    assert "(HTTP 403" in raised.value.message and "Create Issues" in raised.value.message


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_busy_or_broken_jira_is_retried(jira_sandbox: JiraSandbox, status: int) -> None:
    activities = NotifyActivities(environ=jira_sandbox.worker_env())
    request = finished(settings=NotificationSettings(jira=jira_settings(jira_sandbox)))
    jira_sandbox.fail_next(3, status=status)  # three attempts in a row
    for _ in range(3):
        with pytest.raises(ApplicationError) as raised:
            await run_activity(activities, request)
        assert not raised.value.non_retryable and f"(HTTP {status})" in raised.value.message
    assert (await run_activity(activities, request, attempt=4)).jira_issue == "SEC-1"
    assert len(jira_sandbox.issues()) == 1


async def test_a_jira_that_does_not_listen_is_retried(jira_sandbox: JiraSandbox) -> None:
    activities = NotifyActivities(environ=jira_sandbox.worker_env())
    request = finished(settings=NotificationSettings(jira=jira_settings(jira_sandbox)))
    jira_sandbox.down()
    with pytest.raises(ApplicationError) as raised:
        await run_activity(activities, request)
    assert not raised.value.non_retryable
    assert raised.value.message == (
        f"Jira at {jira_sandbox.url} cannot be reached (connection refused) while connecting"
    )
    jira_sandbox.up()
    assert (await run_activity(activities, request, attempt=2)).jira_issue == "SEC-1"


async def test_webhook_errors_4xx_stop_5xx_and_refusals_retry(receiver: Receiver) -> None:
    activities = NotifyActivities(environ=LOOPBACK_ALLOWED)
    request = finished(settings=NotificationSettings(webhook=WebhookSettings(url=receiver.url)))

    receiver.answers = [503]
    with pytest.raises(ApplicationError) as busy:
        await run_activity(activities, request)
    assert not busy.value.non_retryable
    assert (
        busy.value.message == f"the webhook at {receiver.url.split('/hooks')[0]} answered HTTP 503"
    )
    assert "remedy-secret-path" not in busy.value.message  # a hook's path can be its secret

    receiver.answers = [404]
    with pytest.raises(ApplicationError) as refused:
        await run_activity(activities, request, attempt=2)
    assert refused.value.non_retryable and "answered HTTP 404" in refused.value.message

    ok = await run_activity(activities, request, attempt=3)
    assert ok.webhook_status == 200 and ok.message == "webhook answered 200"
    assert [doc["run_id"] for _, doc in receiver.received] == [request.status.run_id] * 3

    closed = f"http://127.0.0.1:{free_port()}/hook"
    gone = request.model_copy(
        update={"settings": NotificationSettings(webhook=WebhookSettings(url=closed))}
    )
    with pytest.raises(ApplicationError) as unreachable:
        await run_activity(activities, gone)
    assert not unreachable.value.non_retryable and "connection refused" in unreachable.value.message


async def test_webhook_waits_while_jira_is_retried_and_reports_both_at_the_end(
    jira_sandbox: JiraSandbox, receiver: Receiver
) -> None:
    activities = NotifyActivities(environ=jira_sandbox.worker_env())
    settings = NotificationSettings(
        jira=jira_settings(jira_sandbox), webhook=WebhookSettings(url=receiver.url), max_attempts=2
    )
    request = finished(settings=settings)
    jira_sandbox.fail_next(2, status=503)

    with pytest.raises(ApplicationError):
        await run_activity(activities, request, attempt=1)
    assert receiver.received == []  # not called once per Jira attempt
    last = await run_activity(activities, request, attempt=2)

    assert last.webhook_status == 200 and last.jira_issue is None
    assert last.message == (
        f"webhook answered 200; but Jira at {jira_sandbox.url} is unavailable (HTTP 503) "
        "while connecting"
    )
    assert len(receiver.received) == 1 and receiver.received[0][1]["jira_issue"] is None


def test_the_emulator_rejects_jql_it_does_not_understand() -> None:
    query = parse_jql(
        'project = SEC AND labels = "a b" AND statusCategory != Done ORDER BY created DESC'
    )
    assert [(c.field, c.negated, c.value) for c in query.clauses] == [
        ("project", False, "SEC"),
        ("labels", False, "a b"),
        ("statuscategory", True, "Done"),
    ]
    assert query.order_by == "created" and query.descending
    for bad in ("labels ~ x", "summary = x", "labels = x OR labels = y", "labels ="):
        with pytest.raises(JiraProblem, match=r"JQL|does not exist"):
            parse_jql(bad)


async def test_the_worker_sends_its_credentials_only_where_its_environment_allows(
    jira_sandbox: JiraSandbox, receiver: Receiver
) -> None:
    """Issue #11 item 5: an action naming another server (or a metadata address) gets nothing:
    no connection, no credentials; the refusal is final and says why."""
    elsewhere = {**jira_sandbox.worker_env(), "REMEDY_NOTIFY_ALLOWED_HOSTS": "*.atlassian.net"}
    activities = NotifyActivities(environ=elsewhere)
    # the "Jira server" is the receiver: it would record any request, and its headers
    jira_there = JiraSettings(server=receiver.url.split("/hooks")[0], project="SEC")
    hook_there = WebhookSettings(url=receiver.url)
    for settings, what in [
        (NotificationSettings(jira=jira_there), "Jira at"),
        (NotificationSettings(webhook=hook_there), "the webhook at"),
    ]:
        with pytest.raises(ApplicationError) as raised:
            await run_activity(activities, finished(settings=settings))
        assert raised.value.non_retryable and raised.value.type == "NotificationFailed"
        assert (
            what in raised.value.message and "REMEDY_NOTIFY_ALLOWED_HOSTS" in raised.value.message
        )
    assert receiver.received == []

    metadata = NotificationSettings(
        jira=JiraSettings(server="http://169.254.169.254", project="SEC"),
        webhook=WebhookSettings(url="http://metadata.google.internal/computeMetadata/v1/"),
    )
    wide = NotifyActivities(
        environ={**jira_sandbox.worker_env(), "REMEDY_NOTIFY_ALLOWED_HOSTS": "169.254.169.254:81"}
    )
    with pytest.raises(ApplicationError) as raised:
        await run_activity(wide, finished(settings=metadata))
    assert "not among the hosts" in raised.value.message and raised.value.non_retryable
    assert jira_sandbox.token not in raised.value.message

    # the same worker notifies where it is allowed
    allowed = NotifyActivities(environ=jira_sandbox.worker_env())
    done = await run_activity(allowed, finished(settings=NotificationSettings(webhook=hook_there)))
    assert done.webhook_status == 200 and len(receiver.received) == 1
