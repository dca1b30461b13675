"""The hub's configuration, from environment variables (docs/hub.md lists every one)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from remedy.batch_protocol import MAX_BATCH_SIZE

DEFAULT_DATABASE = Path(".remedy") / "hub.db"


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REMEDY_", extra="ignore")

    #: SQLAlchemy URL of the store: a SQLite file by default, PostgreSQL in production
    #: (`postgresql+psycopg://user@host:5432/remedy`).
    database_url: str = Field(default=f"sqlite:///{DEFAULT_DATABASE}", repr=False)
    #: PostgreSQL only: keep the hub's tables in this schema (created when missing).
    database_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    #: How often workers heartbeat; a worker is Offline after `offline_after_missed` misses.
    hub_heartbeat_interval_s: float = Field(default=30.0, gt=0, le=3600)
    hub_offline_after_missed: int = Field(default=3, ge=1, le=100)
    #: How often the background poller refreshes the status of unfinished runs (0: never).
    hub_poll_interval_s: float = Field(default=10.0, ge=0, le=3600)
    #: The queue of runs to start (hub/start_queue.py): how often it is drained (0: only by the
    #: poller), and how long one start may wait for Temporal before it is retried later.
    hub_start_interval_s: float = Field(default=1.0, ge=0, le=3600)
    hub_start_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: Runs of one action, account and region claimed together start as batches of at most this
    #: many findings, one workflow each (hub/batching.py); 1 starts every run on its own.
    hub_batch_size: int = Field(default=100, ge=1, le=MAX_BATCH_SIZE)
    #: Gather runs claimed one by one into batches: the first of its kind starts at once, those
    #: claimed within this many seconds after it start together when the wait ends (0: no wait).
    hub_batch_wait_s: float = Field(default=0.0, ge=0, le=3600)
    #: How long a status read waits for the run's workflow to answer before showing the stored one.
    hub_status_timeout_s: float = Field(default=3.0, gt=0, le=60)
    #: What the deployment command names: the worker image and the hub's address as workers see it.
    hub_worker_image: str = "remedy-worker:latest"
    hub_public_url: str | None = None
    #: Upsert Remedy's search attributes in runs (off for a cluster where they are not registered).
    search_attributes: bool = True
    #: Body limits (hub/limits.py): over them a request is answered 413 with the limit.
    hub_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    hub_max_findings_bytes: int = Field(default=16_777_216, ge=1024)
    hub_max_registration_bytes: int = Field(default=4_194_304, ge=1024)
    hub_max_log_batch_bytes: int = Field(default=1_048_576, ge=1024)
    hub_max_log_line_chars: int = Field(default=16_384, ge=80, le=1_000_000)
    #: JSON nested deeper than this is refused (422) before anything parses it.
    hub_max_json_depth: int = Field(default=64, ge=8, le=500)
    #: A page of logs stops adding entries once their text passes this many characters.
    hub_max_log_page_chars: int = Field(default=4_000_000, ge=1000)
    #: Log retention (hub/retention.py): older entries, then the oldest beyond the size, are
    #: deleted every `hub_retention_interval_s` (0: never).
    hub_log_retention_days: float = Field(default=30.0, gt=0)
    hub_log_retention_mb: float = Field(default=1024.0, gt=0)
    hub_retention_interval_s: float = Field(default=300.0, ge=0, le=86_400)
    #: Failed authentications per client address and minute before it is answered 429.
    hub_auth_failures_per_minute: int = Field(default=20, ge=1, le=100_000)
