"""Key Vault's data plane for the vaults Resource Manager holds: keys and secrets, their attributes.

A vault's `properties.vaultUri` is `{emulator}/keyvault/{vault name}/` (Azure's is
`https://{vault name}.vault.azure.net/`); the real azure-keyvault-keys / -secrets clients talk to
it unchanged, with `verify_challenge_resource=False` since the URI's host is not *.vault.azure.net.
Unlike Azure's, the ids it answers (`kid`, `id`) name the emulator's host without the vault's
path: the clients read an id's path as `/{keys|secrets}/{name}[/{version}]` and nothing more.

Requests (https://learn.microsoft.com/en-us/rest/api/keyvault/), each for the vault's latest
version unless a version is named:
- keys: `POST /keys/{name}/create`, `GET /keys`, `GET /keys/{name}[/{version}]`,
  `PATCH /keys/{name}[/{version}]` (attributes, tags, key_ops);
- secrets: `PUT /secrets/{name}`, `GET /secrets`, `GET /secrets/{name}[/{version}]` (the value),
  `PATCH /secrets/{name}[/{version}]` (attributes, contentType, tags).

Authentication as Key Vault does it
(https://learn.microsoft.com/en-us/azure/key-vault/general/authentication-requests-and-responses):
a request without a bearer token is answered 401 with a `WWW-Authenticate` challenge naming the
tenant's authority and the resource `https://vault.azure.net`; a token issued for another
resource (Resource Manager's) is refused, 401. Authorization is the vault's Azure RBAC model: each
request needs its data action (https://learn.microsoft.com/en-us/azure/key-vault/general/rbac-guide,
https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/security#microsoftkeyvault),
else 403 Forbidden / ForbiddenByRbac naming the action. Vault access policies are not emulated.

Refused as Key Vault refuses: an unknown key or secret (404 KeyNotFound / SecretNotFound); an
update whose `exp` is not later than its `nbf` (400 BadParameter); a malformed body (400
BadParameter).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.arm import ArmStore
from sandbox.arm_paths import ArmPath
from sandbox.azure_response import Response
from sandbox.entra import AppRegistration, EntraDirectory

PREFIX = "keyvault"  # the first path segment of a vault's URI on the emulator
RESOURCE = "https://vault.azure.net"  # the audience of a data-plane token
ACTIONS = {
    ("keys", "create"): "Microsoft.KeyVault/vaults/keys/create/action",
    ("keys", "read"): "Microsoft.KeyVault/vaults/keys/read",
    ("keys", "update"): "Microsoft.KeyVault/vaults/keys/update/action",
    ("secrets", "create"): "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    ("secrets", "read"): "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ("secrets", "value"): "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    ("secrets", "update"): "Microsoft.KeyVault/vaults/secrets/update/action",
}


class DataError(Exception):
    def __init__(self, status: int, code: str, message: str, inner: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner = status, code, message, inner

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            error["innererror"] = {"code": self.inner}
        return {"error": error}


@dataclass
class _Item:
    """One version of a key or a secret."""

    version: str
    attributes: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # key: kty, key_ops; secret: value, ...


class KeyVaultData:
    """The keys and secrets of every vault, by vault name (lower-case), and their requests."""

    def __init__(
        self, directory: EntraDirectory, store: ArmStore, subscriptions: dict[str, str]
    ) -> None:
        self.directory = directory
        self.store = store
        self.subscriptions = subscriptions
        self.base_url = ""
        self._items: dict[tuple[str, str, str], list[_Item]] = {}  # (vault, kind, name)
        self._lock = threading.Lock()

    def vault_uri(self, name: str) -> str:
        return f"{self.base_url}/{PREFIX}/{name}/"

    def handle(
        self,
        method: str,
        parts: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Response:
        try:
            return self._handle(method, parts, query, headers, body)
        except DataError as exc:
            extra = {}
            if exc.status == 401:
                extra["WWW-Authenticate"] = (
                    f'Bearer authorization="{self.directory.base_url}/{self.directory.tenant_id}",'
                    f' resource="{RESOURCE}"'
                )
            return Response(exc.status, exc.body(), extra)

    # -- checks ------------------------------------------------------------------------------

    def _caller(self, headers: dict[str, str]) -> AppRegistration:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        found = self.directory.token(token) if scheme.lower() == "bearer" else None
        if found is None or found.expires <= time.time():
            raise DataError(
                401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."
            )
        if found.audience.rstrip("/").lower() != RESOURCE:
            raise DataError(
                401,
                "Unauthorized",
                f"AKV10022: Invalid audience. Expected {RESOURCE}, found: {found.audience}.",
            )
        return found.app

    def _vault(self, name: str) -> dict[str, Any]:
        for subscription in self.subscriptions:
            collection = ArmPath(subscription, None, "Microsoft.KeyVault", ("vaults",), ())
            for vault in self.store.list(collection):
                if str(vault.get("name", "")).lower() == name.lower():
                    return vault
        raise DataError(404, "VaultNotFound", f"The vault {name} was not found.")

    @staticmethod
    def _authorize(app: AppRegistration, action: str, vault: dict[str, Any], what: str) -> None:
        if app.may(action):
            return
        raise DataError(
            403,
            "Forbidden",
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny "
            "assignments or role definitions were changed recently, please observe propagation "
            f"time.\r\nCaller: appid={app.client_id};\r\nAction: '{action}'\r\nResource: "
            f"'{vault['id'].lower()}/{what}'\r\nAssignment: (not found)\r\nDecisionReason: "
            f"'DeniedWithNoValidRBAC' \r\nVault: {vault['name']};location={vault.get('location')}\r\n",
            "ForbiddenByRbac",
        )

    # -- requests ------------------------------------------------------------------------------

    def _handle(
        self,
        method: str,
        parts: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Response:
        if "api-version" not in query:
            raise DataError(400, "BadParameter", "The 'api-version' query parameter is missing.")
        if len(parts) < 3 or parts[2] not in ("keys", "secrets"):
            raise DataError(400, "BadParameter", f"no such operation: /{'/'.join(parts)}")
        app = self._caller(headers)
        vault = self._vault(parts[1])
        kind, rest = parts[2], [urllib.parse.unquote(p) for p in parts[3:]]
        document = _json(body) if method in ("POST", "PUT", "PATCH") else {}
        if method == "GET" and not rest:
            self._authorize(app, ACTIONS[(kind, "read")], vault, kind)
            return Response(200, {"value": self._list(vault, kind), "nextLink": None})
        if not rest:
            raise DataError(405, "BadParameter", f"{method} on /{kind}")
        name, version = rest[0], (rest[1] if len(rest) > 1 else "")
        what = f"{kind}/{name}"
        if kind == "keys" and method == "POST" and version == "create":
            self._authorize(app, ACTIONS[(kind, "create")], vault, what)
            return Response(200, self._create(vault, kind, name, document))
        if kind == "secrets" and method == "PUT" and not version:
            self._authorize(app, ACTIONS[(kind, "create")], vault, what)
            return Response(200, self._create(vault, kind, name, document))
        if method == "GET":
            action = ACTIONS[(kind, "value" if kind == "secrets" else "read")]
            self._authorize(app, action, vault, what)
            return Response(
                200, self._bundle(vault, kind, name, self._find(vault, kind, name, version))
            )
        if method == "PATCH":
            self._authorize(app, ACTIONS[(kind, "update")], vault, what)
            return Response(200, self._update(vault, kind, name, version, document))
        raise DataError(405, "BadParameter", f"{method} on /{kind}/{name}")

    def _key(self, vault: dict[str, Any], kind: str, name: str) -> tuple[str, str, str]:
        return (str(vault["name"]).lower(), kind, name.lower())

    def _find(self, vault: dict[str, Any], kind: str, name: str, version: str) -> _Item:
        with self._lock:
            versions = self._items.get(self._key(vault, kind, name), [])
            found = [v for v in versions if not version or v.version == version]
        if not found:
            code = "KeyNotFound" if kind == "keys" else "SecretNotFound"
            noun = "key" if kind == "keys" else "secret"
            raise DataError(
                404,
                code,
                f"A {noun} with (name/id) {name}{'/' + version if version else ''} was not found "
                "in this key vault. If you recently deleted this "
                f"{noun} you may be able to recover it using the correct recovery command.",
            )
        return found[-1]

    def _id(self, vault: dict[str, Any], kind: str, name: str, version: str = "") -> str:
        """`{host}/{kind}/{name}[/{version}]`: the clients parse an id's path as exactly that,
        so it names the emulator's host without the vault's path (requests go to the vault's
        URI, which the clients keep)."""
        base = f"{self.base_url}/{kind}/{name}"
        return f"{base}/{version}" if version else base

    def _create(
        self, vault: dict[str, Any], kind: str, name: str, document: dict[str, Any]
    ) -> dict[str, Any]:
        now = int(time.time())
        attributes = {"enabled": True, **_attributes(document), "created": now, "updated": now}
        attributes["recoveryLevel"] = "Recoverable+Purgeable"
        if kind == "keys":
            extra = {
                "kty": document.get("kty", "RSA"),
                "key_ops": document.get("key_ops")
                or ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
            }
        else:
            if "value" not in document:
                raise DataError(400, "BadParameter", "The secret's value is missing.")
            extra = {"value": str(document["value"]), "contentType": document.get("contentType")}
        item = _Item(uuid.uuid4().hex, attributes, dict(document.get("tags") or {}), extra)
        with self._lock:
            self._items.setdefault(self._key(vault, kind, name), []).append(item)
        return self._bundle(vault, kind, name, item)

    def _update(
        self, vault: dict[str, Any], kind: str, name: str, version: str, document: dict[str, Any]
    ) -> dict[str, Any]:
        item = self._find(vault, kind, name, version)
        changed = {**item.attributes, **_attributes(document)}
        if (
            changed.get("exp") is not None
            and changed.get("nbf") is not None
            and changed["exp"] <= changed["nbf"]
        ):
            raise DataError(
                400, "BadParameter", "Property 'exp' must be later than property 'nbf'."
            )
        with self._lock:
            item.attributes = {**changed, "updated": int(time.time())}
            if "tags" in document:
                item.tags = dict(document.get("tags") or {})
            if kind == "keys" and document.get("key_ops"):
                item.extra["key_ops"] = list(document["key_ops"])
            if kind == "secrets" and "contentType" in document:
                item.extra["contentType"] = document["contentType"]
        answer = self._bundle(vault, kind, name, item)
        answer.pop("value", None)  # an update's answer carries no secret value
        return answer

    def _bundle(self, vault: dict[str, Any], kind: str, name: str, item: _Item) -> dict[str, Any]:
        identifier = self._id(vault, kind, name, item.version)
        bundle: dict[str, Any] = {"attributes": dict(item.attributes), "tags": dict(item.tags)}
        if kind == "keys":
            bundle["key"] = {
                "kid": identifier,
                "kty": item.extra["kty"],
                "key_ops": list(item.extra["key_ops"]),
                "n": "sandbox",
                "e": "AQAB",
            }
        else:
            bundle.update(id=identifier, value=item.extra["value"])
            if item.extra.get("contentType"):
                bundle["contentType"] = item.extra["contentType"]
        return bundle

    def _list(self, vault: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        """Every key or secret of the vault, as its latest version's attributes say."""
        with self._lock:
            mine = sorted(
                (k[2], versions[-1])
                for k, versions in self._items.items()
                if k[0] == str(vault["name"]).lower() and k[1] == kind and versions
            )
        listed = []
        for name, item in mine:
            entry: dict[str, Any] = {"attributes": dict(item.attributes), "tags": dict(item.tags)}
            entry["kid" if kind == "keys" else "id"] = self._id(vault, kind, name)
            if kind == "secrets" and item.extra.get("contentType"):
                entry["contentType"] = item.extra["contentType"]
            listed.append(entry)
        return listed


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise DataError(400, "BadParameter", "The request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise DataError(400, "BadParameter", "The request body must be a JSON object.")
    return document


def _attributes(document: dict[str, Any]) -> dict[str, Any]:
    attributes = document.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise DataError(400, "BadParameter", "attributes must be an object.")
    kept = {k: attributes[k] for k in ("enabled", "exp", "nbf") if k in attributes}
    for key in ("exp", "nbf"):
        if kept.get(key) is not None and not isinstance(kept[key], int):
            raise DataError(
                400, "BadParameter", f"Property '{key}' must be a Unix time in seconds."
            )
    return kept
