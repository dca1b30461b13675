"""Per-job dependencies: a job's requirements.txt installed into its own environment, from a
package index on 127.0.0.1 (no internet), and the job run there by both launchers."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from temporalio.client import Client

from activities.job_deps import JobEnvs, prepare_job_envs
from remedy.job_registry import discover
from remedy.starter import start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState, TagSettings
from sandbox.aws import AwsSandbox
from tests.findings import aws_finding


@dataclass
class Index:
    """A PEP 503 simple index serving one wheel the worker does not have."""

    url: str
    package: str  # its import name, e.g. remedy_testdep_1a2b3c4d
    #: the paths asked for, in order
    requests: list[str]


class CountingHandler(SimpleHTTPRequestHandler):
    asked: list[str]

    def do_GET(self) -> None:
        self.asked.append(self.path)
        super().do_GET()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def write_wheel(folder: Path, package: str, version: str, code: str) -> Path:
    """A pure-Python wheel of `package`, its `__init__.py` holding `code`."""
    files = {
        f"{package}/__init__.py": code.encode(),
        f"{package}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n"
        ).encode(),
        f"{package}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: remedy-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{package}-{version}.dist-info/top_level.txt": f"{package}\n".encode(),
    }
    record = f"{package}-{version}.dist-info/RECORD"
    lines = [_record_line(path, data) for path, data in files.items()] + [f"{record},,"]
    files[record] = ("\n".join(lines) + "\n").encode()
    wheel = folder / f"{package}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    root = tmp_path_factory.mktemp("index")
    package = f"remedy_testdep_{uuid.uuid4().hex[:8]}"
    wheels = {
        package: write_wheel(root, package, "1.0", "def answer():\n    return 21\n"),
        # a package the fork server has imported (boto3's), in a version of the job's own
        "jmespath": write_wheel(root, "jmespath", "99.0", '__version__ = "99.0 (the job\'s)"\n'),
    }
    for name, wheel in wheels.items():
        project = root / "simple" / name.replace("_", "-")
        project.mkdir(parents=True)
        (project / "index.html").write_text(
            f'<html><body><a href="/{wheel.name}">{wheel.name}</a></body></html>'
        )
    asked: list[str] = []
    handler = partial(type("Handler", (CountingHandler,), {"asked": asked}), directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Index(f"http://127.0.0.1:{server.server_address[1]}/simple/", package, asked)
    finally:
        server.shutdown()
        server.server_close()


def job_folder(root: Path, name: str, requirements: str, code: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / f"{name}.py").write_text(code or 'print("CHANGE: nothing")\n')
    (folder / "README.md").write_text(f"# {name}\n")
    (folder / "minimum_policy.json").write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["sts:GetCallerIdentity"], "Resource": "*"}]}'
    )
    if requirements:
        (folder / "requirements.txt").write_text(requirements)
    return folder


def run_python(python: Path | str, code: str) -> str:
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_an_environment_is_built_once_per_requirements_and_sees_the_worker_after_its_own(
    tmp_path: Path, index: Index
) -> None:
    envs = JobEnvs(tmp_path / "envs", index.url)
    folder = job_folder(tmp_path / "jobs", "uses_dep", f"{index.package}==1.0\n")

    built = envs.prepare(folder)
    assert built is not None
    assert built.modules == (index.package,)
    marker = (built.root / "remedy-env.json").stat()
    again = envs.prepare(folder)
    assert again == built  # reused, not rebuilt
    assert (built.root / "remedy-env.json").stat().st_mtime_ns == marker.st_mtime_ns

    # the job's package and the worker's (the job kit, boto3), the job's own first on sys.path
    seen = run_python(
        built.python,
        f"import sys, {index.package} as dep, remedy.jobkit, boto3; "
        f"print(dep.answer(), dep.__file__.startswith({str(built.root)!r}), "
        f"sys.path.index({str(built.site_packages)!r}) < "
        "sys.path.index(boto3.__file__.rsplit('/boto3/', 1)[0]))",
    )
    assert seen == "21 True True"

    (folder / "requirements.txt").write_text(f"{index.package}==1.0\n# changed\n")
    other = envs.prepare(folder)
    assert other is not None and other.root != built.root
    assert envs.prepare(job_folder(tmp_path / "jobs", "no_deps", "")) is None


def test_two_threads_preparing_one_environment_at_once_build_it_once(
    tmp_path: Path, index: Index
) -> None:
    envs = JobEnvs(tmp_path / "envs", index.url)
    folder = job_folder(tmp_path / "jobs", "uses_dep", f"{index.package}==1.0\n")
    asked_before = len(index.requests)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: envs.prepare(folder), range(2))

    assert first is not None and first == second
    page = f"/simple/{index.package.replace('_', '-')}/"
    assert index.requests[asked_before:].count(page) == 1  # one pip install, not two


def test_a_job_whose_requirements_cannot_be_installed_is_not_registered_with_pips_error(
    tmp_path: Path, index: Index
) -> None:
    jobs = tmp_path / "jobs"
    job_folder(jobs, "needs_missing", "remedy-no-such-package-here==1.0\n")
    job_folder(jobs, "needs_dep", f"{index.package}==1.0\n")
    job_folder(jobs, "plain", "")
    # a token in the index URL: pip's message must not carry it
    url = index.url.replace("http://", "http://ci-user:s3cr3t-t0ken@")
    discovered = discover(jobs)

    registry = prepare_job_envs(discovered, JobEnvs(tmp_path / "envs", url))

    assert sorted(registry.jobs) == ["needs_dep", "plain"]
    assert sorted(registry.envs) == ["needs_dep"]
    [error] = registry.errors
    assert "job folder 'needs_missing' is not registered" in error
    assert "No matching distribution found for remedy-no-such-package-here==1.0" in error
    assert "s3cr3t-t0ken" not in error
    assert sorted(discovered.jobs) == ["needs_dep", "needs_missing", "plain"]  # left as it was
    # one environment: needs_dep's; nothing half built is left of the other
    assert len([p for p in (tmp_path / "envs").iterdir() if p.is_dir() and p.name[0] != "."]) == 1


@pytest.mark.parametrize("launcher", ["forkserver", "subprocess"])
async def test_a_job_with_a_dependency_the_worker_lacks_runs_on_the_dev_server(
    client: Client,
    start_worker: object,
    aws_sandbox: AwsSandbox,
    index: Index,
    tmp_path: Path,
    launcher: str,
) -> None:
    jobs = tmp_path / "jobs"
    job_folder(
        jobs,
        "uses_dep",
        f"{index.package}==1.0\n",
        "import boto3\n"
        "import remedy.jobkit\n"
        f"import {index.package} as dep\n"
        'print("CHANGE: the dependency answered", dep.answer() * 2)\n',
    )
    worker = await start_worker(  # type: ignore[operator]
        jobs,
        launcher=launcher,
        job_env_dir=tmp_path / "envs",
        job_pip_index_url=index.url,
    )
    assert sorted(worker.parts.registry.envs) == ["uses_dep"]
    run_id = await start_remediation(
        client,
        aws_finding(aws_sandbox.open_security_group(22, f"deps-{launcher}")),
        RemediationSpec(
            steps=[JobStep(job="uses_dep")],
            tags=TagSettings(enabled=False),
            access=AccountAccess(
                role_arn=aws_sandbox.role_arn, external_id=aws_sandbox.external_id
            ),
        ),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED, status.message
    [step] = [s for s in status.steps if s.kind == "job"]
    assert step.changes == ["the dependency answered 42"]
    where = "on the fork server" if launcher == "forkserver" else "with the plain launcher"
    assert f"the job runs in its own environment {index_env(tmp_path)} {where}" in step.log_tail
    # the worker's own environment never got the package
    worker_sees = run_python(
        sys.executable, f"import importlib.util; print(importlib.util.find_spec({index.package!r}))"
    )
    assert worker_sees == "None"


def index_env(tmp_path: Path) -> str:
    [root] = [p for p in (tmp_path / "envs").iterdir() if p.is_dir() and p.name[0] != "."]
    return root.name[:12]


async def test_a_job_pinning_a_package_the_fork_server_imported_runs_with_the_plain_launcher(
    client: Client, start_worker: object, aws_sandbox: AwsSandbox, index: Index, tmp_path: Path
) -> None:
    """boto3 imports jmespath in the fork server: a job pinning its own jmespath cannot run
    there, so it runs with its environment's Python, and its pin wins."""
    jobs = tmp_path / "jobs"
    job_folder(
        jobs,
        "pins_jmespath",
        "jmespath==99.0\n",
        'import jmespath\nprint("CHANGE: jmespath", jmespath.__version__)\n',
    )
    worker = await start_worker(  # type: ignore[operator]
        jobs, launcher="forkserver", job_env_dir=tmp_path / "envs", job_pip_index_url=index.url
    )
    run_id = await start_remediation(
        client,
        aws_finding(aws_sandbox.open_security_group(22, "deps-pinned")),
        RemediationSpec(
            steps=[JobStep(job="pins_jmespath")],
            tags=TagSettings(enabled=False),
            access=AccountAccess(
                role_arn=aws_sandbox.role_arn, external_id=aws_sandbox.external_id
            ),
        ),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED, status.message
    [step] = [s for s in status.steps if s.kind == "job"]
    assert step.changes == ["jmespath 99.0 (the job's)"]
    assert (
        f"the job runs in its own environment {index_env(tmp_path)} with the plain launcher "
        "(the fork server has already imported jmespath, which it pins)"
    ) in step.log_tail
    assert not run_python(
        sys.executable, "import jmespath; print(jmespath.__version__)"
    ).startswith("99")
