"""The finding payload's shape: the type of each field it may carry, and the error naming one.

The rules are those the pydantic models of the payload had (a string field refuses a number,
`RiskScore` takes a number or a numeric string, `autoRemediate` a boolean or one of its usual
spellings, an object may carry fields of its own), and so are the messages ("Input should be a
valid number (got 'high')"), in stdlib: the job kit reads findings with remedy/finding.py, which
checks the shape here, and it cannot import pydantic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

MAX_PAYLOAD_BYTES = 256 * 1024
FINDING_INFO = "notificationInfo.FindingInfo"
OBJECT_CHAIN = f"{FINDING_INFO}.ObjectChain"


class PayloadError(ValueError):
    """A finding that cannot be remediated as it is; `field` is the dotted path at fault."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem

    def sentence(self) -> str:
        """The error as one sentence, for a job's `ERROR:` line: `<field> is missing: ...`
        when the problem reads on from the field's name, else `<field>: <problem>`."""
        if self.field and self.problem.startswith(("is ", "must ")):
            return f"{self.field} {self.problem}"
        return str(self)


def parse_json(text: str | bytes) -> dict[str, Any]:
    """Parse a payload given as JSON text; the error says where the JSON breaks."""
    if len(text) > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            "", f"the payload is {len(text)} bytes; the limit is {MAX_PAYLOAD_BYTES}"
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            "", f"the payload is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise PayloadError("", "the payload is nested too deeply to be a finding") from None
    if not isinstance(value, dict):
        raise PayloadError("", f"the payload must be a JSON object, not {type(value).__name__}")
    return value


# ---------------------------------------------------------------------------------------------
# Field types: the payload's shape, in the order its fields are checked.
# ---------------------------------------------------------------------------------------------

_BOOL_WORDS = {
    **dict.fromkeys(("1", "on", "t", "true", "y", "yes"), True),
    **dict.fromkeys(("0", "off", "f", "false", "n", "no"), False),
}


def _got(value: Any) -> str:
    return f"(got {str(value)[:80]!r})"


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    raise ValueError("Input should be a valid string")


def number(value: Any) -> float:
    if isinstance(value, int | float):  # bool too, as pydantic's lax mode takes it
        try:
            return float(value)
        except OverflowError:
            raise ValueError("Input should be a valid number") from None
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError(
                "Input should be a valid number, unable to parse string as a number"
            ) from None
    raise ValueError("Input should be a valid number")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    raise ValueError("Input should be a valid boolean")


def _provider(value: Any) -> str:
    if value in ("aws", "azure"):
        return str(value)
    raise ValueError("Input should be 'aws' or 'azure'")


def _object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise ValueError("Input should be a valid dictionary")


_Check = Callable[[Any], Any]
#: optional, but null is refused (as the pydantic models refused it: they had defaults, not None)
_NOT_NULL = {FINDING_INFO, "autoRemediate"}
#: path -> (check, required); a part that is absent or null is skipped unless required
_SHAPE: list[tuple[str, _Check, bool]] = [
    ("cloudAccount", _object, False),
    ("cloudAccount.provider", _provider, False),
    *((f"cloudAccount.{k}", _text, False) for k in ("roleArn", "subscriptionId", "applicationId")),
    ("notificationInfo", _object, True),
    *(
        (f"notificationInfo.{k}", _text, False)
        for k in (
            "CloudAccountID",
            "CloudAccountId",
            "RuleID",
            "RuleName",
            "RuleDisplayName",
            "Level",
            "Service",
        )
    ),
    (FINDING_INFO, _object, False),
    *((f"{FINDING_INFO}.{k}", _text, False) for k in ("FindingId", "ObjectId", "ObjectChain")),
    (f"{FINDING_INFO}.CloudTags", _object, False),
    (f"{FINDING_INFO}.RiskScore", number, False),
    *((f"{FINDING_INFO}.{k}", _text, False) for k in ("Region", "Service")),
    ("autoRemediate", _boolean, False),
]


def _lookup(document: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """(present, value) at a dotted path; absent when a step on the way is absent or null."""
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def get_path(document: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path, or None."""
    return _lookup(document, dotted)[1]


def check_shape(payload: Mapping[str, Any]) -> None:
    for dotted, check, required in _SHAPE:
        parent = dotted.rpartition(".")[0]
        if parent and not isinstance(get_path(payload, parent), dict):
            continue  # its parent is absent or null (and allowed to be)
        present, value = _lookup(payload, dotted)
        if not present:
            if required:
                raise PayloadError(
                    dotted, "is missing (Field required): the payload carries no finding"
                )
            continue
        if value is None and not required and dotted not in _NOT_NULL:
            continue
        try:
            check(value)
        except ValueError as exc:
            raise PayloadError(dotted, f"{exc} {_got(value)}") from None
    tags = get_path(payload, f"{FINDING_INFO}.CloudTags") or {}
    for key, value in tags.items():
        if not isinstance(value, str):
            raise PayloadError(
                f"{FINDING_INFO}.CloudTags.{key}", f"Input should be a valid string {_got(value)}"
            )


# ---------------------------------------------------------------------------------------------
# Provider, ObjectChain, account, role
