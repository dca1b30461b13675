"""Entra ID and Resource Manager behind one host, as the sandbox serves them (transport-free).

A path under `/subscriptions` or `/providers` goes to Resource Manager (sandbox/arm_requests.py),
one under `/keyvault` to a vault's data plane (sandbox/keyvault_data.py), anything else to Entra ID
(sandbox/entra.py). sandbox/arm_server.py puts this on HTTPS.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from sandbox.arm import ArmStore
from sandbox.arm_faults import Faults
from sandbox.arm_faults import ThrottledError as Throttled
from sandbox.arm_paths import ArmError
from sandbox.arm_requests import ResourceManager
from sandbox.azure_response import Response
from sandbox.entra import TOKEN_LIFETIME_S, AppRegistration, EntraDirectory
from sandbox.keyvault_data import PREFIX as KEY_VAULT_PREFIX
from sandbox.keyvault_data import KeyVaultData
from sandbox.request_log import RequestLog


class AzureEmulator:
    """Entra ID + Resource Manager state and request handling."""

    def __init__(
        self,
        tenant_id: str,
        apps: Iterable[AppRegistration],
        subscriptions: dict[str, str],
        *,
        token_lifetime_s: int = TOKEN_LIFETIME_S,
        lro_polls: int = 1,
    ) -> None:
        self.tenant_id = tenant_id
        self.directory = EntraDirectory(tenant_id, apps, token_lifetime_s=token_lifetime_s)
        self.resource_manager = ResourceManager(self.directory, subscriptions, lro_polls=lro_polls)
        #: the vaults' data plane, under {base}/keyvault/{vault}/ (sandbox/keyvault_data.py)
        self.key_vaults = KeyVaultData(self.directory, self.store, subscriptions)
        #: every request, in order (what a job in plan mode did: sandbox/request_log.py)
        self.requests = RequestLog()

    @property
    def base_url(self) -> str:
        return self.directory.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        # both halves write URLs to themselves into their answers (discovery, operation polls)
        self.directory.base_url = value
        self.resource_manager.operations.base_url = value
        self.key_vaults.base_url = value

    @property
    def store(self) -> ArmStore:
        return self.resource_manager.store

    @property
    def faults(self) -> Faults:
        """Switch Resource Manager's 409 / 429 / Failed / Canceled answers on (a test at a time)."""
        return self.resource_manager.faults

    @property
    def issued(self) -> list[str]:
        """Every access token handed out (for the secret sweeps)."""
        return self.directory.issued

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        self.requests.add(method, target)
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [p for p in url.path.split("/") if p]
        try:
            if parts and parts[0].lower() in ("subscriptions", "providers"):
                return self.resource_manager.handle(method, url.path, query, headers, body)
            if parts and parts[0].lower() == KEY_VAULT_PREFIX:
                return self.key_vaults.handle(method, parts, query, headers, body)
            return self.directory.handle(method, parts, query, body)
        except ArmError as exc:
            headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Throttled) else {}
            return Response(exc.status, exc.body(), headers)
        except Exception as exc:  # an emulator bug: say so rather than drop the connection
            return Response(
                500, {"error": {"code": "EmulatorError", "message": f"{type(exc).__name__}: {exc}"}}
            )
