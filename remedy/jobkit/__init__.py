"""What every built-in AWS job shares: reading the finding, logging changes, clients, exit codes.

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

Stdlib and boto3 only: this module runs in the worker's interpreter, next to untrusted jobs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from remedy import services

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


class BadInput(Exception):
    """The payload or a parameter is missing or malformed: the job exits 2 without a traceback."""


@dataclass(frozen=True)
class Finding:
    """The parts of the VSS finding payload (either generation) that AWS jobs use."""

    object_id: str
    region: str
    finding_id: str | None = None
    account_id: str | None = None
    rule_id: str | None = None
    #: Defaults < the alias whose rules hold `rule_id` < the payload's `remediationParameters`.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: Alias names of this job, for hints in error messages.
    aliases: tuple[str, ...] = ()

    def int_parameter(self, name: str, minimum: int, maximum: int) -> int:
        """A required integer parameter in [minimum, maximum], or BadInput naming it."""
        return int_parameter(self.parameters, self.aliases, name, minimum, maximum)


def int_parameter(
    parameters: Mapping[str, Any], aliases: Sequence[str], name: str, minimum: int, maximum: int
) -> int:
    """A required integer parameter in [minimum, maximum], or BadInput naming it."""
    path = f"remediationParameters.{name}"
    if name not in parameters:
        hint = f", or run an alias such as {aliases[0]}" if aliases else ""
        raise BadInput(f"{path} is missing: this job needs it (integer {minimum}-{maximum}){hint}")
    value = parameters[name]
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BadInput(f"{path} must be an integer from {minimum} to {maximum}, not {value!r}")
    return value


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


def _field(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None; BadInput if a step on the way is not an object."""
    value: Any = document
    walked: list[str] = []
    for key in path.split("."):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise BadInput(f"{'.'.join(walked)} must be a JSON object")
        value = value.get(key)
        walked.append(key)
    return value


def _optional_str(document: Mapping[str, Any], *paths: str) -> str | None:
    for path in paths:
        value = _field(document, path)
        if isinstance(value, str) and value:
            return value
    return None


def _account_from_role(role_arn: str | None) -> str | None:
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def load_metadata(job_file: str) -> dict[str, Any]:
    """The job's `remedy.json` (beside its entry point), or {} when the job has none."""
    path = Path(job_file).resolve().parent / "remedy.json"
    if not path.is_file():
        return {}
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path.name} beside the job is unreadable: {exc}") from exc
    if not isinstance(metadata, dict):
        raise BadInput(f"{path.name} beside the job must be a JSON object")
    return metadata


def _resolve_parameters(
    payload: Mapping[str, Any], metadata: Mapping[str, Any], rule_id: str | None
) -> dict[str, Any]:
    """Defaults, then the alias whose rules hold the finding's rule, then remediationParameters.

    The worker passes an alias's parameters itself; the alias lookup serves raw older payloads.
    """
    given = payload.get("remediationParameters")
    if given is not None and not isinstance(given, dict):
        raise BadInput("remediationParameters must be a JSON object")
    given = given or {}
    parameters: dict[str, Any] = {
        name: spec["default"]
        for name, spec in (metadata.get("parameters") or {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    for alias, spec in (metadata.get("aliases") or {}).items():
        if rule_id is not None and rule_id in spec.get("rules", []):
            filled = {k: v for k, v in spec.get("parameters", {}).items() if k not in given}
            if filled:
                info(f"rule {rule_id} is fixed by alias {alias}: using {json.dumps(filled)}")
            parameters.update(filled)
            break
    parameters.update(given)
    return parameters


def load_payload(argv: Sequence[str]) -> tuple[dict[str, Any], str]:
    """The payload in argv[1] and the resource it names; BadInput for anything less."""
    if len(argv) < 2 or not argv[1].strip():
        raise BadInput("the payload is missing: run the job as `python <name>.py '<payload JSON>'`")
    try:
        payload = json.loads(argv[1])
    except ValueError as exc:
        raise BadInput(f"the payload is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise BadInput("the payload must be a JSON object")
    if not isinstance(payload.get("notificationInfo"), dict):
        raise BadInput("notificationInfo is missing: the payload carries no finding")
    object_id = _optional_str(payload, "notificationInfo.FindingInfo.ObjectId")
    if object_id is None:
        raise BadInput(
            "notificationInfo.FindingInfo.ObjectId is missing: the finding must name the resource"
        )
    return payload, object_id


def parse_finding(
    argv: Sequence[str], environ: Mapping[str, str], metadata: Mapping[str, Any] | None = None
) -> Finding:
    """Read the payload in argv[1]; BadInput names the first field the job cannot do without."""
    payload, object_id = load_payload(argv)
    fi = "notificationInfo.FindingInfo"
    region = _optional_str(payload, f"{fi}.Region") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise BadInput(
            f"{fi}.Region is missing and AWS_DEFAULT_REGION is not set: "
            "the job cannot tell where the resource lives"
        )
    rule_id = _optional_str(payload, "notificationInfo.RuleID")
    metadata = metadata or {}
    return Finding(
        object_id=object_id,
        region=region,
        finding_id=_optional_str(payload, f"{fi}.FindingId"),
        account_id=_optional_str(
            payload, "notificationInfo.CloudAccountID", "notificationInfo.CloudAccountId"
        )
        or _account_from_role(_optional_str(payload, "cloudAccount.roleArn")),
        rule_id=rule_id,
        parameters=_resolve_parameters(payload, metadata, rule_id),
        aliases=tuple(metadata.get("aliases") or ()),
    )


# Clients made for this run, so an AccessDenied can be traced to its service's IAM prefix.
_clients: list[BaseClient] = []


def client(service: str, finding: Finding) -> Any:
    """A client of a registered AWS service (remedy/services/aws.py) in the finding's region,
    from the environment's credentials (and AWS_ENDPOINT_URL, which boto3 honours)."""
    made = services.service(service).client(finding.region)
    _clients.append(made)
    return made


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
            action = iam_action(prefix, exc.operation_name)
            text += f" (the role probably lacks {action}: is it in the job's minimum_policy.json?)"
    return text


def run(remediate: Callable[[Finding], None], job_file: str) -> NoReturn:
    """Parse the payload, run the job, and turn expected failures into one line and an exit code."""
    try:
        finding = parse_finding(sys.argv, os.environ, load_metadata(job_file))
        remediate(finding)
    except BadInput as exc:
        error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    except ClientError as exc:
        error(describe_client_error(exc))
        sys.exit(EXIT_FAILED)
    except BotoCoreError as exc:
        error(f"{type(exc).__name__}: {exc}")
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_OK)
