"""The worker's and the hub's /metrics, scraped before and after real runs (dev server, moto)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.notify import NotifyActivities
from hub import metrics as hub_metrics
from remedy import metrics as worker_metrics
from remedy.starter import start_remediation, wait_for_result
from remedy.types import (
    AccountAccess,
    JobStep,
    NotificationSettings,
    RemediationSpec,
    RunState,
    WebhookSettings,
)
from sandbox.aws import ACCOUNT_ID, AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import HubHarness
from tests.observed import SDK_METRICS_ALERTED, Samples, observed_worker, parse, scrape, value
from tests.test_hub_runs import Setup, ended, linked, make_action  # noqa: F401 (a fixture)
from tests.test_notify import LOOPBACK_ALLOWED, Receiver, finished, run_activity
from worker.run_metrics import RUNS_FINISHED, RUNS_STARTED

ROOT = Path(__file__).resolve().parent.parent


def spec(job: str, sandbox: AwsSandbox) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job)],
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
    )


async def test_a_worker_counts_each_run_by_job_provider_account_and_outcome(
    client: Client, aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> None:
    group = f"metrics-{uuid.uuid4().hex[:8]}"
    with observed_worker(group, aws_sandbox, dev_server, tmp_path / "worker.log") as worker:
        before = scrape(worker.url)
        assert value(before, "remedy_runs_started_total") == 0
        assert value(before, "remedy_forkserver_launches_total") == 0

        ok = await start_remediation(
            client, aws_finding("sg-metrics1"), spec("probe_env", aws_sandbox), group
        )
        assert (await wait_for_result(client, ok)).state == RunState.SUCCEEDED
        failed = await start_remediation(
            client, aws_finding("sg-metrics2"), spec("fail_job", aws_sandbox), group
        )
        assert (await wait_for_result(client, failed)).state == RunState.FAILED
        after = scrape(worker.url)

    run = {"provider": "aws", "account": ACCOUNT_ID}
    assert value(after, "remedy_runs_started_total", job="probe_env", **run) == 1
    assert value(after, "remedy_runs_started_total", job="fail_job", **run) == 1
    assert (
        value(after, "remedy_runs_finished_total", job="probe_env", outcome="succeeded", **run) == 1
    )
    assert value(after, "remedy_runs_finished_total", job="fail_job", outcome="failed", **run) == 1
    assert value(after, "remedy_runs_finished_total", outcome="succeeded") == 1
    # the job process: one attempt of probe_env, fail_job's attempts (its retry settings: 3)
    assert value(after, "remedy_job_duration_seconds_count", job="probe_env", outcome="exit_0") == 1
    assert value(after, "remedy_job_duration_seconds_count", job="fail_job") == 3
    assert value(after, "remedy_forkserver_launches_total") == 4
    assert value(after, "remedy_step_duration_seconds_count", activity="run_job") == 4
    assert value(after, "remedy_step_duration_seconds_count", activity="assume_role") == 2
    assert value(after, "remedy_queue_wait_seconds_count", activity="run_job") == 4
    # the Temporal SDK's own metrics, bridged into the same scrape
    assert value(after, "temporal_workflow_completed_total") >= 1
    assert value(after, "temporal_activity_execution_latency_count", activity_type="run_job") == 4
    for name in SDK_METRICS_ALERTED:
        assert value(after, f"{name}_count") >= 1, name


async def hub_scrape(h: HubHarness) -> Samples:
    answer = await h.as_(None).get("/metrics")  # no token: the network policy guards it
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert "-user" not in answer.text  # no user name in a label
    return parse(answer.text)


async def test_the_hub_counts_a_finding_its_run_and_its_start(
    linked: Setup,  # noqa: F811 (the fixture)
    client: Client,
    aws_sandbox: AwsSandbox,
) -> None:
    s = linked
    await make_action(s, auto_remediate=True)
    before = await hub_scrape(s.hub)
    finding = aws_finding(aws_sandbox.open_security_group(22, "metrics"), rule_id=s.rule)

    posted = await s.hub.ok("POST", "/findings", json=finding, role="analyst")
    run = await ended(s, client, posted["items"][0]["runs"][0])
    after = await hub_scrape(s.hub)

    assert run["status"] == "succeeded", run

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("remedy_hub_findings_received_total", format="vss", result="created") == 1
    assert moved("remedy_hub_findings_received_total") == 1
    assert moved("remedy_hub_runs_queued_total", trigger="auto") == 1
    assert moved("remedy_hub_run_starts_total", result="started") == 1
    assert moved("remedy_hub_run_starts_total", result="retry") == 0
    assert value(after, "remedy_hub_start_queue_depth") == 0
    assert value(after, "remedy_hub_workers_online", group_id=s.group.group_id) == 1


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def defined_metrics() -> set[str]:
    """Every metric family Remedy defines (the worker's, the hub's, the bridged run counters
    and the store gauges) and the SDK's that the worker test sees in a real scrape."""
    names = {
        metric.name
        for registry in (worker_metrics.REGISTRY, hub_metrics.REGISTRY)
        for metric in registry.collect()
    }
    return names | {
        RUNS_STARTED,
        RUNS_FINISHED,
        "remedy_hub_start_queue_depth",
        "remedy_hub_workers_online",
        *SDK_METRICS_ALERTED,
    }


def test_the_alert_rules_parse_and_name_only_metrics_that_exist() -> None:
    documented = (ROOT / "docs" / "observability.md").read_text()
    exprs = alert_expressions()
    assert len(exprs) >= 5
    named = {m for e in exprs for m in re.findall(r"\b((?:remedy|temporal)_[a-z_]+)", e)}
    defined = defined_metrics()
    assert {"remedy_runs_finished_total", "remedy_hub_workers_online"} <= named
    for metric in named:
        family = re.sub(r"_(total|bucket|count|sum)$", "", metric)
        assert family in defined, f"{metric}: no such metric"
        assert f"`{family}" in documented, f"{metric}: not in docs/observability.md"


async def test_notifications_are_counted_sent_and_given_up_on() -> None:
    receiver = Receiver()
    activities = NotifyActivities(environ=LOOPBACK_ALLOWED)
    request = finished(settings=NotificationSettings(webhook=WebhookSettings(url=receiver.url)))

    def counted(outcome: str) -> float:
        found = worker_metrics.REGISTRY.get_sample_value(
            "remedy_notifications_total", {"outcome": outcome}
        )
        return found or 0.0

    sent, failed = counted("sent"), counted("failed")
    try:
        assert (await run_activity(activities, request)).webhook_status == 200
        assert (counted("sent") - sent, counted("failed") - failed) == (1, 0)
        receiver.answers = [404]  # refused: given up on, the run's notification says why
        with pytest.raises(ApplicationError):
            await run_activity(activities, request, attempt=2)
        assert (counted("sent") - sent, counted("failed") - failed) == (1, 1)
        receiver.answers = [503]  # busy: retried, not counted until it ends
        with pytest.raises(ApplicationError):
            await run_activity(activities, request, attempt=3)
        assert (counted("sent") - sent, counted("failed") - failed) == (1, 1)
    finally:
        receiver.stop()
