"""AWS and its services. A job gets a client from `remedy.jobkit.client(name, finding)`.

Every AWS client is boto3's, from the default session (under the fork server that session has
the warmed service models loaded: a new Session would parse them again, ~80 ms for EC2), in the
job's region, with boto3's standard retries. AWS_ENDPOINT_URL, which boto3 honours, points it at
the sandbox in tests and the demo.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from remedy.services.registry import Provider, Service, Tagging, WarmUp, register, register_provider

#: Ids of EC2 resources, recognised when the finding names no resource type.
EC2_ID_PREFIXES = (
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
    "tgw-",
)


def boto3_client(service: str, region: str) -> Any:
    """A client of the default session, from the environment's credentials."""
    import boto3  # here, not at import: the registry stays stdlib-only
    from botocore.config import Config

    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )


def _aws(
    name: str,
    *,
    client: Any = None,
    permissions: dict[str, str] | None = None,
    resource_types: tuple[str, ...] = (),
    tagging: Tagging | None = None,
    spare_client: bool = False,
    iam_prefix: str = "",
    implied: dict[str, tuple[str, ...]] | None = None,
) -> Service:
    return register(
        Service(
            name=name,
            provider="aws",
            client=client or partial(boto3_client, name),
            permissions=permissions or {},
            resource_types=resource_types,
            tagging=tagging,
            warm_up=WarmUp(boto3_model=True, spare_client=spare_client),
            iam_prefix=iam_prefix,
            distribution="boto3",
            implied=implied or {},
        )
    )


AWS = register_provider(
    Provider(
        name="aws",
        title="AWS",
        job_variables=frozenset(
            {
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_DEFAULT_REGION",
            }
        ),
        endpoint_variables=("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"),
        permission_rule="{prefix}:{operation}",
        service_prefixed_types=True,
    )
)

STS = _aws("sts", spare_client=True)
#: EC2's resource types; `ec2:account` (a region-level setting) is not a resource to tag.
EC2_TAGGABLE = (
    "ec2:instance",
    "ec2:security-group",
    "ec2:network-acl",
    "ec2:subnet",
    "ec2:vpc",
    "ec2:snapshot",
    "ec2:transit-gateway",
)
EC2 = _aws(
    "ec2",
    resource_types=(*EC2_TAGGABLE, "ec2:account"),
    tagging=Tagging(method="ec2", id_prefixes=EC2_ID_PREFIXES, resource_types=EC2_TAGGABLE),
    spare_client=True,
    # A flow log to CloudWatch Logs passes its delivery role; one to S3 makes the caller create
    # (and a deletion delete) the log delivery (VPC User Guide, "Flow logs": IAM permissions).
    implied={
        "CreateFlowLogs": ("iam:PassRole", "logs:CreateLogDelivery"),
        "DeleteFlowLogs": ("logs:DeleteLogDelivery",),
    },
)
S3 = _aws(
    "s3",
    # Operations whose IAM action is spelled differently from the API's name.
    permissions={
        "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
        "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeletePublicAccessBlock.html
        "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
        "GetBucketEncryption": "s3:GetEncryptionConfiguration",
        "PutBucketEncryption": "s3:PutEncryptionConfiguration",
        "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
        "HeadBucket": "s3:ListBucket",
        "ListObjects": "s3:ListBucket",
        "ListObjectsV2": "s3:ListBucket",
    },
    resource_types=("s3:bucket",),
    tagging=Tagging(method="s3", resource_types=("s3:bucket",)),
    spare_client=True,
)
IAM = _aws(
    "iam",
    resource_types=(
        "iam:account",
        "iam:user",
        "iam:access-key",
        "iam:server-certificate",
        "iam:role",
    ),
)
# The services of the AWS catalogue (jobs/). Each lists the resource types its jobs name in
# remedy.json; account- or region-level controls name `<service>:account` (the finding's account
# and region are the target). Resources named by ARN are tagged through the tagging API below.


def _label_free(endpoint: str | None) -> bool:
    """True when a DNS label cannot go in front of the endpoint's host: an IP address or
    localhost (a sandbox, a local proxy), never an AWS endpoint."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(endpoint or "").hostname or ""
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def s3control_client(region: str) -> Any:
    """An s3control client. S3 Control names the account in the host
    (`<account>.s3-control.<region>.amazonaws.com`), and botocore puts that label in front of a
    custom endpoint too, which cannot resolve when the endpoint is an IP address or localhost
    (`at_endpoint`)."""
    return at_endpoint(boto3_client("s3control", region))


def at_endpoint(client: Any) -> Any:
    """An s3control client whose custom endpoint is an IP address or localhost (a sandbox, a
    local proxy) sends its requests to that endpoint itself rather than to `<account>.<it>`,
    which cannot resolve: the account is in the `x-amz-account-id` header too, which S3 Control
    (and moto) read. The host is changed before the request is signed. Other clients unchanged."""
    from urllib.parse import urlsplit, urlunsplit

    if not _label_free(client.meta.endpoint_url):
        return client
    authority = urlsplit(client.meta.endpoint_url).netloc

    def unlabel(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        label, _, rest = parts.netloc.partition(".")
        if label.isdigit() and rest == authority:
            request.url = urlunsplit(parts._replace(netloc=rest))

    client.meta.events.register_first("before-sign.s3-control", unlabel)
    return client


S3_CONTROL = _aws(
    "s3control",
    client=s3control_client,
    # s3control's operations are account-level S3 actions; deleting the account's block needs
    # the Put action (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_DeletePublicAccessBlock.html)
    permissions={
        "GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
        "PutPublicAccessBlock": "s3:PutAccountPublicAccessBlock",
        "DeletePublicAccessBlock": "s3:PutAccountPublicAccessBlock",
    },
    resource_types=("s3control:account",),
    iam_prefix="s3",
)
RDS = _aws("rds", resource_types=("rds:db-instance", "rds:db-snapshot", "rds:db-cluster-snapshot"))
KMS = _aws("kms", resource_types=("kms:key",))
CLOUDTRAIL = _aws(
    "cloudtrail",
    resource_types=("cloudtrail:trail", "cloudtrail:account"),
    # A trail's CloudWatch Logs role is handed to CloudTrail: IAM checks iam:PassRole on it
    # (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/send-cloudtrail-events-to-cloudwatch-logs.html).
    implied={"CreateTrail": ("iam:PassRole",), "UpdateTrail": ("iam:PassRole",)},
)
CONFIG = _aws(
    "config",
    resource_types=("config:account",),
    # the recorder's role is passed to AWS Config
    implied={"PutConfigurationRecorder": ("iam:PassRole",)},
)
LOGS = _aws("logs", resource_types=("logs:log-group",))
CLOUDWATCH = _aws("cloudwatch", resource_types=("cloudwatch:account", "cloudwatch:alarm"))
SNS = _aws("sns", resource_types=("sns:topic",))
SQS = _aws("sqs", resource_types=("sqs:queue",))
KINESIS = _aws("kinesis", resource_types=("kinesis:stream",))
LAMBDA = _aws("lambda", resource_types=("lambda:function",))
ELB = _aws("elb", resource_types=("elb:load-balancer",), iam_prefix="elasticloadbalancing")
ELBV2 = _aws("elbv2", resource_types=("elbv2:load-balancer",), iam_prefix="elasticloadbalancing")
GUARDDUTY = _aws(
    "guardduty",
    resource_types=("guardduty:account",),
    # the first detector creates GuardDuty's service-linked role
    implied={"CreateDetector": ("iam:CreateServiceLinkedRole",)},
)
SSM = _aws("ssm", resource_types=("ssm:document",))
REDSHIFT = _aws("redshift", resource_types=("redshift:cluster",))
AUTOSCALING = _aws("autoscaling", resource_types=("autoscaling:group",))
DYNAMODB = _aws("dynamodb", resource_types=("dynamodb:table",))
# Any other resource named by its ARN is tagged through the Resource Groups Tagging API.
TAGGING_API = _aws(
    "resourcegroupstaggingapi",
    tagging=Tagging(method="arn", id_prefixes=("arn:",)),
    iam_prefix="tag",
)
