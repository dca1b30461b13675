"""Which statements of a resource policy (an SQS queue policy, a Lambda function policy) make the
resource public: an `Allow` to the `*` principal that no condition limits to known callers.

A statement is public when its Effect is Allow, its Principal is `*` (or `{"AWS": "*"}`, or a
list holding `*`), and no condition pins the caller down: a condition limits it only when an
operator that is not negated and not `...IfExists` tests one of the keys below (the caller's
account, organisation, source ARN, VPC, endpoint or IP address) against values without wildcards
(and no `/0` address range). That is how AWS's own "is this policy public" checks read it
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html,
"The meaning of public": fixed values of these keys). Stdlib only.
"""

from __future__ import annotations

from typing import Any

#: Condition keys (lower case) that pin a `*` principal down to known callers.
LIMITING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:userid",
        "aws:username",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
    }
)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy's statements as a list (a policy may hold a single statement object)."""
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def principal_is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in _listed(principal.get("AWS", []))
    return False


def _fixed(key: str, value: Any) -> bool:
    text = str(value)
    if "*" in text or "?" in text:
        return False
    return not (key == "aws:sourceip" and text.endswith("/0"))


def limiting_condition(condition: Any) -> bool:
    """True when the condition limits the caller to fixed values of a limiting key."""
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        name = str(operator).lower()
        if name.endswith("ifexists") or "not" in name or name == "null":
            continue
        if not isinstance(tests, dict):
            continue
        for key, values in tests.items():
            key = str(key).lower()
            if key in LIMITING_KEYS and all(_fixed(key, v) for v in _listed(values)):
                return True
    return False


def is_public(statement: dict[str, Any]) -> bool:
    """An Allow to everyone that no condition limits."""
    return (
        statement.get("Effect") == "Allow"
        and principal_is_everyone(statement.get("Principal"))
        and not limiting_condition(statement.get("Condition"))
    )


def describe(statement: dict[str, Any]) -> str:
    """A short name for a statement in CHANGE and NONCOMPLIANT lines."""
    sid = statement.get("Sid")
    actions = ", ".join(str(a) for a in _listed(statement.get("Action", "")))
    return (
        f"statement {sid!r} (Allow {actions} to *)"
        if sid
        else f"a statement (Allow {actions} to *)"
    )


def without_everyone(statement: dict[str, Any]) -> dict[str, Any] | None:
    """The statement with `*` taken out of its principals, when it names others too (a
    `{"AWS": ["*", "arn:...:root"]}` keeps the account); None when `*` was all it granted to."""
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return None
    narrowed = dict(principal)
    others = [p for p in _listed(principal.get("AWS", [])) if p != "*"]
    if others:
        narrowed["AWS"] = others if len(others) > 1 else others[0]
    else:
        narrowed.pop("AWS", None)
    return {**statement, "Principal": narrowed} if narrowed else None
