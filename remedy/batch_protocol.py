"""How a job process fixes a batch of findings: the file it reads, the lines it prints.

A job whose remedy.json says `"batch": true` may be given several findings in one process (one
set of clients, one describe for all, one change per resource). The worker (activities/
batch_jobs.py) writes the batch to a JSON file in the job's working copy and names it in
`REMEDY_BATCH`; `sys.argv[1]` is still a finding payload (the batch's first), so a job that
ignores the variable still runs as a one-finding job would. The file is a list of members::

    [{"key": "<run id>", "payload": {...finding payload with remediationParameters...}}, ...]

Every line the process prints about member `i` (0-based, in the file's order) starts with
`@<i> ` (the kit prefixes them: remedy/jobkit/batch.py), and member `i`'s end is one line
`@<i> EXIT <code>` with the exit code a one-finding process would have had (0 fixed or already
compliant, 1 failed, 2 bad input, 3 still non-compliant for a verify). Lines without a prefix
belong to the whole batch. A member without an EXIT line did not finish: the process died or
timed out before it, and the worker says so for that member alone.

Stdlib only, no import of Remedy's: the kit (in the job's interpreter) and the worker share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BATCH_VARIABLE = "REMEDY_BATCH"
#: the file of the working copy the batch is written to
BATCH_FILE = "remedy-batch.json"
#: the most findings one batch may hold: one job process and one workflow history carry them all,
#: and the batch's `BatchRuns` search attribute lists a key per member within Temporal's 2 KB
#: limit on one value (docs/architecture.md, "Batches")
MAX_BATCH_SIZE = 100
#: batches the starter keeps running at once (remedy/batch_starter.py run_batches)
DEFAULT_IN_FLIGHT = 8
EXIT_WORD = "EXIT"
#: a batch's workflow id starts so (remedy/batch_starter.py): `remedy status` tells it from a run
BATCH_PREFIX = "remedy-batch-"

_MEMBER_LINE = re.compile(r"^@(\d{1,4}) (.*)$")


def member_prefix(index: int) -> str:
    return f"@{index} "


def exit_line(index: int, code: int) -> str:
    return f"@{index} {EXIT_WORD} {code}"


@dataclass
class MemberOutput:
    """What the process printed about one member, prefixes removed."""

    lines: list[str] = field(default_factory=list)
    #: its exit code, None when the process ended before it said one
    exit_code: int | None = None


@dataclass
class SplitOutput:
    members: dict[int, MemberOutput]
    #: lines about the whole batch (no member prefix)
    shared: list[str] = field(default_factory=list)


def split_output(text: str, size: int) -> SplitOutput:
    """The process's output, member by member (0 .. size-1); a prefix naming no member is a
    shared line."""
    members = {index: MemberOutput() for index in range(size)}
    shared: list[str] = []
    for line in text.splitlines():
        matched = _MEMBER_LINE.match(line)
        member = members.get(int(matched.group(1))) if matched else None
        if matched is None or member is None:
            shared.append(line)
            continue
        rest = matched.group(2)
        word, _, code = rest.partition(" ")
        if word == EXIT_WORD and code.strip().lstrip("-").isdigit():
            member.exit_code = int(code)
        else:
            member.lines.append(rest)
    return SplitOutput(members, shared)
