"""Verify sqs_enable_encryption: the queue is encrypted with SSE-SQS or a KMS key."""

from __future__ import annotations

from sqs_enable_encryption import encrypted, encryption

from remedy import jobkit
from remedy.jobkit.sqs_queues import queue_name, queue_url


def verify(finding: jobkit.Finding) -> None:
    sqs = jobkit.client("sqs", finding)
    url = queue_url(sqs, finding.object_id)
    name = queue_name(url)
    state = encryption(sqs, url)
    problems = [] if encrypted(state) else [f"{name} is not encrypted at rest ({state})"]
    jobkit.verdict(problems, f"{name} is encrypted at rest")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
