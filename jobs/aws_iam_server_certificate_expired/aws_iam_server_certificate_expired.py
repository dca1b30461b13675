"""Delete expired SSL/TLS server certificates stored in IAM.

ObjectId: the certificate's name (or its ARN): that certificate is deleted if it has expired. When
the finding is about the account instead (ObjectId `AWS::::Account:<id>` or the bare account id),
every expired server certificate of the account is deleted. A certificate that has not expired is
never touched; one that is gone already is what the fix wants (exit 0, nothing to do).

Irreversible: IAM never returns a certificate's private key, so a deleted certificate cannot be
uploaded again by Remedy (remedy.json says so; rollback refuses). Plan prints the same CHANGE lines
after reading only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_iam.client import IAMClient


def iam_client(finding: jobkit.Finding) -> IAMClient:
    made: IAMClient = jobkit.client("iam", finding)
    return made


def account_level(finding: jobkit.Finding) -> bool:
    target = finding.object_id
    return target in (finding.account_id, f"AWS::::Account:{finding.account_id}")


def certificate_name(object_id: str) -> str:
    """`arn:aws:iam::1:server-certificate/path/name` -> `name`; a name stays as it is."""
    return object_id.rsplit("/", 1)[-1] if object_id.startswith("arn:") else object_id


def server_certificates(iam: IAMClient) -> list[dict[str, Any]]:
    """Every server certificate's metadata, all pages."""
    found: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = (
            iam.list_server_certificates(Marker=marker)
            if marker
            else iam.list_server_certificates()
        )
        found += [dict(m) for m in page["ServerCertificateMetadataList"]]
        if not page.get("IsTruncated"):
            return found
        marker = page["Marker"]


def expired(finding: jobkit.Finding, iam: IAMClient) -> tuple[list[dict[str, Any]], str]:
    """The expired certificates the finding is about, and what it is about (for messages)."""
    now = datetime.now(UTC)
    certificates = server_certificates(iam)
    if account_level(finding):
        scope = f"account {finding.account_id}"
    else:
        name = certificate_name(finding.object_id)
        certificates = [c for c in certificates if c["ServerCertificateName"] == name]
        scope = f"server certificate {name}"
    return [c for c in certificates if c["Expiration"] <= now], scope


def remediate(finding: jobkit.Finding) -> None:
    iam = iam_client(finding)
    found, scope = expired(finding, iam)
    if not found:
        jobkit.info(f"ok: {scope}: no expired server certificate stored in IAM")
        return
    for certificate in found:
        name = certificate["ServerCertificateName"]
        if not jobkit.planning():
            iam.delete_server_certificate(ServerCertificateName=name)
        jobkit.change(
            f"deleted expired server certificate {name} ({certificate['Arn']}, id "
            f"{certificate['ServerCertificateId']}, expired "
            f"{certificate['Expiration'].isoformat(timespec='seconds')})"
        )


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning(); no rollback: irreversible
    jobkit.run(remediate, __file__, plan=remediate)
