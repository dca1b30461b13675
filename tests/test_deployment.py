"""The deployment files, checked without a Docker engine: docker-compose.yml parsed with PyYAML, the
Dockerfile read instruction by instruction, and every `remedy` command, option and variable they
name held against what Remedy really reads."""

from __future__ import annotations

import fnmatch
import inspect
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
from hub.app import create_app
from hub.bootstrap import BootstrapSettings
from hub.config import HubSettings
from remedy.config import TemporalSettings, WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DEPLOY_DOC = (ROOT / "docs" / "deploy.md").read_text()
PROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
LONG_RUNNING = {"postgresql", "temporal", "temporal-ui", "hub", "worker"}
ONE_SHOT = {"temporal-schema", "temporal-namespace", "hub-database"}
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


def test_compose_has_the_stack_with_the_hub() -> None:
    assert set(SERVICES) == LONG_RUNNING | ONE_SHOT


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_image_is_pinned_by_version(service: str) -> None:
    image = SERVICES[service]["image"]
    assert VERSION_TAG.match(image), f"{service}: {image} is not pinned to a version"
    assert not image.endswith(":latest")
    if "build" in SERVICES[service]:  # the image compose builds carries the project's version
        assert image == f"remedy-worker:{PROJECT_VERSION}"
        assert (
            SERVICES[service]["build"] == SERVICES["worker"]["build"]
        )  # the hub runs the same image


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
        "hub-database": {"postgresql"},
        "hub": {"hub-database", "temporal", "temporal-namespace"},
        "worker": {"temporal", "temporal-namespace", "hub"},
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
    assert SERVICES["hub"]["ports"] == ["127.0.0.1:8000:8000"]
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


@pytest.mark.parametrize("service", ["hub", "worker"])
def test_every_remedy_variable_given_is_one_remedy_reads(service: str) -> None:
    read = _names_remedy_reads()
    for name in environment(service):
        if name.startswith(("REMEDY_", "TEMPORAL_", "VSS_", "JIRA_", "AZURE_")):
            assert name in read, f"the {service} is given {name}, which nothing reads"


def test_every_variable_the_compose_file_interpolates_is_documented() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in set(re.findall(r"(?<!\$)\$\{(\w+)", text)):
        assert f"`{name}`" in DEPLOY_DOC, f"{name} is not explained in docs/deploy.md"
    for name in {**environment("hub"), **environment("worker")}:
        assert f"`{name}`" in DEPLOY_DOC, f"{name} is not explained in docs/deploy.md"


# -- the hub ---------------------------------------------------------------------------------------


def _hub_argv() -> list[str]:
    service = SERVICES["hub"]
    return [*service["entrypoint"], *service["command"]]


def test_the_hub_serves_on_loopback_port_8000_and_migrates_at_start() -> None:
    argv = _hub_argv()
    _resolve(argv)  # `remedy hub serve --host --port` exist
    assert argv[:3] == ["remedy", "hub", "serve"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"  # inside the container; published below
    assert argv[argv.index("--port") + 1] == "8000"
    assert SERVICES["hub"]["ports"] == ["127.0.0.1:8000:8000"]
    # `remedy hub serve` builds the app with create_app(settings), which migrates by default and
    # then makes the first admin
    assert inspect.signature(create_app).parameters["migrate"].default is True
    assert "bootstrap_admin(db)" in inspect.getsource(create_app)


def test_the_hub_has_its_own_database_on_the_same_postgresql() -> None:
    hub = environment("hub")
    url = hub["REMEDY_DATABASE_URL"] or ""
    # a user and no password in the URL: libpq reads PGPASSWORD
    assert url.startswith("postgresql+psycopg://${POSTGRES_USER:-temporal}@postgresql:5432/")
    database = url.rsplit("/", 1)[1]
    assert database == "remedy_hub" and database not in ("temporal", "temporal_visibility")
    assert hub["PGPASSWORD"] == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
    script = SERVICES["hub-database"]["command"][0]
    assert f"CREATE DATABASE {database}" in script
    assert f"datname = '{database}'" in script  # only when missing: safe to run again
    one_shot = environment("hub-database")
    assert one_shot["PGHOST"] == "postgresql"
    assert default_of(one_shot["PGUSER"]) == default_of(environment("postgresql")["POSTGRES_USER"])


def test_the_first_admin_comes_from_env_and_never_from_the_file() -> None:
    hub = environment("hub")
    assert hub["REMEDY_BOOTSTRAP_ADMIN_TOKEN"] is None  # passed through from .env
    assert hub["REMEDY_BOOTSTRAP_ADMIN_NAME"] is None
    assert {"token", "name"} <= set(BootstrapSettings.model_fields)
    assert "REMEDY_BOOTSTRAP_ADMIN_TOKEN" in DEPLOY_DOC


def test_the_hub_starts_runs_on_the_workers_temporal_with_the_same_key() -> None:
    hub, worker = environment("hub"), environment("worker")
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_UI_URL"):
        assert hub[name] == worker[name], name
    for name in ("REMEDY_PAYLOAD_KEY", "REMEDY_PAYLOAD_OLD_KEYS", "REMEDY_SEARCH_ATTRIBUTES"):
        assert hub[name] is None and worker[name] is None, name
    # the deployment commands the hub prints name the image compose builds
    assert hub["REMEDY_HUB_WORKER_IMAGE"] == SERVICES["worker"]["image"]


@pytest.mark.parametrize(("service", "port"), [("hub", 8000), ("worker", 9464)])
def test_health_checks_ask_readyz(service: str, port: int) -> None:
    """The hub is ready once its database answers; a worker once it polls and its fork server is
    up (both answer 503 otherwise, which urlopen raises on)."""
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert f"urlopen('http://127.0.0.1:{port}/readyz', timeout=5)" in test[3]


@pytest.mark.parametrize("service", ["hub", "worker"])
def test_the_remedy_containers_are_locked_down(service: str) -> None:
    found = SERVICES[service]
    assert found["read_only"] is True and found["cap_drop"] == ["ALL"]
    assert found["security_opt"] == ["no-new-privileges:true"]
    assert [t.split(":")[0] for t in found["tmpfs"]] == ["/tmp"]
    for risky in ("privileged", "pid", "cap_add", "network_mode", "user"):
        assert risky not in found, f"{service}: {risky}"


def test_the_worker_links_to_the_hub_when_env_says_so() -> None:
    worker = environment("worker")
    for name in ("REMEDY_HUB_URL", "VSS_CLIENT_ID", "VSS_CLIENT_SECRET"):
        assert worker[name] is None, f"{name} comes from .env"
    assert SERVICES["worker"]["depends_on"]["hub"] == {"condition": "service_healthy"}
    assert "REMEDY_HUB_URL=http://hub:8000" in DEPLOY_DOC  # the address inside compose


def test_the_worker_scales_out() -> None:
    """`docker compose up --scale worker=3`: no fixed name, host port, hostname or worker id that
    two containers would share, and no state of its own."""
    worker = SERVICES["worker"]
    for fixed in ("container_name", "hostname", "ports", "volumes", "deploy"):
        assert fixed not in worker, fixed
    assert "REMEDY_WORKER_ID" not in environment("worker")  # default: hostname + random suffix
    assert "--scale worker=3" in DEPLOY_DOC
    for name, service in SERVICES.items():
        assert "container_name" not in service, name


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
