"""Turn GuardDuty on in the finding's account and region (Security Hub GuardDuty.1).

The target is the finding's account and region, not its ObjectId. A region has at most one
detector: with none, the job creates one, enabled, publishing findings as often as the parameter
says; with a disabled one, it enables it and changes nothing else; an enabled one is left alone.

Plan prints the same CHANGE line after reading only. Before the change a record says what it does
(kind `guardduty-detector`: created, or enabled with its id). Rollback deletes the detector it
created or disables the one it enabled, once it is still enabled and the only one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_guardduty.client import GuardDutyClient

KIND = "guardduty-detector"


def guardduty_client(finding: jobkit.Finding) -> GuardDutyClient:
    made: GuardDutyClient = jobkit.client("guardduty", finding)
    return made


def where(finding: jobkit.Finding) -> str:
    return f"account {finding.account_id} {finding.region}"


def detectors(guardduty: GuardDutyClient) -> dict[str, str]:
    """detector id -> its status (ENABLED or DISABLED)."""
    found = guardduty.list_detectors().get("DetectorIds", [])
    return {d: str(guardduty.get_detector(DetectorId=d).get("Status")) for d in found}


def remediate(finding: jobkit.Finding) -> None:
    guardduty = guardduty_client(finding)
    found = detectors(guardduty)
    resource = f"{where(finding)} guardduty"
    if any(status == "ENABLED" for status in found.values()):
        enabled = next(d for d, status in found.items() if status == "ENABLED")
        jobkit.info(f"ok: GuardDuty detector {enabled} is enabled in {where(finding)}")
        return
    if found:
        detector = next(iter(found))
        jobkit.record(
            resource,
            KIND,
            {"detector": detector, "status": "DISABLED"},
            {"detector": detector, "status": "ENABLED"},
        )
        if not jobkit.planning():
            guardduty.update_detector(DetectorId=detector, Enable=True)
        jobkit.change(f"{where(finding)}: enabled GuardDuty detector {detector}")
        return
    frequency = str(finding.parameters["finding_publishing_frequency"])
    jobkit.record(resource, KIND, {"detector": None}, {"detector": "created", "status": "ENABLED"})
    if not jobkit.planning():
        made = guardduty.create_detector(
            Enable=True,
            FindingPublishingFrequency=frequency,  # type: ignore[arg-type]
        )
        jobkit.info(f"GuardDuty detector {made['DetectorId']} created")
    jobkit.change(
        f"{where(finding)}: created an enabled GuardDuty detector (findings published every "
        f"{frequency.lower().replace('_', ' ')})"
    )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    guardduty = guardduty_client(finding)
    found = jobkit.modes.of_kind(records, KIND)
    if len(found) != 1 or found[0]["resource"] != f"{where(finding)} guardduty":
        raise jobkit.RecordError(f"expected one change record about GuardDuty in {where(finding)}")
    change = found[0]
    now = detectors(guardduty)
    created = change["after"]["detector"] == "created"
    detector = next(iter(now), None) if created else change["after"]["detector"]
    if detector is None or len(now) != 1 or now.get(detector) != "ENABLED":
        state = ", ".join(f"{d} {s}" for d, s in now.items()) or "no detector"
        raise jobkit.ChangedSince(
            f"GuardDuty in {where(finding)} changed since the job left one enabled detector: "
            f"{state}"
        )
    if created:
        guardduty.delete_detector(DetectorId=detector)
        jobkit.change(f"{where(finding)}: deleted GuardDuty detector {detector} (rollback)")
    else:
        guardduty.update_detector(DetectorId=detector, Enable=False)
        jobkit.change(f"{where(finding)}: disabled GuardDuty detector {detector} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
