"""The workflow's input, taken raw and checked inside the run (see RemediationWorkflow's docstring).

An input the SDK could not decode would fail the workflow task, which Temporal retries forever
while the run looks open; decoded here, a bad input fails the run at once, naming the fields.
Deterministic code, imported by the workflow.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from remedy.types import RemediationInput, RunState, RunStatus, StepState, StepStatus

#: what `run` gets when it was started without an argument (the SDK passes none then)
NO_INPUT = RawValue(Payload())
#: at most this many of an input's problems are named in its failure
_PROBLEMS_NAMED = 5


class InvalidInput(Exception):
    """The workflow's input does not fit RemediationInput; the message names the fields."""


def read_input(raw: RawValue) -> RemediationInput:
    """Decode and check the input inside the workflow, so a bad one fails the run, not its task.

    Deterministic: the same payload always gives the same input or the same problems.
    """
    if not raw.payload.metadata and not raw.payload.data:
        raise InvalidInput("the run was started without an input (a RemediationInput object)")
    try:
        value = workflow.payload_converter().from_payload(raw.payload)
    except Exception as exc:  # any encoding the converter cannot read: the same refusal
        raise InvalidInput(f"the input is not a JSON document: {exc}") from None
    try:
        return RemediationInput.model_validate(value)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'input'}: {error['msg']}"
            for error in exc.errors()
        ]
        more = len(problems) - _PROBLEMS_NAMED
        raise InvalidInput(
            "; ".join(problems[:_PROBLEMS_NAMED]) + (f" (and {more} more)" if more > 0 else "")
        ) from None


def wants_search_attributes(raw: RawValue) -> bool:
    """The input's `search_attributes` flag (default on), read leniently from a bad input."""
    try:
        value = workflow.payload_converter().from_payload(raw.payload)
    except Exception:
        return True
    return not (isinstance(value, dict) and value.get("search_attributes") is False)


def refused_status(run_id: str, why: str, now: datetime) -> RunStatus:
    """The status of a run whose input cannot be run: failed at its validate step."""
    message = f"the input cannot be run: {why}"
    step = StepStatus(
        name="validate",
        kind="validate",
        state=StepState.FAILED,
        attempts=1,
        started_at=now,
        ended_at=now,
        message=message,
    )
    return RunStatus(
        run_id=run_id,
        remediation="",
        state=RunState.FAILED,
        message=message,
        started_at=now,
        ended_at=now,
        steps=[step],
    )
