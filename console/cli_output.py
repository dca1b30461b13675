"""How the command line speaks: its consoles, its errors, a run's status as a table."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.measure import Measurement
from rich.table import Table

from console.ui_links import ui_link as ui_link  # the command line prints these
from remedy.config import TemporalSettings
from remedy.types import RunState, RunStatus

#: how wide output is when it goes to no terminal (a file, a pipe, CI, a test runner): wide
#: enough that tables keep whole ids and messages instead of cutting them at 80 columns
PIPED_WIDTH = 250


class _Console(Console):
    """Rich's console, sized when it prints: COLUMNS when set (rich reads it once, at creation),
    its terminal's width, or PIPED_WIDTH when it writes to no terminal."""

    #: while a table is printed to no terminal: its own width (see `print`)
    _table_width: int | None = None

    @property
    def size(self) -> ConsoleDimensions:
        found = super().size
        if self._table_width:
            return ConsoleDimensions(self._table_width, found.height)
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit():
            return ConsoleDimensions(int(columns), found.height)
        return found if self.is_terminal else ConsoleDimensions(PIPED_WIDTH, found.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Written to no terminal, a table is as wide as its longest row: one line per record,
        however long (a reader or `grep` gets whole values, never a wrapped cell)."""
        if not self.is_terminal and "width" not in kwargs and not _columns_set():
            tables = [o for o in objects if isinstance(o, Table)]
            if tables:
                unbounded = self.options.update_width(1_000_000)
                needed = max(Measurement.get(self, unbounded, t).maximum for t in tables)
                # rich caps a print's width at the console's: widen the console meanwhile
                self._table_width = max(needed, self.width)
        try:
            super().print(*objects, **kwargs)
        finally:
            self._table_width = None


def _columns_set() -> bool:
    return os.environ.get("COLUMNS", "").isdigit()


#: how much of a message a table shows: one line per record stays readable (-v, --json: whole)
SHORT_MESSAGE_CHARS = 100

Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show messages whole (a table cuts them).")
]


def one_line(text: str | None, limit: int = SHORT_MESSAGE_CHARS) -> tuple[str, bool]:
    """A message as one short line for a table's column (a connection error can run to many
    lines), and whether it was cut."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat, False
    return flat[: limit - 1].rstrip() + "…", True


def make_console(stderr: bool = False) -> Console:
    """The command line's console on stdout (or stderr), sized as `_Console` says."""
    return _Console(stderr=stderr)


console = make_console()
err = make_console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None


async def follow_run(client: Any, run_id: str) -> RunStatus:
    """Print each step as it changes until the run ends (or is stuck: it would never end)."""
    from remedy.starter import get_status, wait_for_result

    seen: dict[str, str] = {}
    result = asyncio.ensure_future(wait_for_result(client, run_id))
    while not result.done():
        try:
            status = await get_status(client, run_id)
        except Exception:
            status = None
        if status is not None and status.state == RunState.STUCK:
            result.cancel()
            return status
        for step in status.steps if status else []:
            if seen.get(step.name) != step.state:
                seen[step.name] = step.state
                err.print(f"  {step.name}: {step.state} {step.message}")
        await asyncio.wait([result], timeout=0.5)
    return result.result()


def print_status(status: RunStatus, settings: TemporalSettings) -> None:
    colour = {
        "succeeded": "green",
        "failed": "red",
        "stuck": "red",
        "terminated": "red",
        "timed_out": "red",
        "running": "yellow",
        "awaiting_approval": "magenta",
    }.get(status.state, "white")
    console.print(
        f"[bold]{status.run_id}[/bold] {status.remediation}: "
        f"[{colour}]{status.state}[/{colour}] {status.message}"
    )
    if status.finding_id:
        console.print(
            f"finding {status.finding_id} on {status.resource} (account "
            f"{status.account_id}, rule {status.rule_id})"
        )
    table = Table("step", "state", "attempts", "exit", "message")
    for step in status.steps:
        table.add_row(
            step.name,
            step.state,
            str(step.attempts or ""),
            "" if step.exit_code is None else str(step.exit_code),
            step.message,
        )
    console.print(table)
    console.print(ui_link(settings, status.run_id))
