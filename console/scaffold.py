"""`remedy jobs new`: a job folder that keeps the catalogue's conventions from its first commit.

It writes the entry point, `verify.py`, `remedy.json`, a least-privilege policy (an IAM policy for
AWS, a custom role definition for Azure), a README whose rule and parameter tables are generated
(console/job_docs.py) and a test. As generated it passes the catalogue meta-test
(tests/test_catalogue.py): its one read call is the only permission its policy grants. What it
does not know (what to change, and how to undo it) is marked `TODO` for the author.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from console.job_docs import render
from remedy import services

JOB_NAME = re.compile(r"^[a-z][a-z0-9_]{2,79}$")


class ScaffoldError(ValueError):
    """The job cannot be scaffolded as asked; the message says what to change."""


@dataclass(frozen=True)
class ReadCall:
    """The one read call a new job starts from, and the permission it needs."""

    code: str  # the Python expression, on `client`
    permission: str


def _aws_read_call(service: services.Service) -> ReadCall:
    """The first Describe/Get/List operation of the service's API, called on the resource."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service.name)
    names = sorted(model.operation_names)
    for verb in ("Describe", "Get", "List"):
        for name in names:
            if not name.startswith(verb):
                continue
            operation = model.operation_model(name)
            members = list(operation.input_shape.required_members) if operation.input_shape else []
            if len(members) > 1:
                continue
            args = f"{members[0]}=finding.object_id" if members else ""
            permission = service.action(name)
            if permission:
                return ReadCall(f"client.{xform_name(name)}({args})", permission)
    raise ScaffoldError(f"service {service.name} has no read operation to start a job from")


def _azure_read_call(service: services.Service) -> ReadCall:
    for (group, method), action in sorted(service.operations.items()):
        if method == "get":
            return ReadCall(
                f"client.{group}.get(finding.resource_group, finding.object_id)", action
            )
    raise ScaffoldError(f"service {service.name} lists no `<group>.get` operation to start from")


def _entry_point(name: str, provider: str, service: str, read: ReadCall) -> str:
    kit = "azure.client" if provider == "azure" else "jobkit.client"
    imports = "from remedy import jobkit\n" + (
        "from remedy.jobkit import azure\n" if provider == "azure" else ""
    )
    return f'''"""{name}: TODO one sentence on what this job changes, and what it keeps.

ObjectId: TODO what the finding's ObjectId names. See README.md for the rules it fixes.
"""

from __future__ import annotations

{imports}

def remediate(finding: jobkit.Finding) -> None:
    client = {kit}("{service}", finding)
    found = {read.code}
    # TODO: decide from `found` what violates the rule; change only that, keep every other
    # setting, report each change with jobkit.change(...), and do nothing when compliant.
    jobkit.info(f"read {{finding.object_id}}: {{type(found).__name__}}")


if __name__ == "__main__":
    jobkit.run(remediate, __file__)
'''


def _verify(name: str, provider: str, service: str, read: ReadCall) -> str:
    kit = "azure.client" if provider == "azure" else "jobkit.client"
    imports = "from remedy import jobkit\n" + (
        "from remedy.jobkit import azure\n" if provider == "azure" else ""
    )
    return f'''"""Verify {name}: TODO what must hold on the resource once it is fixed."""

from __future__ import annotations

{imports}

def verify(finding: jobkit.Finding) -> None:
    client = {kit}("{service}", finding)
    found = {read.code}
    problems: list[str] = []  # TODO: one sentence per way `found` still breaks the rule
    jobkit.verdict(problems, f"{{finding.object_id}} complies ({{type(found).__name__}} read)")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
'''


def _policy(name: str, provider: str, read: ReadCall) -> dict[str, object]:
    if provider == "azure":
        return {
            "Name": f"Remedy {name}",
            "IsCustom": True,
            "Description": f"What {name} reads and changes (TODO: add the write actions).",
            "Actions": [read.permission],
            "NotActions": [],
            "DataActions": [],
            "NotDataActions": [],
            "AssignableScopes": ["/subscriptions/{subscriptionId}"],
        }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Remediate",
                "Effect": "Allow",
                "Action": [read.permission],
                "Resource": "*",
            }
        ],
    }


def _metadata(
    provider: str, resource_type: str, rules: list[str], description: str
) -> dict[str, object]:
    requires = ["notificationInfo.FindingInfo.ObjectId"]
    requires.append(
        "notificationInfo.FindingInfo.ObjectChain"
        if provider == "azure"
        else "notificationInfo.FindingInfo.Region"
    )
    return {
        "provider": provider,
        "description": description,
        "resource_type": resource_type,
        # plan and rollback: add them here once the job honours them (README: job modes)
        "modes": ["remediate", "verify"],
        "rules": rules,
        "requires": requires,
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
        "aliases": {},
    }


def _readme(name: str, meta: dict[str, object]) -> str:
    text = f"""# {name}

{meta["description"]}

TODO: what it changes, what it keeps, its order of calls, and how it can be undone.

## Rules it fixes

<!-- generated by `remedy jobs readme`: rules -->
<!-- end of generated rules -->

## Parameters

<!-- generated by `remedy jobs readme`: parameters -->
<!-- end of generated parameters -->

## Exit codes and log

- `0`: fixed, or nothing to do; one `CHANGE: ...` line on stdout per change made.
- `1`: a cloud call failed: one `ERROR:` line on stderr.
- `2`: bad input: one `ERROR:` line naming the field.
"""
    return render(text, name, meta)


def _test(name: str) -> str:
    return f'''"""{name}: a payload without the resource is refused with exit 2, naming the field.

TODO: on the sandbox cloud, make a non-compliant resource, run the job, and assert what changed
(tests/test_jobs.py shows how); run it again and assert it changes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

JOB = "{name}"
ENTRY = Path(__file__).resolve().parents[1] / "jobs" / JOB / f"{{JOB}}.py"


def test_{name}_refuses_a_finding_without_its_resource() -> None:
    payload = {{"notificationInfo": {{"FindingInfo": {{}}}}}}
    done = subprocess.run(
        [sys.executable, str(ENTRY), json.dumps(payload)], capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert "ERROR:" in done.stderr
    assert "Traceback" not in done.stderr
'''


def scaffold(
    jobs_dir: Path,
    tests_dir: Path,
    name: str,
    *,
    provider: str,
    service: str,
    rules: list[str],
    resource_type: str | None = None,
    description: str | None = None,
) -> list[Path]:
    """Write the job folder `jobs_dir/name` and `tests_dir/test_job_<name>.py`; the paths made."""
    if not JOB_NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a job name: lower case letters, digits and _ (3-80), starting "
            "with a letter; the folder and its entry point take this name"
        )
    if services.provider(provider) is None:
        raise ScaffoldError(f"unknown provider {provider!r}: aws or azure")
    try:
        entry = services.service(service)
    except KeyError as exc:
        raise ScaffoldError(str(exc.args[0])) from None
    if entry.provider != provider:
        raise ScaffoldError(f"service {service} is an {entry.provider} service, not {provider}")
    if not rules:
        raise ScaffoldError("name at least one rule the job fixes: --rule <rule or control id>")
    kind = resource_type or (entry.resource_types[0] if entry.resource_types else None)
    if kind is None or not entry.owns(kind):
        listed = ", ".join(entry.resource_types) or "none"
        raise ScaffoldError(
            f"name the resource type with --resource-type (service {service} lists: {listed})"
        )
    folder, test_file = jobs_dir / name, tests_dir / f"test_job_{name}.py"
    for path in (folder, test_file):
        if path.exists():
            raise ScaffoldError(f"{path} exists already: choose another name or remove it")
    read = _azure_read_call(entry) if provider == "azure" else _aws_read_call(entry)
    meta = _metadata(provider, kind, rules, description or f"TODO: what {name} fixes.")
    policy_name = "minimum_policy.json"
    files = {
        folder / f"{name}.py": _entry_point(name, provider, service, read),
        folder / "verify.py": _verify(name, provider, service, read),
        folder / "remedy.json": json.dumps(meta, indent=2) + "\n",
        folder / policy_name: json.dumps(_policy(name, provider, read), indent=2) + "\n",
        folder / "README.md": _readme(name, meta),
        test_file: _test(name),
    }
    folder.mkdir(parents=True)
    tests_dir.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)
