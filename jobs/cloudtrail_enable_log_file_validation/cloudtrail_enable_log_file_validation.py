"""Turn on log file validation of a CloudTrail trail (Security Hub CloudTrail.4).

ObjectId: the trail's name or ARN; the trail is changed in its home region (remedy/jobkit/
cloudtrail.py). With validation on, CloudTrail delivers a signed digest file every hour, so a log
file changed or deleted after delivery can be told. Only EnableLogFileValidation changes: the
bucket, prefix, KMS key, CloudWatch Logs, event selectors and logging state are kept.

Plan prints the same CHANGE line after reading only. The record keeps the setting as it was
(kind `cloudtrail-log-file-validation`); rollback turns validation off again while it is still on.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit.cloudtrail import find_trail

KIND = "cloudtrail-log-file-validation"


def remediate(finding: jobkit.Finding) -> None:
    trail = find_trail(finding)
    if trail.get("LogFileValidationEnabled") is True:
        jobkit.info(f"ok: trail {trail.name} already validates its log files")
        return
    jobkit.record(
        trail.arn,
        KIND,
        {"LogFileValidationEnabled": False},
        {"LogFileValidationEnabled": True},
    )
    if not jobkit.planning():
        trail.client.update_trail(Name=trail.arn, EnableLogFileValidation=True)
    jobkit.change(f"trail {trail.name}: log file validation turned on")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    trail = find_trail(finding)
    if any(r["resource"] != trail.arn for r in found):
        raise jobkit.RecordError(f"the change records are not about trail {trail.arn}")
    if trail.get("LogFileValidationEnabled") is not True:
        raise jobkit.ChangedSince(
            f"trail {trail.name} changed since the job turned validation on: it is off already"
        )
    trail.client.update_trail(Name=trail.arn, EnableLogFileValidation=False)
    jobkit.change(f"trail {trail.name}: log file validation turned off again (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
