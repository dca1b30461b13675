"""Failed authentication, slowed per client address.

Each failed authentication (a missing, unknown, expired or revoked token; wrong worker
credentials) is counted against the client's address for a minute. Past
`hub_auth_failures_per_minute` the address is answered 429 with `Retry-After` until its oldest
failure in the window is a minute old, whatever it sends: answering a right guess while refusing
wrong ones would let a guesser go on at full speed. Other addresses are not slowed. The counts
live in the hub process (each hub of several counts its own), bounded in size.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.requests import HTTPConnection

from hub.errors import ApiError

WINDOW_S = 60.0
MAX_CLIENTS = 10_000  # addresses tracked at once; the least recently failing are forgotten


def client_key(request: HTTPConnection) -> str:
    # the peer address, never a forwarded-for header a client could write itself
    return request.client.host if request.client else "unknown"


class FailedAuthLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        found = self._failures.get(key)
        if found is None:
            return None
        while found and found[0] <= now - WINDOW_S:
            found.popleft()
        if not found:
            del self._failures[key]
            return None
        return found

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        with self._lock:
            now = self._clock()
            found = self._recent(key, now)
            if found is None or len(found) < self.per_minute:
                return 0.0
            return found[-self.per_minute] + WINDOW_S - now

    def failed(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            found = self._recent(key, now) or deque()
            found.append(now)
            while len(found) > self.per_minute:
                found.popleft()  # enough to know when the address is free again
            self._failures[key] = found
            self._failures.move_to_end(key)
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)

    def check(self, key: str) -> None:
        """429 with Retry-After while `key` is over its failures."""
        wait = self.retry_after(key)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                f"too many failed authentications from this address; try again in {seconds} s",
                "check the token or the worker credentials: every failure counts for a minute",
                headers={"Retry-After": str(seconds)},
            )
