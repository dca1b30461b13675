"""Make an EC2 instance require IMDSv2 session tokens (Security Hub EC2.8).

ObjectId: the instance id (i-...). Sets the instance's metadata option HttpTokens to `required`
and sends nothing else: ModifyInstanceMetadataOptions keeps every option it is not given, so the
hop limit, HttpEndpoint, HttpProtocolIpv6 and InstanceMetadataTags stay as they are. An instance
whose metadata endpoint is turned off is left off (it serves no IMDSv1 either) but still gets
HttpTokens required, so turning the endpoint on later does not bring IMDSv1 back.

Plan prints the same CHANGE line after reading only. Before the change, one record (kind
`ec2-imds-http-tokens`) keeps HttpTokens as it was (`optional`); rollback sets it back, once the
instance still says `required`, as the job left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client

KIND = "ec2-imds-http-tokens"
REQUIRED = "required"


def http_tokens(ec2: EC2Client, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    instance = reservations[0]["Instances"][0]
    return str(instance.get("MetadataOptions", {}).get("HttpTokens") or "optional")


def remediate(finding: jobkit.Finding) -> None:
    ec2 = jobkit.ec2_client(finding)
    instance = finding.object_id
    now = http_tokens(ec2, instance)
    if now == REQUIRED:
        jobkit.info(f"ok: {instance} already requires IMDSv2 (HttpTokens required)")
        return
    jobkit.record(instance, KIND, {"HttpTokens": now}, {"HttpTokens": REQUIRED})
    if not jobkit.planning():
        ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens=REQUIRED)
    jobkit.change(f"{instance}: metadata HttpTokens set to required (was {now}): IMDSv2 only")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ec2 = jobkit.ec2_client(finding)
    found = jobkit.modes.of_kind(records, KIND)
    undo = []
    for entry in found:  # check every instance before touching any
        instance = str(entry["resource"])
        now = http_tokens(ec2, instance)
        if now != entry["after"]["HttpTokens"]:
            raise jobkit.ChangedSince(
                f"{instance} changed since the job required IMDSv2: HttpTokens is {now} now"
            )
        undo.append((instance, str(entry["before"]["HttpTokens"])))
    for instance, before in undo:
        ec2.modify_instance_metadata_options(
            InstanceId=instance,
            HttpTokens="optional" if before == "optional" else REQUIRED,
        )
        jobkit.change(f"{instance}: metadata HttpTokens set back to {before} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
