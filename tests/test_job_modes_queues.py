"""The queue, topic, stream, function and load-balancer jobs in every mode, on moto, run as the
worker runs them (tests/job_modes.py): SQS public access and encryption, SNS encryption, Kinesis
encryption, Lambda public access, ELB (Classic and v2) access logs. For each: `exercise` (verify
3 -> 0, plan sends no mutating request, remediate records, a second run changes nothing, rollback
restores, rollback refuses after tampering), what the job keeps, and one ERROR line and exit 1 for
a resource that does not exist.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import pytest

from remedy.jobkit.public_statements import is_public
from sandbox.aws import AwsSandbox
from tests.job_modes import Case, Run, exercise
from tests.test_jobs import ACCOUNT, REGION, payload


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_fails_cleanly(run: Run, job: str, object_id: str, **parameters: Any) -> None:
    done = run(job, payload(object_id, "rule-x", **parameters))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1, str(done)
    assert "Traceback" not in done.stderr
    assert done.mutating == []


# ----------------------------------------------------------------------------------------------
# Which statements are public (remedy/jobkit/public_statements.py)
# ----------------------------------------------------------------------------------------------

SOURCE = "arn:aws:sns:us-east-1:123456789012:alerts"


@pytest.mark.parametrize(
    ("principal", "condition", "public"),
    [
        ("*", None, True),
        ({"AWS": "*"}, None, True),
        ({"AWS": ["arn:aws:iam::123456789012:root", "*"]}, None, True),
        ({"AWS": "arn:aws:iam::123456789012:root"}, None, False),
        ({"Service": "sns.amazonaws.com"}, None, False),
        ("*", {"ArnEquals": {"aws:SourceArn": SOURCE}}, False),
        ("*", {"StringEquals": {"AWS:SourceAccount": "123456789012"}}, False),  # any case
        ("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, False),
        ("*", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, False),
        ("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, True),
        ("*", {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*"}}, True),  # a wildcard
        ("*", {"ArnEqualsIfExists": {"aws:SourceArn": SOURCE}}, True),  # absent key passes
        ("*", {"StringNotEquals": {"aws:SourceAccount": "123456789012"}}, True),  # negated
        ("*", {"Bool": {"aws:SecureTransport": "true"}}, True),  # limits no caller
    ],
)
def test_which_statements_are_public(principal: Any, condition: Any, public: bool) -> None:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sqs:*"}
    if condition is not None:
        statement["Condition"] = condition
    assert is_public(statement) is public
    assert is_public({**statement, "Effect": "Deny"}) is False


# ----------------------------------------------------------------------------------------------
# SQS: public queue policy
# ----------------------------------------------------------------------------------------------

PUBLIC_SEND = {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}
PUBLIC_AWS_STAR = {
    "Sid": "PublicReceive",
    "Effect": "Allow",
    "Principal": {"AWS": ["*"]},
    "Action": ["sqs:ReceiveMessage"],
    "Condition": {"StringLike": {"aws:SourceArn": "arn:aws:sns:*"}},  # a wildcard limits nothing
}
FROM_TOPIC = {
    "Sid": "FromTopic",
    "Effect": "Allow",
    "Principal": "*",
    "Action": "sqs:SendMessage",
    "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"}},
}
OWN_ACCOUNT = {
    "Sid": "Account",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "sqs:*",
}


def new_queue(sandbox: AwsSandbox, statements: list[dict[str, Any]] | None, **attrs: str) -> str:
    sqs = sandbox.admin_client("sqs")
    attributes = dict(attrs)
    if statements is not None:
        attributes["Policy"] = json.dumps(
            {"Version": "2012-10-17", "Id": "queue-policy", "Statement": statements}
        )
    url: str = sqs.create_queue(QueueName=unique("remedy-q"), Attributes=attributes)["QueueUrl"]
    return url


def queue_attributes(sandbox: AwsSandbox, url: str) -> dict[str, Any]:
    found = sandbox.admin_client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    attributes: dict[str, Any] = found["Attributes"]
    if "Policy" in attributes:
        attributes["Policy"] = json.loads(attributes["Policy"])
    for volatile in ("LastModifiedTimestamp", "ApproximateNumberOfMessages"):
        attributes.pop(volatile, None)
    return attributes


def queue_arn(url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[-1]}"


def test_sqs_public_policy_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    url = new_queue(aws_sandbox, [PUBLIC_SEND, FROM_TOPIC, PUBLIC_AWS_STAR, OWN_ACCOUNT])
    sqs = aws_sandbox.admin_client("sqs")

    def state() -> Any:
        return queue_attributes(aws_sandbox, url).get("Policy")

    def tamper() -> None:  # someone adds a statement after the fix
        policy = state()
        policy["Statement"].append({**OWN_ACCOUNT, "Sid": "Later"})
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})

    # Security Hub names the queue by ARN
    finding = payload(queue_arn(url), "09639b9d-98e8-493b-b8a4-916775a7dea9")
    exercise(run, Case("aws_sqs_queue_publicly_accessible", finding, state, tamper))


def test_sqs_public_policy_keeps_every_other_statement(aws_sandbox: AwsSandbox, run: Run) -> None:
    url = new_queue(aws_sandbox, [PUBLIC_SEND, FROM_TOPIC, OWN_ACCOUNT], DelaySeconds="7")
    done = run("aws_sqs_queue_publicly_accessible", payload(url, "rule-x"))
    assert done.returncode == 0, str(done)
    assert done.changes == [
        f"CHANGE: {url.rsplit('/', 1)[-1]}: removed statement 'Public' (Allow sqs:SendMessage to *)"
        " from the queue policy"
    ]
    attributes = queue_attributes(aws_sandbox, url)
    assert attributes["Policy"] == {
        "Version": "2012-10-17",
        "Id": "queue-policy",
        "Statement": [FROM_TOPIC, OWN_ACCOUNT],
    }
    assert attributes["DelaySeconds"] == "7"


def test_sqs_public_statement_naming_others_keeps_them(aws_sandbox: AwsSandbox, run: Run) -> None:
    mixed = {**PUBLIC_SEND, "Principal": {"AWS": ["*", f"arn:aws:iam::{ACCOUNT}:root"]}}
    url = new_queue(aws_sandbox, [mixed])
    done = run("aws_sqs_queue_publicly_accessible", payload(url, "rule-x"))
    assert done.returncode == 0, str(done)
    assert done.changes == [
        f"CHANGE: {url.rsplit('/', 1)[-1]}: removed * from the principals of statement 'Public'"
        " (Allow sqs:SendMessage to *)"
    ]
    narrowed = {**PUBLIC_SEND, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}
    assert queue_attributes(aws_sandbox, url)["Policy"]["Statement"] == [narrowed]
    verified = run("aws_sqs_queue_publicly_accessible", payload(url, "rule-x"), "verify")
    assert verified.returncode == 0, str(verified)


def test_sqs_public_policy_removed_when_nothing_is_left(aws_sandbox: AwsSandbox, run: Run) -> None:
    url = new_queue(aws_sandbox, [PUBLIC_SEND])
    name = url.rsplit("/", 1)[-1]
    done = run("aws_sqs_queue_publicly_accessible", payload(name, "rule-x"))  # by name
    assert done.returncode == 0, str(done)
    assert done.changes[-1] == f"CHANGE: {name}: the queue policy had nothing else and was removed"
    assert "Policy" not in queue_attributes(aws_sandbox, url)
    undone = run(
        "aws_sqs_queue_publicly_accessible", payload(name, "rule-x"), "rollback", done.records
    )
    assert undone.returncode == 0, str(undone)
    assert queue_attributes(aws_sandbox, url)["Policy"]["Statement"] == [PUBLIC_SEND]


def test_sqs_public_policy_missing_queue_fails(run: Run) -> None:
    assert_fails_cleanly(run, "aws_sqs_queue_publicly_accessible", "remedy-no-such-queue")


# ----------------------------------------------------------------------------------------------
# SQS.1: encryption
# ----------------------------------------------------------------------------------------------


def test_sqs_encryption_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    url = new_queue(aws_sandbox, [OWN_ACCOUNT], SqsManagedSseEnabled="false")
    sqs = aws_sandbox.admin_client("sqs")

    def state() -> Any:
        return queue_attributes(aws_sandbox, url)

    def tamper() -> None:  # someone moves the queue to a KMS key
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "alias/aws/sqs"})

    exercise(run, Case("sqs_enable_encryption", payload(queue_arn(url), "rule-x"), state, tamper))


def test_sqs_encryption_with_a_kms_key_keeps_the_policy(aws_sandbox: AwsSandbox, run: Run) -> None:
    url = new_queue(aws_sandbox, [OWN_ACCOUNT], SqsManagedSseEnabled="false", DelaySeconds="3")
    done = run("sqs_enable_encryption", payload(url, "rule-x", kms_key_id="alias/queues"))
    assert done.returncode == 0, str(done)
    attributes = queue_attributes(aws_sandbox, url)
    assert attributes["KmsMasterKeyId"] == "alias/queues"
    assert attributes["Policy"]["Statement"] == [OWN_ACCOUNT]  # SetQueueAttributes kept it
    assert attributes["DelaySeconds"] == "3"
    assert run("sqs_enable_encryption", payload(url, "rule-x", kms_key_id="other")).changes == []


def test_sqs_encryption_missing_queue_fails(run: Run) -> None:
    assert_fails_cleanly(run, "sqs_enable_encryption", "remedy-no-such-queue")


# ----------------------------------------------------------------------------------------------
# SNS.1: encryption
# ----------------------------------------------------------------------------------------------


def test_sns_encryption_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    sns = aws_sandbox.admin_client("sns")
    arn = sns.create_topic(Name=unique("remedy-topic"), Attributes={"DisplayName": "alerts"})[
        "TopicArn"
    ]

    def state() -> Any:
        found = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        return {k: found.get(k) for k in ("KmsMasterKeyId", "DisplayName", "Policy")}

    def tamper() -> None:
        sns.set_topic_attributes(
            TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue="alias/mine"
        )

    exercise(run, Case("sns_enable_encryption", payload(arn, "rule-x"), state, tamper))
    assert state()["DisplayName"] == "alerts"


def test_sns_encryption_keeps_a_key_and_takes_a_name(aws_sandbox: AwsSandbox, run: Run) -> None:
    sns = aws_sandbox.admin_client("sns")
    name = unique("remedy-topic")
    arn = sns.create_topic(Name=name)["TopicArn"]
    done = run("sns_enable_encryption", payload(name, "rule-x", kms_key_id="alias/topics"))
    assert done.returncode == 0, str(done)
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"] == "alias/topics"
    again = run("sns_enable_encryption", payload(arn, "rule-x"))  # another key: kept
    assert again.returncode == 0 and again.changes == [], str(again)
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["KmsMasterKeyId"] == "alias/topics"


def test_sns_encryption_missing_topic_fails(run: Run) -> None:
    assert_fails_cleanly(
        run, "sns_enable_encryption", f"arn:aws:sns:{REGION}:{ACCOUNT}:remedy-no-such-topic"
    )


# ----------------------------------------------------------------------------------------------
# Kinesis.1: encryption
# ----------------------------------------------------------------------------------------------


def test_kinesis_encryption_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    kinesis = aws_sandbox.admin_client("kinesis")
    name = unique("remedy-stream")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]

    def state() -> Any:
        found = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return {k: found.get(k) for k in ("EncryptionType", "KeyId", "OpenShardCount")}

    def tamper() -> None:  # someone re-encrypts the stream with their own key
        kinesis.stop_stream_encryption(
            StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis"
        )
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/mine")

    finding = payload(arn, "ce603728-d631-4bae-8657-c22da6e5944e")
    exercise(run, Case("kinesis_encrypt_stream", finding, state, tamper))
    assert state()["OpenShardCount"] == 2


def test_kinesis_encryption_keeps_an_existing_key(aws_sandbox: AwsSandbox, run: Run) -> None:
    kinesis = aws_sandbox.admin_client("kinesis")
    name = unique("remedy-stream")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/mine")
    done = run("kinesis_encrypt_stream", payload(name, "rule-x"))
    assert done.returncode == 0 and done.changes == [] and done.mutating == [], str(done)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["KeyId"] == "alias/mine"


def test_kinesis_encryption_missing_stream_fails(run: Run) -> None:
    assert_fails_cleanly(run, "kinesis_encrypt_stream", "remedy-no-such-stream")


# ----------------------------------------------------------------------------------------------
# Lambda.1: public function policy
# ----------------------------------------------------------------------------------------------


def zipped_handler() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def new_function(sandbox: AwsSandbox) -> str:
    iam = sandbox.admin_client("iam")
    role = unique("remedy-lambda-role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    name = unique("remedy-fn")
    sandbox.admin_client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=arn,
        Handler="handler.handler",
        Code={"ZipFile": zipped_handler()},
    )
    return name


def function_statements(sandbox: AwsSandbox, name: str) -> list[str]:
    lam = sandbox.admin_client("lambda")
    try:
        policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    return sorted(json.dumps(s, sort_keys=True) for s in policy["Statement"])


def test_lambda_public_access_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    lam = aws_sandbox.admin_client("lambda")
    name = new_function(aws_sandbox)
    lam.add_permission(
        FunctionName=name, StatementId="public", Action="lambda:InvokeFunction", Principal="*"
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="from-bucket",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::remedy-uploads",
        SourceAccount=ACCOUNT,
    )

    def state() -> Any:
        return function_statements(aws_sandbox, name)

    def tamper() -> None:
        lam.add_permission(
            FunctionName=name,
            StatementId="later",
            Action="lambda:GetFunction",
            Principal=f"arn:aws:iam::{ACCOUNT}:root",
        )

    exercise(run, Case("lambda_remove_public_access", payload(name, "rule-x"), state, tamper))


def test_lambda_public_access_keeps_limited_statements(aws_sandbox: AwsSandbox, run: Run) -> None:
    lam = aws_sandbox.admin_client("lambda")
    name = new_function(aws_sandbox)
    lam.add_permission(
        FunctionName=name, StatementId="public", Action="lambda:InvokeFunction", Principal="*"
    )
    lam.add_permission(  # `*` limited to one source account: not public
        FunctionName=name,
        StatementId="account",
        Action="lambda:InvokeFunction",
        Principal="*",
        SourceAccount=ACCOUNT,
    )
    done = run("lambda_remove_public_access", payload(name, "rule-x"))
    assert done.returncode == 0, str(done)
    left = [json.loads(s)["Sid"] for s in function_statements(aws_sandbox, name)]
    assert left == ["account"]
    again = run("lambda_remove_public_access", payload(name, "rule-x"))
    assert again.changes == [] and again.mutating == [], str(again)


def test_lambda_rollback_refuses_what_add_permission_cannot_write(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    name = new_function(aws_sandbox)
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    record = {
        "resource": name,
        "kind": "lambda-permission",
        "before": [
            {
                "Sid": "ip",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "lambda:InvokeFunction",
                "Resource": arn,
                "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
            }
        ],
        "after": [],
    }
    done = run("lambda_remove_public_access", payload(name, "rule-x"), "rollback", [record])
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "AddPermission cannot write" in done.errors[0], str(done)
    assert done.mutating == []


def test_lambda_missing_function_fails(run: Run) -> None:
    assert_fails_cleanly(run, "lambda_remove_public_access", "remedy-no-such-function")


# ----------------------------------------------------------------------------------------------
# ELB.5: access logs, Classic and v2
# ----------------------------------------------------------------------------------------------

ELB_ACCOUNT_US_EAST_1 = "127311923021"


def log_bucket(sandbox: AwsSandbox) -> str:
    s3 = sandbox.admin_client("s3")
    bucket = unique("remedy-elb-logs")
    s3.create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ELB_ACCOUNT_US_EAST_1}:root"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return bucket


def new_classic(sandbox: AwsSandbox) -> str:
    name = unique("remedy-clb")[:32]
    elb = sandbox.admin_client("elb")
    elb.create_load_balancer(
        LoadBalancerName=name,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
        AvailabilityZones=[f"{REGION}a"],
    )
    elb.modify_load_balancer_attributes(
        LoadBalancerName=name,
        LoadBalancerAttributes={"ConnectionDraining": {"Enabled": True, "Timeout": 120}},
    )
    return name


def classic_attributes(sandbox: AwsSandbox, name: str) -> Any:
    elb = sandbox.admin_client("elb")
    found = elb.describe_load_balancer_attributes(LoadBalancerName=name)
    return found["LoadBalancerAttributes"]


def new_v2(sandbox: AwsSandbox) -> str:
    ec2 = sandbox.admin_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    elbv2 = sandbox.admin_client("elbv2")
    arn: str = elbv2.create_load_balancer(Name=unique("remedy-alb")[:32], Subnets=subnets)[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    return arn


def v2_attributes(sandbox: AwsSandbox, arn: str) -> dict[str, str]:
    found = sandbox.admin_client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)
    attributes = {a["Key"]: a["Value"] for a in found["Attributes"]}
    # moto leaves access_logs.s3.enabled out until it is set; AWS always lists it
    attributes.setdefault("access_logs.s3.enabled", "false")
    return attributes


def test_elb_classic_access_logs_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    name = new_classic(aws_sandbox)
    bucket = log_bucket(aws_sandbox)
    elb = aws_sandbox.admin_client("elb")

    def state() -> Any:
        return classic_attributes(aws_sandbox, name)

    def tamper() -> None:  # someone moves the logs to another prefix
        elb.modify_load_balancer_attributes(
            LoadBalancerName=name,
            LoadBalancerAttributes={
                "AccessLog": {"Enabled": True, "S3BucketName": bucket, "S3BucketPrefix": "other"}
            },
        )

    finding = payload(name, "657c46b7-1cd0-4cce-80bb-9d195f49c987", bucket=bucket, prefix="lb")
    exercise(run, Case("elb_enable_access_logs", finding, state, tamper))
    run("elb_enable_access_logs", {**finding, "remediationParameters": {"bucket": bucket}})
    attributes = state()
    assert attributes["AccessLog"]["Enabled"] is True
    assert attributes["ConnectionDraining"] == {"Enabled": True, "Timeout": 120}  # kept


def test_elb_v2_access_logs_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    arn = new_v2(aws_sandbox)
    bucket = log_bucket(aws_sandbox)
    elbv2 = aws_sandbox.admin_client("elbv2")

    def state() -> Any:
        return v2_attributes(aws_sandbox, arn)

    def tamper() -> None:
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=[{"Key": "access_logs.s3.prefix", "Value": "other"}]
        )

    finding = payload(arn, "657c46b7-1cd0-4cce-80bb-9d195f49c987", bucket=bucket)
    exercise(run, Case("elb_enable_access_logs", finding, state, tamper))


def test_elb_v2_by_name_keeps_other_attributes(aws_sandbox: AwsSandbox, run: Run) -> None:
    arn = new_v2(aws_sandbox)
    bucket = log_bucket(aws_sandbox)
    name = arn.split("/")[-2]
    done = run("elb_enable_access_logs", payload(name, "rule-x", bucket=bucket, prefix="alb"))
    assert done.returncode == 0, str(done)
    attributes = v2_attributes(aws_sandbox, arn)
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == bucket
    assert attributes["access_logs.s3.prefix"] == "alb"
    assert attributes["deletion_protection.enabled"] == "true"  # kept


def test_elb_access_logs_need_a_bucket(aws_sandbox: AwsSandbox, run: Run) -> None:
    name = new_classic(aws_sandbox)
    done = run("elb_enable_access_logs", payload(name, "rule-x"))
    assert done.returncode == 2, str(done)
    assert len(done.errors) == 1 and "remediationParameters.bucket" in done.errors[0]
    assert done.mutating == []


def test_elb_access_logs_to_a_bucket_elb_cannot_write_fail(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    name = new_classic(aws_sandbox)
    bucket = unique("remedy-closed")
    aws_sandbox.admin_client("s3").create_bucket(Bucket=bucket)  # no policy for the ELB account
    done = run("elb_enable_access_logs", payload(name, "rule-x", bucket=bucket))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "Access Denied for bucket" in done.errors[0], str(done)
    assert classic_attributes(aws_sandbox, name)["AccessLog"]["Enabled"] is False


def test_elb_missing_load_balancer_fails(run: Run) -> None:
    assert_fails_cleanly(run, "elb_enable_access_logs", "remedy-no-such-lb", bucket="b")


# ----------------------------------------------------------------------------------------------
# AutoScaling.1: ELB health checks for groups that serve a load balancer
# ----------------------------------------------------------------------------------------------


def new_group(sandbox: AwsSandbox, balancers: list[str]) -> str:
    autoscaling = sandbox.admin_client("autoscaling")
    image = sandbox.admin_client("ec2").describe_images()["Images"][0]["ImageId"]
    config = unique("remedy-lc")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=config, ImageId=image, InstanceType="t3.micro"
    )
    name = unique("remedy-asg")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=config,
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=0,
        HealthCheckGracePeriod=240,
        AvailabilityZones=[f"{REGION}a"],
        LoadBalancerNames=balancers,
    )
    return name


def group_settings(sandbox: AwsSandbox, name: str) -> dict[str, Any]:
    found = sandbox.admin_client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[name]
    )["AutoScalingGroups"][0]
    keys = ("HealthCheckType", "HealthCheckGracePeriod", "MaxSize", "LoadBalancerNames")
    return {k: found.get(k) for k in keys}


def test_autoscaling_elb_health_check_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    name = new_group(aws_sandbox, [new_classic(aws_sandbox)])
    autoscaling = aws_sandbox.admin_client("autoscaling")

    def state() -> Any:
        return group_settings(aws_sandbox, name)

    def tamper() -> None:
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, HealthCheckType="EC2")

    exercise(run, Case("autoscaling_use_elb_health_check", payload(name, "rule-x"), state, tamper))
    run("autoscaling_use_elb_health_check", payload(name, "rule-x"))
    assert state()["HealthCheckType"] == "ELB"
    assert state()["HealthCheckGracePeriod"] == 240  # kept


def test_autoscaling_group_without_load_balancer_is_left_alone(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    name = new_group(aws_sandbox, [])
    done = run("autoscaling_use_elb_health_check", payload(name, "rule-x"))
    assert done.returncode == 0 and done.changes == [] and done.mutating == [], str(done)
    assert (
        run("autoscaling_use_elb_health_check", payload(name, "rule-x"), "verify").returncode == 0
    )
    assert group_settings(aws_sandbox, name)["HealthCheckType"] == "EC2"


def test_autoscaling_missing_group_fails(run: Run) -> None:
    assert_fails_cleanly(run, "autoscaling_use_elb_health_check", "remedy-no-such-group")


# ----------------------------------------------------------------------------------------------
# SSM.4: public documents
# ----------------------------------------------------------------------------------------------

DOCUMENT = {
    "schemaVersion": "2.2",
    "description": "remedy test",
    "mainSteps": [
        {"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": ["true"]}}
    ],
}
OTHER_ACCOUNT = "210987654321"


def new_document(sandbox: AwsSandbox, accounts: list[str]) -> str:
    ssm = sandbox.admin_client("ssm")
    name = unique("remedy-doc")
    ssm.create_document(Name=name, Content=json.dumps(DOCUMENT), DocumentType="Command")
    for account in accounts:  # "all", or named accounts, never both in one call (as on AWS)
        ssm.modify_document_permission(Name=name, PermissionType="Share", AccountIdsToAdd=[account])
    return name


def document_shares(sandbox: AwsSandbox, name: str) -> list[str]:
    found = sandbox.admin_client("ssm").describe_document_permission(
        Name=name, PermissionType="Share"
    )
    return sorted(found.get("AccountIds", []))


def test_ssm_document_private_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    name = new_document(aws_sandbox, ["all"])
    ssm = aws_sandbox.admin_client("ssm")

    def state() -> Any:
        return document_shares(aws_sandbox, name)

    def tamper() -> None:  # someone shares the private document with another account
        ssm.modify_document_permission(
            Name=name, PermissionType="Share", AccountIdsToAdd=[OTHER_ACCOUNT]
        )

    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/{name}"
    exercise(run, Case("ssm_make_document_private", payload(arn, "rule-x"), state, tamper))


def test_ssm_document_shared_with_named_accounts_is_kept(aws_sandbox: AwsSandbox, run: Run) -> None:
    name = new_document(aws_sandbox, [OTHER_ACCOUNT])
    done = run("ssm_make_document_private", payload(name, "rule-x"))
    assert done.returncode == 0 and done.changes == [] and done.mutating == [], str(done)
    assert run("ssm_make_document_private", payload(name, "rule-x"), "verify").returncode == 0
    assert document_shares(aws_sandbox, name) == [OTHER_ACCOUNT]


def test_ssm_missing_document_fails(run: Run) -> None:
    assert_fails_cleanly(run, "ssm_make_document_private", "remedy-no-such-document")
