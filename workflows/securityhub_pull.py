"""SecurityHubPullWorkflow: one pull of a linked account's Security Hub findings into the hub.

Started by the account's pull schedule (remedy/pull_schedule.py) on the worker group's task
queue; its one activity reads and delivers the findings (activities/securityhub_pull.py).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.retry_policies import INFRA_RETRY

with workflow.unsafe.imports_passed_through():
    from remedy.types import PullInput, PullResult


@workflow.defn(name="SecurityHubPullWorkflow")
class SecurityHubPullWorkflow:
    @workflow.run
    async def run(self, request: PullInput) -> PullResult:
        result: PullResult = await workflow.execute_activity(
            "pull_security_hub",
            request,
            result_type=PullResult,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=INFRA_RETRY,
        )
        return result
