"""Stop a Lambda function's resource policy from granting access to everyone (Lambda.1).

ObjectId: the function's name or ARN. Each statement of the function policy that Allows the `*`
principal with no condition limiting the caller (remedy/jobkit/public_statements.py) is removed
with RemovePermission, by its statement id; every other statement is kept. The function's
versions and aliases, which have policies of their own, are not read.

Plan prints the same CHANGE lines after reading only. The record (kind `lambda-permission`) keeps
the statements removed (`before`) and the ones left (`after`). Rollback re-adds each removed
statement with AddPermission, once the policy still holds exactly the statements the job left; it
refuses, changing nothing, when a removed statement cannot be written through AddPermission (one
action, principal `*`, and only the conditions AddPermission writes: SourceArn, SourceAccount,
PrincipalOrgID, EventSourceToken, FunctionUrlAuthType).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from remedy import jobkit
from remedy.jobkit.public_statements import describe, is_public, statements

KIND = "lambda-permission"
# Condition operator and key (lower case) -> the AddPermission argument that writes it.
WRITTEN_BY_ADD_PERMISSION = {
    ("arnlike", "aws:sourcearn"): "SourceArn",
    ("stringequals", "aws:sourceaccount"): "SourceAccount",
    ("stringequals", "aws:principalorgid"): "PrincipalOrgID",
    ("stringequals", "lambda:eventsourcetoken"): "EventSourceToken",
    ("stringequals", "lambda:functionurlauthtype"): "FunctionUrlAuthType",
}


class CannotRestore(jobkit.ChangedSince):
    """A removed statement AddPermission cannot write back: rollback changes nothing (exit 1)."""


def function_policy(lam: Any, name: str) -> list[dict[str, Any]]:
    """The function policy's statements; [] when it has none. A function that does not exist
    fails GetFunctionConfiguration first (GetPolicy says ResourceNotFound for both)."""
    lam.get_function_configuration(FunctionName=name)
    try:
        text = lam.get_policy(FunctionName=name)["Policy"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return []
    return statements(json.loads(text))


def _key(statement: dict[str, Any]) -> str:
    return json.dumps(statement, sort_keys=True)


def remediate(finding: jobkit.Finding) -> None:
    lam = jobkit.client("lambda", finding)
    name = finding.object_id
    found = function_policy(lam, name)
    public = [s for s in found if is_public(s)]
    if not public:
        jobkit.info(f"ok: {name}'s function policy grants nothing to everyone")
        return
    kept = [s for s in found if not is_public(s)]
    jobkit.record(name, KIND, public, kept)
    for statement in public:
        if not jobkit.planning():
            lam.remove_permission(FunctionName=name, StatementId=statement["Sid"])
        jobkit.change(f"{name}: removed {describe(statement)} from the function policy")


def add_permission_arguments(statement: dict[str, Any]) -> dict[str, str]:
    """The AddPermission arguments that write the statement back; CannotRestore if none can."""
    sid, action = statement.get("Sid"), statement.get("Action")
    if isinstance(action, list) and len(action) == 1:
        action = action[0]
    if not sid or not isinstance(action, str):
        raise CannotRestore(
            f"{describe(statement)} cannot be put back: AddPermission takes one action and a "
            "statement id"
        )
    arguments = {"StatementId": str(sid), "Action": action, "Principal": "*"}
    for operator, tests in (statement.get("Condition") or {}).items():
        for key, value in (tests or {}).items():
            written = WRITTEN_BY_ADD_PERMISSION.get((operator.lower(), key.lower()))
            if written is None or not isinstance(value, str):
                raise CannotRestore(
                    f"{describe(statement)} cannot be put back: AddPermission cannot write its "
                    f"condition {operator} {key}"
                )
            arguments[written] = value
    return arguments


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    lam = jobkit.client("lambda", finding)
    found = jobkit.modes.of_kind(records, KIND)
    name = finding.object_id
    if any(r["resource"] != name for r in found):
        raise jobkit.RecordError(f"the change records are not about function {name}")
    now = sorted(_key(s) for s in function_policy(lam, name))
    if now != sorted(_key(s) for s in found[-1]["after"]):
        raise jobkit.ChangedSince(
            f"{name}'s function policy changed since the job edited it: it does not hold exactly "
            "the statements the job left"
        )
    removed = [s for r in found for s in r["before"]]
    calls = [add_permission_arguments(s) for s in removed]  # all of them, before any call
    for statement, arguments in zip(removed, calls, strict=True):
        lam.add_permission(FunctionName=name, **arguments)
        jobkit.change(f"{name}: {describe(statement)} restored (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
