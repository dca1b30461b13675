"""What S3 refuses and moto (5.x) lets through, for the calls the S3 jobs and their tests make.

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
  Other ACL updates fail with the AccessControlListNotSupported error code");
- a bucket policy statement with a Sid used twice, an Effect other than Allow / Deny, no
  Principal or no Action, or a Resource outside the bucket: 400 MalformedPolicy
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html: "Sid
  values must be unique within a JSON policy";
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html: a bucket policy's
  statements name a Principal, and its resources are the bucket and its objects);
- a default encryption whose SSEAlgorithm is not AES256, aws:kms or aws:kms:dsse (400
  MalformedXML), or that names a KMSMasterKeyID with AES256 (400 InvalidArgument)
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ServerSideEncryptionByDefault.html:
  "KMSMasterKeyID can only be used when you set the value of SSEAlgorithm as aws:kms or
  aws:kms:dsse");
- server access logging to a target whose bucket policy lets logging.s3.amazonaws.com put
  objects under the prefix is taken in every form IAM takes (lists, wildcards): moto wants one
  exact string each and answers 500 to `"Principal": "*"`; without such a policy (or the
  LogDelivery group's WRITE and READ_ACP grants) it is 400 InvalidTargetBucketForLogging, as
  moto has it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html#grant-log-delivery-permissions-general);
- IAM checks S3's actions, not moto's names for them: HeadBucket (`s3:ListBucket`,
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html), the bucket's public access block
  (`s3:GetBucketPublicAccessBlock`, `s3:PutBucketPublicAccessBlock`, also for deleting it),
  default encryption (`s3:GetEncryptionConfiguration`, `s3:PutEncryptionConfiguration`, also for
  deleting it), ownership controls, and S3 Control's account-level block
  (`s3:GetAccountPublicAccessBlock`, `s3:PutAccountPublicAccessBlock`), whose AccessDenied is an
  S3 error document (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any
from xml.sax.saxutils import escape

from moto.iam.access_control import IAMRequest
from moto.s3.models import FakeAcl, FakeBucket, S3Backend
from moto.s3.responses import ACTION_MAP
from moto.s3control.responses import S3ControlResponse
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
_put_bucket_encryption = S3Backend.put_bucket_encryption
SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
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


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def policy_problem(document: dict[str, Any], bucket_name: str) -> str | None:
    """What S3 finds wrong in a bucket policy's statements, or None."""
    sids: set[str] = set()
    for statement in _listed(document.get("Statement")):
        if not isinstance(statement, dict):
            return "Statements must be JSON objects"
        sid = statement.get("Sid")
        if sid is not None:
            if sid in sids:
                return "Statement IDs (SID) in a single policy must be unique"
            sids.add(sid)
        if statement.get("Effect") not in ("Allow", "Deny"):
            return f"Invalid effect: {statement.get('Effect')}"
        if "Principal" not in statement and "NotPrincipal" not in statement:
            return "Missing required field Principal"
        if "Action" not in statement and "NotAction" not in statement:
            return "Missing required field Action"
        for resource in _listed(statement.get("Resource")):
            own = f"arn:aws:s3:::{bucket_name}"
            if not isinstance(resource, str) or not (
                resource.startswith(f"{own}/")
                or fnmatchcase(own, resource)
                or fnmatchcase(f"{own}/key", resource)
            ):
                return "Policy has invalid resource"
    return None


def put_bucket_policy(self: S3Backend, bucket_name: str, policy: bytes) -> None:
    try:
        document = json.loads(policy)
    except ValueError:
        document = None
    if not isinstance(document, dict) or "Statement" not in document:
        raise S3Refusal(
            400, "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'"
        )
    problem = policy_problem(document, bucket_name)
    if problem:
        raise S3Refusal(400, "MalformedPolicy", problem)
    if policy_is_public(document) and _block(self, bucket_name, "block_public_policy"):
        raise S3Refusal(403, "AccessDenied", "Access Denied")
    _put_bucket_policy(self, bucket_name, policy)


def put_bucket_encryption(self: S3Backend, bucket_name: str, encryption: dict[str, Any]) -> None:
    for rule in _listed(encryption.get("Rule")):
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        algorithm = default.get("SSEAlgorithm")
        if algorithm not in SSE_ALGORITHMS:
            raise S3Refusal(
                400,
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our "
                "published schema",
            )
        if default.get("KMSMasterKeyID") and algorithm == "AES256":
            raise S3Refusal(
                400,
                "InvalidArgument",
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms "
                "or aws:kms:dsse",
            )
    _put_bucket_encryption(self, bucket_name, encryption)


LOGGING_SERVICE = "logging.s3.amazonaws.com"


def log_delivery_allowed(target_bucket: FakeBucket, target_prefix: str | None) -> bool:
    """The target's bucket policy lets the logging service put objects under the prefix: an
    Allow to the service principal (a string or in a list) of s3:PutObject (or s3:*, *) on a
    Resource (a string or in a list, wildcards as IAM matches them) that covers the prefix.
    moto's own check wants each of these as one exact string, and fails (500) on
    `"Principal": "*"`."""
    try:
        document = json.loads(target_bucket.policy or b"{}")
    except ValueError:
        return False
    key = f"arn:aws:s3:::{target_bucket.name}/{target_prefix or ''}access-log"
    for statement in _listed(document.get("Statement") if isinstance(document, dict) else None):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else []
        actions = _listed(statement.get("Action"))
        if LOGGING_SERVICE not in services or not {"s3:PutObject", "s3:*", "*"} & set(actions):
            continue
        if any(
            isinstance(r, str) and fnmatchcase(key, r) for r in _listed(statement.get("Resource"))
        ):
            return True
    return False


#: The IAM actions S3 checks, by request, where moto (5.x) checks another: moto keys the bucket's
#: public access block on `public_access_block` (the query string says `publicAccessBlock`, so it
#: falls back to CreateBucket / ListBucket / DeleteBucket), knows no `encryption` subresource (the
#: same fallback), and names the account-level block's actions like the bucket-level ones.
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
IAM_ACTIONS: dict[str, dict[str, dict[str, str]]] = {
    "BUCKET": {
        "HEAD": {"DEFAULT": "ListBucket"},  # HeadBucket: "you must have s3:ListBucket"
        "GET": {
            "publicAccessBlock": "GetBucketPublicAccessBlock",
            "encryption": "GetEncryptionConfiguration",
            "ownershipControls": "GetBucketOwnershipControls",
        },
        "PUT": {
            "publicAccessBlock": "PutBucketPublicAccessBlock",
            "encryption": "PutEncryptionConfiguration",
            "ownershipControls": "PutBucketOwnershipControls",
        },
        "DELETE": {
            "publicAccessBlock": "PutBucketPublicAccessBlock",
            "encryption": "PutEncryptionConfiguration",
            "ownershipControls": "PutBucketOwnershipControls",
        },
    },
    "CONTROL": {
        "GET": {"publicAccessBlock": "GetAccountPublicAccessBlock"},
        "PUT": {"publicAccessBlock": "PutAccountPublicAccessBlock"},
        "DELETE": {"publicAccessBlock": "PutAccountPublicAccessBlock"},
    },
}


def _name_iam_actions() -> None:
    for kind, methods in IAM_ACTIONS.items():
        for method, actions in methods.items():
            ACTION_MAP[kind][method].update(actions)


#: S3 Control's operations -> the IAM action S3 checks (moto checks `s3:<Operation>`).
#: https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_GetPublicAccessBlock.html (and
#: Put..., Delete...: "you must have the s3:PutAccountPublicAccessBlock permission")
ACCOUNT_ACTIONS = {
    "GetPublicAccessBlock": "GetAccountPublicAccessBlock",
    "PutPublicAccessBlock": "PutAccountPublicAccessBlock",
    "DeletePublicAccessBlock": "PutAccountPublicAccessBlock",
}


class AccountIAMRequest(IAMRequest):
    """moto's IAM check of an S3 Control request, with S3's action names and S3's refusal (403
    AccessDenied in an S3 error document, which moto leaves unparseable for s3control)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["action"] = ACCOUNT_ACTIONS.get(kwargs["action"], kwargs["action"])
        super().__init__(**kwargs)

    def _raise_access_denied(self) -> None:
        raise S3Refusal(403, "AccessDenied", "Access Denied")


def _authorize_account_action(self: S3ControlResponse, resource: str = "*") -> None:
    self._authenticate_and_authorize_action(AccountIAMRequest, resource)


def install() -> None:
    _name_iam_actions()
    S3ControlResponse._authenticate_and_authorize_normal_action = _authorize_account_action  # type: ignore[method-assign,assignment]
    S3Backend.put_bucket_acl = put_bucket_acl  # type: ignore[method-assign]
    S3Backend.put_bucket_policy = put_bucket_policy  # type: ignore[method-assign]
    S3Backend.put_bucket_encryption = put_bucket_encryption  # type: ignore[method-assign]
    FakeBucket._log_permissions_enabled_policy = staticmethod(log_delivery_allowed)  # type: ignore[method-assign]
