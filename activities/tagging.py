"""Mark a remediated resource with `remediated-by`, `remediated-at` and the run id.

EC2 resources through CreateTags, S3 buckets merged with their existing tags (PutBucketTagging
replaces the whole set), any other ARN through the Resource Groups Tagging API. On Azure, network
security groups through update-tags, merged with their existing tags (update-tags replaces the
whole set); other Azure resource types are skipped. A resource that cannot be tagged is skipped
with a log line: tagging never fails a remediation that worked.

Which tagger takes a resource is the service registry's answer (remedy/services: each service's
`Tagging`, by resource type or id); the taggers themselves are here, by method name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.network.models import TagsObject
from azure.mgmt.storage.models import StorageAccountUpdateParameters
from botocore.exceptions import ClientError
from temporalio import activity

from activities.credentials import RETRYABLE_CODES, CredentialStore, error_code, rejected_session
from remedy import services
from remedy.types import TagInput, TagResult

log = logging.getLogger("remedy.tagging")


def _tag_ec2(client: Any, resource_id: str, tags: dict[str, str]) -> str | None:
    client.create_tags(
        Resources=[resource_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
    )
    return None


def _tag_s3(client: Any, bucket: str, tags: dict[str, str]) -> str | None:
    try:
        existing = {
            t["Key"]: t["Value"] for t in client.get_bucket_tagging(Bucket=bucket)["TagSet"]
        }
    except ClientError as exc:
        if error_code(exc) not in ("NoSuchTagSet", "NoSuchTagSetError"):
            raise
        existing = {}
    merged = {**existing, **tags}
    client.put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in merged.items()]}
    )
    return None


def _tag_arn(client: Any, arn: str, tags: dict[str, str]) -> str | None:
    answer = client.tag_resources(ResourceARNList=[arn], Tags=tags)
    failed = answer.get("FailedResourcesMap") or {}
    if failed:
        return arn_failure(next(iter(failed.values())))
    return None


def arn_failure(info: dict[str, Any]) -> str:
    """A TagResources FailedResourcesMap entry as a skipped tagging's message names it."""
    return f"{info.get('ErrorCode')}: {info.get('ErrorMessage')}"


def _tag_nsg(client: Any, group: str, name: str, tags: dict[str, str]) -> None:
    existing = client.network_security_groups.get(group, name).tags or {}
    client.network_security_groups.update_tags(group, name, TagsObject(tags={**existing, **tags}))


def _tag_storage(client: Any, group: str, name: str, tags: dict[str, str]) -> None:
    existing = client.storage_accounts.get_properties(group, name).tags or {}
    client.storage_accounts.update(
        group, name, StorageAccountUpdateParameters(tags={**existing, **tags})
    )


#: The taggers, by the registry's Tagging.method (remedy/services): client, resource, tags.
AWS_TAGGERS: dict[str, Callable[[Any, str, dict[str, str]], str | None]] = {
    "ec2": _tag_ec2,
    "s3": _tag_s3,
    "arn": _tag_arn,
}
AZURE_TAGGERS: dict[str, Callable[[Any, str, str, dict[str, str]], None]] = {
    "azure-nsg": _tag_nsg,
    "azure-storage": _tag_storage,
}


def aws_retryable(exc: ClientError) -> bool:
    """Whether an AWS refusal is transient (throttled, 5xx): raised for Temporal to retry."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in RETRYABLE_CODES or status >= 500


def aws_problem(exc: ClientError) -> str:
    """An AWS refusal as a skipped tagging's message names it: "<code>: <message>"."""
    return f"{error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}"


def aws_refusal(exc: ClientError) -> str:
    """The message of a refusal that skips a resource (its tagging, or its tags' read);
    re-raises a transient one (Temporal retries) and a rejected session (`acting_as` drops it,
    the retry assumes the role again)."""
    if aws_retryable(exc) or rejected_session(error_code(exc)):
        raise exc
    return aws_problem(exc)


def azure_retryable(exc: HttpResponseError) -> bool:
    """Whether an Azure refusal is transient (no status, 429, 5xx): raised for Temporal to retry."""
    return exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429


def azure_problem(exc: HttpResponseError) -> str:
    """An Azure refusal as a skipped tagging's message names it: "<status> <code>: <message>"."""
    code = getattr(exc.error, "code", None) or exc.reason
    problem = getattr(exc.error, "message", None) or exc.message
    return f"{exc.status_code} {code}: {' '.join(str(problem).split())[:300]}"


def skipped(resource: str, problem: str) -> TagResult:
    return TagResult(
        tagged=False, message=f"{resource} could not be tagged ({problem}); tagging skipped"
    )


def tagged(resource: str, tags: dict[str, str]) -> TagResult:
    listed = ", ".join(f"{k}={v}" for k, v in tags.items())
    return TagResult(tagged=True, message=f"tagged {resource} with {listed}")


def untaggable(request: TagInput, provider: services.Provider | None) -> TagResult:
    where = ""
    if provider is not None and provider.tagging_limits:
        taggable = sorted(
            t
            for s in services.registered(provider.name)
            if s.tagging
            for t in s.tagging.resource_types or s.resource_types
        )
        limits = provider.tagging_limits.format(types=", ".join(taggable))
        where = f" on {provider.title} ({limits})"
    return TagResult(
        tagged=False,
        message=f"{request.resource_id} ({request.resource_type or 'unknown type'}) cannot be "
        f"tagged by Remedy{where}; tagging skipped",
    )


class TaggingActivities:
    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials
        #: How each provider's resources are reached and its errors read, by registry name.
        self._tag_on: dict[str, Callable[[TagInput, services.Service], TagResult]] = {
            "aws": self._tag_aws,
            "azure": self._tag_azure,
        }

    def _tag(self, request: TagInput) -> TagResult:
        provider = services.provider(request.account.provider)
        service = services.tagging_service(
            request.account.provider, request.resource_id, request.resource_type
        )
        tag_on = self._tag_on.get(request.account.provider)
        if provider is None or service is None or tag_on is None:
            return untaggable(request, provider)
        return tag_on(request, service)

    def _tag_azure(self, request: TagInput, service: services.Service) -> TagResult:
        name, group = request.resource_id, request.account.resource_group
        tagger = AZURE_TAGGERS.get(service.tagging.method if service.tagging else "")
        if tagger is None or not group:  # Azure names a resource within its resource group
            return untaggable(request, services.provider(service.provider))
        client = self.credentials.azure().client(service.name, request.account.account_id)
        try:
            tagger(client, group, name, request.tags)
        except HttpResponseError as exc:
            if azure_retryable(exc):
                raise  # Temporal retries it
            return skipped(f"{group}/{name}", azure_problem(exc))
        return tagged(f"{group}/{name}", request.tags)

    def _tag_aws(self, request: TagInput, service: services.Service) -> TagResult:
        tagger = AWS_TAGGERS.get(service.tagging.method if service.tagging else "")
        if tagger is None:
            return untaggable(request, services.provider(service.provider))
        region = self.credentials.region_for(request.account)
        try:
            # the shared clients sign with this run's credentials
            with self.credentials.acting_as(request.account, request.run_id):
                client = self.credentials.clients.get(service.name, region)
                problem = tagger(client, request.resource_id, request.tags)
        except ClientError as exc:
            if aws_retryable(exc):
                raise
            problem = aws_problem(exc)
        if problem is not None:
            return skipped(request.resource_id, problem)
        return tagged(request.resource_id, request.tags)

    @activity.defn(name="tag_resource")
    async def tag_resource(self, request: TagInput) -> TagResult:
        result = await asyncio.to_thread(self._tag, request)
        log.info(result.message, extra={"runId": request.run_id, "tagged": result.tagged})
        return result
