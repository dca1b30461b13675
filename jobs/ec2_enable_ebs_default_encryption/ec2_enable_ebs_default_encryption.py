"""Turn on EBS encryption by default in the finding's account and region (Security Hub EC2.7).

A region-level control: the target is the finding's account and region, not its ObjectId. New EBS
volumes (and snapshot copies) in the region are then encrypted; existing volumes are not touched,
and the default KMS key (GetEbsDefaultKmsKeyId) stays whatever it is (alias/aws/ebs unless someone
chose another).

Plan prints the same CHANGE line after reading only. Before the change, one record (kind
`ec2-ebs-encryption-by-default`) keeps the setting as it was (off); rollback turns it off again,
once it is still on as the job left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

KIND = "ec2-ebs-encryption-by-default"


def target(finding: jobkit.Finding) -> str:
    return f"{finding.account_id}/{finding.region}"


def encrypted_by_default(ec2: EC2Client) -> bool:
    return bool(ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"])


def remediate(finding: jobkit.Finding) -> None:
    ec2 = jobkit.ec2_client(finding)
    where = target(finding)
    if encrypted_by_default(ec2):
        jobkit.info(f"ok: EBS encryption by default is on in {where}")
        return
    jobkit.record(where, KIND, {"EbsEncryptionByDefault": False}, {"EbsEncryptionByDefault": True})
    if not jobkit.planning():
        ec2.enable_ebs_encryption_by_default()
    jobkit.change(f"{where}: EBS encryption by default turned on (it was off)")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ec2 = jobkit.ec2_client(finding)
    where = target(finding)
    found = jobkit.modes.of_kind(records, KIND)
    if any(r["resource"] != where for r in found):
        raise jobkit.RecordError(f"the change records are not about {where}")
    if not encrypted_by_default(ec2):
        raise jobkit.ChangedSince(
            f"{where} changed since the job turned EBS encryption by default on: it is off again"
        )
    ec2.disable_ebs_encryption_by_default()
    jobkit.change(f"{where}: EBS encryption by default turned off again (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
