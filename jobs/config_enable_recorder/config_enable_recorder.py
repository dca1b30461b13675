"""Turn AWS Config on in the finding's account and region (Security Hub Config.1, CIS 1.2 2.5).

The target is the finding's account and region, not its ObjectId. Three steps, each only when
missing: a configuration recorder (recording all supported resource types, global ones included,
with the role parameter, by default the account's AWS Config service-linked role), a delivery
channel to the bucket parameter, and recording started. An existing recorder is kept as it is
(its name, role and recording group); an existing delivery channel too; a stopped recorder is
only started.

Plan prints the same CHANGE lines after reading only. Before each change a record says what was
created or started (kinds `config-recorder`, `config-delivery-channel`, `config-recording`).
Rollback undoes exactly those, in reverse order (stop recording, delete the channel, delete the
recorder), once each is still as the job left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_config.client import ConfigServiceClient

RECORDER_KIND = "config-recorder"
CHANNEL_KIND = "config-delivery-channel"
RECORDING_KIND = "config-recording"
SERVICE_LINKED_ROLE = (
    "arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
)
RECORD_ALL = {"allSupported": True, "includeGlobalResourceTypes": True}


def config_client(finding: jobkit.Finding) -> ConfigServiceClient:
    made: ConfigServiceClient = jobkit.client("config", finding)
    return made


def where(finding: jobkit.Finding) -> str:
    return f"account {finding.account_id} {finding.region}"


def recorders(config: ConfigServiceClient) -> list[dict[str, Any]]:
    found = config.describe_configuration_recorders().get("ConfigurationRecorders", [])
    return [dict(r) for r in found]


def channels(config: ConfigServiceClient) -> list[dict[str, Any]]:
    return [dict(c) for c in config.describe_delivery_channels().get("DeliveryChannels", [])]


def recording(config: ConfigServiceClient, name: str) -> bool:
    statuses = config.describe_configuration_recorder_status().get(
        "ConfigurationRecordersStatus", []
    )
    return any(s.get("name") == name and s.get("recording") is True for s in statuses)


def recorder_state(recorder: dict[str, Any]) -> dict[str, Any]:
    """What a record keeps of a recorder: enough to tell whether someone changed it since."""
    group = recorder.get("recordingGroup") or {}
    return {
        "name": recorder.get("name"),
        "roleARN": recorder.get("roleARN"),
        "recordingGroup": {
            "allSupported": group.get("allSupported") is True,
            "includeGlobalResourceTypes": group.get("includeGlobalResourceTypes") is True,
        },
    }


def channel_state(channel: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": channel.get("name"),
        "s3BucketName": channel.get("s3BucketName"),
        "s3KeyPrefix": channel.get("s3KeyPrefix") or "",
    }


def ensure_recorder(config: ConfigServiceClient, finding: jobkit.Finding) -> str:
    """The recorder's name, once there is one."""
    found = recorders(config)
    if found:
        name = str(found[0]["name"])
        jobkit.info(f"ok: {where(finding)} has configuration recorder {name} (kept as it is)")
        return name
    params = finding.parameters
    name = str(params["recorder_name"])
    role = str(params["role_arn"]) or SERVICE_LINKED_ROLE.format(account=finding.account_id)
    after = {"name": name, "roleARN": role, "recordingGroup": dict(RECORD_ALL)}
    jobkit.record(f"{where(finding)} recorder {name}", RECORDER_KIND, None, after)
    if not jobkit.planning():
        config.put_configuration_recorder(
            ConfigurationRecorder={
                "name": name,
                "roleARN": role,
                "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
            }
        )
    jobkit.change(
        f"{where(finding)}: created configuration recorder {name} (all supported resource "
        f"types, global ones included; role {role})"
    )
    return name


def ensure_channel(config: ConfigServiceClient, finding: jobkit.Finding) -> None:
    found = channels(config)
    if found:
        bucket = found[0].get("s3BucketName")
        jobkit.info(f"ok: {where(finding)} has delivery channel {found[0]['name']} to {bucket}")
        return
    params = finding.parameters
    bucket = str(params["bucket"]) or f"config-bucket-{finding.account_id}"
    prefix = str(params["s3_key_prefix"])
    after = {"name": str(params["channel_name"]), "s3BucketName": bucket, "s3KeyPrefix": prefix}
    jobkit.record(f"{where(finding)} delivery channel {after['name']}", CHANNEL_KIND, None, after)
    if not jobkit.planning():
        channel: dict[str, Any] = {"name": after["name"], "s3BucketName": bucket}
        if prefix:
            channel["s3KeyPrefix"] = prefix
        config.put_delivery_channel(DeliveryChannel=channel)  # type: ignore[arg-type]
    jobkit.change(f"{where(finding)}: created delivery channel {after['name']} to s3://{bucket}")


def ensure_recording(config: ConfigServiceClient, finding: jobkit.Finding, name: str) -> None:
    if recording(config, name):
        jobkit.info(f"ok: {where(finding)} configuration recorder {name} is recording")
        return
    jobkit.record(
        f"{where(finding)} recorder {name}",
        RECORDING_KIND,
        {"name": name, "recording": False},
        {"name": name, "recording": True},
    )
    if not jobkit.planning():
        config.start_configuration_recorder(ConfigurationRecorderName=name)
    jobkit.change(f"{where(finding)}: started configuration recorder {name}")


def remediate(finding: jobkit.Finding) -> None:
    config = config_client(finding)
    name = ensure_recorder(config, finding)
    ensure_channel(config, finding)
    ensure_recording(config, finding, name)


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    config = config_client(finding)
    found = jobkit.modes.of_kind(records, RECORDER_KIND, CHANNEL_KIND, RECORDING_KIND)
    if any(not str(r["resource"]).startswith(where(finding)) for r in found):
        raise jobkit.RecordError(f"the change records are not about {where(finding)}")
    by_kind = {str(r["kind"]): r for r in found}
    changed = []  # check everything before touching anything
    started = by_kind.get(RECORDING_KIND)
    if started and not recording(config, str(started["after"]["name"])):
        changed.append(f"configuration recorder {started['after']['name']} is not recording")
    if created := by_kind.get(CHANNEL_KIND):
        now = {str(c.get("name")): channel_state(c) for c in channels(config)}
        if now.get(str(created["after"]["name"])) != created["after"]:
            changed.append(f"delivery channel {created['after']['name']} is not as the job left it")
    if made := by_kind.get(RECORDER_KIND):
        now_recorders = {str(r.get("name")): recorder_state(r) for r in recorders(config)}
        if now_recorders.get(str(made["after"]["name"])) != made["after"]:
            changed.append(f"configuration recorder {made['after']['name']} is not as created")
    if changed:
        raise jobkit.ChangedSince(f"{where(finding)} changed since the job: {'; '.join(changed)}")
    if started:
        name = str(started["after"]["name"])
        config.stop_configuration_recorder(ConfigurationRecorderName=name)
        jobkit.change(f"{where(finding)}: stopped configuration recorder {name} (rollback)")
    if created:
        name = str(created["after"]["name"])
        config.delete_delivery_channel(DeliveryChannelName=name)
        jobkit.change(f"{where(finding)}: deleted delivery channel {name} (rollback)")
    if made:
        name = str(made["after"]["name"])
        config.delete_configuration_recorder(ConfigurationRecorderName=name)
        jobkit.change(f"{where(finding)}: deleted configuration recorder {name} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
