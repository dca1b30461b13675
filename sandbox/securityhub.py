"""Security Hub in the sandbox: moto's, with the two calls Remedy needs that moto leaves out.

moto (5.x) stores the findings BatchImportFindings sends and returns them from GetFindings, but
ignores GetFindings' `Filters` and has no BatchUpdateFindings. This adds both to moto's backend
in the moto server process (`sandbox/moto_server.py` installs it), so the real boto3 client
drives them through moto's IAM enforcement. What each enforces, from the API reference:

- GetFindings filters (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_GetFindings.html,
  API_AwsSecurityFindingFilters.html): string filters compare with EQUALS, PREFIX, NOT_EQUALS or
  PREFIX_NOT_EQUALS (API_StringFilter.html); several EQUALS / PREFIX values of one field match
  any of them, NOT_EQUALS / PREFIX_NOT_EQUALS ones must all hold, and the fields all hold
  ("Filters" in the guide: https://docs.aws.amazon.com/securityhub/latest/userguide/finding-filters.html).
  `UpdatedAt` takes a date filter: Start and End, or DateRange {Value, Unit: DAYS}
  (API_DateFilter.html). MaxResults is 1 to 100 (moto checks it; pagination is moto's).
- BatchUpdateFindings (API_BatchUpdateFindings.html): 1 to 100 FindingIdentifiers, each an Id and a
  ProductArn (API_AwsSecurityFindingIdentifier.html); Note needs both Text (at most 512
  characters) and UpdatedBy (at most 128) (API_NoteUpdate.html); Workflow.Status is NEW, NOTIFIED,
  RESOLVED or SUPPRESSED (API_WorkflowUpdate.html). A finding it does not know is answered in
  UnprocessedFindings, the others in ProcessedFindings; UpdatedAt moves.

Filters on other fields are refused by name, so a test never believes a filter held that the
sandbox ignored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.securityhub import urls
from moto.securityhub.exceptions import InvalidInputException
from moto.securityhub.models import SecurityHubBackend
from moto.securityhub.responses import SecurityHubResponse
from moto.utilities.paginator import paginate


def _path(*keys: str) -> Any:
    def read(finding: dict[str, Any]) -> list[str]:
        value: Any = finding
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return [value] if isinstance(value, str) else []

    return read


def _standards(finding: dict[str, Any]) -> list[str]:
    found = (finding.get("Compliance") or {}).get("AssociatedStandards") or []
    return [s["StandardsId"] for s in found if isinstance(s, dict) and "StandardsId" in s]


STRING_FIELDS = {
    "Id": _path("Id"),
    "ProductArn": _path("ProductArn"),
    "GeneratorId": _path("GeneratorId"),
    "AwsAccountId": _path("AwsAccountId"),
    "Region": _path("Region"),
    "RecordState": _path("RecordState"),
    "WorkflowStatus": _path("Workflow", "Status"),
    "ComplianceStatus": _path("Compliance", "Status"),
    "ComplianceSecurityControlId": _path("Compliance", "SecurityControlId"),
    "ComplianceAssociatedStandardsId": _standards,
    "SeverityLabel": _path("Severity", "Label"),
}
COMPARISONS = ("EQUALS", "PREFIX", "NOT_EQUALS", "PREFIX_NOT_EQUALS")
WORKFLOW_STATUSES = ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED")


def _invalid(operation: str, message: str) -> InvalidInputException:
    return InvalidInputException(op=operation, msg=message)


def _string_match(values: list[str], conditions: list[dict[str, Any]]) -> bool:
    positive: list[bool] = []
    negative: list[bool] = []
    for condition in conditions:
        comparison, wanted = condition.get("Comparison"), condition.get("Value")
        if comparison not in COMPARISONS or not isinstance(wanted, str):
            raise _invalid("GetFindings", f"Comparison must be one of {', '.join(COMPARISONS)}")
        prefix = comparison.startswith("PREFIX")
        hit = any(v.startswith(wanted) if prefix else v == wanted for v in values)
        (negative if comparison.endswith("NOT_EQUALS") else positive).append(hit)
    return (not positive or any(positive)) and not any(negative)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _date_match(value: str | None, conditions: list[dict[str, Any]]) -> bool:
    if not value:
        return False
    at = _when(value)
    for condition in conditions:
        start: datetime | None
        end: datetime | None
        if "DateRange" in condition:
            span = condition["DateRange"]
            if span.get("Unit") != "DAYS":
                raise _invalid("GetFindings", "DateRange.Unit must be DAYS")
            start, end = datetime.now(UTC) - timedelta(days=int(span["Value"])), None
        else:
            start = _when(condition["Start"]) if "Start" in condition else None
            end = _when(condition["End"]) if "End" in condition else None
        if (start and at < start) or (end and at > end):
            return False
    return True


def matches(finding: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Whether a finding passes GetFindings' `Filters`."""
    for field, conditions in (filters or {}).items():
        if field == "UpdatedAt":
            if not _date_match(finding.get("UpdatedAt"), conditions):
                return False
        elif field in STRING_FIELDS:
            if not _string_match(STRING_FIELDS[field](finding), conditions):
                return False
        else:
            raise _invalid("GetFindings", f"the sandbox does not filter on {field}")
    return True


@paginate(pagination_model=SecurityHubBackend.PAGINATION_MODEL)
def get_findings(
    self: SecurityHubBackend,
    filters: dict[str, Any] | None = None,
    sort_criteria: list[dict[str, str]] | None = None,
    max_results: int | None = None,
) -> list[dict[str, Any]]:
    if max_results is not None and not 1 <= int(max_results) <= 100:
        raise _invalid("GetFindings", "MaxResults must be a number between 1 and 100")
    return [f.as_dict() for f in self.findings if matches(f.as_dict(), filters or {})]


def batch_update_findings(self: SecurityHubBackend, body: dict[str, Any]) -> dict[str, Any]:
    op = "BatchUpdateFindings"
    identifiers = body.get("FindingIdentifiers") or []
    if not 1 <= len(identifiers) <= 100:
        raise _invalid(op, "FindingIdentifiers must name 1 to 100 findings")
    note, status = body.get("Note"), (body.get("Workflow") or {}).get("Status")
    if note is not None:
        text, by = note.get("Text"), note.get("UpdatedBy")
        if not isinstance(text, str) or not isinstance(by, str):
            raise _invalid(op, "Note requires both Text and UpdatedBy")
        if not 1 <= len(text) <= 512 or not 1 <= len(by) <= 128:
            raise _invalid(op, "Note.Text is 1 to 512 characters, Note.UpdatedBy 1 to 128")
    if status is not None and status not in WORKFLOW_STATUSES:
        raise _invalid(op, f"Workflow.Status must be one of {', '.join(WORKFLOW_STATUSES)}")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    processed, unprocessed = [], []
    for identifier in identifiers:
        if not identifier.get("Id") or not identifier.get("ProductArn"):
            raise _invalid(op, "each FindingIdentifier needs an Id and a ProductArn")
        found = next(
            (
                f.data
                for f in self.findings
                if f.id == identifier["Id"] and f.data.get("ProductArn") == identifier["ProductArn"]
            ),
            None,
        )
        if found is None:
            unprocessed.append(
                {
                    "FindingIdentifier": identifier,
                    "ErrorCode": "FindingNotFound",
                    "ErrorMessage": "Finding Not Found",
                }
            )
            continue
        if note is not None:
            found["Note"] = {**note, "UpdatedAt": now}
        if status is not None:
            found["Workflow"] = {**(found.get("Workflow") or {}), "Status": status}
            found["WorkflowState"] = status if status != "NOTIFIED" else "ASSIGNED"
        found["UpdatedAt"] = now
        processed.append(identifier)
    return {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}


def _respond_batch_update(self: SecurityHubResponse) -> str:
    raw = self.body.decode() if isinstance(self.body, bytes) else self.body
    backend: Any = self.securityhub_backend
    return json.dumps(backend.batch_update_findings(json.loads(raw or "{}")))


def install() -> None:
    """Filters on GetFindings and a BatchUpdateFindings, in this process's moto."""
    SecurityHubBackend.get_findings = get_findings  # type: ignore[method-assign]
    SecurityHubBackend.batch_update_findings = batch_update_findings  # type: ignore[attr-defined]
    SecurityHubResponse.batch_update_findings = _respond_batch_update  # type: ignore[attr-defined]
    urls.url_paths["{0}/findings/batchupdate$"] = SecurityHubResponse.dispatch
