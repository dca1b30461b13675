"""What CloudTrail and KMS refuse (or say) and moto (5.x) lets through, for the calls the trail and
key jobs and their tests make. Installed into the sandbox's moto server by sandbox/moto_server.py.

CloudTrail (errors of https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
and .../API_UpdateTrail.html):

- a trail's bucket whose policy does not let `cloudtrail.amazonaws.com` call s3:GetBucketAcl on it
  and s3:PutObject on `<bucket>/[<prefix>/]AWSLogs/<account>/*`: 400
  InsufficientS3BucketPolicyException, on CreateTrail and on an UpdateTrail that names a bucket
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html);
- a KmsKeyId that names no key of the trail's region: 400 KmsKeyNotFoundException; a key whose
  policy does not let `cloudtrail.amazonaws.com` call kms:GenerateDataKey*: 400
  InsufficientEncryptionPolicyException
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html);
  the trail keeps the key's ARN, whatever form named it, as DescribeTrails shows on AWS, and an
  empty KmsKeyId takes the key off (the trail is no longer encrypted with SSE-KMS);
- IsMultiRegionTrail true while IncludeGlobalServiceEvents is (or is made) false, on UpdateTrail
  (moto checks CreateTrail only): 400 InvalidParameterCombinationException;
- a CloudWatch Logs log group ARN naming no log group of the account: 400
  InvalidCloudWatchLogsLogGroupArnException; a role ARN naming no role, or one whose trust policy
  does not let `cloudtrail.amazonaws.com` assume it: 400 InvalidCloudWatchLogsRoleArnException
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/send-cloudtrail-events-to-cloudwatch-logs.html);
  empty ARNs take CloudWatch Logs off;
- DeleteTrail by ARN deletes the trail (moto ignores an ARN silently) and of a trail that does not
  exist answers 400 TrailNotFoundException (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DeleteTrail.html);
- UpdateTrail, StartLogging, StopLogging or DeleteTrail of a multi-region trail from a region other than its
  home region: 400 InvalidHomeRegionException (moto answers TrailNotFoundException).

KMS (https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html):

- EnableKeyRotation or DisableKeyRotation of an asymmetric or HMAC key, or of a key with imported
  key material: 400 UnsupportedOperationException ("Automatic key rotation is supported only on
  symmetric encryption KMS keys"); of a key pending deletion: 400 KMSInvalidStateException
  (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html);
- CreateKey without KeyUsage makes an ENCRYPT_DECRYPT key, as KMS does (moto leaves KeyUsage
  null; https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html, "KeyUsage ...
  Default: ENCRYPT_DECRYPT");
- the AWS managed keys moto makes for the reserved aliases (`alias/aws/...`) say KeyManager AWS
  and rotation on ("The key rotation status for AWS managed KMS keys is always true",
  https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyRotationStatus.html); moto says
  CUSTOMER and off.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from moto.cloudtrail.exceptions import TrailNotFoundException
from moto.cloudtrail.models import CloudTrailBackend, Trail, cloudtrail_backends
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError
from moto.kms.models import KmsBackend, kms_backends
from moto.kms.responses import KmsResponse

SERVICE = "cloudtrail.amazonaws.com"


class TrailRefusal(JsonRESTError):
    code = 400

    def __init__(self, error: str, message: str) -> None:
        super().__init__(error, message)


# ----------------------------------------------------------------------------------------------
# Policy reading (the condition-free reading AWS's own checks make of these two service grants)
# ----------------------------------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants_service(document: Any, action: str, resource: str | None = None) -> bool:
    """Whether a policy document has an Allow of `action` to the CloudTrail service principal
    (on `resource`, when given)."""
    if not isinstance(document, dict):
        return False
    for statement in _listed(document.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else principal
        if principal != "*" and SERVICE not in _listed(services):
            continue
        actions = [str(a).lower() for a in _listed(statement.get("Action", []))]
        if not any(fnmatchcase(action.lower(), pattern) for pattern in actions):
            continue
        if resource is None or any(
            fnmatchcase(resource, str(r)) for r in _listed(statement.get("Resource", []))
        ):
            return True
    return False


def _load(text: Any) -> Any:
    try:
        return json.loads(text.decode() if isinstance(text, bytes) else text)
    except (ValueError, AttributeError, TypeError):
        return None


# ----------------------------------------------------------------------------------------------
# CloudTrail
# ----------------------------------------------------------------------------------------------


def _check_bucket(account: str, partition: str, bucket: str, prefix: str | None) -> None:
    from moto.s3.models import s3_backends

    try:
        found = s3_backends[account][partition].get_bucket(bucket)
    except Exception:  # moto's own check answers S3BucketDoesNotExistException
        return
    policy = _load(found.policy) if found.policy else None
    key = f"{prefix}/AWSLogs/{account}/x" if prefix else f"AWSLogs/{account}/x"
    if not (
        grants_service(policy, "s3:GetBucketAcl", f"arn:{partition}:s3:::{bucket}")
        and grants_service(policy, "s3:PutObject", f"arn:{partition}:s3:::{bucket}/{key}")
    ):
        raise TrailRefusal(
            "InsufficientS3BucketPolicyException",
            f"Incorrect S3 bucket policy is detected for bucket: {bucket}",
        )


def _kms_key_arn(account: str, region: str, key_id: str) -> str:
    backend: KmsBackend = kms_backends[account][region]
    try:
        key = backend.describe_key(key_id)
    except Exception:
        raise TrailRefusal(
            "KmsKeyNotFoundException",
            f"KMS key {key_id} does not exist or is not in region {region}",
        ) from None
    if not grants_service(_load(key.policy), "kms:GenerateDataKey"):
        raise TrailRefusal(
            "InsufficientEncryptionPolicyException",
            f"Insufficient permissions to access S3 bucket or KMS key {key.arn}.",
        )
    return str(key.arn)


def _check_cloudwatch(account: str, region: str, group_arn: str, role_arn: str) -> None:
    from moto.iam.models import iam_backends
    from moto.logs.models import logs_backends

    if group_arn:
        parts = group_arn.split(":")
        name = parts[6] if len(parts) > 6 and parts[5] == "log-group" else ""
        group_region = parts[3] if len(parts) > 3 else ""
        groups = logs_backends[account][group_region].groups if group_region else {}
        if name not in groups:
            raise TrailRefusal(
                "InvalidCloudWatchLogsLogGroupArnException",
                f"Log group {group_arn} is invalid or does not exist.",
            )
    if role_arn:
        role = next(
            (
                r
                for backend in iam_backends.get(account, {}).values()
                for r in backend.get_roles()
                if r.arn == role_arn
            ),
            None,
        )
        trust = _load(role.assume_role_policy_document) if role else None
        if role is None or not grants_service(trust, "sts:AssumeRole"):
            raise TrailRefusal(
                "InvalidCloudWatchLogsRoleArnException",
                "Access denied. Verify in IAM that the role has adequate permissions.",
            )


def _home_backend(self: CloudTrailResponse, name: str) -> CloudTrailBackend:
    """This region's backend, or InvalidHomeRegionException for a trail homed elsewhere."""
    backend: CloudTrailBackend = self.cloudtrail_backend
    try:
        backend.get_trail(name)
    except TrailNotFoundException:
        for other in cloudtrail_backends[self.current_account].values():
            for trail in other.trails.values():
                if trail.is_multi_region and name in (trail.trail_name, trail.arn):
                    raise TrailRefusal(
                        "InvalidHomeRegionException",
                        "This operation must be called from the trail's home region, "
                        f"{trail.region_name}.",
                    ) from None
        raise
    return backend


def _check_settings(self: CloudTrailResponse, trail: Trail | None) -> None:
    """The settings a CreateTrail or UpdateTrail asks for, checked as CloudTrail does; the
    KmsKeyId is rewritten to the key's ARN in the request."""
    account, region = self.current_account, self.region
    partition = trail.partition if trail else "aws"
    bucket = self._get_param("S3BucketName")
    if bucket:
        prefix = self._get_param("S3KeyPrefix")
        if prefix is None and trail is not None:
            prefix = trail.s3_key_prefix
        _check_bucket(account, partition, bucket, prefix)
    key_id = self._get_param("KmsKeyId")
    if key_id:
        arn = _kms_key_arn(account, region, key_id)
        body = json.loads(self.body)
        body["KmsKeyId"] = arn
        self.body = json.dumps(body)
    group = self._get_param("CloudWatchLogsLogGroupArn")
    role = self._get_param("CloudWatchLogsRoleArn")
    if group or role:
        _check_cloudwatch(account, region, group or "", role or "")
    if trail is not None:
        multi = self._get_param("IsMultiRegionTrail")
        glob = self._get_param("IncludeGlobalServiceEvents")
        multi = trail.is_multi_region if multi is None else multi
        glob = trail.include_global_service_events if glob is None else glob
        if multi and not glob:
            raise TrailRefusal(
                "InvalidParameterCombinationException",
                "Multi-Region trail must include global service events.",
            )


_create_trail = CloudTrailResponse.create_trail
_update_trail = CloudTrailResponse.update_trail
_start_logging = CloudTrailResponse.start_logging
_stop_logging = CloudTrailResponse.stop_logging


def create_trail(self: CloudTrailResponse) -> str:
    _check_settings(self, None)
    return _create_trail(self)


def update_trail(self: CloudTrailResponse) -> str:
    trail = _home_backend(self, self._get_param("Name")).get_trail(self._get_param("Name"))
    _check_settings(self, trail)
    _update_trail(self)
    # an empty string takes a setting off: AWS then leaves it out of the trail's description
    for attribute, param in (
        ("kms_key_id", "KmsKeyId"),
        ("cw_log_group_arn", "CloudWatchLogsLogGroupArn"),
        ("cw_role_arn", "CloudWatchLogsRoleArn"),
    ):
        if self._get_param(param) == "":
            setattr(trail, attribute, None)
    return json.dumps(trail.description())


def delete_trail(self: CloudTrailResponse) -> str:
    name = self._get_param("Name")
    trail = _home_backend(self, name).get_trail(name)
    del self.cloudtrail_backend.trails[trail.trail_name]
    return json.dumps({})


def start_logging(self: CloudTrailResponse) -> str:
    _home_backend(self, self._get_param("Name"))
    return _start_logging(self)


def stop_logging(self: CloudTrailResponse) -> str:
    _home_backend(self, self._get_param("Name"))
    return _stop_logging(self)


_description = Trail.description


def description(self: Trail, include_region: bool = False) -> dict[str, Any]:
    """As AWS: settings that are off are left out rather than given as null."""
    found: dict[str, Any] = _description(self, include_region)
    for key in ("KmsKeyId", "CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn"):
        if not found.get(key):
            found.pop(key, None)
    return found


# ----------------------------------------------------------------------------------------------
# KMS
# ----------------------------------------------------------------------------------------------


def _check_rotatable(self: KmsResponse) -> None:
    key_id = self._get_param("KeyId")
    try:
        key = self.kms_backend.describe_key(key_id)
    except Exception:  # moto's own check answers NotFoundException
        return
    if key.key_spec != "SYMMETRIC_DEFAULT" or key.origin != "AWS_KMS":
        raise TrailRefusal(
            "UnsupportedOperationException",
            f"{key.arn} origin is {key.origin} and key spec is {key.key_spec}: automatic key "
            "rotation is supported only on symmetric encryption KMS keys with AWS_KMS origin",
        )
    if key.key_state in ("PendingDeletion", "PendingReplicaDeletion", "PendingImport"):
        raise TrailRefusal("KMSInvalidStateException", f"{key.arn} is {key.key_state}")


_enable_key_rotation = KmsResponse.enable_key_rotation
_disable_key_rotation = KmsResponse.disable_key_rotation
_generate_default_keys = KmsBackend._generate_default_keys
_create_key = KmsBackend.create_key


def create_key(self: KmsBackend, policy: Any, key_usage: Any, *args: Any, **kwargs: Any) -> Any:
    return _create_key(self, policy, key_usage or "ENCRYPT_DECRYPT", *args, **kwargs)


def enable_key_rotation(self: KmsResponse) -> str:
    _check_rotatable(self)
    return _enable_key_rotation(self)


def disable_key_rotation(self: KmsResponse) -> str:
    _check_rotatable(self)
    return _disable_key_rotation(self)


def generate_default_keys(self: KmsBackend, alias_name: str) -> str | None:
    key_id = _generate_default_keys(self, alias_name)
    if key_id is not None:
        self.keys[key_id].key_manager = "AWS"
        self.keys[key_id].key_rotation_status = True
    return key_id


def install() -> None:
    CloudTrailResponse.create_trail = create_trail  # type: ignore[method-assign]
    CloudTrailResponse.update_trail = update_trail  # type: ignore[method-assign]
    CloudTrailResponse.start_logging = start_logging  # type: ignore[method-assign]
    CloudTrailResponse.delete_trail = delete_trail  # type: ignore[method-assign]
    CloudTrailResponse.stop_logging = stop_logging  # type: ignore[method-assign]
    Trail.description = description  # type: ignore[method-assign]
    KmsResponse.enable_key_rotation = enable_key_rotation  # type: ignore[method-assign]
    KmsResponse.disable_key_rotation = disable_key_rotation  # type: ignore[method-assign]
    KmsBackend._generate_default_keys = generate_default_keys  # type: ignore[method-assign]
    KmsBackend.create_key = create_key  # type: ignore[method-assign]
