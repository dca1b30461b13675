"""The pull schedule's activity: read a linked account's Security Hub findings, hand them to
the hub.

GetFindings (remedy/securityhub.py: filtered, paginated) is signed with the run's assumed role
in the account (the role needs `securityhub:GetFindings`); the findings go to the hub through
the worker's hub link (POST /worker/findings, which takes only the group's accounts), a page at
a time, so nothing passes through the workflow's history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.credentials import CredentialStore
from remedy.securityhub import filters_for, pages
from remedy.types import PullInput, PullResult

Deliver = Callable[[list[Any]], Awaitable[dict[str, Any]]]


class PullActivities:
    def __init__(self, credentials: CredentialStore, deliver: Callable[[], Deliver | None]) -> None:
        self.credentials = credentials
        #: read when a pull runs: the hub link is made after the activities are
        self._deliver = deliver

    def _read(self, request: PullInput, run_id: str, region: str) -> list[list[Any]]:
        since = datetime.now(UTC) - timedelta(minutes=request.lookback_minutes)
        filters = filters_for(
            statuses=tuple(request.statuses),
            standards=tuple(request.standards),
            accounts=(request.account.account_id,),
            updated_since=since,
        )
        # the shared clients sign with this run's credentials
        with self.credentials.acting_as(request.account, run_id):
            client = self.credentials.clients.get("securityhub", region)
            return list(pages(client, filters))

    @activity.defn(name="pull_security_hub")
    async def pull_security_hub(self, request: PullInput) -> PullResult:
        deliver = self._deliver()
        if deliver is None:
            raise ApplicationError(
                "this worker has no hub link (REMEDY_HUB_URL): pulled findings have nowhere to go",
                type="NoHubLink",
                non_retryable=True,
            )
        run_id = activity.info().workflow_id or activity.info().activity_id
        result = PullResult()
        regions: list[str] = request.regions or [self.credentials.region_for(request.account)]
        for region in regions:
            for page in await asyncio.to_thread(self._read, request, run_id, region):
                answer = await deliver(page)
                result.pulled += len(page)
                result.accepted += int(answer.get("accepted", 0))
                result.rejected += int(answer.get("rejected", 0))
                result.queued += int(answer.get("queued", 0))
                activity.heartbeat(result.pulled)
        return result
