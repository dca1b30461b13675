"""The sandbox's Azure: Entra ID's token endpoint and Resource Manager, emulated on loopback HTTPS.

`start_azure_sandbox()` starts one threaded HTTPS server on 127.0.0.1 (a certificate from a CA made
at start, see sandbox/tls.py) that real clients (azure-identity, azure-mgmt-*) talk to unchanged:

Entra ID (the authority host):
- `GET /{tenant}/v2.0/.well-known/openid-configuration` (and the v1 spelling): tenant discovery;
- `GET /common/discovery/instance`: instance discovery, for clients that do not disable it;
- `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant. The client id and secret are
  checked against the app registrations configured; failures answer as Entra ID does (AADSTS
  codes: 7000215 wrong secret, 700016 unknown app, 90002 unknown tenant).

Resource Manager (the same host):
- a generic store of resources by ARM path (sandbox/arm.py): GET, PUT, PATCH, DELETE, list;
- PUT and DELETE are long-running: the answer carries `Azure-AsyncOperation` (and `Location` for
  DELETE); the operation reports `InProgress` on its first poll(s), then `Succeeded`;
- `GET /subscriptions/{id}` and `GET /subscriptions`: only the subscriptions the app registrations
  are associated with (another one is 404 SubscriptionNotFound, and its resources 403);
- every request needs `api-version` (any value) and a bearer token that the token endpoint issued
  and that has not expired (else 401 InvalidAuthenticationToken);
- an app registration may carry the actions of its role (a custom role definition's `Actions`):
  a request outside them is 403 AuthorizationFailed naming the action, as Azure RBAC answers.

Nothing listens beyond 127.0.0.1; `stop()` shuts the server and its thread down.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import SHUT_RDWR, socket
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
from sandbox.arm import ArmError, ArmPath, ArmStore, parse_path
from sandbox.tls import LocalTls, make_local_tls

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION_ID = "00000000-1111-2222-3333-444444444444"
WORKER_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
ADMIN_CLIENT_ID = "99999999-8888-7777-6666-555555555555"
LOCATION = "westeurope"
TOKEN_LIFETIME_S = 3600

#: What Remedy's tag step writes with the worker's app (see activities/tagging.py).
TAGGING_ACTIONS = (
    "Microsoft.Network/networkSecurityGroups/read",
    "Microsoft.Network/networkSecurityGroups/write",
)


@dataclass(frozen=True)
class AppRegistration:
    """An app registration (service principal) and what its role lets it do."""

    client_id: str
    client_secret: str = field(repr=False)
    display_name: str = "app"
    #: the `Actions` of its role (wildcards allowed); None: everything (an Owner)
    actions: frozenset[str] | None = None

    def may(self, action: str) -> bool:
        if self.actions is None:
            return True
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions)


@dataclass(frozen=True)
class _Token:
    app: AppRegistration
    tenant: str
    expires: float


@dataclass
class _Operation:
    polls_left: int
    status: str = "Succeeded"


@dataclass
class _Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _oauth_error(status: int, error: str, code: int, description: str) -> _Response:
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    return _Response(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {time.strftime('%Y-%m-%d %H:%M:%SZ')}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(trace),
            "correlation_id": str(correlation),
        },
    )


def _action(method: str, path: ArmPath) -> str:
    verb = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(
        method, "action"
    )
    if path.is_resource_group:
        return f"Microsoft.Resources/subscriptions/resourceGroups/{verb}"
    return f"{path.resource_type}/{verb}"


class AzureEmulator:
    """Entra ID + Resource Manager state and request handling (transport-free: see _Handler)."""

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
        self.apps = {app.client_id.lower(): app for app in apps}
        self.subscriptions = dict(subscriptions)
        self.token_lifetime_s = token_lifetime_s
        self.lro_polls = lro_polls
        self.store = ArmStore()
        self.base_url = ""  # set once the server is bound
        self._tokens: dict[str, _Token] = {}
        self.issued: list[str] = []  # every access token handed out (for the secret sweeps)
        self._operations: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    # -- entry point -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Response:
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [p for p in url.path.split("/") if p]
        try:
            if parts and parts[0].lower() in ("subscriptions", "providers"):
                return self._arm(method, url.path, query, headers, body)
            return self._entra(method, parts, query, body)
        except ArmError as exc:
            return _Response(exc.status, exc.body())
        except Exception as exc:  # an emulator bug: say so rather than drop the connection
            return _Response(
                500, {"error": {"code": "EmulatorError", "message": f"{type(exc).__name__}: {exc}"}}
            )

    # -- Entra ID ----------------------------------------------------------------------------------

    def _openid_configuration(self, tenant: str, v2: bool) -> dict[str, Any]:
        base = f"{self.base_url}/{tenant}"
        version = "/v2.0" if v2 else ""
        return {
            "token_endpoint": f"{base}/oauth2{version}/token",
            "authorization_endpoint": f"{base}/oauth2{version}/authorize",
            "device_authorization_endpoint": f"{base}/oauth2{version}/devicecode",
            "issuer": f"{self.base_url}/{tenant}{version}",
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }

    def _entra(
        self, method: str, parts: list[str], query: dict[str, str], body: bytes
    ) -> _Response:
        if method == "GET" and parts[:3] == ["common", "discovery", "instance"]:
            authorize = urllib.parse.urlsplit(query.get("authorization_endpoint", ""))
            tenant = next((p for p in authorize.path.split("/") if p), self.tenant_id)
            return _Response(
                200,
                {
                    "tenant_discovery_endpoint": f"{self.base_url}/{tenant}/v2.0/.well-known/"
                    "openid-configuration",
                    "api-version": "1.1",
                    "metadata": [],
                },
            )
        if not parts:
            return _Response(404, {"error": "not_found"})
        tenant, rest = parts[0], parts[1:]
        known = tenant.lower() in (self.tenant_id.lower(), "organizations", "common")
        if method == "GET" and rest in (
            ["v2.0", ".well-known", "openid-configuration"],
            [".well-known", "openid-configuration"],
        ):
            if not known:
                return _oauth_error(
                    400,
                    "invalid_tenant",
                    90002,
                    f"Tenant '{tenant}' not found. Check to make "
                    "sure you have the correct tenant ID and are signing into the correct cloud.",
                )
            return _Response(200, self._openid_configuration(self.tenant_id, rest[0] == "v2.0"))
        if method == "POST" and rest in (["oauth2", "v2.0", "token"], ["oauth2", "token"]):
            if not known:
                return _oauth_error(
                    400,
                    "invalid_request",
                    90002,
                    f"Tenant '{tenant}' not found. Check to make "
                    "sure you have the correct tenant ID and are signing into the correct cloud.",
                )
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", errors="replace")))
            return self._token(form)
        return _Response(404, {"error": "not_found", "error_description": "no such endpoint"})

    def _token(self, form: dict[str, str]) -> _Response:
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return _oauth_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'. This emulator grants "
                "client_credentials only.",
            )
        client_id = form.get("client_id", "")
        app = self.apps.get(client_id.lower())
        if app is None:
            return _oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant_id}'. This can happen if the application has not been installed "
                "by the administrator of the tenant or consented to by any user in the tenant.",
            )
        given = form.get("client_secret")
        if given is None:
            return _oauth_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not secrets.compare_digest(given.encode(), app.client_secret.encode()):
            return _oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            return _oauth_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier.",
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires > now}
            self._tokens[token] = _Token(app, self.tenant_id, now + self.token_lifetime_s)
            self.issued.append(token)
        lifetime = self.token_lifetime_s - 1
        return _Response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
        )

    # -- Resource Manager ----------------------------------------------------------------------

    def _caller(self, headers: dict[str, str]) -> AppRegistration:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        with self._lock:
            found = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if found is None or found.expires <= time.time():
            problem = "expired" if found else ("invalid" if value else "missing")
            raise ArmError(
                401,
                "InvalidAuthenticationToken" if value else "AuthenticationFailed",
                f"The access token is {problem}."
                if value
                else "Authentication failed. The 'Authorization' header is missing.",
            )
        return found.app

    def _denied(self, app: AppRegistration, action: str, scope: str) -> ArmError:
        return ArmError(
            403,
            "AuthorizationFailed",
            f"The client '{app.client_id}' with object id '{app.client_id}' does not have "
            f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
            "invalid. If access was recently granted, please refresh your credentials.",
        )

    def _arm(
        self,
        method: str,
        raw_path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> _Response:
        if "api-version" not in query:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        app = self._caller(headers)
        parts = [p for p in raw_path.split("/") if p]
        if parts == ["subscriptions"] and method == "GET":
            return _Response(200, {"value": [self._subscription(s) for s in self.subscriptions]})
        if parts[0].lower() != "subscriptions" or len(parts) < 2:
            raise ArmError(404, "InvalidResourceNamespace", f"no resource at {raw_path}")
        subscription = parts[1]
        associated = next(
            (s for s in self.subscriptions if s.lower() == subscription.lower()), None
        )
        if len(parts) == 2:
            if method != "GET" or associated is None:
                raise ArmError(
                    404,
                    "SubscriptionNotFound",
                    f"The subscription '{subscription}' could not be found.",
                )
            return _Response(200, self._subscription(associated))
        lowered = [p.lower() for p in parts]
        if len(parts) == 8 and lowered[2] == "providers" and lowered[4] == "locations":
            return self._operation(lowered[6], parts[7])
        _, path = parse_path(raw_path)
        assert path is not None
        action = _action(method, path)
        if associated is None or not app.may(action):
            raise self._denied(app, action, path.scope())
        return self._resource(method, path, query, headers, body)

    def _subscription(self, subscription_id: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{subscription_id}",
            "subscriptionId": subscription_id,
            "tenantId": self.tenant_id,
            "displayName": self.subscriptions[subscription_id],
            "state": "Enabled",
        }

    def _resource(
        self,
        method: str,
        path: ArmPath,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> _Response:
        if path.is_collection:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{method} on a collection")
            return _Response(200, {"value": self.store.list(path)})
        if_match = headers.get("if-match")
        if method == "GET":
            return _Response(200, self.store.get(path))
        if method in ("PUT", "PATCH"):
            document = self._json(body)
            if method == "PATCH":
                return _Response(200, self.store.patch(path, document, if_match=if_match))
            stored, created = self.store.put(
                path, document, if_match=if_match, if_none_match=headers.get("if-none-match")
            )
            if path.is_resource_group:  # resource groups are created synchronously
                return _Response(201 if created else 200, stored)
            stored.setdefault("properties", {})["provisioningState"] = "Updating"
            return _Response(
                201 if created else 200, stored, self._start_operation(path, query, delete=False)
            )
        if method == "DELETE":
            if not self.store.delete(path, if_match=if_match):
                return _Response(204)
            return _Response(202, None, self._start_operation(path, query, delete=True))
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on {path.id()}")

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            document = json.loads(body or b"{}")
        except ValueError as exc:
            raise ArmError(400, "InvalidRequestContent", f"the body is not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ArmError(400, "InvalidRequestContent", "the body must be a JSON object")
        return document

    def _start_operation(
        self, path: ArmPath, query: dict[str, str], delete: bool
    ) -> dict[str, str]:
        operation_id = str(uuid.uuid4())
        with self._lock:
            self._operations[operation_id] = _Operation(self.lro_polls)
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

    def _operation(self, kind: str, operation_id: str) -> _Response:
        with self._lock:
            operation = self._operations.get(operation_id)
            if operation is None:
                raise ArmError(404, "OperationNotFound", f"no operation {operation_id}")
            running = operation.polls_left > 0
            if running and kind == "operations":
                operation.polls_left -= 1
        if kind == "operationresults":
            return _Response(202 if running else 204)
        return _Response(200, {"status": "InProgress" if running else operation.status})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.emulator.handle(self.command, self.path, headers, body)
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read state, not access logs


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator: AzureEmulator, context: ssl.SSLContext, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.emulator = emulator
        self.context = context
        self.connections: set[socket] = set()
        self.connections_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # the TLS handshake happens here, in the request's thread, not in the accept loop
        try:
            wrapped: socket = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.connections_lock:
            self.connections.add(wrapped)
        try:
            super().finish_request(wrapped, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(wrapped)

    def close_connections(self) -> None:
        """End the kept-alive connections, so no handler thread outlives the server."""
        with self.connections_lock:
            open_ones = list(self.connections)
        for connection in open_ones:
            with contextlib.suppress(OSError):
                connection.shutdown(SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-request is not the emulator's problem


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
    _server: _Server | None = field(default=None, repr=False)
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
    server = _Server(emulator, tls.server_context(), port)
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
