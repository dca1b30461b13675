"""A job's finding: the payload in argv[1], read with the finding contract, and its parameters,
checked with the parameter contract, before the job's `remediate` sees either.

The worker has validated and completed the payload already (activities/validate.py); reading it
here uses the same reader (remedy/finding.py), so a job started by hand, or by another VSS worker,
with an older or broken payload gets the same verdict and the same field path. What only a job
needs is checked here too: an AWS job needs a region (the payload's or AWS_DEFAULT_REGION), an
Azure job a resource name and resource group it can put in a Resource Manager URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remedy import finding as contract
from remedy.finding import FINDING_INFO, OBJECT_CHAIN, PayloadError, Provider
from remedy.params import check_parameters

RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
RESOURCE_NAME = re.compile(r"^[^/\\?#%]{1,80}$")


class BadInput(Exception):
    """The payload or a parameter is missing or malformed: the job exits 2 without a traceback."""


@dataclass(frozen=True)
class Finding:
    """What a job knows of its finding, AWS or Azure."""

    object_id: str
    provider: Provider
    account_id: str
    #: AWS: where the resource lives (the payload's Region, else AWS_DEFAULT_REGION)
    region: str = ""
    #: Azure: the resource group (the ObjectChain's property named ResourceGroup)
    resource_group: str = ""
    finding_id: str | None = None
    rule_id: str | None = None
    #: checked against the job's schema: defaults < the alias whose rules hold `rule_id` <
    #: the payload's `remediationParameters`
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: alias names of this job, for hints in error messages
    aliases: tuple[str, ...] = ()

    @property
    def subscription_id(self) -> str:
        """Azure: the subscription the resource is in."""
        return self.account_id


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


def load_payload(argv: Sequence[str]) -> dict[str, Any]:
    """The payload in argv[1]; BadInput or PayloadError (from the contract) for anything less."""
    if len(argv) < 2 or not argv[1].strip():
        raise BadInput("the payload is missing: run the job as `python <name>.py '<payload JSON>'`")
    return contract.parse_json(argv[1])


def _alias_parameters(
    metadata: Mapping[str, Any], rule_id: str | None, given: Mapping[str, Any]
) -> dict[str, Any]:
    """The parameters of the alias whose rules hold the finding's rule, where not given.

    The worker passes an alias's parameters itself; this serves raw older payloads.
    """
    for alias, spec in (metadata.get("aliases") or {}).items():
        if rule_id is not None and rule_id in spec.get("rules", []):
            filled = {k: v for k, v in spec.get("parameters", {}).items() if k not in given}
            if filled:
                print(
                    f"rule {rule_id} is fixed by alias {alias}: using {json.dumps(filled)}",
                    flush=True,
                )
            return filled
    return {}


def _region(read: contract.Finding, environ: Mapping[str, str]) -> str:
    region = read.region or environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise PayloadError(
            f"{FINDING_INFO}.Region",
            "is missing and AWS_DEFAULT_REGION is not set: the job cannot tell where the "
            "resource lives",
        )
    return region


def _check_azure_names(read: contract.Finding) -> str:
    """The resource group, once the names are ones a Resource Manager URL can carry."""
    if not RESOURCE_NAME.match(read.object_id):
        raise PayloadError(
            f"{FINDING_INFO}.ObjectId",
            f"must be the resource's name (1-80 characters, no '/'), not {read.object_id[:120]!r}",
        )
    group = read.resource_group or ""
    if not RESOURCE_GROUP.match(group) or group.endswith("."):
        raise PayloadError(
            OBJECT_CHAIN, f"ResourceGroup {group[:100]!r} is not a resource group name"
        )
    return group


def parse_finding(
    argv: Sequence[str], environ: Mapping[str, str], metadata: Mapping[str, Any] | None = None
) -> Finding:
    """Read the payload in argv[1]; BadInput, PayloadError or ParameterError name what is wrong."""
    payload = load_payload(argv)
    read = contract.read_finding(payload)
    metadata = metadata or {}
    declared = metadata.get("provider")
    if declared and declared != read.provider:
        raise PayloadError(
            "cloudAccount.provider",
            f"the finding is from {read.provider} but this job is for {declared}",
        )
    region = _region(read, environ) if read.provider == "aws" else read.region or ""
    group = _check_azure_names(read) if read.provider == "azure" else ""
    given = payload.get("remediationParameters")
    given = {} if given is None else given
    aliases = tuple(metadata.get("aliases") or ())
    parameters = (
        check_parameters(
            metadata.get("parameters") or {},
            {**_alias_parameters(metadata, read.rule_id, given), **given},
            root="remediationParameters",
            aliases=aliases,
        )
        if isinstance(given, dict)
        else check_parameters({}, given, root="remediationParameters")  # refuses a non-object
    )
    return Finding(
        object_id=read.object_id,
        provider=read.provider,
        account_id=read.account_id,
        region=region,
        resource_group=group,
        finding_id=read.finding_id,
        rule_id=read.rule_id,
        parameters=parameters,
        aliases=aliases,
    )
