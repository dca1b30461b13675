"""Which built-in job fixes a finding: the jobs whose metadata name one of its ids.

A job (or an alias: one port of a port-closing job) answers to the VSS rule ids in its `rules` and
to the ids in its `controls` (`{"securityhub": ["EC2.13"], "prowler": [...]}`); a finding names
ids in namespaces (remedy/intake/normalised.py). The provider must agree too. When nothing
matches, the reason names the finding's most telling id ("no built-in job for control EC2.4").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from remedy.intake.normalised import ControlId, NormalisedFinding

if TYPE_CHECKING:  # the registry's types only: matching stays stdlib at run time
    from remedy.job_registry import Job

#: namespaces that say nothing a job could answer to on their own
_VAGUE = ("generator", "requirement")


@dataclass(frozen=True)
class JobIndex:
    """(namespace, id) -> the jobs answering to it, built once for many findings."""

    by_control: dict[tuple[str, str], tuple[Job, ...]]

    @classmethod
    def of(cls, jobs: Iterable[Job]) -> JobIndex:
        index: dict[tuple[str, str], list[Job]] = {}
        for job in sorted(jobs, key=lambda j: j.name):
            keys = [("vss", rule) for rule in job.rules]
            keys += [(source, i) for source, ids in job.controls.items() for i in ids]
            for key in keys:
                index.setdefault(key, []).append(job)
        return cls({k: tuple(v) for k, v in index.items()})

    def matching_jobs(self, finding: NormalisedFinding) -> list[Job]:
        """The jobs for the finding's provider that answer to one of its ids, in id order."""
        found: dict[str, Job] = {}
        for control in finding.controls:
            for job in self.by_control.get((control.namespace, control.id), ()):
                if job.provider in (None, finding.provider):
                    found.setdefault(job.name, job)
        return list(found.values())


def telling_id(finding: NormalisedFinding) -> ControlId | None:
    """The id a person recognises the finding by (a control rather than a GeneratorId)."""
    specific = [c for c in finding.controls if c.namespace not in _VAGUE]
    ranked = specific or list(finding.controls)
    return ranked[0] if ranked else None


def no_job_reason(finding: NormalisedFinding) -> str:
    control = telling_id(finding)
    if control is None:
        return "no built-in job: the finding names no rule or control id"
    kind = {"prowler": "Prowler check", "vss": "rule", "generator": "generator"}.get(
        control.namespace, "control"
    )
    return f"no built-in job for {kind} {control.id}"
