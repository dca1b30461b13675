"""At least one multi-region trail that logs read and write management events (Security Hub
CloudTrail.1), and so at least one trail that logs (CloudTrail.3). Account level: the target is
the finding's account (and its region, to look from); the ObjectId is not read.

Compliant when a trail of the account is multi-region, is logging, and records management events
for reads and writes (basic event selectors: one with IncludeManagementEvents and ReadWriteType
All and no excluded event sources, or none at all, CloudTrail's default; advanced ones: one that
selects eventCategory Management and nothing narrower). Otherwise the job fixes the least it can,
in this order of preference:

1. a multi-region trail of the account (the one named `trail_name` if there is such, else the
   first by name): start its logging if stopped, add a management-events selector if it has none;
2. else the trail named `trail_name`, single-region: made multi-region (with global service
   events, which CloudTrail requires of a multi-region trail), then as in 1;
3. else a new trail `trail_name`, multi-region, with log file validation, delivering to
   `bucket_name` (whose policy must let CloudTrail write: CloudTrail refuses it otherwise, with
   InsufficientS3BucketPolicyException, and the job fails, exit 1), then logging started.

Other trails are never touched. Records (kinds `cloudtrail-created`, `cloudtrail-multi-region`,
`cloudtrail-logging`, `cloudtrail-event-selectors`) keep what each change replaced; rollback undoes
them newest first (a created trail is deleted; its delivered logs stay in the bucket), once the
trail is still as the job left it.
"""

from __future__ import annotations

import json
from typing import Any

from remedy import jobkit
from remedy.jobkit.cloudtrail import Trail, client_in, trails

CREATED, MULTI, LOGGING, SELECTORS = (
    "cloudtrail-created",
    "cloudtrail-multi-region",
    "cloudtrail-logging",
    "cloudtrail-event-selectors",
)
MANAGEMENT_SELECTOR = {"ReadWriteType": "All", "IncludeManagementEvents": True}
MANAGEMENT_ADVANCED = {
    "Name": "Management events",
    "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
}


def own_trails(finding: jobkit.Finding) -> list[Trail]:
    """The account's trails (organization trails of another account left out), each with a
    client in its home region, by name."""
    here, found = trails(finding)
    clients = {here.meta.region_name: here}
    own = []
    for description in sorted(found, key=lambda t: str(t.get("Name"))):
        if str(description.get("TrailARN", "")).split(":")[4:5] != [finding.account_id]:
            continue
        home = str(description.get("HomeRegion") or finding.region)
        if home not in clients:
            clients[home] = client_in(finding, home)
        own.append(Trail(dict(description), clients[home]))
    return own


def is_logging(trail: Trail) -> bool:
    return trail.client.get_trail_status(Name=trail.arn).get("IsLogging") is True


def selectors(trail: Trail) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    found = trail.client.get_event_selectors(TrailName=trail.arn)
    return list(found.get("EventSelectors") or []), list(found.get("AdvancedEventSelectors") or [])


def logs_management_events(basic: list[dict[str, Any]], advanced: list[dict[str, Any]]) -> bool:
    if advanced:
        return any(
            [f.get("Field") for f in s.get("FieldSelectors", [])] == ["eventCategory"]
            and s["FieldSelectors"][0].get("Equals") == ["Management"]
            for s in advanced
        )
    if not basic:  # CloudTrail's default: all management events
        return True
    return any(
        s.get("IncludeManagementEvents") is True
        and s.get("ReadWriteType", "All") == "All"
        and not s.get("ExcludeManagementEventSources")
        for s in basic
    )


def problems_of(trail: Trail) -> list[str]:
    """Why this trail does not satisfy CloudTrail.1 ([] when it does)."""
    problems = []
    if trail.get("IsMultiRegionTrail") is not True:
        problems.append(f"trail {trail.name} is not multi-region")
    if not is_logging(trail):
        problems.append(f"trail {trail.name} is not logging")
    if not logs_management_events(*selectors(trail)):
        problems.append(f"trail {trail.name} does not log read and write management events")
    return problems


def choose(finding: jobkit.Finding, own: list[Trail]) -> Trail | None:
    """The trail to fix (see the module's docstring), None when one must be created."""
    wanted = finding.parameters["trail_name"]
    multi = [t for t in own if t.get("IsMultiRegionTrail") is True]
    named = [t for t in own if t.name == wanted]
    return next(iter([t for t in multi if t.name == wanted] + multi + named), None)


def make_multi_region(trail: Trail) -> None:
    before = {
        "IsMultiRegionTrail": False,
        "IncludeGlobalServiceEvents": trail.get("IncludeGlobalServiceEvents") is True,
    }
    after = {"IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": True}
    jobkit.record(trail.arn, MULTI, before, after)
    if not jobkit.planning():
        trail.client.update_trail(
            Name=trail.arn, IsMultiRegionTrail=True, IncludeGlobalServiceEvents=True
        )
    jobkit.change(f"trail {trail.name}: made multi-region (with global service events)")


def start_logging(trail: Trail) -> None:
    jobkit.record(trail.arn, LOGGING, {"IsLogging": False}, {"IsLogging": True})
    if not jobkit.planning():
        trail.client.start_logging(Name=trail.arn)
    jobkit.change(f"trail {trail.name}: logging started")


def add_management_events(trail: Trail) -> None:
    basic, advanced = selectors(trail)
    if advanced:
        key, old, new = "AdvancedEventSelectors", advanced, [*advanced, MANAGEMENT_ADVANCED]
    else:
        key, old, new = "EventSelectors", basic, [*basic, MANAGEMENT_SELECTOR]
    jobkit.record(trail.arn, SELECTORS, {key: old}, {key: new})
    if not jobkit.planning():
        trail.client.put_event_selectors(TrailName=trail.arn, **{key: new})
    jobkit.change(f"trail {trail.name}: now logs read and write management events")


def create(finding: jobkit.Finding) -> None:
    name: str = finding.parameters["trail_name"]
    bucket: str = finding.parameters["bucket_name"]
    prefix: str = finding.parameters["s3_key_prefix"]
    if not bucket:
        raise jobkit.BadInput(
            "remediationParameters.bucket_name is missing: the account has no trail to make "
            f"multi-region (none named {name}), so the job creates one, and it needs the bucket "
            "it delivers to"
        )
    here = client_in(finding, finding.region)
    arn = f"arn:aws:cloudtrail:{finding.region}:{finding.account_id}:trail/{name}"
    settings: dict[str, Any] = {
        "S3BucketName": bucket,
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "EnableLogFileValidation": True,
    }
    if prefix:
        settings["S3KeyPrefix"] = prefix
    jobkit.record(arn, CREATED, None, {"Name": name, **settings})
    if not jobkit.planning():
        here.create_trail(Name=name, **settings)
    jobkit.change(
        f"trail {name}: created, multi-region, delivering to s3://{bucket}/{prefix}"
        " with log file validation"
    )
    jobkit.record(arn, LOGGING, {"IsLogging": False}, {"IsLogging": True})
    if not jobkit.planning():
        here.start_logging(Name=arn)
    jobkit.change(f"trail {name}: logging started")


def remediate(finding: jobkit.Finding) -> None:
    own = own_trails(finding)
    for trail in own:
        if trail.get("IsMultiRegionTrail") is True and not problems_of(trail):
            jobkit.info(f"ok: trail {trail.name} is multi-region and logs management events")
            return
    trail = choose(finding, own)
    if trail is None:
        create(finding)
        return
    if trail.get("IsMultiRegionTrail") is not True:
        make_multi_region(trail)
    if not is_logging(trail):
        start_logging(trail)
    if not logs_management_events(*selectors(trail)):
        add_management_events(trail)


# ----------------------------------------------------------------------------------------------
# rollback
# ----------------------------------------------------------------------------------------------


def _find(own: list[Trail], arn: str) -> Trail | None:
    return next((t for t in own if t.arn == arn), None)


def _differs(trail: Trail | None, record: dict[str, Any]) -> str | None:
    """What changed since the job made this change, or None."""
    kind, after = record["kind"], record["after"]
    if trail is None:
        return f"trail {record['resource']} no longer exists"
    if kind in (CREATED, MULTI):
        now = {k: trail.get(k) for k in after if k in ("IsMultiRegionTrail", "S3BucketName")}
        if now != {k: v for k, v in after.items() if k in now}:
            return f"trail {trail.name} is now {json.dumps(now, sort_keys=True)}"
    if kind == LOGGING and not is_logging(trail):
        return f"trail {trail.name} is not logging any more"
    if kind == SELECTORS:
        basic, advanced = selectors(trail)
        now = {"AdvancedEventSelectors": advanced} if advanced else {"EventSelectors": basic}
        if now != after:
            return f"trail {trail.name}'s event selectors are not the ones the job left"
    return None


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, CREATED, MULTI, LOGGING, SELECTORS)
    own = own_trails(finding)
    created = {r["resource"] for r in found if r["kind"] == CREATED}
    changed = [why for r in found if (why := _differs(_find(own, r["resource"]), r))]
    if changed:
        raise jobkit.ChangedSince(
            f"the trails changed since the job fixed them: {'; '.join(changed)}"
        )
    for record in reversed(found):
        trail = _find(own, record["resource"])
        assert trail is not None  # checked above
        kind, before = record["kind"], record["before"]
        if kind == CREATED:
            trail.client.delete_trail(Name=trail.arn)
            jobkit.change(f"trail {trail.name}: deleted (rollback; its logs stay in the bucket)")
        elif record["resource"] in created:
            continue  # deleting the trail undoes the rest
        elif kind == LOGGING:
            trail.client.stop_logging(Name=trail.arn)
            jobkit.change(f"trail {trail.name}: logging stopped again (rollback)")
        elif kind == MULTI:
            trail.client.update_trail(
                Name=trail.arn,
                IsMultiRegionTrail=False,
                IncludeGlobalServiceEvents=before.get("IncludeGlobalServiceEvents") is True,
            )
            jobkit.change(f"trail {trail.name}: single-region again (rollback)")
        elif kind == SELECTORS:
            trail.client.put_event_selectors(TrailName=trail.arn, **before)
            jobkit.change(f"trail {trail.name}: event selectors restored (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
