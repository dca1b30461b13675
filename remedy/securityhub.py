"""Reading findings out of Security Hub: GetFindings, filtered and paginated.

Used by `remedy findings pull securityhub` (console/findings_pull.py), with the caller's own AWS
identity, and by the pull schedule's activity (activities/securityhub_pull.py), with the run's
assumed role in a linked account. The boto3 client is the caller's; this module only builds the
request (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_GetFindings.html).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

#: GetFindings returns at most 100 findings a page (MaxResults)
PAGE_SIZE = 100
COMPLIANCE_STATUSES = ("PASSED", "WARNING", "FAILED", "NOT_AVAILABLE")


def _equals(values: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    return [{"Value": value, "Comparison": "EQUALS"} for value in values]


def since(text: str, now: datetime | None = None) -> datetime:
    """`--updated-since`: an ISO 8601 time, or a span back from now (`90m`, `12h`, `7d`)."""
    span = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if span:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[span.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: int(span.group(1))})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO 8601 time nor a span such as 90m, 12h or 7d"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def filters_for(
    *,
    statuses: tuple[str, ...] = ("FAILED",),
    standards: tuple[str, ...] = (),
    accounts: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
    updated_since: datetime | None = None,
    active_only: bool = True,
) -> dict[str, Any]:
    """GetFindings' `Filters` for what a pull asks (AwsSecurityFindingFilters).

    `standards`: a standard's ARN or id prefix (`standards/aws-foundational-security-best-
    practices`, `ruleset/cis-aws-foundations-benchmark`), matched by PREFIX on
    ComplianceAssociatedStandardsId, or by EQUALS when given in full.
    """
    unknown = [s for s in statuses if s not in COMPLIANCE_STATUSES]
    if unknown:
        raise ValueError(
            f"unknown compliance status {', '.join(unknown)}: one of "
            f"{', '.join(COMPLIANCE_STATUSES)}"
        )
    filters: dict[str, Any] = {}
    if statuses:
        filters["ComplianceStatus"] = _equals(statuses)
    if standards:
        filters["ComplianceAssociatedStandardsId"] = [
            {"Value": s, "Comparison": "EQUALS" if s.startswith("arn:") else "PREFIX"}
            for s in standards
        ]
    if accounts:
        filters["AwsAccountId"] = _equals(accounts)
    if regions:
        filters["Region"] = _equals(regions)
    if updated_since is not None:
        filters["UpdatedAt"] = [
            {"Start": updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"}
        ]
    if active_only:
        filters["RecordState"] = _equals(("ACTIVE",))
    return filters


def pages(client: Any, filters: dict[str, Any], page_size: int = PAGE_SIZE) -> Iterator[list[Any]]:
    """The findings, a page at a time (NextToken followed to the end)."""
    token: str | None = None
    while True:
        request: dict[str, Any] = {"Filters": filters, "MaxResults": page_size}
        if token:
            request["NextToken"] = token
        answer = client.get_findings(**request)
        found = list(answer.get("Findings") or [])
        if found:
            yield found
        token = answer.get("NextToken")
        if not token:
            return
