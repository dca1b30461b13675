"""Verify kinesis_encrypt_stream: the stream is encrypted with a KMS key."""

from __future__ import annotations

from kinesis_encrypt_stream import encryption, stream_name

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    kinesis = jobkit.client("kinesis", finding)
    name = stream_name(finding.object_id)
    state = encryption(kinesis, name)
    problems = [] if state["EncryptionType"] == "KMS" else [f"{name} is not encrypted at rest"]
    jobkit.verdict(problems, f"{name} is encrypted with KMS key {state['KeyId']}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
