"""Where a worker may send notifications: its Jira credentials and its webhook reports.

The worker's environment lists the hosts it may reach, `REMEDY_NOTIFY_ALLOWED_HOSTS`
(comma-separated): `jira.example.com`, `jira.example.com:8443`, `*.atlassian.net` (any subdomain),
`10.0.0.5`, `[fd00::5]:8080`. Without a port an entry allows any port. Nothing listed: nothing
allowed. An action naming another host is refused twice: by the hub when the action is saved
(against what each online worker of its group registered) and by the worker before it connects.

Loopback, link-local (cloud metadata services among them), unspecified and known metadata
addresses are refused even when a wildcard entry covers them: only an entry naming that very host
allows one (`127.0.0.1:8080` for a Jira on the worker's own machine). At run time the worker also
resolves the host and applies the same rule to every address it resolves to. A URL with user
information (`user@host`) or a backslash is refused: parsers disagree on where its host is.

Standard library only: the hub and the worker both import it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

ENV = "REMEDY_NOTIFY_ALLOWED_HOSTS"
MAX_ENTRIES = 100

#: metadata services reachable from cloud instances (beside link-local 169.254.0.0/16, fe80::/10)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
    )
)
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog"})


@dataclass(frozen=True)
class Entry:
    host: str  # lowercased; without brackets for IPv6
    port: int | None  # None: any port
    wildcard: bool  # "*.example.com": any subdomain of example.com


def allowed_from_environ(environ: Mapping[str, str]) -> list[str]:
    """The allowlist entries in the environment, as written (lowercased), at most MAX_ENTRIES."""
    raw = environ.get(ENV, "")
    entries = [e.strip().lower() for e in raw.replace(" ", ",").split(",")]
    return [e for e in entries if e][:MAX_ENTRIES]


def parse_entry(text: str) -> Entry | None:
    """`host`, `host:port`, `*.domain`, `[v6]:port`, or a URL whose host and port count."""
    text = text.strip().lower()
    wildcard = text.startswith("*.")
    if wildcard:
        text = text[2:]
    parts = urlsplit(text if "//" in text else f"//{text}")
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if not host or "@" in parts.netloc or "*" in host:
        return None
    return Entry(host=host.rstrip("."), port=port, wildcard=wildcard)


def special_kind(host: str) -> str | None:
    """What makes an address one to reach only when named explicitly (None: nothing)."""
    if host in METADATA_NAMES:
        return "metadata"
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    return None


def _matches(entry: Entry, host: str, port: int) -> bool:
    if entry.port is not None and entry.port != port:
        return False
    if entry.wildcard:
        return host.endswith("." + entry.host)
    return host == entry.host


def _resolved(host: str, port: int) -> Iterable[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # unresolvable: the connection will fail and say so
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def refusal(url: str, allowed: Sequence[str], *, resolve: bool = False) -> str | None:
    """Why a notification may not go to `url` under the allowlist `allowed` (None: it may).

    The hub calls it when an action is saved; the worker with `resolve=True` before it sends.
    """
    if "\\" in url or any(ord(c) < 33 for c in url):
        return "the URL holds a backslash, a space or a control character"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "the URL must start with http:// or https://"
    if "@" in parts.netloc:
        return "the URL must not carry a user name or password (user@host)"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the URL's port is not a number from 0 to 65535"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "the URL names no host"
    where = f"{host}:{port}"
    entries = [e for e in (parse_entry(text) for text in allowed) if e is not None]
    found = [e for e in entries if _matches(e, host, port)]
    if not found:
        listed = ", ".join(allowed) if allowed else "nothing"
        return f"{where} is not among the hosts the worker allows ({ENV}: {listed})"
    explicit = any(not e.wildcard for e in found)
    kind = special_kind(host)
    if kind and not explicit:
        return f"{where} is a {kind} address: only an entry naming it exactly in {ENV} allows it"
    if resolve and not explicit:
        for address in _resolved(host, port):
            kind = special_kind(address)
            if kind:
                return (
                    f"{host} resolves to {address}, a {kind} address: only an entry naming "
                    f"{host} exactly in {ENV} allows it"
                )
    return None
