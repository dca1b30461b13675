"""What a job process may see: the contract's environment and the run's cloud credentials.

The environment is built from an allow-list, never copied from the worker, so the worker's own
secrets (its hub client secret, its cloud identity) never reach a job.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities.credentials import CredentialStore, JobIdentity
from activities.orphans import OWNER_VARIABLE
from remedy.logs import redact
from remedy.types import TRANSIENT_FAILURE, JobFailure, RunJobInput

#: the session (assumed-role ARN) or the Azure app a job acts as
IDENTITY_VARIABLE = "REMEDY_CLOUD_IDENTITY"
#: the proxy variables, both spellings (what reaches the network must go the worker's way)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
PASSED_THROUGH = (
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
    *PROXY_VARIABLES,
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_RESOURCE_MANAGER_ENDPOINT",
)


def base_environment(workdir: Path, worker_env: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": worker_env.get("PATH", os.defpath),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update({name: worker_env[name] for name in PASSED_THROUGH if worker_env.get(name)})
    return env


def job_environment(
    workdir: Path,
    worker_env: dict[str, str],
    cloud: JobIdentity,
    run_id: str,
    owner: str,
) -> dict[str, str]:
    """The whole environment of one job process."""
    env = base_environment(workdir, worker_env)
    env.update(cloud.env)
    env["REMEDY_RUN_ID"] = run_id
    # who the job acts as: with a reused STS session its name is the first run's (CloudTrail)
    env[IDENTITY_VARIABLE] = cloud.identity
    env[OWNER_VARIABLE] = owner  # lets a restarted worker find a dead worker's jobs
    return env


async def cloud_credentials(
    credentials: CredentialStore, request: RunJobInput, attempt: int
) -> JobIdentity:
    """The run's credentials as environment variables, the secrets to redact from its log, and
    the identity they are.

    An endpoint that fails is the cloud's problem, not the job's: it is raised as a transient
    failure so the workflow retries it for the step's transient window.
    """
    try:
        return await asyncio.to_thread(
            credentials.job_env, request.account, request.run_id, request.timeout_s
        )
    except ApplicationError:
        raise
    except Exception as exc:  # the STS / Entra ID endpoint down or throttling: not the job's
        raise ApplicationError(
            f"could not get credentials for account {request.account.account_id}: "
            f"{redact(str(exc))[:300]}",
            JobFailure(
                job=request.job,
                exit_code=None,
                attempt=attempt,
                reason="credentials unavailable",
                log_tail="",
                transient=f"the credential endpoint failed ({type(exc).__name__})",
            ).model_dump(mode="json"),
            type=TRANSIENT_FAILURE,
        ) from None
