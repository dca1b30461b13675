"""Verify aws_sqs_queue_publicly_accessible: no queue-policy statement Allows `*` unconditioned."""

from __future__ import annotations

from aws_sqs_queue_publicly_accessible import public_statements, queue_policy

from remedy import jobkit
from remedy.jobkit.public_statements import describe
from remedy.jobkit.sqs_queues import queue_name, queue_url


def verify(finding: jobkit.Finding) -> None:
    sqs = jobkit.client("sqs", finding)
    url = queue_url(sqs, finding.object_id)
    name = queue_name(url)
    public = public_statements(queue_policy(sqs, url))
    problems = [
        f"{name}: the queue policy's {describe(s)} has no limiting condition" for s in public
    ]
    jobkit.verdict(problems, f"{name}'s queue policy grants nothing to everyone")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
