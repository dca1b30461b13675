"""Make an Auto Scaling group that serves a load balancer use its health checks (AutoScaling.1).

ObjectId: the group's name or ARN (`...:autoScalingGroupName/<name>`). A group attached to a
Classic load balancer or a target group whose HealthCheckType is not ELB gets HealthCheckType=ELB
(instances the load balancer finds unhealthy are then replaced; EC2 status checks still count).
A group with no load balancer is left alone: the control does not apply to it. Only
HealthCheckType is sent: the grace period, sizes and everything else are kept.

Plan prints the same CHANGE line after reading only. The record (kind `autoscaling-health-check`)
keeps the type as it was and as set; rollback sets the old type back, once the group still has
the job's.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from remedy import jobkit

KIND = "autoscaling-health-check"


def group_name(object_id: str) -> str:
    return object_id.split("autoScalingGroupName/", 1)[-1]


def describe(autoscaling: Any, name: str) -> dict[str, Any]:
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    groups = found.get("AutoScalingGroups", [])
    if not groups:
        raise ClientError(
            {"Error": {"Code": "ValidationError", "Message": f"AutoScalingGroup {name} not found"}},
            "DescribeAutoScalingGroups",
        )
    group: dict[str, Any] = groups[0]
    return group


def serves_a_load_balancer(group: dict[str, Any]) -> bool:
    return bool(group.get("LoadBalancerNames") or group.get("TargetGroupARNs"))


def uses_elb(group: dict[str, Any]) -> bool:
    return "ELB" in str(group.get("HealthCheckType", "")).split(",")


def remediate(finding: jobkit.Finding) -> None:
    autoscaling = jobkit.client("autoscaling", finding)
    name = group_name(finding.object_id)
    group = describe(autoscaling, name)
    if not serves_a_load_balancer(group):
        jobkit.info(f"ok: {name} serves no load balancer: the control does not apply")
        return
    if uses_elb(group):
        jobkit.info(f"ok: {name} uses ELB health checks")
        return
    before = group.get("HealthCheckType", "EC2")
    jobkit.record(name, KIND, before, "ELB")
    if not jobkit.planning():
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, HealthCheckType="ELB")
    jobkit.change(f"{name}: health check type {before} -> ELB")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    autoscaling = jobkit.client("autoscaling", finding)
    found = jobkit.modes.of_kind(records, KIND)
    name = group_name(finding.object_id)
    if any(r["resource"] != name for r in found):
        raise jobkit.RecordError(f"the change records are not about group {name}")
    now = describe(autoscaling, name).get("HealthCheckType")
    if now != found[-1]["after"]:
        raise jobkit.ChangedSince(
            f"{name}'s health check type changed since the job set it: {now}, not ELB"
        )
    before = found[0]["before"]
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, HealthCheckType=before)
    jobkit.change(f"{name}: health check type ELB -> {before} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
