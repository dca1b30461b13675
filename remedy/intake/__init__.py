"""Intake: findings in the formats teams have them (ASFF, OCSF, VSS), detected by themselves,
read into one `NormalisedFinding`, from which the VSS payload jobs receive is built and read with
the finding contract (remedy/finding.py). Stdlib only.

- `detect.read_all(document, forced=None)`: every finding of a document, read or refused;
- `matching.matching_jobs(finding, jobs)`: the jobs whose metadata name one of its ids;
- `triage.triage(documents, jobs)`: per finding what Remedy would do, and the totals.
"""

from remedy.intake.detect import Read, read_all
from remedy.intake.normalised import FORMATS, ControlId, NormalisedFinding

__all__ = ["FORMATS", "ControlId", "NormalisedFinding", "Read", "read_all"]
