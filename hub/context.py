"""What every request handler reaches: the store, the settings, the Temporal link, the callers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from starlette.requests import HTTPConnection
from temporalio.client import Client

from hub.auth import (
    Caller,
    Permission,
    authorize,
    caller_from_token,
    group_from_credentials,
    worker_credentials,
)
from hub.config import HubSettings
from hub.db import Database
from hub.errors import ApiError
from hub.models import WorkerGroup
from hub.ratelimit import FailedAuthLimiter, client_key
from hub.runs import Runs
from remedy import tracing
from remedy.config import TemporalSettings
from remedy.temporal import connect

CONNECT_TIMEOUT_S = 10.0
T = TypeVar("T")


class TemporalLink:
    """The hub's Temporal client: the one given, or connected on first use (and again after a
    failure), so the hub starts and takes findings while Temporal is still coming up."""

    def __init__(self, settings: TemporalSettings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock: asyncio.Lock | None = None

    async def __call__(self) -> Client:
        if self._client is not None:
            self._client = tracing.traced_client(self._client)
            return self._client
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._client is None:
                try:
                    client = await asyncio.wait_for(connect(self.settings), CONNECT_TIMEOUT_S)
                    self._client = tracing.traced_client(client)
                except (TimeoutError, RuntimeError, OSError) as exc:
                    raise ApiError(
                        503,
                        f"Temporal at {self.settings.address} does not answer ({exc})",
                        "start it (`remedy dev-server`) or set TEMPORAL_ADDRESS; "
                        "runs claimed meanwhile start when it answers",
                    ) from None
            return self._client


@dataclass
class Hub:
    settings: HubSettings
    temporal_settings: TemporalSettings
    db: Database
    temporal: TemporalLink
    runs: Runs = field(init=False)
    limiter: FailedAuthLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.runs = Runs(self.db, self.settings, self.temporal_settings, self.temporal)
        self.limiter = FailedAuthLimiter(self.settings.hub_auth_failures_per_minute)


def authenticated(hub: Hub, request: Request, presented: bool, check: Callable[[], T]) -> T:
    """`check()`, slowed per client address when presented credentials fail (401) too often
    (hub/ratelimit.py). A request without credentials guesses nothing: it is not counted."""
    key = client_key(request)
    hub.limiter.check(key)
    try:
        return check()
    except ApiError as exc:
        if exc.status == 401 and presented:
            hub.limiter.failed(key)
        raise


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


class _BearerDoc(HTTPBearer):
    """Declares bearer auth in the OpenAPI document; the hub reads the header itself."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return None


class _BasicDoc(HTTPBasic):
    async def __call__(self, request: HTTPConnection) -> HTTPBasicCredentials | None:  # type: ignore[override]
        return None


bearer_doc = _BearerDoc(
    scheme_name="userToken", description="A user's API token (`remedy hub create-user`)."
)
basic_doc = _BasicDoc(
    scheme_name="workerGroup",
    description="A worker group's client id and secret (VSS_CLIENT_ID / VSS_CLIENT_SECRET).",
)


def require(permission: Permission, what: str) -> Callable[..., Caller]:
    """A dependency: the calling user, refused (401/403) unless the role grants `permission`."""

    def dependency(
        request: Request,
        hub: HubDep,
        _doc: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_doc)],
    ) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        presented = token.strip() if scheme.lower() == "bearer" else None
        caller = authenticated(
            hub,
            request,
            bool(presented),
            lambda: hub.db.run(lambda s: caller_from_token(s, presented)),
        )
        authorize(caller, permission, what)
        request.state.caller = caller  # for the audit log (hub/audit.py)
        return caller

    return dependency


def worker_group(
    request: Request,
    hub: HubDep,
    _doc: Annotated[HTTPBasicCredentials | None, Depends(basic_doc)],
) -> WorkerGroup:
    credentials = worker_credentials(request)
    group = authenticated(
        hub,
        request,
        bool(request.headers.get("authorization")),
        lambda: hub.db.run(lambda s: group_from_credentials(s, credentials)),
    )
    if not group.enabled:
        raise ApiError(
            403,
            f"worker group {group.id} ({group.name[:200]}) is disabled",
            f"an admin enables it again (POST /worker-groups/{group.id}/enable)",
        )
    return group


Viewer = Annotated[Caller, Depends(require(Permission.VIEW, "view the hub"))]
Trigger = Annotated[Caller, Depends(require(Permission.TRIGGER, "trigger remediations"))]
Manager = Annotated[
    Caller, Depends(require(Permission.MANAGE, "create or update remediations, groups or users"))
]
WorkerAuth = Annotated[WorkerGroup, Depends(worker_group)]
