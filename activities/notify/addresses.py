"""How a notification channel is named in messages, and why it could not be reached.

Messages never carry a URL's user info, and a webhook's path may itself be a secret.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def where(url: str) -> str:
    """scheme://host[:port][/path] without user info (for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def origin(url: str) -> str:
    """scheme://host[:port] only: a webhook's path may itself be a secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def unreachable_reason(error: BaseException) -> str:
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "timed out" in text.lower() or "timeout" in type(error).__name__.lower():
        return "timed out"
    if "resolve" in text.lower() or "name or service not known" in text.lower():
        return "the host name does not resolve"
    if "ssl" in text.lower() or "certificate" in text.lower():
        return "TLS handshake failed"
    return type(error).__name__
