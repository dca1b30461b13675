"""The sandbox's Entra ID: tenant discovery and the client-credentials token endpoint.

- `GET /{tenant}/v2.0/.well-known/openid-configuration` (and the v1 spelling): tenant discovery;
- `GET /common/discovery/instance`: instance discovery, for clients that do not disable it;
- `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant. The client id and secret are
  checked against the app registrations configured; failures answer as Entra ID does (AADSTS
  codes: 7000215 wrong secret, 7000222 expired secret, 700016 unknown app, 90002 unknown tenant,
  500011 a scope naming a resource the tenant does not know; the codes:
  https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes). A token is
  for the resource of its scope (its audience): Resource Manager, or another one the tenant knows
  (OTHER_RESOURCES), which Resource Manager then refuses.

The tokens it issues are opaque; Resource Manager (sandbox/arm_access.py) looks them up here.
"""

from __future__ import annotations

import fnmatch
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.azure_response import Response

TOKEN_LIFETIME_S = 3600
#: Resources besides the sandbox's Resource Manager that Entra ID issues tokens for.
OTHER_RESOURCES = (
    "https://graph.microsoft.com",
    "https://vault.azure.net",
)  # vault: keyvault_data.py


@dataclass(frozen=True)
class AppRegistration:
    """An app registration (service principal) and what its role lets it do."""

    client_id: str
    client_secret: str = field(repr=False)
    display_name: str = "app"
    #: the `Actions` of its role (wildcards allowed); None: everything (an Owner)
    actions: frozenset[str] | None = None
    #: when its client secret expires (epoch seconds); None: never
    secret_expires: float | None = None

    def may(self, action: str) -> bool:
        if self.actions is None:
            return True
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions)


@dataclass(frozen=True)
class Token:
    app: AppRegistration
    tenant: str
    expires: float
    audience: str = ""  # the resource it was issued for


def oauth_error(status: int, error: str, code: int, description: str) -> Response:
    """An error as Entra ID words it: the AADSTS code in the description and in `error_codes`."""
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    return Response(
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


def _unknown_tenant(error: str, tenant: str) -> Response:
    return oauth_error(
        400,
        error,
        90002,
        f"Tenant '{tenant}' not found. Check to make "
        "sure you have the correct tenant ID and are signing into the correct cloud.",
    )


class EntraDirectory:
    """One tenant's app registrations and the tokens issued to them (transport-free)."""

    def __init__(
        self,
        tenant_id: str,
        apps: Iterable[AppRegistration],
        *,
        token_lifetime_s: int = TOKEN_LIFETIME_S,
    ) -> None:
        self.tenant_id = tenant_id
        self.apps = {app.client_id.lower(): app for app in apps}
        self.token_lifetime_s = token_lifetime_s
        self.base_url = ""  # set once the server is bound
        self.issued: list[str] = []  # every access token handed out (for the secret sweeps)
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    def token(self, access_token: str) -> Token | None:
        """The token issued under that string, expired or not (the caller says which)."""
        with self._lock:
            return self._tokens.get(access_token)

    def handle(self, method: str, parts: list[str], query: dict[str, str], body: bytes) -> Response:
        if method == "GET" and parts[:3] == ["common", "discovery", "instance"]:
            authorize = urllib.parse.urlsplit(query.get("authorization_endpoint", ""))
            tenant = next((p for p in authorize.path.split("/") if p), self.tenant_id)
            return Response(
                200,
                {
                    "tenant_discovery_endpoint": f"{self.base_url}/{tenant}/v2.0/.well-known/"
                    "openid-configuration",
                    "api-version": "1.1",
                    "metadata": [],
                },
            )
        if not parts:
            return Response(404, {"error": "not_found"})
        tenant, rest = parts[0], parts[1:]
        known = tenant.lower() in (self.tenant_id.lower(), "organizations", "common")
        if method == "GET" and rest in (
            ["v2.0", ".well-known", "openid-configuration"],
            [".well-known", "openid-configuration"],
        ):
            if not known:
                return _unknown_tenant("invalid_tenant", tenant)
            return Response(200, self._openid_configuration(self.tenant_id, rest[0] == "v2.0"))
        if method == "POST" and rest in (["oauth2", "v2.0", "token"], ["oauth2", "token"]):
            if not known:
                return _unknown_tenant("invalid_request", tenant)
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", errors="replace")))
            return self._grant(form)
        return Response(404, {"error": "not_found", "error_description": "no such endpoint"})

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

    def _grant(self, form: dict[str, str]) -> Response:
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return oauth_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'. This emulator grants "
                "client_credentials only.",
            )
        client_id = form.get("client_id", "")
        app = self.apps.get(client_id.lower())
        if app is None:
            return oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant_id}'. This can happen if the application has not been installed "
                "by the administrator of the tenant or consented to by any user in the tenant.",
            )
        given = form.get("client_secret")
        if given is None:
            return oauth_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not secrets.compare_digest(given.encode(), app.client_secret.encode()):
            return oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        if app.secret_expires is not None and app.secret_expires <= time.time():
            return oauth_error(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.client_id}' are expired. Visit "
                "the Azure portal to create new keys for your app.",
            )
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            return oauth_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier.",
            )
        resource = scope[: -len("/.default")].rstrip("/")
        known = {self.base_url.rstrip("/").lower(), *(r.lower() for r in OTHER_RESOURCES)}
        if resource.lower() not in known:
            return oauth_error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{self.tenant_id}. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant.",
            )
        return Response(200, self._issue(app, resource))

    def _issue(self, app: AppRegistration, audience: str = "") -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            # forget the expired ones, so a long demo does not grow the table forever
            self._tokens = {k: t for k, t in self._tokens.items() if t.expires > now}
            self._tokens[token] = Token(
                app, self.tenant_id, now + self.token_lifetime_s, audience or self.base_url
            )
            self.issued.append(token)
        lifetime = self.token_lifetime_s - 1
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
