"""Verify lambda_remove_public_access: no function-policy statement Allows `*` unconditioned."""

from __future__ import annotations

from lambda_remove_public_access import function_policy

from remedy import jobkit
from remedy.jobkit.public_statements import describe, is_public


def verify(finding: jobkit.Finding) -> None:
    lam = jobkit.client("lambda", finding)
    name = finding.object_id
    public = [s for s in function_policy(lam, name) if is_public(s)]
    problems = [
        f"{name}: the function policy's {describe(s)} has no limiting condition" for s in public
    ]
    jobkit.verdict(problems, f"{name}'s function policy grants nothing to everyone")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
