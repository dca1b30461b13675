"""Typed configuration from environment variables (every variable is listed in the README)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BUILTIN_JOBS = Path(__file__).resolve().parent.parent / "jobs"


class ConfigError(ValueError):
    """A variable is set to something Remedy cannot use; the message names it and the fix."""


GENERATE_KEY = (
    "generate one with `remedy codec-key` or "
    '`python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"`'
)


def _aes_key(value: str, variable: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ValueError(
            f"{variable} must be the base64 of exactly 32 bytes (an AES-256 key); {GENERATE_KEY}"
        )
    return key


class PayloadEncryptionSettings(BaseSettings):
    """Keys sealing what Remedy stores in Temporal (remedy/codec.py); unset: stored as JSON."""

    model_config = SettingsConfigDict(
        env_prefix="REMEDY_PAYLOAD_", extra="ignore", hide_input_in_errors=True
    )
    #: seals every new payload, and opens those it sealed
    key: str | None = Field(default=None, repr=False)
    #: comma-separated earlier keys: they still open what they sealed (rotation)
    old_keys: str = Field(default="", repr=False)

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            _aes_key(value, "REMEDY_PAYLOAD_KEY")
            return value
        return None

    @field_validator("old_keys")
    @classmethod
    def _check_old_keys(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            _aes_key(part, "each of REMEDY_PAYLOAD_OLD_KEYS (comma-separated)")
        return value

    @model_validator(mode="after")
    def _old_keys_need_a_key(self) -> PayloadEncryptionSettings:
        if self.old_keys.strip() and self.key is None:
            raise ValueError(
                f"REMEDY_PAYLOAD_OLD_KEYS is set but REMEDY_PAYLOAD_KEY is not: set "
                f"REMEDY_PAYLOAD_KEY to the current key; {GENERATE_KEY}"
            )
        return self

    def keys(self) -> list[bytes]:
        """The current key first, then the old ones; empty when encryption is off."""
        if self.key is None:
            return []
        old = [p.strip() for p in self.old_keys.split(",") if p.strip()]
        return [_aes_key(k, "REMEDY_PAYLOAD_KEY") for k in (self.key, *old)]


class CodecServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REMEDY_CODEC_", extra="ignore")
    #: when set, /encode and /decode want `Authorization: Bearer <token>`
    token: str | None = Field(default=None, repr=False)


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
    #: REMEDY_PAYLOAD_KEY, REMEDY_PAYLOAD_OLD_KEYS: payload encryption (off when unset)
    encryption: PayloadEncryptionSettings = Field(default_factory=PayloadEncryptionSettings)


class WorkerSettings(BaseSettings):
    # an error never shows the value: an index URL may carry credentials
    model_config = SettingsConfigDict(
        env_prefix="REMEDY_", extra="ignore", hide_input_in_errors=True
    )
    job_code: Path = BUILTIN_JOBS
    job_output_cap_bytes: int = 1_000_000
    log_tail_bytes: int = 8_000
    max_concurrent_activities: int = 50
    #: after SIGTERM: how long jobs in flight may finish before they are cancelled (and retried
    #: on another worker); the default is the job timeout's, so a rollout never cuts a job short
    #: (give the container at least this plus a minute: docs/deploy.md)
    drain_timeout_s: float = Field(default=900.0, ge=0, le=6 * 3600)
    max_concurrent_workflow_tasks: int = 100
    #: pollers per task type; more help a worker keep up with a busy queue on a remote cluster
    activity_pollers: int = 5
    workflow_pollers: int = 5
    #: "forkserver": jobs forked from a pre-warmed Python (fast); "subprocess": a fresh python each
    launcher: Literal["forkserver", "subprocess"] = "forkserver"
    #: jobs may write only under their working directory (Landlock; unconfined, with a warning at
    #: start, on a kernel without it)
    confine_writes: bool = True
    #: upsert RuleID, FindingId, Job, ... on runs; false for a namespace where they are not registered
    search_attributes: bool = True
    #: one STS session per account across runs while it has its margin left (the session name
    #: names the first run that used it); false: each run assumes its own (activities/credentials)
    sts_reuse: bool = True
    #: GET /metrics, /healthz and /readyz (worker/health.py) on this port (0: no server); on
    #: loopback unless REMEDY_WORKER_HTTP_HOST says otherwise (0.0.0.0 in a container)
    worker_http_port: int = Field(default=9464, ge=0, le=65535)
    worker_http_host: str = "127.0.0.1"
    #: look for changes in the job-code directory this often and reload it once it holds still
    #: for as long (0: only on SIGHUP); docs/architecture.md, "Job code versions"
    job_code_reload_s: float = Field(default=2.0, ge=0, le=3600)
    #: versions of the job code kept serving the runs pinned to them after a reload (the newest)
    job_code_keep_versions: int = Field(default=3, ge=1, le=50)
    #: how long a run's job step waits for a worker serving the version it was validated with
    #: before the run fails (an action's `code_wait_s` overrides it)
    job_code_wait_s: float = Field(default=1800.0, ge=1, le=7 * 24 * 3600)
    #: job code from Git: a repository URL, the ref after `#` (`https://host/org/jobs.git#main`;
    #: none: the remote's HEAD); cloned at start, pulled every job_code_git_pull_s (README.md)
    job_code_git: str | None = None
    #: the folder inside the repository that holds one folder per job ("": its root)
    job_code_git_path: str = ""
    job_code_git_pull_s: float = Field(default=60.0, ge=5)
    #: a private key for an ssh:// or git@host: URL (no passphrase; the host in known_hosts)
    job_code_git_ssh_key: Path | None = None
    #: GIT_PERSONAL_TOKEN (no REMEDY_ prefix): the HTTPS token; one of the worker's own secrets
    git_personal_token: SecretStr | None = Field(
        default=None, validation_alias="GIT_PERSONAL_TOKEN", repr=False
    )
    #: where the worker keeps what it must find again after a restart (the Git checkout);
    #: none: ~/.remedy
    state_dir: Path | None = None
    #: where the environments of jobs with a requirements.txt are built, one per requirements
    #: hash (activities/job_deps.py)
    job_env_dir: Path = Path("~/.remedy/job-envs")
    #: the package index those environments install from (pip's --index-url; None: PyPI); may
    #: carry credentials (https://user:token@host/simple): never logged
    job_pip_index_url: str | None = Field(default=None, repr=False)
    #: more indexes, and folders or pages of wheels (pip's --find-links): space- or
    #: comma-separated, or a JSON list
    job_pip_extra_index_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, repr=False
    )
    job_pip_find_links: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("job_pip_extra_index_urls", "job_pip_find_links", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:
                    raise ValueError(
                        "is not a JSON list of strings: give the URLs as a JSON list, or "
                        "separated by spaces or commas"
                    ) from None
            return [part for part in re.split(r"[\s,]+", text) if part]
        return value


def config_error(exc: ValidationError) -> ConfigError:
    """The variables at fault and what to do, without the values (they may be secrets)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        named = not where or "REMEDY_" in message or "TEMPORAL_" in message
        problems.append(message if named else f"{where}: {message}")
    return ConfigError("; ".join(problems))


def temporal_settings() -> TemporalSettings:
    try:
        return TemporalSettings()
    except ValidationError as exc:
        raise config_error(exc) from None


def worker_settings() -> WorkerSettings:
    return WorkerSettings()
