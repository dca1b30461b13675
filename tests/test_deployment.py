"""The deployment files, checked without a Docker engine: docker-compose.yml parsed with PyYAML, the
Dockerfile read instruction by instruction, and every `remedy` command, option and variable they
name held against what Remedy really reads."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from console.cli import app
from hub.bootstrap import BootstrapSettings
from hub.config import HubSettings
from remedy.config import TemporalSettings, WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DEPLOY_DOC = (ROOT / "docs" / "deploy.md").read_text()
PROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
LONG_RUNNING = {"postgresql", "temporal", "temporal-ui", "worker"}
ONE_SHOT = {"temporal-schema", "temporal-namespace"}
VERSION_TAG = re.compile(r"^[a-z0-9][\w./-]*:\d+(\.\d+)+([-.][\w.]+)?$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|_PWD$")
JOB_PATH = "/opt/vss/job-code"


def environment(service: str) -> dict[str, str | None]:
    """A service's environment as a dict; a name without a value (passed through) maps to None."""
    raw = SERVICES[service].get("environment") or {}
    if isinstance(raw, dict):
        return {k: None if v is None else str(v) for k, v in raw.items()}
    found: dict[str, str | None] = {}
    for entry in raw:
        name, sep, value = str(entry).partition("=")
        found[name] = value if sep else None
    return found


def default_of(value: str | None) -> str | None:
    """`${X:-d}` gives d; `${X:?msg}` and `${X}` give None (the value comes from .env); a literal
    gives itself."""
    if value is None:
        return None
    match = re.fullmatch(r"\$\{\w+(:-([^}]*)|:\?[^}]*)?\}", value)
    return match.group(2) if match else value


# ------------------------------------------------------------------------------------------------
# docker-compose.yml
# ------------------------------------------------------------------------------------------------


def test_compose_has_the_stack_and_no_hub() -> None:
    assert set(SERVICES) == LONG_RUNNING | ONE_SHOT
    assert not [name for name in SERVICES if "hub" in name]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_image_is_pinned_by_version(service: str) -> None:
    image = SERVICES[service]["image"]
    assert VERSION_TAG.match(image), f"{service}: {image} is not pinned to a version"
    assert not image.endswith(":latest")
    if "build" in SERVICES[service]:  # the image compose builds carries the project's version
        assert image == f"remedy-worker:{PROJECT_VERSION}"


@pytest.mark.parametrize("service", sorted(LONG_RUNNING))
def test_long_running_services_have_health_checks_and_restart(service: str) -> None:
    check = SERVICES[service]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1
    assert {"interval", "timeout", "retries"} <= set(check)
    assert SERVICES[service]["restart"] == "unless-stopped"


@pytest.mark.parametrize("service", sorted(ONE_SHOT))
def test_one_shot_jobs_retry_a_few_times_then_stop(service: str) -> None:
    assert SERVICES[service]["restart"].startswith("on-failure:")
    assert "healthcheck" not in SERVICES[service]


def test_dependencies_wait_for_health_or_completion() -> None:
    for name, service in SERVICES.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits on {target}'s health"
            else:
                assert condition == "service_completed_successfully" and target in ONE_SHOT
    order = {
        "temporal-schema": {"postgresql"},
        "temporal": {"postgresql", "temporal-schema"},
        "temporal-namespace": {"temporal"},
        "temporal-ui": {"temporal"},
        "worker": {"temporal", "temporal-namespace"},
    }
    for name, needs in order.items():
        assert set(SERVICES[name]["depends_on"]) == needs


def test_state_lives_in_named_volumes() -> None:
    assert set(COMPOSE["volumes"]) == {"postgresql-data"}
    assert "postgresql-data:/var/lib/postgresql/data" in SERVICES["postgresql"]["volumes"]
    for service in SERVICES.values():
        for mount in service.get("volumes") or []:
            assert not str(mount).startswith((".", "/")), f"bind mount {mount}"


def test_ports_are_published_on_loopback_only_and_not_for_the_database() -> None:
    assert SERVICES["temporal"]["ports"] == ["127.0.0.1:7233:7233"]
    assert SERVICES["temporal-ui"]["ports"] == ["127.0.0.1:8080:8080"]
    assert "ports" not in SERVICES["postgresql"] and "ports" not in SERVICES["worker"]


def test_temporal_runs_on_the_postgresql_of_this_file() -> None:
    server = environment("temporal")
    assert server["DB"] == "postgres12" and server["POSTGRES_SEEDS"] == "postgresql"
    assert server["DB_PORT"] == "5432" and server["POSTGRES_PWD"] is not None
    assert default_of(server["POSTGRES_USER"]) == default_of(
        environment("postgresql")["POSTGRES_USER"]
    )
    script = SERVICES["temporal-schema"]["command"][0]
    for database, schema in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
        assert f"schema {database} {schema}" in script
    assert "update-schema" in script and "setup-schema -v 0.0" in script
    assert environment("temporal-ui")["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert default_of(environment("worker")["TEMPORAL_ADDRESS"]) == "temporal:7233"


def test_the_worker_gets_every_setting_it_needs() -> None:
    worker = environment("worker")
    needed = {
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "TEMPORAL_API_KEY",
        "TEMPORAL_UI_URL",
        "REMEDY_WORKER_GROUP",
        "VSS_CLIENT_ID",
        "VSS_CLIENT_SECRET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "JIRA_USER",
        "JIRA_API_TOKEN",
        "JIRA_TOKEN",
    }
    assert needed <= set(worker)
    assert (
        worker["REMEDY_WORKER_GROUP"] == "${REMEDY_WORKER_GROUP:?set REMEDY_WORKER_GROUP in .env}"
    )
    assert SERVICES["worker"]["read_only"] is True and SERVICES["worker"]["cap_drop"] == ["ALL"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_no_secret_is_written_in_the_file(service: str) -> None:
    for name, value in environment(service).items():
        if SECRET_NAME.search(name):
            assert value is None or re.fullmatch(r"\$\{\w+(:\?[^}]*)?\}", value), (
                f"{service}: {name} must come from .env or the shell"
            )


def _names_remedy_reads() -> set[str]:
    names = {f"TEMPORAL_{f.upper()}" for f in TemporalSettings.model_fields}
    names |= {f"REMEDY_{f.upper()}" for f in WorkerSettings.model_fields}
    names |= {f"REMEDY_{f.upper()}" for f in HubSettings.model_fields}
    names |= {f"REMEDY_BOOTSTRAP_ADMIN_{f.upper()}" for f in BootstrapSettings.model_fields}
    command: Any = typer.main.get_command(app)  # typer vendors click: typed loosely
    for sub in command.commands.values():
        for param in sub.params:
            envvar = getattr(param, "envvar", None)
            names |= set([envvar] if isinstance(envvar, str) else envvar or [])
    pattern = re.compile(r"[\"']((?:REMEDY|TEMPORAL|VSS|JIRA|AZURE)_[A-Z0-9_]+)[\"']")
    for package in ("remedy", "worker", "activities", "hub"):
        for source in (ROOT / package).rglob("*.py"):
            names |= set(pattern.findall(source.read_text()))
    return names


def test_every_remedy_variable_given_to_the_worker_is_one_remedy_reads() -> None:
    read = _names_remedy_reads()
    for name in environment("worker"):
        if name.startswith(("REMEDY_", "TEMPORAL_", "VSS_", "JIRA_", "AZURE_")):
            assert name in read, f"the worker is given {name}, which nothing reads"


def test_every_variable_the_compose_file_interpolates_is_documented() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in set(re.findall(r"(?<!\$)\$\{(\w+)", text)):
        assert f"`{name}`" in DEPLOY_DOC, f"{name} is not explained in docs/deploy.md"
    for name in environment("worker"):
        assert f"`{name}`" in DEPLOY_DOC, f"{name} is not explained in docs/deploy.md"


# ------------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# ------------------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_base_images_are_python_3_11_slim_pinned_to_a_patch_release() -> None:
    bases = [args.split()[0] for op, args in dockerfile() if op == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", b) for b in bases), bases
    assert len(set(bases)) == 1  # build and run on the same Python


def test_the_project_is_installed_non_editable_with_every_package() -> None:
    runs = " ".join(args for op, args in dockerfile() if op == "RUN")
    assert "pip install ." in runs and "-e " not in runs and "--editable" not in runs
    copied = {args.split()[0].rstrip("/") for op, args in dockerfile() if op == "COPY"}
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    for pattern in find["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"package {pattern} is not copied into the image"


def test_builtin_jobs_are_where_the_vss_worker_reads_them() -> None:
    stage = final_stage()
    assert ("COPY", f"jobs/ {JOB_PATH}/") in stage
    envs = " ".join(args for op, args in stage if op == "ENV")
    assert f"REMEDY_JOB_CODE={JOB_PATH}" in envs.split()


def test_the_worker_runs_as_a_non_root_user() -> None:
    users = [args for op, args in final_stage() if op == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert any(op == "RUN" and "useradd" in args and user in args for op, args in final_stage())


def test_the_entrypoint_is_remedy_worker() -> None:
    [entrypoint] = [args for op, args in final_stage() if op == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["remedy", "worker"]


def test_the_build_context_keeps_what_the_image_copies_and_drops_secrets() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".env", ".venv", ".git"} <= set(ignored)
    for op, args in dockerfile():
        if op != "COPY" or args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            source = source.rstrip("/")
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


# ------------------------------------------------------------------------------------------------
# The commands they run exist.
# ------------------------------------------------------------------------------------------------


def _resolve(argv: list[str]) -> Any:
    """Walk `remedy <sub> ... --option ...` through the real CLI; fail on anything unknown."""
    assert argv[0] == "remedy"
    command: Any = typer.main.get_command(app)
    rest = argv[1:]
    while rest and hasattr(command, "commands") and not rest[0].startswith("-"):
        assert rest[0] in command.commands, f"remedy has no command {rest[0]!r}"
        command, rest = command.commands[rest[0]], rest[1:]
    options = {name for p in command.params for name in getattr(p, "opts", [])} | {"--help"}
    for token in rest:
        if token.startswith("--"):
            assert token.split("=")[0] in options, f"{argv}: no option {token}"
    return command


def test_the_image_and_compose_run_commands_that_exist() -> None:
    [entrypoint] = [args for op, args in final_stage() if op == "ENTRYPOINT"]
    command = SERVICES["worker"].get("command") or []
    argv = json.loads(entrypoint) + (shlex.split(command) if isinstance(command, str) else command)
    worker = _resolve(argv)
    group = next(p for p in worker.params if "--group" in getattr(p, "opts", []))
    assert group.required and group.envvar == "REMEDY_WORKER_GROUP"  # compose sets it
    assert "REMEDY_WORKER_GROUP" in environment("worker")
    for op, args in dockerfile():  # the build's smoke check, too
        for call in re.findall(r"/opt/remedy/bin/(remedy [^&|>]*)", args) if op == "RUN" else []:
            _resolve(shlex.split(call))


def test_remedy_worker_help_runs() -> None:
    result = CliRunner().invoke(app, ["worker", "--help"])
    assert result.exit_code == 0, result.output
    assert "--group" in result.output and "REMEDY_WORKER_GROUP" in result.output
