"""Which rules and controls the job catalogue covers, by standard: the data behind
`remedy jobs coverage` (and the catalogue meta-test's "every rule has a job").

The references are two lists kept in the repository (docs/spec/): the open VSS catalogue's rules
(`catalogue-rules.csv`: provider, rule id, name, anchor job) and the Security Hub controls the AWS
catalogue must cover (`security-hub-controls.csv`: control id, CIS AWS 1.2 item, title, priority
`must` or `stretch`; a row may name a range, `CloudWatch.1-14` with `3.1-3.14`). A rule is covered
when a job or alias lists it in `rules`; a control when a job or alias names it in `controls`
under its source (`securityhub`, `cis-aws-1.2`, ...). PCI DSS and the newer CIS versions have no
reference list here: they show the ids the jobs name.

Stdlib only: the console reads it, and so can the hub.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: standard name on the command line -> the `controls` source its ids are named under
STANDARDS: dict[str, str] = {
    "vss": "vss",
    "fsbp": "securityhub",
    "cis-1.2": "cis-aws-1.2",
    "cis-1.4": "cis-aws-1.4",
    "cis-3.0": "cis-aws-3.0",
    "pci": "pci-dss",
    "prowler": "prowler",
}


@dataclass(frozen=True)
class CatalogueJob:
    """What coverage needs of a job or alias (remedy.job_registry.Job has these fields)."""

    name: str
    provider: str | None
    rules: tuple[str, ...]
    controls: Mapping[str, tuple[str, ...]]
    alias_of: str | None = None
    modes: tuple[str, ...] = ()
    irreversible: str | None = None


@dataclass
class Item:
    """One rule or control of a standard, and the jobs that cover it."""

    id: str
    title: str
    provider: str = "aws"
    priority: str = ""  # must / stretch (Security Hub controls); "" otherwise
    jobs: list[str] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return bool(self.jobs)

    def as_dict(self, modes: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "provider": self.provider,
            "priority": self.priority or None,
            "covered": self.covered,
            "jobs": self.jobs,
            "modes": sorted({m for job in self.jobs for m in modes.get(job, ())}),
        }


@dataclass
class Standard:
    name: str
    source: str
    #: whether the items are a reference list (uncovered ones shown) or only what jobs name
    reference: str | None
    items: list[Item]

    @property
    def covered(self) -> int:
        return sum(item.covered for item in self.items)

    def missing(self, priority: str | None = None) -> list[Item]:
        return [
            i for i in self.items if not i.covered and (priority is None or i.priority == priority)
        ]

    def as_dict(self, modes: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        return {
            "standard": self.name,
            "source": self.source,
            "reference": self.reference,
            "covered": self.covered,
            "total": len(self.items),
            "must_missing": [i.id for i in self.missing("must")],
            "items": [i.as_dict(modes) for i in self.items],
        }


def expand(control: str) -> list[str]:
    """`CloudWatch.1-14` -> CloudWatch.1 ... CloudWatch.14; `3.1-3.14` -> 3.1 ... 3.14."""
    first, dash, last = control.partition("-")
    head, _, low = first.rpartition(".")
    high = last.rpartition(".")[2]
    if not (dash and head and low.isdigit() and high.isdigit()):
        return [control]
    return [f"{head}.{n}" for n in range(int(low), int(high) + 1)]


def read_rules(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_controls(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _who(jobs: Iterable[CatalogueJob], source: str, ident: str) -> list[str]:
    if source == "vss":
        return sorted(j.name for j in jobs if ident in j.rules)
    return sorted(j.name for j in jobs if ident in j.controls.get(source, ()))


def coverage(
    jobs: Sequence[CatalogueJob],
    rules: Sequence[Mapping[str, str]],
    controls: Sequence[Mapping[str, str]],
    standard: str,
) -> Standard:
    """One standard's items and who covers each."""
    source = STANDARDS[standard]
    if standard == "vss":
        items = [
            Item(r["rule_id"], r["rule_name"], r["provider"], jobs=_who(jobs, source, r["rule_id"]))
            for r in rules
        ]
        return Standard(standard, source, "docs/spec/catalogue-rules.csv", items)
    if standard in ("fsbp", "cis-1.2"):
        column = "control_id" if standard == "fsbp" else "cis_aws_1_2"
        items = []
        for row in controls:
            if not row.get(column):
                continue
            ids = expand(row[column])
            paired = expand(row["control_id"])
            for n, ident in enumerate(ids):
                who = _who(jobs, source, ident)
                if not who and standard == "cis-1.2":  # named through its Security Hub control
                    who = _who(jobs, "securityhub", paired[n] if len(paired) == len(ids) else "")
                items.append(Item(ident, row["title"], "aws", row.get("priority", ""), who))
        return Standard(standard, source, "docs/spec/security-hub-controls.csv", items)
    named = sorted({i for j in jobs for i in j.controls.get(source, ())}, key=_natural)
    items = [Item(ident, "", "aws", jobs=_who(jobs, source, ident)) for ident in named]
    return Standard(standard, source, None, items)


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
