"""Structured (JSON-lines) logging with redaction of secrets.

Every record goes out as one JSON object; fields given with `extra={...}` become keys. Before a
record is written, every registered secret value and anything shaped like an AWS secret or a bearer
token is replaced by `***`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import Any

_SECRET_PATTERNS = [
    re.compile(
        r"(?i)(aws_secret_access_key|aws_session_token|client_secret|password|api[_-]?key|token)"
        r"(\s*[=:]\s*|\"\s*:\s*\")([^\s\"',;]{6,})"
    ),
    re.compile(r"(?i)(authorization:\s*(?:bearer|basic)\s+)(\S+)"),
]
_known: set[str] = set()
_lock = threading.Lock()
MIN_SECRET_LENGTH = 6


def register_secret(value: str | None) -> None:
    """Make `value` unprintable: any later log line or job log carrying it shows `***`."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _known.add(value)


def redact(text: str, extra_secrets: list[str] | None = None) -> str:
    with _lock:
        secrets = sorted(_known | set(extra_secrets or []), key=len, reverse=True)
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, "***")
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}***", text)


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


def setup_logging(level: str = "INFO", stream: Any = None) -> None:
    """JSON lines on stderr (or `stream`) for Remedy's loggers; quiet third-party chatter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "botocore",
        "boto3",
        "urllib3",
        "azure",
        "msal",
        "temporalio.activity",
        "temporalio.workflow",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
