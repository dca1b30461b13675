"""Turn on flow logging for a VPC: one flow log of rejected (or all) traffic (Security Hub EC2.6).

ObjectId: the VPC id (vpc-...). A VPC that has an active flow log capturing rejected traffic
(traffic type REJECT or ALL) is compliant and left alone. Otherwise the job creates one flow log
for the VPC, to the destination the parameters name:

- `destination_type` `s3`: to the bucket `bucket_arn` (an S3 ARN, optionally with a folder);
- `destination_type` `cloud-watch-logs`: to the log group `log_group_name`, delivered by the role
  `deliver_logs_role_arn` (the caller passes that role: iam:PassRole).

Flow logs the VPC already has (an ACCEPT-only one, say) are kept; the VPC itself is not changed.
CreateFlowLogs answers per resource: an entry in its Unsuccessful list (a bucket that does not
exist, a destination the caller may not use) is a failure, exit 1.

Plan prints the same CHANGE line after reading only. Before the change, one record (kind
`ec2-flow-log`) names the flow log it creates (VPC, traffic type, destination: AWS refuses a
second flow log of a resource to the same destination, so these identify it); rollback deletes
that flow log, once it still exists as the job created it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_ec2.type_defs import FlowLogTypeDef

KIND = "ec2-flow-log"
CAPTURES_REJECTED = ("REJECT", "ALL")
S3, CLOUDWATCH = "s3", "cloud-watch-logs"


def flow_logs(ec2: EC2Client, vpc_id: str) -> list[FlowLogTypeDef]:
    return ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]


def capturing_rejects(found: list[FlowLogTypeDef]) -> list[FlowLogTypeDef]:
    return [
        f
        for f in found
        if f.get("TrafficType") in CAPTURES_REJECTED
        and f.get("FlowLogStatus", "ACTIVE") == "ACTIVE"
    ]


def wanted(finding: jobkit.Finding) -> dict[str, str]:
    """The flow log the parameters ask for; BadInput (exit 2) when its destination is missing."""
    p = finding.parameters
    spec = {"TrafficType": str(p["traffic_type"]), "LogDestinationType": str(p["destination_type"])}
    if spec["LogDestinationType"] == S3:
        if not p.get("bucket_arn"):
            raise jobkit.BadInput(
                "remediationParameters.bucket_arn is missing: destination_type s3 needs the "
                "bucket's ARN (arn:aws:s3:::bucket or arn:aws:s3:::bucket/folder)"
            )
        spec["LogDestination"] = str(p["bucket_arn"])
    else:
        for name in ("log_group_name", "deliver_logs_role_arn"):
            if not p.get(name):
                raise jobkit.BadInput(
                    f"remediationParameters.{name} is missing: destination_type "
                    "cloud-watch-logs needs log_group_name and deliver_logs_role_arn"
                )
        spec["LogGroupName"] = str(p["log_group_name"])
        spec["DeliverLogsPermissionArn"] = str(p["deliver_logs_role_arn"])
    return spec


def is_the_one(flow_log: FlowLogTypeDef, spec: dict[str, Any]) -> bool:
    """Whether a flow log is the one a record says the job created."""
    if flow_log.get("TrafficType") != spec["TrafficType"]:
        return False
    if flow_log.get("LogDestinationType", CLOUDWATCH) != spec["LogDestinationType"]:
        return False
    if spec["LogDestinationType"] == S3:
        return flow_log.get("LogDestination") == spec["LogDestination"]
    return flow_log.get("LogGroupName") == spec["LogGroupName"]


def describe(spec: dict[str, str]) -> str:
    if spec["LogDestinationType"] == S3:
        return f"{spec['TrafficType']} traffic to S3 {spec['LogDestination']}"
    return (
        f"{spec['TrafficType']} traffic to CloudWatch Logs group {spec['LogGroupName']} "
        f"(delivered by {spec['DeliverLogsPermissionArn']})"
    )


def remediate(finding: jobkit.Finding) -> None:
    ec2 = jobkit.ec2_client(finding)
    vpc = finding.object_id
    spec = wanted(finding)
    ec2.describe_vpcs(VpcIds=[vpc])  # a VPC that does not exist fails here, even in a plan
    found = flow_logs(ec2, vpc)
    if logging := capturing_rejects(found):
        ids = ", ".join(str(f.get("FlowLogId")) for f in logging)
        jobkit.info(f"ok: {vpc} has a flow log capturing rejected traffic ({ids})")
        return
    before = {"FlowLogIds": sorted(str(f.get("FlowLogId")) for f in found)}
    jobkit.record(vpc, KIND, before, spec)
    if not jobkit.planning():
        destination: dict[str, Any] = {k: v for k, v in spec.items() if k != "TrafficType"}
        made = ec2.create_flow_logs(
            ResourceIds=[vpc],
            ResourceType="VPC",
            TrafficType=spec["TrafficType"],  # type: ignore[arg-type]
            **destination,
        )
        failed = made.get("Unsuccessful", [])
        if failed or not made.get("FlowLogIds"):
            why = "; ".join(
                f"{u.get('Error', {}).get('Code')}: {u.get('Error', {}).get('Message')}"
                for u in failed
            )
            jobkit.error(f"CreateFlowLogs failed for {vpc}: {why or 'no flow log was created'}")
            sys.exit(jobkit.EXIT_FAILED)
        jobkit.info(f"{vpc}: flow log {made['FlowLogIds'][0]} created")
    jobkit.change(f"{vpc}: flow log created for {describe(spec)}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ec2 = jobkit.ec2_client(finding)
    found = jobkit.modes.of_kind(records, KIND)
    undo: list[tuple[str, str, dict[str, str]]] = []
    for entry in found:  # check every VPC before touching any
        vpc, spec = str(entry["resource"]), dict(entry["after"])
        ours = [f for f in flow_logs(ec2, vpc) if is_the_one(f, spec)]
        if not ours:
            raise jobkit.ChangedSince(
                f"{vpc} changed since the job created its flow log: the flow log for "
                f"{describe(spec)} no longer exists"
            )
        undo.append((vpc, str(ours[0].get("FlowLogId")), spec))
    for vpc, flow_log_id, spec in undo:
        ec2.delete_flow_logs(FlowLogIds=[flow_log_id])
        jobkit.change(f"{vpc}: flow log {flow_log_id} for {describe(spec)} deleted (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
