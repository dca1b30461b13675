"""The built-in job catalogue, read once: what triage and the coverage page match against."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from remedy.config import worker_settings
from remedy.coverage import CatalogueJob
from remedy.intake.matching import JobIndex

SPEC_DIR = Path(__file__).resolve().parents[2] / "docs" / "spec"


@cache
def job_index() -> JobIndex:
    from remedy.job_registry import discover

    return JobIndex.of(discover(worker_settings().job_code).jobs.values())


@cache
def catalogue_jobs() -> tuple[CatalogueJob, ...]:
    from remedy.job_registry import discover

    return tuple(
        CatalogueJob(j.name, j.provider, j.rules, j.controls, j.alias_of, j.modes)
        for j in discover(worker_settings().job_code).jobs.values()
    )
