"""Verify guardduty_enable_detector: the region has an enabled GuardDuty detector."""

from __future__ import annotations

from guardduty_enable_detector import detectors, guardduty_client, where

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    found = detectors(guardduty_client(finding))
    problems = []
    if not found:
        problems.append(f"{where(finding)} has no GuardDuty detector")
    elif "ENABLED" not in found.values():
        problems.append(f"{where(finding)}: GuardDuty detector {', '.join(found)} is disabled")
    jobkit.verdict(problems, f"GuardDuty is enabled in {where(finding)}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
