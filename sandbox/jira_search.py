"""Jira search in the emulator: the subset of JQL Remedy uses, and the issues a query selects.

`field = value` and `field != value` joined by AND, over labels, project, key, status,
statusCategory and issuetype, then an optional `ORDER BY created|key [ASC|DESC]`. Anything else
is a JQL error (400), as Jira answers it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.jira_store import ISSUE_TYPES, STATUS_CATEGORIES, STATUS_IDS, Issue, JiraProblem

_JQL_TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>!=|=)|(?P<word>[\w.\-]+))')
JQL_FIELDS = {"labels", "project", "key", "status", "statuscategory", "issuetype", "type"}


@dataclass(frozen=True)
class Clause:
    field: str
    negated: bool
    value: str


@dataclass(frozen=True)
class Query:
    clauses: list[Clause]
    order_by: str = "key"
    descending: bool = False


def parse_jql(text: str) -> Query:
    """Parse `a = "x" AND b != y ORDER BY created DESC`; anything else is a JQL error (400)."""
    tokens: list[tuple[str, str]] = []
    position, text = 0, text.strip()
    while position < len(text):
        match = _JQL_TOKEN.match(text, position)
        if not match or match.end() == position:
            raise JiraProblem(
                400, f"Error in the JQL Query: unexpected text at {position}: {text!r}"
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        tokens.append((kind, re.sub(r"\\(.)", r"\1", value[1:-1]) if kind == "string" else value))
        position = match.end()
    index = 0

    def upcoming() -> str:
        return (
            tokens[index][1].upper() if index < len(tokens) and tokens[index][0] == "word" else ""
        )

    def take(*kinds: str) -> str:
        nonlocal index
        if index >= len(tokens) or tokens[index][0] not in kinds:
            raise JiraProblem(400, f"Error in the JQL Query: the query is incomplete: {text!r}")
        index += 1
        return tokens[index - 1][1]

    clauses: list[Clause] = []
    while index < len(tokens) and upcoming() != "ORDER":
        if clauses and take("word").upper() != "AND":
            raise JiraProblem(400, f"Error in the JQL Query: expected AND or ORDER BY: {text!r}")
        name = take("word")
        if name.lower() not in JQL_FIELDS:
            raise JiraProblem(
                400, f"Field '{name}' does not exist or you do not have permission to view it."
            )
        negated = take("op") == "!="
        clauses.append(Clause(name.lower(), negated, take("string", "word")))
    if index == len(tokens):
        return Query(clauses)
    take("word")  # ORDER
    if take("word").upper() != "BY":
        raise JiraProblem(400, f"Error in the JQL Query: expected BY after ORDER: {text!r}")
    order_by = take("word").lower()
    direction = take("word").upper() if index < len(tokens) else "ASC"
    if (
        index < len(tokens)
        or order_by not in ("created", "key")
        or direction not in ("ASC", "DESC")
    ):
        raise JiraProblem(400, f"Error in the JQL Query: unsupported ORDER BY: {text!r}")
    return Query(clauses, order_by, direction == "DESC")


def _matches(issue: Issue, clause: Clause, projects: dict[str, str]) -> bool:
    category = STATUS_CATEGORIES[issue.status]
    values: list[str] = {
        "labels": issue.labels,
        "project": [issue.project, projects[issue.project]],
        "key": [issue.key, issue.id],
        "status": [issue.status, STATUS_IDS[issue.status]],
        "statuscategory": [category["name"], category["key"], str(category["id"])],
        "issuetype": [issue.issue_type, ISSUE_TYPES[issue.issue_type]],
        "type": [issue.issue_type, ISSUE_TYPES[issue.issue_type]],
    }[clause.field]
    found = clause.value.casefold() in {v.casefold() for v in values}
    if clause.field == "labels":
        found = clause.value in values  # labels are case-sensitive
    return found != clause.negated


def find_issues(issues: list[Issue], projects: dict[str, str], jql: str) -> list[Issue]:
    """The issues `jql` selects, in its order; `projects`: project key → id."""
    query = parse_jql(jql)
    for clause in query.clauses:
        if clause.field == "project" and not any(
            clause.value in (k, i) for k, i in projects.items()
        ):
            raise JiraProblem(
                400,
                f"The value '{clause.value}' does not exist for the field 'project'.",
            )
    found = [i for i in issues if all(_matches(i, c, projects) for c in query.clauses)]
    order: Callable[[Issue], Any] = (
        (lambda i: (i.created, i.number))
        if query.order_by == "created"
        else (lambda i: (i.project, i.number))
    )
    return sorted(found, key=order, reverse=query.descending)
