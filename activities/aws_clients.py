"""Shared boto3 clients for the worker's own calls (tagging), signed with the active run's keys.

Making a botocore client builds a class with a method per API operation: about 6 ms of CPU for
EC2, paid per run when each run's temporary credentials get their own client. Here one client per
(service, region) serves every run: each request is signed with the credentials of the run whose
code is calling, read from a context variable that `using(credentials)` sets (asyncio.to_thread
carries it into the worker thread). No run can sign with another's keys: outside `using()` a call
fails rather than falling back to any other identity.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Protocol

import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, Credentials, ReadOnlyCredentials


class RunKeys(Protocol):
    @property
    def access_key_id(self) -> str: ...

    @property
    def secret_access_key(self) -> str: ...

    @property
    def session_token(self) -> str: ...


_ACTIVE: ContextVar[RunKeys | None] = ContextVar("remedy_run_credentials", default=None)


class NoActiveRunError(RuntimeError):
    pass


def _active() -> RunKeys:
    keys = _ACTIVE.get()
    if keys is None:
        raise NoActiveRunError("a shared AWS client was used outside `using(credentials)`")
    return keys


class _ActiveRunCredentials(Credentials):
    """Whatever run is active in the calling context; never cached, never refreshed here.

    botocore's signer reads credentials through get_frozen_credentials() per request. The plain
    attributes stay "unset": any path that read them would fail to authenticate, never borrow.
    """

    def __init__(self) -> None:
        super().__init__("unset", "unset", None, method="remedy-active-run")

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        keys = _active()
        return ReadOnlyCredentials(keys.access_key_id, keys.secret_access_key, keys.session_token)


class _ActiveRunProvider(CredentialProvider):
    METHOD = "remedy-active-run"

    def load(self) -> Credentials:
        return _ActiveRunCredentials()


@contextlib.contextmanager
def using(keys: RunKeys) -> Iterator[None]:
    token = _ACTIVE.set(keys)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


class SharedClients:
    """One client per (service, region), created on first use, safe to share between threads."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self._endpoint_url = endpoint_url
        self._session = botocore.session.Session()
        resolver = self._session.get_component("credential_provider")
        resolver.insert_before("env", _ActiveRunProvider())
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._session.create_client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url,
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                )
                self._clients[key] = client
            return client

    def made(self) -> list[tuple[str, str]]:
        """The (service, region) of every client made so far, in the order made."""
        with self._lock:
            return list(self._clients)
