"""Verify aws_s3_bucket_policy_allow_https: a statement of the bucket policy denies every
principal all S3 actions on the bucket and its objects when aws:SecureTransport is false."""

from __future__ import annotations

from aws_s3_bucket_policy_allow_https import bucket_policy, requires_tls

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    text = bucket_policy(s3, bucket)
    problems = []
    if text is None:
        problems.append(f"{bucket} has no bucket policy, so nothing denies requests without TLS")
    elif not requires_tls(text, bucket):
        problems.append(f"{bucket}'s bucket policy does not deny requests without TLS")
    jobkit.verdict(problems, f"{bucket}'s bucket policy denies requests without TLS")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
