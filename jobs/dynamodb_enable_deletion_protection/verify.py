"""Verify dynamodb_enable_deletion_protection: the table has deletion protection."""

from __future__ import annotations

from dynamodb_enable_deletion_protection import protected, table_name

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    name = table_name(finding.object_id)
    problems = (
        []
        if protected(jobkit.client("dynamodb", finding), name)
        else [f"table {name} has no deletion protection"]
    )
    jobkit.verdict(problems, f"table {name} has deletion protection")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
