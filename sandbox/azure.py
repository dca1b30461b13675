"""The sandbox's Azure: Entra ID's token endpoint and Resource Manager, emulated on loopback HTTPS.

`start_azure_sandbox()` starts one threaded HTTPS server on 127.0.0.1 (a certificate from a CA made
at start, see sandbox/tls.py) that real clients (azure-identity, azure-mgmt-*) talk to unchanged.
The parts, each in its own module:

- sandbox/entra.py: Entra ID (tenant and instance discovery, the client-credentials grant, with
  Entra ID's AADSTS errors) and the app registrations with their role's actions;
- sandbox/arm_requests.py: Resource Manager (subscriptions, resources by ARM path in the generic
  store of sandbox/arm.py, ETags), sandbox/arm_operations.py its long-running operations and
  sandbox/arm_access.py its token and role checks (401 InvalidAuthenticationToken, 403
  AuthorizationFailed naming the action, as Azure RBAC answers);
- sandbox/azure_emulator.py routes a request to one or the other; sandbox/arm_server.py serves it.

Nothing listens beyond 127.0.0.1; `stop()` shuts the server and its thread down.
"""

from __future__ import annotations

import json
import secrets
import shutil
import ssl
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.identity import ClientSecretCredential
from azure.mgmt.network import NetworkManagementClient

from remedy.azure_env import (
    ARM_ENDPOINT_VARIABLE,
    AUTHORITY_HOST_VARIABLE,
    CLIENT_ID_VARIABLE,
    CLIENT_SECRET_VARIABLE,
    TENANT_ID_VARIABLE,
)
from sandbox.arm_operations import LOCATION
from sandbox.arm_server import AzureHttpsServer
from sandbox.azure_emulator import AzureEmulator
from sandbox.entra import TOKEN_LIFETIME_S, AppRegistration
from sandbox.tls import LocalTls, make_local_tls

__all__ = [
    "ADMIN_CLIENT_ID",
    "LOCATION",
    "SUBSCRIPTION_ID",
    "TAGGING_ACTIONS",
    "TENANT_ID",
    "TOKEN_LIFETIME_S",
    "WORKER_CLIENT_ID",
    "AppRegistration",
    "AzureEmulator",
    "AzureSandbox",
    "start_azure_sandbox",
]

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION_ID = "00000000-1111-2222-3333-444444444444"
WORKER_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
ADMIN_CLIENT_ID = "99999999-8888-7777-6666-555555555555"

#: What Remedy's tag step writes with the worker's app (see activities/tagging.py).
TAGGING_ACTIONS = (
    "Microsoft.Network/networkSecurityGroups/read",
    "Microsoft.Network/networkSecurityGroups/write",
    "Microsoft.Storage/storageAccounts/read",
    "Microsoft.Storage/storageAccounts/write",
)


@dataclass
class AzureSandbox:
    """A running emulator and the identities to use it with."""

    endpoint: str  # Resource Manager
    authority_host: str  # Entra ID
    tenant_id: str
    client_id: str  # the worker's app registration
    client_secret: str = field(repr=False)
    subscription_id: str = SUBSCRIPTION_ID
    ca_file: str = ""  # CA bundle to trust (certifi's roots + the sandbox CA)
    admin_client_id: str = ADMIN_CLIENT_ID
    admin_client_secret: str = field(default="", repr=False)
    location: str = LOCATION
    emulator: AzureEmulator | None = field(default=None, repr=False)
    _server: AzureHttpsServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _directory: Path | None = field(default=None, repr=False)

    def worker_env(self) -> dict[str, str]:
        """The environment a worker (or a job) needs to reach this sandbox as the worker's app."""
        return {
            CLIENT_ID_VARIABLE: self.client_id,
            CLIENT_SECRET_VARIABLE: self.client_secret,
            TENANT_ID_VARIABLE: self.tenant_id,
            AUTHORITY_HOST_VARIABLE: self.authority_host,
            ARM_ENDPOINT_VARIABLE: self.endpoint,
            "REQUESTS_CA_BUNDLE": self.ca_file,
            "SSL_CERT_FILE": self.ca_file,
        }

    def admin_env(self) -> dict[str, str]:
        """Like worker_env, as the sandbox administrator (every action allowed)."""
        return {
            **self.worker_env(),
            CLIENT_ID_VARIABLE: self.admin_client_id,
            CLIENT_SECRET_VARIABLE: self.admin_client_secret,
        }

    def network_client(self, admin: bool = True) -> NetworkManagementClient:
        """A real azure-mgmt-network client on the sandbox (the administrator's by default)."""
        credential = ClientSecretCredential(
            self.tenant_id,
            self.admin_client_id if admin else self.client_id,
            self.admin_client_secret if admin else self.client_secret,
            authority=self.authority_host,
            disable_instance_discovery=True,
            connection_verify=self.ca_file,
        )
        return NetworkManagementClient(
            credential,
            self.subscription_id,
            base_url=self.endpoint,
            credential_scopes=[f"{self.endpoint}/.default"],
            polling_interval=0,
            connection_verify=self.ca_file,
        )

    def secrets(self) -> list[str]:
        """Every long-lived secret of the sandbox (for the no-secret-in-history sweeps)."""
        return [self.client_secret, self.admin_client_secret]

    def issued_tokens(self) -> list[str]:
        """Every access token Entra ID handed out so far (for the no-secret sweeps)."""
        return list(self.emulator.issued) if self.emulator else []

    def admin_request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One Resource Manager call as the administrator (setup and inspection in plain HTTP)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.admin_client_id,
                "client_secret": self.admin_client_secret,
                "scope": f"{self.endpoint}/.default",
            }
        ).encode()
        token_url = f"{self.authority_host}/{self.tenant_id}/oauth2/v2.0/token"
        with urllib.request.urlopen(token_url, data=form, context=context, timeout=10) as answer:
            token = json.loads(answer.read())["access_token"]
        separator = "&" if "?" in path else "?"
        request = urllib.request.Request(
            f"{self.endpoint}{path}{separator}api-version=2024-05-01",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def create_resource_group(self, name: str) -> None:
        status, body = self.admin_request(
            "PUT",
            f"/subscriptions/{self.subscription_id}/resourceGroups/{name}",
            {"location": self.location},
        )
        if status not in (200, 201):
            raise RuntimeError(f"creating resource group {name} failed: {status} {body}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


def start_azure_sandbox(
    worker_actions: Iterable[str] | None = None,
    *,
    port: int = 0,
    extra_subscriptions: dict[str, str] | None = None,
    lro_polls: int = 1,
) -> AzureSandbox:
    """Start the emulator on 127.0.0.1 in a background thread.

    `worker_actions`: the Actions of the worker app's role (e.g. the jobs' minimum_policy.json
    Actions plus TAGGING_ACTIONS); None lets the worker app do everything. The administrator app
    may always do everything.
    """
    directory = Path(tempfile.mkdtemp(prefix="remedy-azure-sandbox-"))
    tls: LocalTls = make_local_tls(directory)
    worker = AppRegistration(
        WORKER_CLIENT_ID,
        secrets.token_urlsafe(24),
        "remedy-worker",
        None if worker_actions is None else frozenset(worker_actions),
    )
    admin = AppRegistration(ADMIN_CLIENT_ID, secrets.token_urlsafe(24), "sandbox-admin")
    emulator = AzureEmulator(
        TENANT_ID,
        [worker, admin],
        {SUBSCRIPTION_ID: "Remedy sandbox", **(extra_subscriptions or {})},
        lro_polls=lro_polls,
    )
    server = AzureHttpsServer(emulator, tls.server_context(), port)
    base = f"https://127.0.0.1:{server.server_address[1]}"
    emulator.base_url = base
    thread = threading.Thread(target=server.serve_forever, name="azure-sandbox", daemon=True)
    thread.start()
    return AzureSandbox(
        endpoint=base,
        authority_host=base,
        tenant_id=TENANT_ID,
        client_id=worker.client_id,
        client_secret=worker.client_secret,
        ca_file=str(tls.ca_bundle),
        admin_client_secret=admin.client_secret,
        emulator=emulator,
        _server=server,
        _thread=thread,
        _directory=directory,
    )
