"""Verify cloudtrail_enable_multi_region_trail: a trail of the account is multi-region, logging,
and logs read and write management events."""

from __future__ import annotations

from cloudtrail_enable_multi_region_trail import own_trails, problems_of

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    problems: list[str] = []
    for trail in own_trails(finding):
        found = problems_of(trail)
        if not found:
            jobkit.verdict([], f"trail {trail.name} is multi-region and logs management events")
            return
        problems += found
    jobkit.verdict(
        problems or [f"account {finding.account_id} has no trail"],
        "a multi-region trail logs management events",
    )


if __name__ == "__main__":
    jobkit.run(verify, __file__)
