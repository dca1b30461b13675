"""Resource Manager's answers when things go wrong, switched on per test.

`Faults.arm(kind, times=1)` makes the next `times` writes (PUT, PATCH, DELETE of a resource, not
of a resource group) go wrong as Azure's do:

- "conflict": 409 AnotherOperationInProgress, another operation is running on the resource
  (https://learn.microsoft.com/en-us/azure/azure-resource-manager/troubleshooting/common-deployment-errors:
  "wait for concurrent operation to complete");
- "throttle": 429 with `Retry-After` in seconds, as Resource Manager throttles
  (https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling);
- "failed" / "canceled": the write is accepted (201/200 and Azure-AsyncOperation) but its
  operation ends `Failed` / `Canceled` with an `error`, and the resource is left as it was
  (https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/async-operations).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sandbox.arm_paths import ArmError

KINDS = ("conflict", "throttle", "failed", "canceled")


@dataclass
class Armed:
    kind: str
    times: int
    retry_after_s: int


class ThrottledError(ArmError):
    """A 429 whose answer carries Retry-After."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            429,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type "
            f"- Write. Retry after {retry_after_s} seconds.",
        )
        self.retry_after_s = retry_after_s


class Faults:
    """The faults armed, consumed one per write, in the order they were armed."""

    def __init__(self) -> None:
        self._armed: list[Armed] = []
        self._lock = threading.Lock()
        self.served: list[str] = []  # the kinds served so far (tests check what happened)

    def arm(self, kind: str, times: int = 1, retry_after_s: int = 1) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}: one of {', '.join(KINDS)}")
        with self._lock:
            self._armed.append(Armed(kind, times, retry_after_s))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self.served.clear()

    def next_write(self, resource_id: str) -> str | None:
        """Raise the armed refusal for this write, or return "Failed"/"Canceled" for an
        operation that must end so; None: the write goes through."""
        with self._lock:
            if not self._armed:
                return None
            armed = self._armed[0]
            armed.times -= 1
            if armed.times <= 0:
                self._armed.pop(0)
            self.served.append(armed.kind)
        if armed.kind == "conflict":
            raise ArmError(
                409,
                "AnotherOperationInProgress",
                f"Operation on resource {resource_id} failed because another operation on the "
                "same resource is in progress.",
            )
        if armed.kind == "throttle":
            raise ThrottledError(armed.retry_after_s)
        return armed.kind.capitalize()  # the status the operation ends with
