"""Tag the resources a batch remediated, all with the same tags, in as few calls as each service
allows (the `tag_resources` activity).

Which tagger takes a resource is the service registry's answer, as for one resource
(activities/tagging.py, whose taggers and messages this reuses):

- EC2 ids: one CreateTags per up to 1000 ids. CreateTags is all or nothing, so a chunk refused as a
  whole (one id that does not exist) is tagged again one id per call: every other id is still
  tagged and the bad one gets its own message.
- ARNs: one Resource Groups Tagging API TagResources per up to 20 ARNs; its FailedResourcesMap
  names the ARNs it did not tag. A chunk refused as a whole is tagged again one ARN per call.
  (A refusal that holds for any resource, the role may not tag, is every resource's message at
  once, without a call per resource.)
- S3 buckets and Azure resources: one at a time (their tags are read and merged, as for one).
- A resource no tagger takes: the one-resource activity's "cannot be tagged" message.

Guarantees: every requested resource id is in `tagged` and `messages`. A transient refusal
(throttled, 5xx, Azure 429) or a rejected session raises, for Temporal to retry the activity
(tagging again with the same tags is harmless); any other refusal is that resource's message
("... could not be tagged (...); tagging skipped") and never fails the batch. `calls` counts the
API calls made (a retry inside botocore or the Azure SDK counts once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from azure.core.exceptions import HttpResponseError
from botocore.exceptions import ClientError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.credentials import (
    RETRYABLE_CODES,
    CredentialStore,
    error_code,
)
from activities.tagging import (
    AWS_TAGGERS,
    AZURE_TAGGERS,
    arn_failure,
    aws_refusal,
    azure_problem,
    azure_retryable,
    skipped,
    tagged,
    untaggable,
)
from remedy import services
from remedy.batch_types import TagManyInput, TagManyResult
from remedy.types import TagInput, TagResult

log = logging.getLogger("remedy.tagging")

#: CreateTags takes up to 1000 resource ids per call (EC2 API Reference, CreateTags).
EC2_IDS_PER_CALL = 1000
#: TagResources takes up to 20 ARNs per call (Resource Groups Tagging API Reference).
ARNS_PER_CALL = 20
#: Refusals that hold for every resource of a call (the role may not tag): one message for the
#: whole chunk, rather than one refused call per resource.
CALL_WIDE_CODES = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"})


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class _Counted:
    """A client whose API calls add to `outcome.calls`: a boto3 client's operations (its
    `meta.method_to_api_mapping`), an Azure client's operation groups' public methods."""

    def __init__(self, target: Any, outcome: _Outcome) -> None:
        self._target = target
        self._outcome = outcome
        mapping = getattr(getattr(target, "meta", None), "method_to_api_mapping", None)
        self._operations: set[str] | None = None if mapping is None else set(mapping)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name.startswith("_"):
            return value
        if self._operations is not None:  # boto3: only its operations are calls
            return self._counting(value) if name in self._operations else value
        # Azure: client.<operation group>.<method>(...)
        return self._counting(value) if callable(value) else _Counted(value, self._outcome)

    def _counting(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self._outcome.calls += 1
            return method(*args, **kwargs)

        return call


class _Outcome:
    """What the batch's tagging came to, resource by resource."""

    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = tags
        self.tagged: dict[str, bool] = {}
        self.messages: dict[str, str] = {}
        self.calls = 0

    def record(self, resource_id: str, result: TagResult) -> None:
        self.tagged[resource_id] = result.tagged
        self.messages[resource_id] = result.message

    def done(self, resource_id: str, shown_as: str | None = None) -> None:
        self.record(resource_id, tagged(shown_as or resource_id, self.tags))

    def failed(self, resource_id: str, problem: str, shown_as: str | None = None) -> None:
        self.record(resource_id, skipped(shown_as or resource_id, problem))

    def result(self) -> TagManyResult:
        return TagManyResult(tagged=self.tagged, messages=self.messages, calls=self.calls)


class BatchTagging:
    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials

    def _tag(self, request: TagManyInput) -> TagManyResult:
        outcome = _Outcome(request.tags)
        account = request.account
        provider = services.provider(account.provider)
        taggers: dict[str, dict[str, Any]] = {"aws": AWS_TAGGERS, "azure": AZURE_TAGGERS}
        methods = taggers.get(account.provider, {})
        #: the resources each (service, tagger method) takes, in the order asked
        groups: dict[tuple[str, str], list[str]] = {}
        asked: dict[str, str | None] = {}  # each id once, with the first type given for it
        for resource_id, resource_type in request.resources:
            asked.setdefault(resource_id, resource_type)
        for resource_id, resource_type in asked.items():
            service = services.tagging_service(account.provider, resource_id, resource_type)
            method = service.tagging.method if service and service.tagging else ""
            # Azure names a resource within its resource group
            reachable = account.provider != "azure" or bool(account.resource_group)
            if service is None or method not in methods or not reachable:
                one = TagInput(
                    account=account,
                    resource_id=resource_id,
                    resource_type=resource_type,
                    tags=request.tags,
                    run_id=request.run_id,
                )
                outcome.record(resource_id, untaggable(one, provider))
                continue
            groups.setdefault((service.name, method), []).append(resource_id)
        if groups and account.provider == "aws":
            self._tag_aws(request, groups, outcome)
        elif groups:
            self._tag_azure(request, groups, outcome)
        # in the order asked
        outcome.tagged = {r: outcome.tagged[r] for r in asked}
        outcome.messages = {r: outcome.messages[r] for r in asked}
        return outcome.result()

    def _tag_aws(
        self, request: TagManyInput, groups: dict[tuple[str, str], list[str]], outcome: _Outcome
    ) -> None:
        region = self.credentials.region_for(request.account)
        # the shared clients sign with this batch's credentials
        with self.credentials.acting_as(request.account, request.run_id):
            for (service_name, method), ids in groups.items():
                client = _Counted(self.credentials.clients.get(service_name, region), outcome)
                if method == "ec2":
                    _tag_ec2_ids(client, ids, outcome)
                elif method == "arn":
                    _tag_arns(client, ids, outcome)
                else:
                    _one_by_one(client, ids, AWS_TAGGERS[method], outcome)

    def _tag_azure(
        self, request: TagManyInput, groups: dict[tuple[str, str], list[str]], outcome: _Outcome
    ) -> None:
        group = str(request.account.resource_group)
        for (service_name, method), names in groups.items():
            client = _Counted(
                self.credentials.azure().client(service_name, request.account.account_id), outcome
            )
            tagger = AZURE_TAGGERS[method]
            for name in names:
                try:
                    tagger(client, group, name, request.tags)
                except HttpResponseError as exc:
                    if azure_retryable(exc):
                        raise  # Temporal retries it
                    outcome.failed(name, azure_problem(exc), f"{group}/{name}")
                else:
                    outcome.done(name, f"{group}/{name}")

    @activity.defn(name="tag_resources")
    async def tag_resources(self, request: TagManyInput) -> TagManyResult:
        result = await asyncio.to_thread(self._tag, request)
        done = sum(result.tagged.values())
        log.info(
            f"tagged {done} of {len(result.tagged)} resources in {result.calls} calls",
            extra={
                "runId": request.run_id,
                "tagged": done,
                "skipped": len(result.tagged) - done,
                "calls": result.calls,
            },
        )
        return result


def _one_by_one(
    client: Any,
    ids: list[str],
    tagger: Callable[[Any, str, dict[str, str]], str | None],
    outcome: _Outcome,
) -> None:
    for resource_id in ids:
        try:
            problem = tagger(client, resource_id, outcome.tags)
        except ClientError as exc:
            problem = aws_refusal(exc)
        if problem is None:
            outcome.done(resource_id)
        else:
            outcome.failed(resource_id, problem)


def _chunk_refused(
    client: Any,
    chunk: list[str],
    exc: ClientError,
    outcome: _Outcome,
    tag_ids: Callable[[Any, list[str], _Outcome], None],
) -> None:
    """A grouped call refused as a whole: each resource again in a call of its own (the call is
    all or nothing, so one bad id refuses the others), unless the refusal holds for any resource."""
    problem = aws_refusal(exc)
    if len(chunk) == 1 or error_code(exc) in CALL_WIDE_CODES:
        for resource_id in chunk:
            outcome.failed(resource_id, problem)
    else:
        for resource_id in chunk:
            tag_ids(client, [resource_id], outcome)


def _tag_ec2_ids(client: Any, ids: list[str], outcome: _Outcome) -> None:
    tags = [{"Key": k, "Value": v} for k, v in outcome.tags.items()]
    for chunk in chunks(ids, EC2_IDS_PER_CALL):
        try:
            client.create_tags(Resources=chunk, Tags=tags)
        except ClientError as exc:
            _chunk_refused(client, chunk, exc, outcome, _tag_ec2_ids)
            continue
        for resource_id in chunk:
            outcome.done(resource_id)


def _tag_arns(client: Any, arns: list[str], outcome: _Outcome) -> None:
    for chunk in chunks(arns, ARNS_PER_CALL):
        try:
            answer = client.tag_resources(ResourceARNList=chunk, Tags=outcome.tags)
        except ClientError as exc:
            _chunk_refused(client, chunk, exc, outcome, _tag_arns)
            continue
        failed: dict[str, dict[str, Any]] = answer.get("FailedResourcesMap") or {}
        for arn in chunk:
            info = failed.get(arn)
            if info is None:
                outcome.done(arn)
                continue
            status = int(info.get("StatusCode") or 0)
            if status >= 500 or info.get("ErrorCode") in RETRYABLE_CODES:
                raise ApplicationError(
                    f"TagResources did not tag {arn} ({status} {arn_failure(info)}): retried",
                    type=str(info.get("ErrorCode") or "TagResourcesFailed"),
                )
            outcome.failed(arn, arn_failure(info))
