"""What the report says: pure functions of the run (the Jira text, labels, the summary)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from remedy.logs import redact
from remedy.types import NotifyInput, RunState, RunStatus, StepStatus

SUMMARY_LIMIT = 255
TAIL_LIMIT = 3_000
DESCRIPTION_LIMIT = 30_000


@dataclass(frozen=True)
class Ticket:
    """The Jira issue a run was reported in."""

    key: str
    url: str
    message: str


def _info(payload: dict[str, Any]) -> dict[str, Any]:
    info = payload.get("notificationInfo")
    return info if isinstance(info, dict) else {}


def rule_of(request: NotifyInput) -> tuple[str | None, str]:
    """(rule id, the rule's name for people)."""
    info = _info(request.payload)
    rule_id = request.status.rule_id or info.get("RuleID")
    name = info.get("RuleDisplayName") or info.get("RuleName") or rule_id or "finding"
    return (str(rule_id) if rule_id else None), str(name)


def finding_of(request: NotifyInput) -> tuple[str | None, str]:
    """(finding id, resource)."""
    details = _info(request.payload).get("FindingInfo")
    details = details if isinstance(details, dict) else {}
    finding = request.status.finding_id or details.get("FindingId")
    resource = request.status.resource or details.get("ObjectId") or "unknown resource"
    return (str(finding) if finding else None), str(resource)


def label(text: str) -> str:
    """A Jira label: no whitespace, at most 255 characters."""
    return re.sub(r"\s+", "-", text.strip())[:255]


def run_label(run_id: str) -> str:
    return label(f"remedy-run-{run_id}")


def finding_label(finding_id: str) -> str:
    return f"remedy-finding-{hashlib.sha256(finding_id.encode()).hexdigest()[:20]}"


def execution_mark(execution: str) -> str:
    """Names the workflow execution that wrote a text (the idempotency mark)."""
    return f"(remedy execution {execution})"


def summary_for(request: NotifyInput) -> str:
    _, rule = rule_of(request)
    _, resource = finding_of(request)
    text = " ".join(f"[Remedy] {rule}: {resource}".split())
    if request.stage == "paused":
        text = f"[Remedy] remediation action {request.status.remediation} paused"
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _verdict(status: RunStatus) -> str:
    return {
        RunState.SUCCEEDED: "succeeded",
        RunState.FAILED: "failed",
        # its own wording: a cancel is someone's decision, not a failure of the fix
        RunState.CANCELLED: "was cancelled",
    }.get(status.state, str(status.state))


def _tail(step: StepStatus) -> str:
    text = step.log_tail.strip()
    if len(text) > TAIL_LIMIT:
        text = "…" + text[-TAIL_LIMIT:]
    return text.replace("{noformat}", "{ noformat}") or "(no output)"


def report_text(request: NotifyInput, ui_link: str, execution: str) -> str:
    """The issue's description (and a later run's comment), in Jira wiki markup."""
    status = request.status
    rule_id, rule = rule_of(request)
    finding, resource = finding_of(request)
    changes = status.changes_made()
    silent = [step.name for step in status.steps if step.kind == "job" and not step.reports_changes]
    no_change = (
        f"No change was reported: {', '.join(silent)} does not report its changes, so the "
        "resource may have been changed (see its log)."
        if silent
        else "No change was made."
    )
    lines = [
        f"Remedy remediation *{_verdict(status)}*: {status.message}",
        "",
        f"*Rule:* {rule}" + (f" ({rule_id})" if rule_id and rule_id != rule else ""),
        f"*Resource:* {resource}",
        f"*Finding:* {finding or 'unknown'}",
        f"*Account:* {status.account_id or 'unknown'}",
        f"*Remediation:* {status.remediation}",
        f"*Run:* {status.run_id} {execution_mark(execution)}",
        f"*Temporal UI:* {ui_link}",
        "",
        "h3. Changes",
        *([f"* {change}" for change in changes] or [no_change]),
        "",
        "h3. Steps",
        *(
            f"* {step.name}: {step.state}" + (f" — {step.message}" if step.message else "")
            for step in status.steps
            if step.kind != "notify"
        ),
    ]
    for step in status.steps:
        if step.kind == "job" and step.state in ("succeeded", "failed", "cancelled"):
            exit_code = "" if step.exit_code is None else f", exit {step.exit_code}"
            lines += [
                "",
                f"h3. Log of {step.name} ({step.state}{exit_code})",
                "{noformat}",
                _tail(step),
                "{noformat}",
            ]
    text = redact("\n".join(lines))
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 20] + "\n… (cut)"


def _header(request: NotifyInput, ui_link: str, execution: str) -> list[str]:
    status = request.status
    rule_id, rule = rule_of(request)
    finding, resource = finding_of(request)
    return [
        f"*Rule:* {rule}" + (f" ({rule_id})" if rule_id and rule_id != rule else ""),
        f"*Resource:* {resource}",
        f"*Finding:* {finding or 'unknown'}",
        f"*Account:* {status.account_id or 'unknown'}",
        f"*Remediation:* {status.remediation}",
        f"*Run:* {status.run_id} {execution_mark(execution)}",
        f"*Temporal UI:* {ui_link}",
    ]


def notice_text(request: NotifyInput, ui_link: str, execution: str) -> str:
    """A notice before the run ends (`NotifyInput.stage`): the plan waiting for a decision, the
    decision, or the grace period; in Jira wiki markup."""
    status, stage = request.status, request.stage
    step = {s.kind: s for s in status.steps}
    if stage == "paused":
        action = status.run_id.removeprefix("remedy-paused-").split("-")[0]
        lines = [
            f"Remedy paused the remediation action *{status.remediation}*: {status.message}",
            "",
            f"*Notice:* {status.run_id} {execution_mark(execution)}",
            "",
            "Its runs wait, in order, until an Admin resumes it: "
            f"{{{{POST /remediations/{action}/resume}}}} on the hub (or its Actions page), "
            "after looking at why its last runs failed.",
        ]
    elif stage.startswith("approval"):
        run = status.run_id
        lines = [
            "Remedy remediation *awaiting approval*: "
            + (step["approval"].message if "approval" in step else "a plan waits for a decision"),
            "",
            *_header(request, ui_link, execution),
            "",
            "h3. Plan (nothing is changed before it is approved)",
            *([f"* {change}" for change in status.plan] or ["No change."]),
            "",
            f"Approve: {{{{remedy approve {run} --comment '...'}}}}; reject: "
            f"{{{{remedy reject {run} --comment '...'}}}}; or in the hub (POST /runs/{run}/approve "
            "or /reject). Only an Analyst or Admin may decide.",
        ]
    elif stage.startswith("decision") and status.decisions:
        last = status.decisions[-1]
        at = last.at.strftime("%Y-%m-%d %H:%M:%SZ") if last.at else "now"
        verdict = "approved" if last.approve else "rejected"
        lines = [
            f"Remedy: the plan was *{verdict}* by {last.by} ({last.role}) at {at}"
            + (f": {last.comment}" if last.comment else ""),
            "",
            *_header(request, ui_link, execution),
            "",
            "The run applies the approved plan now (it plans again first, and asks again if the "
            "resource changed)."
            if last.approve
            else "Nothing was changed.",
        ]
    else:
        lines = [
            "Remedy will remediate this finding once its grace period is over: "
            + (step["grace"].message if "grace" in step else ""),
            "",
            *_header(request, ui_link, execution),
            "",
            "Fix or resolve the finding meanwhile (a PASSED finding, or suppressed in the hub) and "
            "the run ends without changing anything.",
        ]
    text = redact("\n".join(lines))
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 20] + "\n… (cut)"
