"""Resource Manager's long-running operations, as the azure-mgmt pollers follow them.

A PUT (other than a resource group's) and a DELETE start an operation: the answer carries
`Azure-AsyncOperation` (and `Location` for a DELETE). Polled, the operation reports `InProgress`
for its first `polls` poll(s), then `Succeeded` (or `Failed` / `Canceled` with an `error`, when
sandbox/arm_faults.py says so); its `operationResults` URL answers 202 while it runs, then 204.
Polling is an action of its own, checked by sandbox/arm_requests.py.
"""

from __future__ import annotations

import threading
import urllib.parse
import uuid
from dataclasses import dataclass

from sandbox.arm_paths import ArmError, ArmPath
from sandbox.azdb_rules import POLL_SEGMENTS
from sandbox.azure_response import Response

#: The sandbox's one region: where resource groups are made and operations are reported.
LOCATION = "westeurope"


@dataclass
class _Operation:
    polls_left: int
    status: str = "Succeeded"  # how it ends: Succeeded, Failed or Canceled
    error: dict[str, str] | None = None  # for Failed / Canceled, as Azure reports it


class Operations:
    """The operations started so far, each by its id."""

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.base_url = ""  # set once the server is bound
        self._operations: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    def start(
        self, path: ArmPath, query: dict[str, str], delete: bool, ending: str = "Succeeded"
    ) -> dict[str, str]:
        """Start one that ends `ending`; the headers that tell the client where to poll it."""
        operation_id = str(uuid.uuid4())
        error = None
        if ending != "Succeeded":
            code = "OperationCanceled" if ending == "Canceled" else "InternalServerError"
            error = {"code": code, "message": f"The operation on {path.id()} was {ending.lower()}."}
        with self._lock:
            self._operations[operation_id] = _Operation(self.polls, ending, error)
        base = f"{self.base_url}/subscriptions/{path.subscription}/providers/{path.namespace}"
        segment = POLL_SEGMENTS.get(path.namespace.lower(), "operations")
        version = urllib.parse.quote(query["api-version"])
        headers = {
            "Azure-AsyncOperation": f"{base}/locations/{LOCATION}/{segment}/{operation_id}"
            f"?api-version={version}"
        }
        if delete:
            headers["Location"] = (
                f"{base}/locations/{LOCATION}/operationResults/{operation_id}?api-version={version}"
            )
        return headers

    def poll(self, kind: str, operation_id: str) -> Response:
        """`kind`: "operations" or "azureasyncoperation" (the status document) or
        "operationresults" (202 / 204)."""
        with self._lock:
            operation = self._operations.get(operation_id)
            if operation is None:
                raise ArmError(404, "OperationNotFound", f"no operation {operation_id}")
            running = operation.polls_left > 0
            if running and kind != "operationresults":
                operation.polls_left -= 1
        if kind == "operationresults":
            return Response(202 if running else 204)
        if running:
            return Response(200, {"status": "InProgress"})
        document: dict[str, object] = {"status": operation.status}
        if operation.error:
            document["error"] = operation.error
        return Response(200, document)
