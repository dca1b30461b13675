"""Find an SQS queue from a finding's ObjectId: its URL, its ARN, or its name.

Security Hub names a queue by ARN (`arn:aws:sqs:<region>:<account>:<name>`), other sources by
URL or name; every SQS call takes the URL, which GetQueueUrl gives for a name (and the owner's
account, from an ARN).
"""

from __future__ import annotations

from typing import Any


def queue_name(object_id: str) -> str:
    """The queue's name, for messages: the last part of a URL or an ARN."""
    return object_id.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def queue_url(sqs: Any, object_id: str) -> str:
    """The queue's URL (GetQueueUrl for a name or an ARN; a URL as given)."""
    if object_id.startswith(("https://", "http://")):
        return object_id
    if object_id.startswith("arn:"):
        parts = object_id.split(":")
        found = sqs.get_queue_url(QueueName=parts[-1], QueueOwnerAWSAccountId=parts[4])
    else:
        found = sqs.get_queue_url(QueueName=object_id)
    url: str = found["QueueUrl"]
    return url
