"""Mark a remediated resource with `remediated-by`, `remediated-at` and the run id.

EC2 resources through CreateTags, S3 buckets merged with their existing tags (PutBucketTagging
replaces the whole set), any other ARN through the Resource Groups Tagging API. On Azure, network
security groups through update-tags, merged with their existing tags (update-tags replaces the
whole set); other Azure resource types are skipped. A resource that cannot be tagged is skipped
with a log line: tagging never fails a remediation that worked.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.network.models import TagsObject
from botocore.exceptions import ClientError
from temporalio import activity

from activities.aws_clients import using
from activities.credentials import RETRYABLE_CODES, CredentialStore, error_code
from remedy.types import TagInput, TagResult

log = logging.getLogger("remedy.tagging")

EC2_PREFIXES = (
    "i-",
    "sg-",
    "vpc-",
    "subnet-",
    "vol-",
    "eni-",
    "ami-",
    "snap-",
    "igw-",
    "rtb-",
    "acl-",
    "eipalloc-",
    "nat-",
    "lt-",
    "dopt-",
)


AZURE_NSG = "azure:network-security-group"


def tagging_method(resource_id: str, resource_type: str | None) -> str | None:
    if resource_type == "s3:bucket":
        return "s3"
    if (resource_type or "").startswith("ec2:") or resource_id.startswith(EC2_PREFIXES):
        return "ec2"
    if resource_id.startswith("arn:"):
        return "arn"
    return None


def _tag_s3(client: Any, bucket: str, tags: dict[str, str]) -> None:
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


class TaggingActivities:
    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials

    def _tag_azure(self, request: TagInput) -> TagResult:
        name, group = request.resource_id, request.account.resource_group
        if request.resource_type != AZURE_NSG or not group:
            what = request.resource_type or "unknown type"
            return TagResult(
                tagged=False,
                message=f"{name} ({what}) cannot be tagged by Remedy on Azure (network security "
                "groups only, with their resource group); tagging skipped",
            )
        network = self.credentials.azure().network_client(request.account.account_id)
        try:
            existing = network.network_security_groups.get(group, name).tags or {}
            network.network_security_groups.update_tags(
                group, name, TagsObject(tags={**existing, **request.tags})
            )
        except HttpResponseError as exc:
            if exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429:
                raise  # Temporal retries it
            code = getattr(exc.error, "code", None) or exc.reason
            problem = getattr(exc.error, "message", None) or exc.message
            return TagResult(
                tagged=False,
                message=f"{group}/{name} could not be tagged ({exc.status_code} {code}: "
                f"{' '.join(str(problem).split())[:300]}); tagging skipped",
            )
        return TagResult(
            tagged=True,
            message=f"tagged {group}/{name} with "
            + ", ".join(f"{k}={v}" for k, v in request.tags.items()),
        )

    def _tag(self, request: TagInput) -> TagResult:
        if request.account.provider == "azure":
            return self._tag_azure(request)
        method = tagging_method(request.resource_id, request.resource_type)
        if method is None:
            return TagResult(
                tagged=False,
                message=f"{request.resource_id} "
                f"({request.resource_type or 'unknown type'}) cannot be tagged by "
                "Remedy; tagging skipped",
            )
        creds = self.credentials.aws(request.account, request.run_id)
        with using(creds):  # the shared clients sign with this run's credentials
            return self._tag_aws(request, method, self.credentials.region_for(request.account))

    def _tag_aws(self, request: TagInput, method: str, region: str) -> TagResult:
        clients = self.credentials.clients
        try:
            if method == "ec2":
                clients.get("ec2", region).create_tags(
                    Resources=[request.resource_id],
                    Tags=[{"Key": k, "Value": v} for k, v in request.tags.items()],
                )
            elif method == "s3":
                _tag_s3(clients.get("s3", region), request.resource_id, request.tags)
            else:
                answer = clients.get("resourcegroupstaggingapi", region).tag_resources(
                    ResourceARNList=[request.resource_id], Tags=request.tags
                )
                failed = answer.get("FailedResourcesMap") or {}
                if failed:
                    problem = next(iter(failed.values()))
                    return TagResult(
                        tagged=False,
                        message=f"{request.resource_id} could not be "
                        f"tagged ({problem.get('ErrorCode')}: "
                        f"{problem.get('ErrorMessage')}); tagging skipped",
                    )
        except ClientError as exc:
            code = error_code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in RETRYABLE_CODES or status >= 500:
                raise
            return TagResult(
                tagged=False,
                message=f"{request.resource_id} could not be tagged "
                f"({code}: {exc.response.get('Error', {}).get('Message', '')}); "
                "tagging skipped",
            )
        return TagResult(
            tagged=True,
            message=f"tagged {request.resource_id} with "
            + ", ".join(f"{k}={v}" for k, v in request.tags.items()),
        )

    @activity.defn(name="tag_resource")
    async def tag_resource(self, request: TagInput) -> TagResult:
        result = await asyncio.to_thread(self._tag, request)
        log.info(result.message, extra={"runId": request.run_id, "tagged": result.tagged})
        return result
