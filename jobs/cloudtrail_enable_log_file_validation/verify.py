"""Verify cloudtrail_enable_log_file_validation: the trail validates its log files."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit.cloudtrail import find_trail


def verify(finding: jobkit.Finding) -> None:
    trail = find_trail(finding)
    problems = []
    if trail.get("LogFileValidationEnabled") is not True:
        problems.append(f"trail {trail.name}: log file validation is off")
    jobkit.verdict(problems, f"trail {trail.name} validates its log files")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
