"""Discover and validate the jobs in a job-code directory (the VSS / Tanzu hub convention).

A job is a folder `<name>/` holding `<name>.py`. A folder that breaks the convention is not
registered and an error names the folder and the file that was expected; a missing policy or README
is a warning. `remedy.json` (optional) adds metadata: provider, rules fixed, parameters (a JSON
Schema, see remedy/params.py: a bad one keeps the job from registering), the payload fields the job
requires, aliases (one parameterised job serving several catalogue names), and `controls`: the
ids besides VSS rule ids that a finding may name for the job (or an alias) to fix it, per source
(`{"securityhub": ["EC2.13"], "cis-aws-1.2": ["4.1"], "prowler": ["<check id>"]}`; remedy/intake
matches findings on them), `modes`: what the job can do besides remediate (plan, verify, rollback:
remedy/jobkit/modes.py; default: remediate, and verify when `verify.py` is beside it), and
`irreversible`: why its changes cannot be rolled back, for a job that cannot, and `batch`: true
when one process may fix a batch of findings (remedy/batch_protocol.py). A `requirements.txt`
is installed into the job's own environment after discovery (activities/job_deps.py:
prepare_job_envs, which records it in `Registry.envs`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remedy.params import (
    ParameterError,
    SchemaProblem,
    check_parameters,
    check_schema,
    with_defaults,
)
from remedy.types import JobInfo, Provider

log = logging.getLogger("remedy.registry")

METADATA_FILE = "remedy.json"
#: optional: `python verify.py '<payload>'` exits 0 when the resource is compliant, 3 when not
VERIFY_FILE = "verify.py"
#: what a job can do (remedy/jobkit/modes.py); verify is `verify.py`, the others its entry point
JOB_MODES = ("remediate", "plan", "verify", "rollback")
POLICY_FILES = ("minimum_policy.json", "minimum_permissions.json")
DEFAULT_REQUIRES = ["notificationInfo.FindingInfo.ObjectId"]
#: a control namespace: the source's name for its ids (securityhub, cis-aws-1.2, prowler, ...)
CONTROL_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")


class UnknownJobError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


__all__ = ["Job", "ParameterError", "Registry", "UnknownJobError", "discover"]


@dataclass(frozen=True)
class Job:
    name: str
    folder: Path
    checksum: str
    provider: Provider | None = None
    description: str = ""
    rules: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = tuple(DEFAULT_REQUIRES)
    resource_type: str | None = None
    alias_of: str | None = None
    #: namespace -> the control ids of that source this job (alias) fixes
    controls: dict[str, tuple[str, ...]] = field(default_factory=dict)
    modes: tuple[str, ...] = ("remediate",)
    #: why its changes cannot be rolled back (then `rollback` is not in modes)
    irreversible: str | None = None
    #: remedy.json `"batch": true`: one process may fix a batch of findings (remedy/batch_protocol.py)
    batch: bool = False

    @property
    def entry(self) -> Path:
        return self.folder / f"{self.folder.name}.py"

    @property
    def verify_entry(self) -> Path | None:
        """`verify.py` beside the entry point, when the job can check its own fix (Remedy's own)."""
        path = self.folder / VERIFY_FILE
        return path if path.is_file() else None

    def info(self) -> JobInfo:
        return JobInfo(
            name=self.name,
            provider=self.provider,
            checksum=self.checksum,
            rules=list(self.rules),
            parameters=with_defaults(self.parameters, self.defaults),
            alias_of=self.alias_of,
            resource_type=self.resource_type,
            description=self.description,
            controls={source: list(ids) for source, ids in self.controls.items()},
            modes=list(self.modes),
            irreversible=self.irreversible,
        )

    def resolve_parameters(self, given: dict[str, Any]) -> dict[str, Any]:
        """The alias's parameters overlaid with the step's, checked against the job's schema."""
        schema = with_defaults(self.parameters, self.defaults)
        return check_parameters(schema, {**self.defaults, **given}, job=self.name)


@dataclass
class Registry:
    root: Path
    jobs: dict[str, Job] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: job name (aliases too) -> the root of its own environment, for a job with a
    #: requirements.txt (activities/job_deps.py: prepare_job_envs records them)
    envs: dict[str, Path] = field(default_factory=dict)

    def get(self, name: str) -> Job:
        try:
            return self.jobs[name]
        except KeyError:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise UnknownJobError(
                f"unknown job {name!r}: this worker's job code ({self.root}) has no folder "
                f"{name}/{name}.py and no alias of that name. Jobs here: {known}"
            ) from None

    def infos(self) -> list[JobInfo]:
        return [job.info() for job in sorted(self.jobs.values(), key=lambda j: j.name)]

    @property
    def version(self) -> str:
        """The job code's version: 12 hex digits of a hash over every job's name and checksum
        (aliases included). Two workers with the same version run the same code for every job;
        runs are pinned to it (docs/architecture.md, "Job code versions")."""
        digest = hashlib.sha256()
        for name in sorted(self.jobs):
            digest.update(f"{name}={self.jobs[name].checksum}\n".encode())
        return digest.hexdigest()[:12]


def folder_checksum(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def read_controls(value: object) -> dict[str, tuple[str, ...]]:
    """`controls` of remedy.json (a job's or an alias's); ValueError says what is wrong."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("controls must be an object: source -> list of control ids")
    controls: dict[str, tuple[str, ...]] = {}
    for source, ids in value.items():
        if not CONTROL_NAMESPACE.match(str(source)):
            raise ValueError(
                f"controls: {source!r} is not a source name (lower case, digits, '.', '-')"
            )
        if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids):
            raise ValueError(f"controls.{source} must be a list of control ids (strings)")
        controls[source] = tuple(ids)
    return controls


def read_modes(meta: dict[str, Any], folder: Path) -> tuple[tuple[str, ...], str | None]:
    """`modes` and `irreversible` of remedy.json; ValueError says what is wrong."""
    has_verify = (folder / VERIFY_FILE).is_file()
    value = meta.get("modes", ["remediate", "verify"] if has_verify else ["remediate"])
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise ValueError(f"modes must be a list of {', '.join(JOB_MODES)}")
    unknown = [m for m in value if m not in JOB_MODES]
    if unknown or "remediate" not in value:
        raise ValueError(
            f"modes {value} must hold remediate and only {', '.join(JOB_MODES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    if ("verify" in value) != has_verify:
        raise ValueError(
            f"modes {'lists' if 'verify' in value else 'lacks'} verify but {VERIFY_FILE} is "
            f"{'not ' if not has_verify else ''}beside the job"
        )
    reason = meta.get("irreversible")
    if reason is not None and (not isinstance(reason, str) or not reason.strip()):
        raise ValueError("irreversible must say why the job's changes cannot be rolled back")
    if reason and "rollback" in value:
        raise ValueError("a job whose changes are irreversible cannot list the rollback mode")
    return tuple(m for m in JOB_MODES if m in value), reason


def _infer_provider(folder: Path) -> Provider | None:
    if (folder / "minimum_permissions.json").exists() or folder.name.startswith("azure"):
        return "azure"
    policy = folder / "minimum_policy.json"
    if policy.exists():
        try:
            document = json.loads(policy.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if isinstance(document, dict) and "Statement" in document:
            return "aws"
        if isinstance(document, dict) and ({"permissions", "actions", "Actions"} & set(document)):
            return "azure"
    return None


def _load_job(folder: Path, registry: Registry) -> None:
    name = folder.name
    if any(ch.isspace() for ch in name):
        registry.errors.append(
            f"job folder {name!r} is not registered: a job name cannot contain spaces; rename the "
            f"folder and its entry point (e.g. {name.replace(' ', '_')}/{name.replace(' ', '_')}.py)"
        )
        return
    entry = folder / f"{name}.py"
    if not entry.is_file():
        found = ", ".join(sorted(p.name for p in folder.glob("*.py"))) or "no .py file"
        registry.errors.append(
            f"job folder {name!r} is not registered: expected the entry point {name}/{name}.py "
            f"(found: {found}); the entry point must be named exactly like its folder"
        )
        return
    if not any((folder / policy).is_file() for policy in POLICY_FILES):
        registry.warnings.append(
            f"job {name}: no minimum_policy.json (or minimum_permissions.json); "
            "reviewers cannot see what it may touch"
        )
    if not (folder / "README.md").is_file():
        registry.warnings.append(f"job {name}: no README.md")
    meta: dict[str, Any] = {}
    if (folder / METADATA_FILE).is_file():
        try:
            meta = json.loads((folder / METADATA_FILE).read_text())
            if not isinstance(meta, dict):
                raise ValueError("must be a JSON object")
        except ValueError as exc:
            registry.errors.append(
                f"job folder {name!r} is not registered: {name}/{METADATA_FILE} "
                f"is not valid ({exc})"
            )
            return
    try:
        check_schema(meta.get("parameters", {}))
        controls = read_controls(meta.get("controls"))
        modes, irreversible = read_modes(meta, folder)
        alias_controls = {
            alias: read_controls(spec.get("controls"))
            for alias, spec in (meta.get("aliases") or {}).items()
            if isinstance(spec, dict)
        }
    except (SchemaProblem, ValueError) as exc:
        registry.errors.append(
            f"job folder {name!r} is not registered: {name}/{METADATA_FILE}: {exc}"
        )
        return
    checksum = folder_checksum(folder)
    base = Job(
        name=name,
        folder=folder,
        checksum=checksum,
        provider=meta.get("provider") or _infer_provider(folder),
        description=str(meta.get("description", "")),
        rules=tuple(meta.get("rules", [])),
        parameters=dict(meta.get("parameters", {})),
        requires=tuple(meta.get("requires", DEFAULT_REQUIRES)),
        resource_type=meta.get("resource_type"),
        controls=controls,
        modes=modes,
        irreversible=irreversible,
        batch=meta.get("batch") is True,
    )
    registry.jobs[name] = base
    for alias, spec in (meta.get("aliases") or {}).items():
        if alias in registry.jobs or (folder.parent / alias).is_dir():
            registry.warnings.append(
                f"alias {alias} of {name} is not registered: a job of that name exists"
            )
            continue
        try:
            # an alias fixes values: each must be one the job takes (the rest the step gives)
            values_only = {**base.parameters, "required": []} if base.parameters else {}
            check_parameters(values_only, dict(spec.get("parameters", {})), root="parameters")
        except ParameterError as exc:
            registry.errors.append(
                f"alias {alias} of {name} is not registered: {name}/{METADATA_FILE} "
                f"aliases.{alias}.{exc}"
            )
            continue
        registry.jobs[alias] = Job(
            name=alias,
            folder=folder,
            checksum=checksum,
            provider=base.provider,
            description=base.description,
            rules=tuple(spec.get("rules", [])),
            parameters=base.parameters,
            defaults=dict(spec.get("parameters", {})),
            requires=base.requires,
            resource_type=base.resource_type,
            alias_of=name,
            controls=alias_controls.get(alias, {}),
            modes=modes,
            irreversible=irreversible,
            batch=base.batch,
        )


def discover(root: Path) -> Registry:
    """Read every job folder under `root`; problems are collected, logged and never raised."""
    registry = Registry(root=root)
    if not root.is_dir():
        registry.errors.append(
            f"job-code directory {root} does not exist (set REMEDY_JOB_CODE or "
            "--job-code to the folder that holds one folder per job)"
        )
    else:
        folders = sorted(
            p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
        )
        for folder in folders:
            _load_job(folder, registry)
    for message in registry.errors:
        log.error(message, extra={"jobCode": str(root)})
    for message in registry.warnings:
        log.warning(message, extra={"jobCode": str(root)})
    return registry
