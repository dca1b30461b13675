"""The opt-out read live for a batch: its resources' own tags, read once for all of them right
before its job would change them (the `read_opt_out_many` activity).

A batch keeps the one-finding run's promise (activities/opt_out.py): a person who tags a resource
`remedy:skip` after the scan is heard before anything changes. The reads are the one-resource
readers' (same services and permissions, read side), in as few calls as each service allows:

- EC2 ids: one DescribeTags per up to 100 ids (a `resource-id` filter, paginated).
- ARNs: one Resource Groups Tagging API GetResources per up to 100 ARNs.
- S3 buckets and Azure resources: one read each.

Guarantees: a resource whose live tags carry the opt-out tag is in `opted_out` with the reason a
one-finding run gives. A read refused for a reason that will not pass (denied, unknown resource),
or a type that cannot be read, puts the resource in `unread`: the finding's tags, checked at
validation, stand, and the opt-out never blocks a fix by being unreadable. A transient refusal
(throttled, 5xx, Azure 429) or a rejected session raises, for Temporal to retry the read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import HttpResponseError
from botocore.exceptions import ClientError
from temporalio import activity

from activities.credentials import CredentialStore
from activities.opt_out import AWS_READERS, AZURE_READERS
from activities.tagging import aws_refusal, azure_problem, azure_retryable
from activities.validate import opted_out
from remedy import services
from remedy.batch_types import OptOutManyInput, OptOutManyResult

log = logging.getLogger("remedy.opt_out")

#: ids (or ARNs) read per call: DescribeTags filter values and GetResources' ResourceARNList
#: (at most 100 ARNs, Resource Groups Tagging API Reference, GetResources)
PER_CALL = 100


def _ec2_tags(client: Any, ids: list[str]) -> tuple[dict[str, dict[str, str]], int]:
    found: dict[str, dict[str, str]] = {i: {} for i in ids}
    calls = 0
    for start in range(0, len(ids), PER_CALL):
        pages = client.get_paginator("describe_tags").paginate(
            Filters=[{"Name": "resource-id", "Values": ids[start : start + PER_CALL]}]
        )
        for page in pages:
            calls += 1
            for tag in page["Tags"]:
                found.setdefault(tag["ResourceId"], {})[tag["Key"]] = tag["Value"]
    return found, calls


def _arn_tags(client: Any, arns: list[str]) -> tuple[dict[str, dict[str, str]], int]:
    """Tags per ARN the API knows (one it does not know is left out: unread)."""
    found: dict[str, dict[str, str]] = {}
    calls = 0
    for start in range(0, len(arns), PER_CALL):
        pages = client.get_paginator("get_resources").paginate(
            ResourceARNList=arns[start : start + PER_CALL]
        )
        for page in pages:
            calls += 1
            for mapping in page["ResourceTagMappingList"]:
                tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
                found[mapping["ResourceARN"]] = tags
    return found, calls


#: the readers that take many resources a call, by the registry's Tagging.method
MANY_READERS: dict[str, Callable[[Any, list[str]], tuple[dict[str, dict[str, str]], int]]] = {
    "ec2": _ec2_tags,
    "arn": _arn_tags,
}


class BatchOptOut:
    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials

    def check(self, request: OptOutManyInput) -> OptOutManyResult:
        result = OptOutManyResult()
        account = request.account
        known = AWS_READERS if account.provider == "aws" else AZURE_READERS
        # Azure names a resource within its resource group
        reachable = account.provider != "azure" or bool(account.resource_group)
        readers: dict[tuple[str, str], list[str]] = {}  # (service, reader) -> resource ids
        for resource_id, resource_type in dict(request.resources).items():
            service = services.tagging_service(account.provider, resource_id, resource_type)
            method = service.tagging.method if service and service.tagging else ""
            if service is None or method not in known or not reachable:
                result.unread[resource_id] = "its tags cannot be read live: the finding's were used"
                continue
            readers.setdefault((service.name, method), []).append(resource_id)
        tags: dict[str, dict[str, str] | None] = {}
        if account.provider == "aws" and readers:
            tags = self._read_aws(request, readers, result)
        elif readers:
            tags = self._read_azure(request, readers, result)
        for resource_id, found in tags.items():
            if found is None:
                result.unread.setdefault(resource_id, "its tags could not be read")
                continue
            why = opted_out(found, request.skip_tag)
            if why is not None:
                result.opted_out[resource_id] = why
        return result

    def _read_aws(
        self,
        request: OptOutManyInput,
        readers: dict[tuple[str, str], list[str]],
        result: OptOutManyResult,
    ) -> dict[str, dict[str, str] | None]:
        tags: dict[str, dict[str, str] | None] = {}
        region = self.credentials.region_for(request.account)
        with self.credentials.acting_as(request.account, request.run_id):
            for (service_name, method), ids in readers.items():
                client = self.credentials.clients.get(service_name, region)
                if method in MANY_READERS:
                    try:
                        found, calls = MANY_READERS[method](client, ids)
                    except ClientError as exc:
                        why = f"its tags could not be read ({aws_refusal(exc)})"
                        result.unread.update(dict.fromkeys(ids, why))
                        continue
                    result.calls += calls
                    tags.update({i: found.get(i) for i in ids})
                    continue
                for resource_id in ids:  # one read each (S3)
                    try:
                        result.calls += 1
                        tags[resource_id] = AWS_READERS[method](client, resource_id)
                    except ClientError as exc:
                        why = f"its tags could not be read ({aws_refusal(exc)})"
                        result.unread[resource_id] = why
        return tags

    def _read_azure(
        self,
        request: OptOutManyInput,
        readers: dict[tuple[str, str], list[str]],
        result: OptOutManyResult,
    ) -> dict[str, dict[str, str] | None]:
        tags: dict[str, dict[str, str] | None] = {}
        group = str(request.account.resource_group)
        for (service_name, method), names in readers.items():
            client = self.credentials.azure().client(service_name, request.account.account_id)
            for name in names:
                try:
                    result.calls += 1
                    tags[name] = AZURE_READERS[method](client, group, name)
                except HttpResponseError as exc:
                    if azure_retryable(exc):
                        raise
                    result.unread[name] = f"its tags could not be read ({azure_problem(exc)})"
        return tags

    @activity.defn(name="read_opt_out_many")
    async def read_opt_out_many(self, request: OptOutManyInput) -> OptOutManyResult:
        result = await asyncio.to_thread(self.check, request)
        log.info(
            "read the live tags of %d resource(s) in %d call(s): %d opted out, %d unread",
            len(request.resources) - len(result.unread),
            result.calls,
            len(result.opted_out),
            len(result.unread),
            extra={"runId": request.run_id},
        )
        for resource_id, why in result.unread.items():
            log.info("%s: %s", resource_id, why, extra={"runId": request.run_id})
        return result
