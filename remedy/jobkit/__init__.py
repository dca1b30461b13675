"""What every built-in job shares: reading the finding, logging changes, AWS clients, exit codes.

A job is `jobs/<name>/<name>.py`, run as `python <name>.py '<payload JSON>'` in a private copy of
its folder, with credentials only in its environment. It ends with::

    if __name__ == "__main__":
        jobkit.run(remediate, __file__)

Conventions (the worker relies on them):

- exit 0: remediated, or already compliant; exit 1: a cloud call failed (one `ERROR:` line says
  which and why); exit 2: bad input, i.e. the payload or the parameters lack or mangle something
  the job needs (one `ERROR:` line names the field path). Bad input never prints a traceback.
- stdout `CHANGE: <message>`: one line per change made; the worker collects these lines as the
  run's list of changes. Any other stdout line is information; errors go to stderr.
- `verify.py` beside the job (optional) checks the fix after the job ran, with the same payload
  and environment: it ends with `verdict(problems, ...)`, exit 0 compliant, exit 3 still
  non-compliant (one `NONCOMPLIANT:` line per problem); the workflow fails the run on exit 3.
- modes plan and rollback (remedy/jobkit/modes.py): `REMEDY_MODE=plan` prints the `CHANGE:` lines
  a run would print and changes nothing; a remediation prints `RECORD: <json>` before each change,
  and `REMEDY_MODE=rollback` restores what the records (`REMEDY_RECORDS`) say was there before. A
  job supports them by passing `plan=` and `rollback=` to `run`; asked for a mode it does not
  support, it refuses (exit 2).

Stdlib, boto3 and Remedy's two contracts (remedy/finding.py, stdlib; remedy/params.py, jsonschema)
only, no pydantic: this module runs in the worker's interpreter, next to untrusted jobs, and the
fork server imports it once so that a forked job pays for none of it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from remedy import services
from remedy.finding import PayloadError
from remedy.jobkit import batch, modes
from remedy.jobkit.finding import BadInput as BadInput
from remedy.jobkit.finding import Finding as Finding
from remedy.jobkit.finding import load_metadata as load_metadata
from remedy.jobkit.finding import parse_finding as parse_finding
from remedy.jobkit.modes import ChangedSince as ChangedSince
from remedy.jobkit.modes import RecordError as RecordError
from remedy.jobkit.modes import planning as planning
from remedy.jobkit.modes import record as record
from remedy.params import ParameterError

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_s3.client import S3Client

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NONCOMPLIANT = 3  # verify.py: the resource is still non-compliant

#: Error codes that mean "the role may not do this" rather than "this went wrong".
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"}
)

#: API operations whose IAM action is spelled differently (the rest are `<service>:<Operation>`),
#: as the service registry (remedy/services/aws.py) declares them.
IAM_ACTION_EXCEPTIONS: dict[str, str] = {
    f"{s.iam_prefix}:{operation}": action
    for s in services.registered("aws")
    for operation, action in s.permissions.items()
}


def change(message: str) -> None:
    """Report one change made: the worker collects every `CHANGE:` line of stdout."""
    print(f"CHANGE: {message}", flush=True)


def info(message: str) -> None:
    print(message, flush=True)


def verdict(problems: Sequence[str], compliant: str) -> None:
    """End a `verify.py`: exit 0 with `COMPLIANT: <compliant>`, or exit 3 with one
    `NONCOMPLIANT: <problem>` line per problem (the run then fails, naming them)."""
    if not problems:
        print(f"COMPLIANT: {compliant}", flush=True)
        return
    for problem in problems:
        print(f"NONCOMPLIANT: {' '.join(problem.split())}", flush=True)
    sys.exit(EXIT_NONCOMPLIANT)


def error(message: str) -> None:
    print(f"ERROR: {' '.join(message.split())}", file=sys.stderr, flush=True)


# Clients made for this run, so an AccessDenied can be traced to its service's IAM prefix.
_clients: list[BaseClient] = []
_made: dict[tuple[str, str], Any] = {}


def client(service: str, finding: Finding) -> Any:
    """A client of a registered AWS service (remedy/services/aws.py) in the finding's region,
    from the environment's credentials (and AWS_ENDPOINT_URL, which boto3 honours)."""
    key = (service, finding.region)
    if key not in _made:  # one per service and region: a batch's members share them
        _made[key] = services.service(service).client(finding.region)
        _clients.append(_made[key])
    return _made[key]


def ec2_client(finding: Finding) -> EC2Client:
    made: EC2Client = client("ec2", finding)
    return made


def s3_client(finding: Finding) -> S3Client:
    made: S3Client = client("s3", finding)
    return made


def iam_action(service_prefix: str, operation: str) -> str:
    """The IAM action an API operation needs, e.g. ("s3", "PutPublicAccessBlock")."""
    registered = services.service_by_iam_prefix(service_prefix)
    action = registered.action(operation) if registered else None
    return action or f"{service_prefix}:{operation}"


def describe_client_error(exc: ClientError) -> str:
    """`<operation> failed: <code>: <message>`, with the probable IAM action if access was denied."""
    err = exc.response.get("Error", {})
    code = err.get("Code", "Unknown")
    message = err.get("Message") or "(no message)"
    text = f"{exc.operation_name} failed: {code}: {message}"
    if code in ACCESS_DENIED_CODES:
        models = [
            c.meta.service_model
            for c in _clients
            if exc.operation_name in c.meta.service_model.operation_names
        ]
        if models:
            known = services.SERVICES.get(models[0].service_name)
            prefix = known.iam_prefix if known else models[0].signing_name
            # the service's own map first: s3 and s3control share a prefix, not their actions
            action = (known and known.action(exc.operation_name)) or iam_action(
                prefix, exc.operation_name
            )
            text += f" (the role probably lacks {action}: is it in the job's minimum_policy.json?)"
    return text


def _named(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


Describe = Callable[[Any], str]
#: Per provider: the exceptions that mean the job could not do its work (exit 1), most specific
#: first, and how each is told in the one `ERROR:` line. remedy.jobkit.azure adds Azure's.
FAILURES: dict[str, list[tuple[type[BaseException], Describe]]] = {
    "aws": [(ClientError, describe_client_error), (BotoCoreError, _named)],
}


def _failures(provider: str) -> list[tuple[type[BaseException], Describe]]:
    if provider not in FAILURES:  # the provider's kit module adds its table when imported
        importlib.import_module(f"remedy.jobkit.{provider}")
    return FAILURES.get(provider, [])


def _bad_input(exc: Exception) -> NoReturn:
    error(exc.sentence() if isinstance(exc, PayloadError) else str(exc))
    sys.exit(EXIT_BAD_INPUT)


Rollback = Callable[[Finding, list[dict[str, Any]]], None]


def _entry_for(
    mode: str,
    metadata: dict[str, Any],
    remediate: Callable[[Finding], None],
    plan: Callable[[Finding], None] | None,
    rollback: Rollback | None,
) -> Callable[[Finding], None]:
    """What to call in this mode; exit 2 (exit 1 for an irreversible job's rollback) if none."""
    if mode == modes.REMEDIATE:
        return remediate
    if mode == modes.PLAN and plan is not None:
        return plan
    if mode == modes.ROLLBACK and (reason := metadata.get("irreversible")):
        error(f"this job's changes cannot be rolled back: {reason}")
        sys.exit(EXIT_FAILED)
    if mode == modes.ROLLBACK and rollback is not None:
        undo = rollback
        return lambda finding: undo(finding, modes.records())
    known = ", ".join(modes.ENTRY_MODES)
    why = "this job does not support it" if mode in modes.ENTRY_MODES else f"not one of {known}"
    error(f"{modes.MODE_VARIABLE}={mode}: {why}; nothing was done")
    sys.exit(EXIT_BAD_INPUT)


def run(
    remediate: Callable[[Finding], None],
    job_file: str,
    *,
    plan: Callable[[Finding], None] | None = None,
    rollback: Rollback | None = None,
    prefetch: Callable[[Sequence[Finding]], None] | None = None,
) -> NoReturn:
    """Read the finding and its parameters, run the job in its mode (remedy/jobkit/modes.py), and
    turn expected failures into one `ERROR:` line and an exit code: 2 for bad input, 1 for the
    provider's failures (FAILURES) and for a rollback refused because the resource changed since.

    `plan`: usually `remediate` itself, written so that `planning()` skips its mutating calls.
    `rollback(finding, records)`: restores the records' before state, or raises ChangedSince.
    `prefetch(findings)`: a batch job's one look at all its findings' resources before the
    members are handled (remedy/jobkit/batch.py); a job whose remedy.json says `"batch": true`
    is given a batch in `REMEDY_BATCH`, each member handled as a one-finding process would be.
    """
    try:
        metadata = load_metadata(job_file)
    except (BadInput, PayloadError, ParameterError) as exc:
        _bad_input(exc)
    entry = _entry_for(modes.mode(), metadata, remediate, plan, rollback)
    if metadata.get("batch") and (path := batch.batch_file()):
        members = batch.read_members(path)
        provider = str(metadata.get("provider") or "aws")
        sys.exit(
            batch.run_members(
                lambda payload: parse_finding(["job", json.dumps(payload)], os.environ, metadata),
                entry,
                partial(_handled, _failures(provider)),
                prefetch,
                members,
            )
        )
    try:
        finding = parse_finding(sys.argv, os.environ, metadata)
    except (BadInput, PayloadError, ParameterError) as exc:
        _bad_input(exc)
    failures = _failures(finding.provider)
    try:
        entry(finding)
    except Exception as exc:
        code = _handled(failures, exc)
        if code is None:
            raise
        sys.exit(code)
    sys.exit(EXIT_OK)


def _handled(
    failures: list[tuple[type[BaseException], Describe]], exc: BaseException
) -> int | None:
    """The exit code an expected failure ends the job with, its `ERROR:` line printed; None for
    an unexpected one (a traceback then)."""
    if isinstance(exc, (BadInput, PayloadError, ParameterError, RecordError)):
        error(exc.sentence() if isinstance(exc, PayloadError) else str(exc))
        return EXIT_BAD_INPUT
    if isinstance(exc, ChangedSince):
        error(f"rollback refused, nothing was changed: {exc}")
        return EXIT_FAILED
    for kind, describe in failures:
        if isinstance(exc, kind):
            error(describe(exc))
            return EXIT_FAILED
    return None
