"""Turn on deletion protection of a DynamoDB table, and change nothing else.

ObjectId: the table name (or its ARN, `arn:aws:dynamodb:<region>:<account>:table/<name>`). One
UpdateTable call with `DeletionProtectionEnabled=true` and nothing else: capacity, streams,
indexes, encryption and TTL are not sent, so they stay as they are.

Plan prints the same CHANGE line after DescribeTable only. Before the change one record (kind
`dynamodb-deletion-protection`) keeps the flag before and after; rollback checks that the table
is still protected, then turns the flag off again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

KIND = "dynamodb-deletion-protection"
FIELD = "DeletionProtectionEnabled"


def table_name(object_id: str) -> str:
    """The table name, from itself or from its ARN."""
    if object_id.startswith("arn:"):
        parts = object_id.split(":", 5)
        if len(parts) == 6 and parts[2] == "dynamodb" and parts[5].startswith("table/"):
            return parts[5].split("/")[1]
        raise jobkit.BadInput(
            "notificationInfo.FindingInfo.ObjectId must name a DynamoDB table (its name or "
            f"arn:aws:dynamodb:<region>:<account>:table/<name>), not {object_id[:200]!r}"
        )
    return object_id


def protected(dynamodb: DynamoDBClient, name: str) -> bool:
    """The table's deletion protection (ResourceNotFoundException: exit 1)."""
    return dynamodb.describe_table(TableName=name)["Table"].get(FIELD) is True


def remediate(finding: jobkit.Finding) -> None:
    dynamodb: DynamoDBClient = jobkit.client("dynamodb", finding)
    name = table_name(finding.object_id)
    if protected(dynamodb, name):
        jobkit.info(f"ok: table {name} already has deletion protection")
        return
    jobkit.record(name, KIND, {FIELD: False}, {FIELD: True})
    if not jobkit.planning():
        dynamodb.update_table(TableName=name, DeletionProtectionEnabled=True)
    jobkit.change(f"table {name}: deletion protection turned on")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    dynamodb: DynamoDBClient = jobkit.client("dynamodb", finding)
    name = table_name(finding.object_id)
    found = jobkit.modes.of_kind(records, KIND)
    if any(r["resource"] != name for r in found):
        raise jobkit.RecordError(f"the change records are not about table {name}")
    if not protected(dynamodb, name):
        raise jobkit.ChangedSince(f"table {name} changed since the job: it is unprotected now")
    dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)
    jobkit.change(f"table {name}: deletion protection turned off (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
