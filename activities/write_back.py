"""Write a run's outcome back to its Security Hub finding: BatchUpdateFindings.

Signed with the run's assumed credentials (the role in the finding's account needs
`securityhub:BatchUpdateFindings`), through the worker's shared clients: the keys stay in the
worker's memory. A refusal (no permission, unknown finding) is reported on the step and never
fails the run; throttling and 5xx are raised, for Temporal to retry.
API: https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botocore.exceptions import ClientError
from temporalio import activity

from activities.credentials import RETRYABLE_CODES, CredentialStore, error_code
from remedy.types import WriteBackInput, WriteBackResult

log = logging.getLogger("remedy.write_back")

UPDATED_BY = "remedy"


class WriteBackActivities:
    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials

    def _update(self, request: WriteBackInput) -> WriteBackResult:
        if request.account.provider != "aws":
            return WriteBackResult(updated=False, message="not a Security Hub finding: skipped")
        region = request.finding.region or self.credentials.region_for(request.account)
        update: dict[str, Any] = {
            "FindingIdentifiers": [
                {"Id": request.finding.id, "ProductArn": request.finding.product_arn}
            ],
            "Note": {"Text": request.note, "UpdatedBy": UPDATED_BY},
        }
        if request.workflow_status:
            update["Workflow"] = {"Status": request.workflow_status}
        try:
            # the shared clients sign with this run's credentials
            with self.credentials.acting_as(request.account, request.run_id):
                client = self.credentials.clients.get("securityhub", region)
                answer = client.batch_update_findings(**update)
        except ClientError as exc:
            code = error_code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in RETRYABLE_CODES or status >= 500 or status == 429:
                raise
            problem = exc.response.get("Error", {}).get("Message", "")
            return WriteBackResult(
                updated=False, message=f"Security Hub refused the update ({code}: {problem})"
            )
        unprocessed = answer.get("UnprocessedFindings") or []
        if unprocessed:
            first = unprocessed[0]
            return WriteBackResult(
                updated=False,
                message=f"Security Hub did not update the finding ({first.get('ErrorCode')}: "
                f"{first.get('ErrorMessage')})",
            )
        what = f"set {request.workflow_status}" if request.workflow_status else "noted"
        return WriteBackResult(updated=True, message=f"Security Hub finding {what}")

    @activity.defn(name="write_back_finding")
    async def write_back_finding(self, request: WriteBackInput) -> WriteBackResult:
        result = await asyncio.to_thread(self._update, request)
        log.info(result.message, extra={"runId": request.run_id, "updated": result.updated})
        return result
