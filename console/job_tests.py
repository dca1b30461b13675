"""`remedy jobs test NAME`: a job's own tests, run with pytest against the sandbox cloud.

A job's tests are the `test_*.py` files in its folder, a `tests/` folder in it, and
`tests/test_job_<NAME>.py` beside the job-code directory (where `remedy jobs new` writes one, and
where the built-in catalogue keeps them). They run against the sandbox cloud this command starts
(moto, the Azure and Jira emulators), or against the one the environment already names
(`AWS_ENDPOINT_URL`, as `source .remedy/sandbox.env` after `remedy sandbox` sets it). Its
endpoints and the sandbox administrator's keys are in their environment, with REMEDY_JOB,
REMEDY_JOB_FOLDER and REMEDY_JOB_CODE naming the job under test.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from remedy.job_registry import Job, Registry

SANDBOX_NAMED_BY = "AWS_ENDPOINT_URL"
#: real-cloud credentials and settings a job's tests never get when the sandbox is started here
CLOUD_PREFIXES = ("AWS_", "AZURE_", "ARM_", "JIRA_", "REMEDY_SANDBOX_")
#: Remedy's own secrets: a job's tests never need them, whichever sandbox they run on
REMEDY_SECRETS = (
    "REMEDY_HUB_TOKEN",
    "VSS_CLIENT_SECRET",
    "REMEDY_PAYLOAD_KEY",
    "REMEDY_PAYLOAD_OLD_KEYS",
)


class NoSuchJob(Exception):
    """NAME is not a job or alias of the job code (exit 2)."""


class NoTests(Exception):
    """The job has no tests (exit 5, pytest's "no tests collected")."""


def find_job(registry: Registry, name: str) -> Job:
    """The job or alias `name`; NoSuchJob names the nearest names and how to list them all."""
    if name in registry.jobs:
        return registry.jobs[name]
    names = sorted(registry.jobs)
    near = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    near += [n for n in names if name.lower() in n.lower() and n not in near][: 5 - len(near)]
    hint = f"did you mean {', '.join(near)}? " if near else ""
    raise NoSuchJob(
        f"unknown job {name!r} in the job code {registry.root}: {hint}"
        "`remedy jobs list` lists every job and alias (--job-code DIR for another directory)"
    )


def tests_of(registry: Registry, job: Job) -> list[Path]:
    """The job's own test files and folders; NoTests says where to put them."""
    folder = job.folder
    found = sorted(folder.glob("test_*.py"))
    if (folder / "tests").is_dir():
        found.append(folder / "tests")
    beside = registry.root.resolve().parent / "tests"
    for name in dict.fromkeys([folder.name, job.name]):
        shared = beside / f"test_job_{name}.py"
        if shared.is_file():
            found.append(shared)
    if not found:
        raise NoTests(
            f"job {job.name} has no tests: put test_*.py files in its folder {folder} (or a "
            f"tests/ folder in it), or write {beside / f'test_job_{folder.name}.py'}. "
            "`remedy jobs new` writes a first test with each new job."
        )
    return found


@contextmanager
def sandbox_environment(say: Callable[[str], None]) -> Iterator[dict[str, str]]:
    """The environment the tests run in: as it is when it already names a sandbox, else one
    started here (stopped afterwards), with this shell's cloud credentials left out."""
    if os.environ.get(SANDBOX_NAMED_BY):
        say(f"using the sandbox cloud the environment names: AWS at {os.environ[SANDBOX_NAMED_BY]}")
        yield dict(os.environ)
        return
    from console.sandbox_cloud import sandbox_admin_env, start_sandbox_cloud

    say("starting the sandbox cloud (moto, the Azure and Jira emulators) for the tests ...")
    clouds = start_sandbox_cloud()
    try:
        say(
            f"sandbox: AWS at {clouds.aws.endpoint}, Azure at {clouds.azure.endpoint}, "
            f"Jira at {clouds.jira.url}"
        )
        kept = {k: v for k, v in os.environ.items() if not k.startswith(CLOUD_PREFIXES)}
        yield {**kept, **sandbox_admin_env(clouds)}
    finally:
        clouds.stop()


def pytest_missing() -> str | None:
    if importlib.util.find_spec("pytest") is None:
        return (
            f"pytest is not installed for {sys.executable}: `pip install pytest` there "
            "(a clone's `make install` brings it)"
        )
    return None


def run_tests(
    registry: Registry,
    job: Job,
    paths: list[Path],
    env: dict[str, str],
    extra: list[str],
) -> int:
    """pytest on `paths` (with `extra` arguments); its exit code. No cache or bytecode is written
        into the job folder: it would change the job's checksum. Remedy's own secrets (the hub token,
    the group's client secret, the payload keys) are left out."""
    env = {
        **{k: v for k, v in env.items() if k not in REMEDY_SECRETS},
        "REMEDY_JOB": job.name,
        "REMEDY_JOB_FOLDER": str(job.folder),
        "REMEDY_JOB_CODE": str(registry.root),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *map(str, paths), *extra]
    return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL).returncode
