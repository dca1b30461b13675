"""What SQS and Elastic Load Balancing do and moto (5.x) does not, for the calls the queue and
load-balancer jobs (jobs/aws_sqs_queue_publicly_accessible, sqs_enable_encryption,
elb_enable_access_logs) and their tests make.

Installed into the sandbox's moto server by sandbox/moto_server.py:

- SetQueueAttributes changes only the attributes it names: moto's drops the queue policy of any
  call that names other attributes (say SqsManagedSseEnabled). AWS: "SetQueueAttributes: Sets
  the value of one or more queue attributes" and only those
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html);
- a queue Policy that is not a JSON object with a Statement: 400 InvalidAttributeValue "Invalid
  value for the parameter Policy." (same page, Errors: InvalidAttributeValue, "A queue attribute
  value is invalid"); moto answers 500. An empty Policy removes it, as on AWS;
- access logs turned on (Classic: AccessLog Enabled; Application/Network:
  access_logs.s3.enabled=true) to a bucket that does not exist or whose policy does not let
  Elastic Load Balancing put objects (the region's ELB account, or the log-delivery service
  principals): InvalidConfigurationRequest "Access Denied for bucket: <bucket>. Please check
  S3bucket permission" (409 on Classic, 400 on v2)
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/enable-access-logs.html and
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html,
  "Bucket permissions"; the error text: the troubleshooting note "Access Denied for bucket");
- DescribeLoadBalancerAttributes / ModifyLoadBalancerAttributes of a Classic load balancer that
  does not exist: LoadBalancerNotFound (400)
  (https://docs.aws.amazon.com/elasticloadbalancing/2012-06-01/APIReference/API_DescribeLoadBalancerAttributes.html,
  Errors: AccessPointNotFound, code LoadBalancerNotFound); moto answers 500;
- ModifyLoadBalancerAttributes (Classic) changes only the attributes it names: moto appends
  another elb.http.desyncmitigationmode to AdditionalAttributes on every call that names none.

(The fix of moto's signature check that Lambda's reads need is sandbox/moto_signing.py.)
"""

from __future__ import annotations

import json
from typing import Any

from moto.elb.exceptions import ELBClientError, LoadBalancerNotFoundError
from moto.elb.models import ELBBackend
from moto.elb.responses import ELBResponse
from moto.elbv2.exceptions import InvalidConfigurationRequest
from moto.elbv2.models import ELBv2Backend
from moto.s3.models import s3_backends
from moto.sqs.exceptions import InvalidAttributeValue
from moto.sqs.models import Queue, SQSBackend

#: Elastic Load Balancing's account per region (the bucket policy names one of them), from the
#: access-log pages above; newer regions use the log-delivery service principal instead.
ELB_ACCOUNTS = frozenset(
    {
        "127311923021",  # us-east-1
        "033677994240",  # us-east-2
        "027434742980",  # us-west-1
        "797873946194",  # us-west-2
        "985666609251",  # ca-central-1
        "054676820928",  # eu-central-1
        "156460612806",  # eu-west-1
        "652711504416",  # eu-west-2
        "009996457667",  # eu-west-3
        "897822967062",  # eu-north-1
        "582318560864",  # ap-northeast-1
        "600734575887",  # ap-northeast-2
        "114774131450",  # ap-southeast-1
        "783225319266",  # ap-southeast-2
        "718504428378",  # ap-south-1
        "507241528517",  # sa-east-1
    }
)
LOG_SERVICES = frozenset(
    {"logdelivery.elasticloadbalancing.amazonaws.com", "delivery.logs.amazonaws.com"}
)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _lets_elb_write(policy: Any) -> bool:
    try:
        document = json.loads(policy) if policy else {}
    except ValueError:
        return False
    for statement in _listed(document.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = {str(a).lower() for a in _listed(statement.get("Action", []))}
        if not actions & {"s3:putobject", "s3:*", "*"}:
            continue
        principal = statement.get("Principal")
        if not isinstance(principal, dict):
            continue
        accounts = {
            str(p).split(":")[4] if str(p).startswith("arn:") else str(p)
            for p in _listed(principal.get("AWS", []))
        }
        services = {str(s) for s in _listed(principal.get("Service", []))}
        if accounts & ELB_ACCOUNTS or services & LOG_SERVICES:
            return True
    return False


def _writable(account_id: str, bucket: str) -> bool:
    try:
        found = s3_backends[account_id]["aws"].get_bucket(bucket)
    except Exception:  # MissingBucket, an invalid name
        return False
    return _lets_elb_write(found.policy)


def _denied(bucket: str) -> str:
    return f"Access Denied for bucket: {bucket}. Please check S3bucket permission"


# --- SQS -----------------------------------------------------------------------------------

_set_attributes = Queue._set_attributes
_set_queue_attributes = SQSBackend.set_queue_attributes


def set_attributes(self: Queue, attributes: dict[str, Any], now: float | None = None) -> None:
    if "Policy" not in attributes and hasattr(self, "_policy_json"):
        attributes = {**attributes, "Policy": self.policy}  # keep the policy it has
    _set_attributes(self, attributes, now)


def set_queue_attributes(self: SQSBackend, queue_name: str, attributes: dict[str, Any]) -> Queue:
    if attributes.get("Policy"):
        try:
            document = json.loads(attributes["Policy"])
        except ValueError:
            document = None
        if not isinstance(document, dict) or "Statement" not in document:
            raise InvalidAttributeValue("Policy")
    return _set_queue_attributes(self, queue_name, attributes)


# --- ELB -------------------------------------------------------------------------------------

_classic_modify = ELBBackend.modify_load_balancer_attributes
_v2_modify = ELBv2Backend.modify_load_balancer_attributes


def classic_modify(self: ELBBackend, load_balancer_name: str, **kwargs: Any) -> None:
    log = kwargs.get("access_log") or {}
    enabled = str(log.get("Enabled", log.get("enabled", ""))).lower() == "true"
    bucket = log.get("S3BucketName") or log.get("s3_bucket_name") or ""
    if enabled and not _writable(self.account_id, bucket):
        raise ELBClientError("InvalidConfigurationRequest", _denied(bucket))
    balancer = self.get_load_balancer(load_balancer_name)
    kept = list(balancer.attributes.get("additional_attributes") or []) if balancer else []
    _classic_modify(self, load_balancer_name, **kwargs)
    if balancer is not None and not kwargs.get("additional_attributes") and kept:
        balancer.attributes["additional_attributes"] = kept  # moto appends a default each call


def v2_modify(self: ELBv2Backend, arn: str, attrs: dict[str, Any]) -> dict[str, Any]:
    if str(attrs.get("access_logs.s3.enabled", "")).lower() == "true":
        balancer = self.load_balancers.get(arn)
        current = balancer.attrs if balancer is not None else {}
        bucket = attrs.get("access_logs.s3.bucket", current.get("access_logs.s3.bucket", ""))
        if not _writable(self.account_id, bucket):
            raise InvalidConfigurationRequest(_denied(bucket))
    return _v2_modify(self, arn, attrs)


_classic_describe = ELBResponse.describe_load_balancer_attributes
_classic_modify_response = ELBResponse.modify_load_balancer_attributes


def _classic_exists(response: ELBResponse) -> None:
    name = response._get_param("LoadBalancerName")
    if response.elb_backend.get_load_balancer(name) is None:
        raise LoadBalancerNotFoundError(name)


def classic_describe(self: ELBResponse) -> Any:
    _classic_exists(self)
    return _classic_describe(self)


def classic_modify_response(self: ELBResponse) -> Any:
    _classic_exists(self)
    return _classic_modify_response(self)


def install() -> None:
    ELBResponse.describe_load_balancer_attributes = classic_describe  # type: ignore[method-assign]
    ELBResponse.modify_load_balancer_attributes = classic_modify_response  # type: ignore[method-assign]
    Queue._set_attributes = set_attributes  # type: ignore[method-assign]
    SQSBackend.set_queue_attributes = set_queue_attributes  # type: ignore[method-assign]
    ELBBackend.modify_load_balancer_attributes = classic_modify  # type: ignore[method-assign,assignment]
    ELBv2Backend.modify_load_balancer_attributes = v2_modify  # type: ignore[method-assign]
