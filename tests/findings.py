"""Finding payloads for tests, in the two generations the contract allows."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sandbox.aws import ACCOUNT_ID


def aws_finding(
    object_id: str,
    *,
    rule_id: str = "5c8c26417a550e1fb6560c3f",
    role_arn: str | None = None,
    finding_id: str | None = None,
    region: str = "us-east-1",
    old_style: bool = False,
) -> dict[str, Any]:
    """A VSS payload. `old_style`: only notificationInfo.CloudAccountID, no cloudAccount block."""
    payload: dict[str, Any] = {
        "notificationInfo": {
            "CloudAccountID": ACCOUNT_ID,
            "RuleID": rule_id,
            "RuleName": "test-rule",
            "RuleDisplayName": "Test rule",
            "Level": "High",
            "Service": "EC2",
            "FindingInfo": {
                "FindingId": finding_id or f"finding-{uuid.uuid4().hex[:12]}",
                "ObjectId": object_id,
                "CloudTags": {},
                "RiskScore": 80,
                "Region": region,
                "Service": "EC2",
            },
        },
        "autoRemediate": False,
    }
    if not old_style:
        payload["cloudAccount"] = {
            "provider": "aws",
            "roleArn": role_arn or f"arn:aws:iam::{ACCOUNT_ID}:role/remedy-remediation",
        }
        payload["notificationInfo"]["FindingInfo"]["ObjectChain"] = json.dumps(
            {"cloudAccountId": ACCOUNT_ID, "properties": []}
        )
    return payload
