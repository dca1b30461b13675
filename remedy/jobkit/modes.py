"""The modes a job runs in besides remediate: plan, rollback (verify is `verify.py` beside it).

The worker (or `remedy jobs run`) says the mode in the job's environment, `REMEDY_MODE`:

- `remediate` (or unset): fix the resource. Before each change the job prints the change record it
  needs to undo it, `RECORD: <json>` (`record()`), then makes the change and prints `CHANGE:`.
- `plan`: print each change the job would make, in the same `CHANGE:` form, and make no mutating
  call: the job reads as in remediate and skips its writes where `planning()` is true.
- `rollback`: restore the before state of the records in the JSON file named by `REMEDY_RECORDS`
  (`records()`), refusing (exit 1, one `ERROR:` line) when the resource changed since the job
  changed it (its current state is not the record's `after`).

A job opts in by passing `plan=` and `rollback=` to `jobkit.run` and by listing the modes in its
remedy.json (`"modes"`); a job asked for a mode it does not support refuses to run (exit 2), so a
plan can never fix anything by accident. Stdlib only: the fork server imports the kit once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MODE_VARIABLE = "REMEDY_MODE"
RECORDS_VARIABLE = "REMEDY_RECORDS"
REMEDIATE, PLAN, VERIFY, ROLLBACK = "remediate", "plan", "verify", "rollback"
#: the modes a worker can ask of a job's entry point (verify runs `verify.py` instead)
ENTRY_MODES = (REMEDIATE, PLAN, ROLLBACK)
ALL_MODES = (REMEDIATE, PLAN, VERIFY, ROLLBACK)
RECORD_PREFIX = "RECORD: "


class RecordError(Exception):
    """The change records given to a rollback are missing or malformed (exit 2)."""


class ChangedSince(Exception):
    """The resource is no longer as the job left it: rollback changes nothing (exit 1)."""


def mode(environ: Mapping[str, str] | None = None) -> str:
    """The mode this process runs in (`remediate` when the variable is unset or empty)."""
    value = (os.environ if environ is None else environ).get(MODE_VARIABLE, "").strip()
    return value.lower() or REMEDIATE


def planning() -> bool:
    """True in plan mode: the job must skip every mutating call (and print what it would do)."""
    return mode() == PLAN


def record(resource: str, kind: str, before: Any, after: Any) -> None:
    """Print the change record of one change about to be made: enough to undo it (`before`)
    and to tell whether someone changed the resource since (`after`). Never a credential.
    Nothing is printed in plan mode (nothing changes)."""
    if planning():
        return
    line = json.dumps(
        {"resource": resource, "kind": kind, "before": before, "after": after},
        sort_keys=True,
        separators=(",", ":"),
    )
    print(f"{RECORD_PREFIX}{line}", flush=True)


def parse_records(text: str) -> list[dict[str, Any]]:
    """Records from a JSON list, or from a job's output (its `RECORD:` lines)."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            found = json.loads(stripped)
        except ValueError as exc:
            raise RecordError(f"the change records are not valid JSON: {exc}") from None
    else:
        try:
            found = [
                json.loads(line[len(RECORD_PREFIX) :])
                for line in text.splitlines()
                if line.startswith(RECORD_PREFIX)
            ]
        except ValueError as exc:
            raise RecordError(f"a RECORD line is not valid JSON: {exc}") from None
    if not isinstance(found, list) or not all(
        isinstance(r, dict) and {"resource", "kind", "before", "after"} <= r.keys() for r in found
    ):
        raise RecordError(
            "each change record must be an object with resource, kind, before and after"
        )
    return found


def records(environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The change records a rollback restores, from the file named by REMEDY_RECORDS."""
    name = (os.environ if environ is None else environ).get(RECORDS_VARIABLE, "")
    if not name:
        raise RecordError(f"rollback needs the change records: {RECORDS_VARIABLE} is not set")
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordError(f"the change records cannot be read: {exc}") from None
    found = parse_records(text)
    if not found:
        raise RecordError("there is no change record to roll back")
    return found


def of_kind(found: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    """The records of these kinds; RecordError if any is of another (not this job's)."""
    foreign = sorted({str(r["kind"]) for r in found} - set(kinds))
    if foreign:
        raise RecordError(f"change records of kind {', '.join(foreign)} are not this job's")
    return found
