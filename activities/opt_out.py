"""The opt-out read live: the resource's own tags, read just before a run would change it.

The finding's tags (`CloudTags`, an ASFF resource's `Tags`) are checked at validation; they are as
old as the scan. A person who tags the resource `remedy:skip` after the scan, or during a grace
period, is heard here: the workflow reads the tags with the run's own credentials (the same
services and permissions as the tag step, read side: ec2:DescribeTags, s3:GetBucketTagging,
tag:GetResources; the resource's read action on Azure) before any approval or change. A type that
cannot be read, or a read the cloud refuses, falls back to the finding's tags (already checked),
saying so in the run's log: the opt-out never blocks a fix by being unreadable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import HttpResponseError
from botocore.exceptions import ClientError
from temporalio import activity

from activities.credentials import RETRYABLE_CODES, CredentialStore, error_code
from activities.validate import opted_out
from remedy import services
from remedy.types import OptOutInput, OptOutResult

log = logging.getLogger("remedy.opt_out")


def _ec2_tags(client: Any, resource_id: str) -> dict[str, str]:
    found = client.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])
    return {t["Key"]: t["Value"] for t in found["Tags"]}


def _s3_tags(client: Any, bucket: str) -> dict[str, str]:
    try:
        return {t["Key"]: t["Value"] for t in client.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    except ClientError as exc:
        if error_code(exc) in ("NoSuchTagSet", "NoSuchTagSetError"):
            return {}
        raise


def _arn_tags(client: Any, arn: str) -> dict[str, str] | None:
    found = client.get_resources(ResourceARNList=[arn])["ResourceTagMappingList"]
    if not found:
        return None  # the API does not know the resource (or keeps no tag of it): unread
    return {t["Key"]: t["Value"] for t in found[0].get("Tags", [])}


def _nsg_tags(client: Any, group: str, name: str) -> dict[str, str]:
    return dict(client.network_security_groups.get(group, name).tags or {})


def _storage_tags(client: Any, group: str, name: str) -> dict[str, str]:
    return dict(client.storage_accounts.get_properties(group, name).tags or {})


#: The readers, by the registry's Tagging.method (the tag step's writers, read side).
AWS_READERS: dict[str, Callable[[Any, str], dict[str, str] | None]] = {
    "ec2": _ec2_tags,
    "s3": _s3_tags,
    "arn": _arn_tags,
}
AZURE_READERS: dict[str, Callable[[Any, str, str], dict[str, str]]] = {
    "azure-nsg": _nsg_tags,
    "azure-storage": _storage_tags,
}


class OptOutActivities:
    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials

    def _tags(self, request: OptOutInput) -> dict[str, str] | None:
        """The resource's tags as the cloud has them now; None when they cannot be read."""
        account = request.account
        service = services.tagging_service(
            account.provider, request.resource_id, request.resource_type
        )
        method = service.tagging.method if service and service.tagging else ""
        if service is None:
            return None
        if account.provider == "aws" and method in AWS_READERS:
            region = self.credentials.region_for(account)
            with self.credentials.acting_as(account, request.run_id):
                client = self.credentials.clients.get(service.name, region)
                return AWS_READERS[method](client, request.resource_id)
        if account.provider == "azure" and method in AZURE_READERS and account.resource_group:
            client = self.credentials.azure().client(service.name, account.account_id)
            return AZURE_READERS[method](client, account.resource_group, request.resource_id)
        return None

    def check(self, request: OptOutInput) -> OptOutResult:
        try:
            tags = self._tags(request)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if error_code(exc) in RETRYABLE_CODES or status >= 500:
                raise
            return OptOutResult(message=f"its tags could not be read ({error_code(exc)})")
        except HttpResponseError as exc:
            if exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429:
                raise
            return OptOutResult(message=f"its tags could not be read ({exc.status_code})")
        if tags is None:
            return OptOutResult(message="its tags cannot be read live: the finding's were used")
        return OptOutResult(
            read=True,
            opted_out=opted_out(tags, request.skip_tag),
            message=f"its {len(tags)} tag(s) read live",
        )

    @activity.defn(name="read_opt_out")
    async def read_opt_out(self, request: OptOutInput) -> OptOutResult:
        result = await asyncio.to_thread(self.check, request)
        log.info(
            "%s: %s%s",
            request.resource_id,
            result.message,
            f"; {result.opted_out}" if result.opted_out else "",
            extra={"runId": request.run_id},
        )
        return result
