"""Typed configuration from environment variables (every variable is listed in the README)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUILTIN_JOBS = Path(__file__).resolve().parent.parent / "jobs"


class TemporalSettings(BaseSettings):
    """Where Temporal is: the embedded dev server, a self-hosted cluster or Temporal Cloud."""

    model_config = SettingsConfigDict(env_prefix="TEMPORAL_", extra="ignore")
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    api_key: str | None = Field(default=None, repr=False)
    tls: bool = False
    tls_cert: Path | None = None  # client certificate (mTLS)
    tls_key: Path | None = Field(default=None, repr=False)
    tls_ca: Path | None = None
    ui_url: str = "http://127.0.0.1:8233"


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REMEDY_", extra="ignore")
    job_code: Path = BUILTIN_JOBS
    job_output_cap_bytes: int = 1_000_000
    log_tail_bytes: int = 8_000
    max_concurrent_activities: int = 50
    max_concurrent_workflow_tasks: int = 100
    #: pollers per task type; more help a worker keep up with a busy queue on a remote cluster
    activity_pollers: int = 5
    workflow_pollers: int = 5
    #: "forkserver": jobs forked from a pre-warmed Python (fast); "subprocess": a fresh python each
    launcher: Literal["forkserver", "subprocess"] = "forkserver"
    #: upsert RuleID, FindingId, Job, ... on runs; false for a namespace where they are not registered
    search_attributes: bool = True


def temporal_settings() -> TemporalSettings:
    return TemporalSettings()


def worker_settings() -> WorkerSettings:
    return WorkerSettings()
