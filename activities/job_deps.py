"""A job's own dependencies: its `requirements.txt` installed into an environment of its own.

One environment per sha256 of (the requirements, the Python, the worker's installation), under the
worker's `REMEDY_JOB_ENV_DIR`, built once and then reused by every job, worker and restart that asks
for the same one:

- `python -m venv` without the system's packages and without pip of its own, then the worker's pip
  installs the requirements into it (`__pip-runner__.py`: that copy of pip, run by the new
  environment's Python, sees only the new environment) from the configured index, find-links
  and extra indexes only (no pip configuration file or `PIP_*` variable of the worker applies);
- then a `.pth` file makes the worker's packages (remedy.jobkit, boto3, azure-*) and the project
  root visible AFTER the environment's own: the job's pins win, and nothing is ever installed into
  the worker's environment;
- a lock file per hash keeps two workers (or threads) from building the same environment at once,
  and an environment is used only once its completion marker is written (a build that died half
  way is removed and built again).

An install that fails raises `JobEnvError` with the tail of pip's output; credentials in the index
URLs are registered for redaction and never appear in it (pip gets the URLs through its
environment, in a process jobs cannot read: non-dumpable, activities/process_guard.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from activities.job_env import PROXY_VARIABLES
from remedy.job_registry import Registry
from remedy.logs import redact, register_secret

log = logging.getLogger("remedy.registry")

REQUIREMENTS_FILE = "requirements.txt"
#: written last: an environment without it is not (yet) usable
READY_MARKER = "remedy-env.json"
#: the worker's packages, after the environment's own ("zz": after the packages' .pth files)
WORKER_PTH = "zz-remedy-worker.pth"
PIP_TIMEOUT_S = 900.0
PIP_TAIL_LINES = 25
#: what pip may see of the worker's environment (no secret, no PIP_* configuration)
PIP_ENVIRONMENT = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    *PROXY_VARIABLES,
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
)
#: run pip non-dumpable (prctl PR_SET_DUMPABLE 0), so that no job can read its environment
PIP_MAIN = (
    "import ctypes, runpy, sys\n"
    "try:\n"
    "    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n"
    "except (AttributeError, OSError):\n"
    "    pass\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class JobEnvError(RuntimeError):
    """A job's environment could not be built; the message holds pip's output tail."""


@dataclass(frozen=True)
class JobEnv:
    """A built environment: its Python, its site-packages, the top-level modules it installed."""

    root: Path
    python: Path
    site_packages: Path
    #: the top-level modules (and packages) its requirements installed
    modules: tuple[str, ...]

    @property
    def name(self) -> str:
        """Its hash, short (for logs)."""
        return self.root.name[:12]

    @classmethod
    def read(cls, root: Path) -> JobEnv:
        """The environment at `root`, from its completion marker (OSError/ValueError if none)."""
        marker = json.loads((root / READY_MARKER).read_text(encoding="utf-8"))
        return cls(
            root=root,
            python=root / "bin" / "python",
            site_packages=site_packages_of(root),
            modules=tuple(marker["modules"]),
        )


def site_packages_of(root: Path) -> Path:
    base = {"base": str(root), "platbase": str(root)}
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    return Path(sysconfig.get_path("purelib", scheme, base))


def env_hash(requirements: bytes) -> str:
    """The environment for these requirements on this Python and this worker installation (its
    `.pth` names the worker's site-packages)."""
    digest = hashlib.sha256(requirements)
    digest.update(b"\0" + f"{sys.implementation.name} {sys.version} {sys.prefix}".encode())
    return digest.hexdigest()


def worker_paths() -> list[str]:
    """Where the worker's own packages are: its site-packages, then the project root."""
    paths = sysconfig.get_paths()
    found = [paths["purelib"], paths["platlib"], str(PROJECT_ROOT)]
    return list(dict.fromkeys(found))


def worker_pth() -> str:
    """One `.pth` line: add the worker's site dirs (their own .pth files included, for an editable
    install) unless already on sys.path (a fork server's child has them)."""
    adds = "; ".join(
        f"{path!r} in sys.path or site.addsitedir({path!r})" for path in worker_paths()
    )
    return f"import site, sys; {adds}\n"


def url_secrets(urls: Sequence[str]) -> list[str]:
    """The credentials in index URLs (`https://user:token@host/`, `https://token@host/`)."""
    found = []
    for url in urls:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        if parts.username:
            found.append(parts.username)
        if "@" in parts.netloc:
            found.append(parts.netloc.rsplit("@", 1)[0])
    return [secret for secret in found if secret]


def top_level_modules(entries: set[str]) -> tuple[str, ...]:
    """The importable names among site-packages entries (not metadata, caches or .pth files)."""
    names = set()
    for entry in entries:
        if entry.endswith((".dist-info", ".egg-info", ".pth", ".data")) or entry == "__pycache__":
            continue
        names.add(entry.split(".", 1)[0])
    return tuple(sorted(names))


def pip_runner() -> Path:
    """The worker's pip, runnable by another Python (it then installs into that one)."""
    spec = importlib.util.find_spec("pip")
    if spec is None or spec.origin is None:
        raise JobEnvError(
            "the worker's Python has no pip: install pip into the worker's environment to "
            "install jobs' requirements.txt"
        )
    return Path(spec.origin).parent / "__pip-runner__.py"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class JobEnvs:
    """The job environments of one worker: where they are, and where pip may install from."""

    def __init__(
        self,
        cache_dir: Path,
        index_url: str | None = None,
        extra_index_urls: Sequence[str] = (),
        find_links: Sequence[str] = (),
    ) -> None:
        self.cache_dir = cache_dir.expanduser()
        self.index_url = index_url
        self.extra_index_urls = list(extra_index_urls)
        self.find_links = list(find_links)
        self.secrets = url_secrets([*filter(None, [index_url]), *self.extra_index_urls])
        for secret in self.secrets:
            register_secret(secret)

    def prepare(self, folder: Path) -> JobEnv | None:
        """The environment of the job in `folder`, built if need be; None without requirements."""
        requirements = folder / REQUIREMENTS_FILE
        if not requirements.is_file():
            return None
        root = self.cache_dir / env_hash(requirements.read_bytes())
        with contextlib.suppress(OSError, ValueError, KeyError):
            return JobEnv.read(root)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with locked(root.with_name(root.name + ".lock")):
                with contextlib.suppress(OSError, ValueError, KeyError):
                    return JobEnv.read(root)  # another worker built it while we waited
                shutil.rmtree(root, ignore_errors=True)  # a build that died half way
                try:
                    return self._build(root, requirements)
                except BaseException:
                    shutil.rmtree(root, ignore_errors=True)
                    raise
        except OSError as exc:
            raise JobEnvError(
                f"could not build it under {self.cache_dir} ({exc}): REMEDY_JOB_ENV_DIR must be "
                "a folder the worker may write, with room for the environment"
            ) from None

    def _build(self, root: Path, requirements: Path) -> JobEnv:
        self._run([sys.executable, "-m", "venv", "--without-pip", str(root)], "python -m venv")
        site_packages = site_packages_of(root)
        before = set(os.listdir(site_packages))
        self._run(
            [
                str(root / "bin" / "python"),
                "-c",
                PIP_MAIN,
                str(pip_runner()),
                "install",
                "--no-input",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                "-r",
                str(requirements),
            ],
            f"pip install -r {requirements}",
            cwd=requirements.parent,
        )
        modules = top_level_modules(set(os.listdir(site_packages)) - before)
        (site_packages / WORKER_PTH).write_text(worker_pth(), encoding="utf-8")
        marker = root / READY_MARKER
        partial = marker.with_suffix(".partial")
        partial.write_text(
            json.dumps({"requirements": requirements.read_text(), "modules": list(modules)}),
            encoding="utf-8",
        )
        partial.rename(marker)  # last: from here the environment is used
        return JobEnv.read(root)

    def pip_environment(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in PIP_ENVIRONMENT if name in os.environ}
        env["PIP_CONFIG_FILE"] = os.devnull  # only this worker's configuration applies
        env["PIP_CACHE_DIR"] = str(self.cache_dir / ".pip-cache")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if self.index_url:
            env["PIP_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            env["PIP_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        if self.find_links:
            env["PIP_FIND_LINKS"] = " ".join(self.find_links)
        return env

    def _run(self, argv: list[str], what: str, cwd: Path | None = None) -> None:
        try:
            done = subprocess.run(
                argv,
                cwd=cwd,
                env=self.pip_environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=PIP_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise JobEnvError(f"{what} did not finish within {PIP_TIMEOUT_S:.0f} s") from None
        if done.returncode != 0:
            text = redact(done.stdout.decode("utf-8", errors="replace"), self.secrets)
            tail = "\n".join(text.strip().splitlines()[-PIP_TAIL_LINES:])
            raise JobEnvError(f"{what} failed (exit {done.returncode}):\n{tail}")


def prepare_job_envs(registry: Registry, envs: JobEnvs) -> Registry:
    """The registry with each job's environment built and recorded (`Registry.envs`, aliases
    included); a job whose requirements cannot be installed is not registered: it and its aliases
    move to `errors`, with pip's message. `registry` itself is left as it was."""
    jobs = dict(registry.jobs)
    errors = list(registry.errors)
    built: dict[str, Path] = {}
    for name, job in sorted(registry.jobs.items()):
        if job.alias_of is not None:
            continue
        try:
            job_env = envs.prepare(job.folder)
        except JobEnvError as exc:
            error = (
                f"job folder {name!r} is not registered: its {REQUIREMENTS_FILE} could not be "
                f"installed; fix it, or the index this worker installs from "
                f"(REMEDY_JOB_PIP_INDEX_URL, REMEDY_JOB_PIP_EXTRA_INDEX_URLS, "
                f"REMEDY_JOB_PIP_FIND_LINKS). {exc}"
            )
            log.error(error, extra={"jobCode": str(registry.root), "job": name})
            errors.append(error)
            for other in [n for n, j in jobs.items() if n == name or j.alias_of == name]:
                del jobs[other]
            continue
        if job_env is not None:
            log.info(
                "job environment ready",
                extra={"job": name, "jobEnv": job_env.name, "modules": list(job_env.modules)},
            )
            built[name] = job_env.root
    recorded = {
        name: built[job.alias_of or name]
        for name, job in jobs.items()
        if (job.alias_of or name) in built
    }
    return dataclasses.replace(registry, jobs=jobs, errors=errors, envs=recorded)
