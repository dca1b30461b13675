"""Look for secrets where none may be: Temporal history, logs, the hub's rows and responses.

The demo ends with this sweep, and the tests check it. Payload bytes, base64 in a history's JSON,
are decoded before the search; a value shorter than 8 characters is ignored (it would match by
chance). Leaks are reported by the secret's label, never its value.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

MIN_LENGTH = 8
_PAYLOAD_DATA = re.compile(r'"data":\s*"([A-Za-z0-9+/=]+)"')
#: keys of moto's state dump (/moto-api/data.json) that hold credential material
_CREDENTIAL_KEY = re.compile(r"secret|token|access_key", re.IGNORECASE)


@dataclass(frozen=True)
class Leak:
    secret: str  # the secret's label, never its value
    where: str

    def __str__(self) -> str:
        return f"{self.secret} found in {self.where}"


@dataclass
class Sweep:
    secrets: int
    places: int
    leaks: list[Leak]

    def summary(self) -> str:
        if self.leaks:
            return f"{len(self.leaks)} leak(s): " + "; ".join(map(str, self.leaks[:10]))
        return f"none of {self.secrets} secrets found in {self.places} places"


def find_leaks(secrets: Mapping[str, str], places: Iterable[tuple[str, str | bytes]]) -> Sweep:
    """Every (secret label, place) where the secret's value occurs."""
    wanted = [(label, v.encode()) for label, v in secrets.items() if v and len(v) >= MIN_LENGTH]
    leaks: list[Leak] = []
    count = 0
    for where, content in places:
        count += 1
        data = content.encode() if isinstance(content, str) else content
        hit = {label for label, needle in wanted if needle in data}
        leaks += [Leak(label, where) for label in sorted(hit)]
    return Sweep(len(secrets), count, leaks)


def decoded_payloads(history_json: str) -> str:
    """A history's JSON with every payload's bytes decoded next to it (they are base64 there)."""
    decoded = []
    for match in _PAYLOAD_DATA.finditer(history_json):
        try:
            decoded.append(base64.b64decode(match.group(1)).decode("utf-8", errors="replace"))
        except (binascii.Error, ValueError):
            continue
    return history_json + "\n" + "\n".join(decoded)


async def temporal_histories(client: Client, query: str = "") -> list[tuple[str, str]]:
    """Every workflow's full history (payloads decoded), as (place, text)."""
    found = []
    async for execution in client.list_workflows(query or None):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        found.append((f"Temporal history of {execution.id}", decoded_payloads(history.to_json())))
    return found


def files(paths: Iterable[Path]) -> list[tuple[str, bytes]]:
    """Raw bytes of files that exist (databases included: their pages hold the rows)."""
    return [(str(p), p.read_bytes()) for p in paths if p.is_file()]


def worker_canary() -> dict[str, str]:
    """A secret planted in the worker's environment for the sweep to look for: as its Jira
    personal token, which it registers, withdraws and never uses (JIRA_USER and JIRA_API_TOKEN,
    when set, take precedence)."""
    return {"JIRA_TOKEN": f"canary-{secrets.token_hex(16)}"}


def process_environment(pid: int) -> list[tuple[str, bytes]]:
    """The initial environment block of a process, when this process may read it (a non-dumpable
    worker's is readable only with CAP_SYS_PTRACE: then the worker has overwritten its secrets)."""
    try:
        return [(f"/proc/{pid}/environ", Path(f"/proc/{pid}/environ").read_bytes())]
    except OSError:
        return []


def sqlite_rows(path: Path) -> list[tuple[str, str]]:
    """Every row of every table of a SQLite database, one place per table."""
    if not path.is_file():
        return []
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return [
            (
                f"{path.name} table {table}",
                "\n".join(repr(row) for row in connection.execute(f'SELECT * FROM "{table}"')),
            )
            for table in tables
        ]
    finally:
        connection.close()


def moto_credentials(endpoint: str) -> dict[str, str]:
    """Every credential moto issued or holds (IAM users' keys, STS sessions), from its state dump."""
    state = httpx.get(f"{endpoint}/moto-api/data.json", timeout=30).json()
    found: dict[str, str] = {}
    seen: set[str] = set()

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, str(name))
        elif isinstance(node, list):
            for value in node:
                walk(value, key)
        elif (
            isinstance(node, str)
            and _CREDENTIAL_KEY.search(key)
            and len(node) >= 16
            and node not in seen
        ):
            seen.add(node)
            found[f"AWS {key} #{len(found) + 1}"] = node

    walk(state, "")
    return found
