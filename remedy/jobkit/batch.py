"""A batch of findings in one job process (remedy/batch_protocol.py): the kit's side.

`jobkit.run` comes here when the worker named a batch file in `REMEDY_BATCH` and the job's
remedy.json says `"batch": true`. Each member is read and handled exactly as a one-finding
process would handle it (the same entry point, the same exit codes), one after the other, with
every line it prints prefixed `@<i> ` and its end said by `@<i> EXIT <code>`. One member's
failure (bad input, a cloud error, even an unexpected exception) ends that member, not the batch.

`prefetch(findings)`, when the job gives one, runs once before the members with every finding
that parsed: the place to describe all the batch's resources in one call (`describe once, act
per resource`). Clients made through `jobkit.client` are shared by the members (one per service
and region), so the batch opens one connection per service.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TextIO

from remedy.batch_protocol import BATCH_VARIABLE, exit_line, member_prefix
from remedy.jobkit.finding import Finding

#: an exception the kit turns into an exit code for one member (None: not one of those)
Handle = Callable[[BaseException], int | None]


def batch_file() -> str | None:
    """The batch file the worker named, or None: one finding, from argv[1]."""
    return os.environ.get(BATCH_VARIABLE) or None


def read_members(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        members = json.load(handle)
    if not isinstance(members, list):
        raise ValueError(f"{BATCH_VARIABLE} names {path}, which does not hold a list of members")
    return [m if isinstance(m, dict) else {} for m in members]


class _Prefixed(io.TextIOBase):
    """A text stream that writes each whole line to `target` with a prefix, flushed at once."""

    def __init__(self, target: TextIO, prefix: str) -> None:
        self.target, self.prefix, self._partial = target, prefix, ""

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self.target.write(f"{self.prefix}{line}\n")
        if lines:
            self.target.flush()
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self.target.write(f"{self.prefix}{self._partial}\n")
            self._partial = ""
        self.target.flush()

    def isatty(self) -> bool:
        return False


@contextmanager
def speaking_for(index: int) -> Iterator[None]:
    """Everything printed meanwhile (stdout and stderr) is about member `index`."""
    out, err = sys.stdout, sys.stderr
    prefix = member_prefix(index)
    sys.stdout = _Prefixed(out, prefix)
    sys.stderr = _Prefixed(out, prefix)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = out, err


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def run_members(
    parse: Callable[[dict[str, Any]], Finding],
    entry: Callable[[Finding], None],
    handle: Handle,
    prefetch: Callable[[Sequence[Finding]], None] | None,
    members: list[dict[str, Any]],
) -> int:
    """Handle every member; the process's exit code (0: it went through the whole batch, each
    member's own verdict is in its EXIT line)."""
    parsed: dict[int, Finding] = {}
    codes: dict[int, int] = {}
    for index, member in enumerate(members):
        payload = member.get("payload") or {}
        with speaking_for(index):
            read = _attempt(partial(parse, payload), handle)
            if isinstance(read, Finding):
                parsed[index] = read
            else:
                codes[index] = read
    if prefetch is not None and parsed:
        prefetch(list(parsed.values()))  # a failure here is the whole batch's: exit non-zero
    for index, finding in parsed.items():
        with speaking_for(index):
            outcome = _attempt(partial(entry, finding), handle)
            codes[index] = outcome if isinstance(outcome, int) else 0
    for index in range(len(members)):
        print(exit_line(index, codes.get(index, 1)), flush=True)
    return 0


def _attempt(call: Callable[[], Any], handle: Handle) -> Any:
    """`call()`'s value, or the exit code a one-finding process would have ended with."""
    try:
        return call()
    except SystemExit as exc:
        return _exit_code(exc)
    except Exception as exc:  # one member's surprise must not end the others
        code = handle(exc)
        if code is not None:
            return code
        traceback.print_exc()
        return 1
