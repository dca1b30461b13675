"""Verify aws_iam_server_certificate_expired: no expired server certificate left (the one named,
or any in the account)."""

from __future__ import annotations

from aws_iam_server_certificate_expired import expired, iam_client

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    found, scope = expired(finding, iam_client(finding))
    problems = [
        f"server certificate {c['ServerCertificateName']} expired "
        f"{c['Expiration'].isoformat(timespec='seconds')} and is still stored in IAM"
        for c in found
    ]
    jobkit.verdict(problems, f"{scope}: no expired server certificate stored in IAM")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
