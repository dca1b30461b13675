"""Turn on access logs for a load balancer, Classic or Application/Network (ELB.5).

ObjectId: a Classic load balancer's name or ARN (`...:loadbalancer/<name>`), or an Application or
Network load balancer's ARN (`...:loadbalancer/app/...`, `.../net/...`) or name; a bare name is
looked up as a Classic load balancer first, then as an Application/Network one. Access logs go to
the `bucket` parameter, under `prefix`; a Classic load balancer also takes `interval` (5 or 60
minutes). Only the access-log attributes are sent: every other attribute is kept. A load balancer
that already logs keeps its bucket.

Plan prints the same CHANGE line after reading only. The record (kind `elb-access-log` or
`elbv2-access-log`) keeps the access-log settings as they were and as the job set them; rollback
sets the old ones again, once the settings are still the job's.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from remedy import jobkit

CLASSIC, V2 = "elb-access-log", "elbv2-access-log"
V2_KEYS = ("access_logs.s3.enabled", "access_logs.s3.bucket", "access_logs.s3.prefix")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Balancer:
    """One load balancer, Classic (`kind` CLASSIC, named by `name`) or v2 (V2, by its ARN)."""

    def __init__(self, finding: jobkit.Finding) -> None:
        self.finding = finding
        object_id = finding.object_id
        self.kind, self.name = CLASSIC, object_id
        self.client: Any = None
        if object_id.startswith("arn:"):
            path = object_id.split(":", 5)[-1]  # loadbalancer/<name> or loadbalancer/app/...
            if path.startswith(("loadbalancer/app/", "loadbalancer/net/", "loadbalancer/gwy/")):
                self.kind = V2
            else:
                self.name = path.rsplit("/", 1)[-1]

    def settings(self) -> dict[str, Any]:
        """The access-log settings: Classic: AccessLog; v2: the access_logs.s3.* attributes."""
        if self.kind == CLASSIC:
            elb = self.client or jobkit.client("elb", self.finding)
            try:
                found = elb.describe_load_balancer_attributes(LoadBalancerName=self.name)
            except ClientError as exc:
                if self.finding.object_id.startswith("arn:") or _code(exc) != (
                    "LoadBalancerNotFound"
                ):
                    raise
                self._as_v2()  # not a Classic one: an Application/Network load balancer's name
                return self.settings()
            self.client = elb
            # as ELB gives it (rollback sends it back as it was)
            return dict(found["LoadBalancerAttributes"].get("AccessLog") or {"Enabled": False})
        elbv2 = self.client or jobkit.client("elbv2", self.finding)
        self.client = elbv2
        found = elbv2.describe_load_balancer_attributes(LoadBalancerArn=self.name)["Attributes"]
        values = {a["Key"]: a["Value"] for a in found}
        return {
            "access_logs.s3.enabled": values.get("access_logs.s3.enabled") or "false",
            "access_logs.s3.bucket": values.get("access_logs.s3.bucket") or "",
            "access_logs.s3.prefix": values.get("access_logs.s3.prefix") or "",
        }

    def _as_v2(self) -> None:
        elbv2 = jobkit.client("elbv2", self.finding)
        found = elbv2.describe_load_balancers(Names=[self.name])["LoadBalancers"]
        self.kind, self.name, self.client = V2, found[0]["LoadBalancerArn"], elbv2

    def normal(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Settings comparable whatever ELB leaves out (an unset prefix, a default interval)."""
        if self.kind == CLASSIC:
            return {
                "Enabled": bool(settings.get("Enabled")),
                "S3BucketName": settings.get("S3BucketName") or "",
                "S3BucketPrefix": settings.get("S3BucketPrefix") or "",
                "EmitInterval": int(settings.get("EmitInterval") or 60),
            }
        return {k: str(settings.get(k) or "") for k in V2_KEYS}

    def logging(self, settings: dict[str, Any]) -> bool:
        if self.kind == CLASSIC:
            return bool(settings["Enabled"])
        return str(settings["access_logs.s3.enabled"]).lower() == "true"

    def wanted(self, settings: dict[str, Any]) -> dict[str, Any]:
        parameters = self.finding.parameters
        if self.kind == CLASSIC:
            return {
                "Enabled": True,
                "S3BucketName": parameters["bucket"],
                "S3BucketPrefix": parameters["prefix"],
                "EmitInterval": parameters["interval"],
            }
        return {
            "access_logs.s3.enabled": "true",
            "access_logs.s3.bucket": parameters["bucket"],
            "access_logs.s3.prefix": parameters["prefix"],
        }

    def apply(self, settings: dict[str, Any]) -> None:
        if self.kind == CLASSIC:
            self.client.modify_load_balancer_attributes(
                LoadBalancerName=self.name, LoadBalancerAttributes={"AccessLog": settings}
            )
            return
        self.client.modify_load_balancer_attributes(
            LoadBalancerArn=self.name,
            Attributes=[{"Key": k, "Value": str(v)} for k, v in settings.items()],
        )


def _bucket(finding: jobkit.Finding) -> None:
    if not finding.parameters.get("bucket"):
        raise jobkit.BadInput(
            "remediationParameters.bucket is missing: name the S3 bucket the access logs go to "
            "(its policy must let Elastic Load Balancing write to it)"
        )


def remediate(finding: jobkit.Finding) -> None:
    balancer = Balancer(finding)
    before = balancer.settings()
    if balancer.logging(before):
        jobkit.info(f"ok: {balancer.name} writes access logs already")
        return
    _bucket(finding)
    after = balancer.wanted(before)
    jobkit.record(balancer.name, balancer.kind, before, after)
    if not jobkit.planning():
        balancer.apply(after)
    where = finding.parameters["bucket"] + (f"/{p}" if (p := finding.parameters["prefix"]) else "")
    jobkit.change(f"{balancer.name}: access logs turned on, to s3://{where}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, CLASSIC, V2)
    balancer = Balancer(finding)
    now = balancer.settings()
    if any(r["resource"] != balancer.name or r["kind"] != balancer.kind for r in found):
        raise jobkit.RecordError(f"the change records are not about load balancer {balancer.name}")
    first, last = found[0], found[-1]
    if balancer.normal(now) != balancer.normal(last["after"]):
        raise jobkit.ChangedSince(
            f"{balancer.name}'s access-log settings changed since the job set them: {now}, not "
            f"{last['after']}"
        )
    balancer.apply(first["before"])
    jobkit.change(f"{balancer.name}: access-log settings set back to {first['before']} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
