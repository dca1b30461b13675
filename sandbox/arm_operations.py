"""Resource Manager's long-running operations, as the azure-mgmt pollers follow them.

A PUT (other than a resource group's) and a DELETE start an operation: the answer carries
`Azure-AsyncOperation` (and `Location` for a DELETE). Polled, the operation reports `InProgress`
for its first `polls` poll(s), then `Succeeded`; its `operationResults` URL answers 202 while it
runs, then 204.
"""

from __future__ import annotations

import threading
import urllib.parse
import uuid
from dataclasses import dataclass

from sandbox.arm_paths import ArmError, ArmPath
from sandbox.azure_response import Response

#: The sandbox's one region: where resource groups are made and operations are reported.
LOCATION = "westeurope"


@dataclass
class _Operation:
    polls_left: int
    status: str = "Succeeded"


class Operations:
    """The operations started so far, each by its id."""

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.base_url = ""  # set once the server is bound
        self._operations: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    def start(self, path: ArmPath, query: dict[str, str], delete: bool) -> dict[str, str]:
        """Start one; the headers that tell the client where to poll it."""
        operation_id = str(uuid.uuid4())
        with self._lock:
            self._operations[operation_id] = _Operation(self.polls)
        base = f"{self.base_url}/subscriptions/{path.subscription}/providers/{path.namespace}"
        version = urllib.parse.quote(query["api-version"])
        headers = {
            "Azure-AsyncOperation": f"{base}/locations/{LOCATION}/operations/{operation_id}"
            f"?api-version={version}"
        }
        if delete:
            headers["Location"] = (
                f"{base}/locations/{LOCATION}/operationResults/{operation_id}?api-version={version}"
            )
        return headers

    def poll(self, kind: str, operation_id: str) -> Response:
        """`kind`: "operations" (the status document) or "operationresults" (202 / 204)."""
        with self._lock:
            operation = self._operations.get(operation_id)
            if operation is None:
                raise ArmError(404, "OperationNotFound", f"no operation {operation_id}")
            running = operation.polls_left > 0
            if running and kind == "operations":
                operation.polls_left -= 1
        if kind == "operationresults":
            return Response(202 if running else 204)
        return Response(200, {"status": "InProgress" if running else operation.status})
