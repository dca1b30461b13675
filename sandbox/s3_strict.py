"""What S3 refuses and moto (5.x) lets through, for the calls the S3 job and its tests make.

Installed into the sandbox's moto server by sandbox/moto_server.py:

- a public ACL (a canned public-read / public-read-write / authenticated-read, or a grant to the
  AllUsers or AuthenticatedUsers group) on a bucket whose Block Public Access says
  BlockPublicAcls: 403 AccessDenied
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html,
  "BlockPublicAcls: PUT Bucket acl and PUT Object acl calls fail if the specified ACL is public");
- a public bucket policy on a bucket whose Block Public Access says BlockPublicPolicy: 403
  AccessDenied (same page: "Setting this option to TRUE causes Amazon S3 to reject calls to PUT
  Bucket policy if the specified bucket policy allows public access"); public as that page's
  "The meaning of public" says: an Allow to the `*` principal with no condition;
- a bucket policy that is not a JSON object with a Statement: 400 MalformedPolicy
  (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList);
- any ACL but the owner's full control on a bucket whose Object Ownership is BucketOwnerEnforced
  (ACLs disabled): 400 AccessControlListNotSupported
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html, "ACLs
  disabled": "PutBucketAcl ... requests that specify bucket owner full control ACLs succeed ...
  Other ACL updates fail with the AccessControlListNotSupported error code").
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from moto.s3.models import FakeAcl, S3Backend
from werkzeug.exceptions import HTTPException

PUBLIC_GROUPS = frozenset(
    {
        "http://acs.amazonaws.com/groups/global/AllUsers",
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    }
)


class S3Refusal(HTTPException):
    """An S3 error document (`<Error><Code>...`) with S3's status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__()
        self.code = status
        self.error_code = code
        self.description = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        )

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("Content-Type", "application/xml")]

    def get_body(self, *args: Any, **kwargs: Any) -> str:
        return self.description or ""


def _block(backend: S3Backend, bucket_name: str, setting: str) -> bool:
    block = backend.get_bucket(bucket_name).public_access_block
    return bool(block and getattr(block, setting, False))


def _acl_is_public(acl: FakeAcl | None) -> bool:
    if acl is None:
        return False
    return any(grantee.uri in PUBLIC_GROUPS for grant in acl.grants for grantee in grant.grantees)


def _acl_is_owner_full_control(acl: FakeAcl | None) -> bool:
    """Only FULL_CONTROL to canonical users (moto has one account owner per bucket: it)."""
    if acl is None:
        return True
    return all(
        grant.permissions == ["FULL_CONTROL"] and all(not g.uri for g in grant.grantees)
        for grant in acl.grants
    )


def policy_is_public(document: dict[str, Any]) -> bool:
    """An Allow to every principal with no condition ("The meaning of public", simplified to
    the condition-free case: a condition may or may not make it non-public)."""
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        everyone = principal == "*" or (
            isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"])
        )
        if everyone and not statement.get("Condition"):
            return True
    return False


_put_bucket_acl = S3Backend.put_bucket_acl
_put_bucket_policy = S3Backend.put_bucket_policy


def put_bucket_acl(self: S3Backend, bucket_name: str, acl: FakeAcl | None) -> None:
    bucket = self.get_bucket(bucket_name)
    rule = bucket.ownership_rule  # moto keeps the bare value (or, in some versions, a mapping)
    ownership = rule.get("ObjectOwnership") if isinstance(rule, dict) else rule
    if ownership == "BucketOwnerEnforced" and not _acl_is_owner_full_control(acl):
        raise S3Refusal(400, "AccessControlListNotSupported", "The bucket does not allow ACLs")
    if _acl_is_public(acl) and _block(self, bucket_name, "block_public_acls"):
        raise S3Refusal(403, "AccessDenied", "Access Denied")
    _put_bucket_acl(self, bucket_name, acl)


def put_bucket_policy(self: S3Backend, bucket_name: str, policy: bytes) -> None:
    try:
        document = json.loads(policy)
    except ValueError:
        document = None
    if not isinstance(document, dict) or "Statement" not in document:
        raise S3Refusal(
            400, "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'"
        )
    if policy_is_public(document) and _block(self, bucket_name, "block_public_policy"):
        raise S3Refusal(403, "AccessDenied", "Access Denied")
    _put_bucket_policy(self, bucket_name, policy)


def install() -> None:
    S3Backend.put_bucket_acl = put_bucket_acl  # type: ignore[method-assign]
    S3Backend.put_bucket_policy = put_bucket_policy  # type: ignore[method-assign]
