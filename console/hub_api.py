"""What the hub commands share: the hub's API over HTTP, errors, tables, documents read."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from console.cli_output import make_console
from console.cli_params import parse_parameters
from console.hub_cli_flags import in_flags
from remedy.types import OPEN_STATES, RunState

console = make_console()
err = make_console(stderr=True)

DEFAULT_HUB_URL = "http://127.0.0.1:8000"
#: the states a run ends in (the hub reports the workflow's own after `pending`/`submitted`)
ENDED = set(RunState) - OPEN_STATES
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(code)


class HubApi:
    """The hub's API over HTTP; a refusal becomes an error message (the hub's error and fix)."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        import os

        self.url = (url or os.environ.get("REMEDY_HUB_URL") or DEFAULT_HUB_URL).rstrip("/")
        self.token = token or os.environ.get("REMEDY_HUB_TOKEN")

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        read_timeout_s: float = 30,
        flags: Mapping[str, str] | None = None,
    ) -> Any:
        """The answer's JSON; a refusal exits with the hub's error and fix, naming the API fields
        as the command's `flags` (API field -> flag) when given."""
        if not self.token:
            raise fail(
                "REMEDY_HUB_TOKEN is not set: `remedy hub create-user NAME --role admin` prints a "
                "token"
            )
        try:
            response = httpx.request(
                method,
                self.url + path,
                json=body,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=httpx.Timeout(30, read=read_timeout_s),
            )
        except httpx.HTTPError as exc:
            raise fail(
                f"the hub at {self.url} does not answer ({exc}); start it with `remedy hub serve` "
                "or set REMEDY_HUB_URL"
            ) from None
        if response.status_code >= 400:
            try:
                found = response.json()
                message = f"{found.get('error')}\n  fix: {found.get('fix')}"
                message = in_flags(message, flags or {})
            except ValueError:
                message = response.text[:500]
            raise fail(f"{response.status_code}: {message}", 1)
        return response.json() if response.content else None


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def print_table(columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def load_document(path: Path) -> Any:
    """A JSON or YAML document ('-': standard input); JSON lines are read as a list."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            yaml = importlib.import_module("yaml")
        except ImportError:
            raise fail("reading YAML needs PyYAML (pip install pyyaml); or give JSON") from None
        try:
            return yaml.safe_load(text)
        except Exception as exc:  # yaml.YAMLError, without importing its types
            raise fail(f"{path} is not valid YAML: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise fail(
                f"{path} is not valid JSON ({first.msg} at line {first.lineno} column "
                f"{first.colno})"
            ) from None


def job_parameters(pairs: list[str]) -> dict[str, Any]:
    try:
        return parse_parameters(pairs)
    except ValueError as exc:
        raise fail(str(exc)) from None


def action_id(api: HubApi, action: str) -> int:
    """An action given by id or by name."""
    if action.isdigit():
        return int(action)
    for found in api.call("GET", "/remediations"):
        if found["name"] == action:
            return int(found["id"])
    raise fail(f"no remediation action named {action!r} (`remedy actions list`)")


def print_logs(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(found)
        return
    for entry in found["items"]:
        console.rule(
            f"{entry['received_at']} {entry['run_id']} {entry['job']} "
            f"(worker {entry['worker_id']} of group {entry['group_id']})"
        )
        console.print(entry["text"], markup=False, highlight=False)
    console.print(f"{len(found['items'])} of {found['total']} entries")
