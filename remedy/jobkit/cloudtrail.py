"""The trail a CloudTrail finding names, found from any region, and a client in its home region.

A finding names a trail by its name or its ARN (Security Hub gives the ARN, the intake passes its
last part, the name) and comes from the region where it was evaluated. A multi-region trail shows
in every region of the account (a "shadow" trail) but can only be changed in the region where it
was created, its home region: CloudTrail answers InvalidHomeRegionException elsewhere
(https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_UpdateTrail.html). So jobs read
the trail with DescribeTrails (shadow trails included) in the finding's region and change it with
a client in its `HomeRegion`.

Read-only (DescribeTrails): every trail job's minimum policy lists cloudtrail:DescribeTrails.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from remedy.jobkit import Finding, client

SERVICE = "cloudtrail"


@dataclass(frozen=True)
class Trail:
    """One trail as DescribeTrails tells it, and a CloudTrail client in its home region."""

    description: dict[str, Any]
    client: Any

    @property
    def name(self) -> str:
        return str(self.description["Name"])

    @property
    def arn(self) -> str:
        return str(self.description["TrailARN"])

    @property
    def home_region(self) -> str:
        return str(self.description.get("HomeRegion") or "")

    def get(self, key: str) -> Any:
        """A setting of the trail; an empty string (how some APIs say "none") reads as None."""
        value = self.description.get(key)
        return None if value == "" else value


def region_of(identifier: str) -> str | None:
    """The region in a trail (or key) ARN, None for a bare name."""
    parts = identifier.split(":")
    return parts[3] or None if identifier.startswith("arn:") and len(parts) > 5 else None


def trails(finding: Finding, region: str | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """A client in `region` (the finding's by default) and every trail it sees, shadow trails
    of multi-region trails included."""
    here = client(SERVICE, dataclasses.replace(finding, region=region or finding.region))
    found = here.describe_trails(includeShadowTrails=True).get("trailList", [])
    return here, list(found)


def client_in(finding: Finding, region: str) -> Any:
    """A CloudTrail client in another region of the finding's account."""
    return client(SERVICE, dataclasses.replace(finding, region=region))


def find_trail(finding: Finding) -> Trail:
    """The trail named by the finding's ObjectId (name or ARN), with a client in its home region.

    A trail that is not there fails like AWS's own answer (TrailNotFoundException), exit 1."""
    wanted = finding.object_id
    here, found = trails(finding, region_of(wanted))
    for description in found:
        if wanted in (description.get("Name"), description.get("TrailARN")):
            home = description.get("HomeRegion") or finding.region
            trail_client = here if home == here.meta.region_name else client_in(finding, home)
            return Trail(dict(description), trail_client)
    raise ClientError(
        {
            "Error": {
                "Code": "TrailNotFoundException",
                "Message": f"Unknown trail: {wanted} for the user: {finding.account_id}",
            }
        },
        "DescribeTrails",
    )
