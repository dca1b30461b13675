"""Bad findings: a corpus of malformed ones and property-based tests over the payload models.

Whatever comes in, validation answers with a PayloadError naming the field at fault, never an
unhandled exception, and never half-writes anything (it returns a new payload or nothing).
"""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remedy.finding import PayloadError, parse_json, read_finding
from tests.findings import aws_finding

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, str]] = json.loads((CORPUS / "expected.json").read_text())
VALID = aws_finding("i-1", finding_id="f-1")


def check(text: str) -> None:
    payload = parse_json(text)
    read_finding(payload, for_run=True)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_malformed_finding_of_the_corpus_names_its_field(name: str) -> None:
    with pytest.raises(PayloadError) as raised:
        check((CORPUS / name).read_text())
    expected = EXPECTED[name]["field"]
    assert raised.value.field == expected, (EXPECTED[name]["what"], str(raised.value))
    assert str(raised.value).startswith(f"{expected}: " if expected else "")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
        (json.dumps({**VALID, "blob": "x" * 300_000}), "the limit is"),
    ],
)
def test_huge_and_deep_payloads_are_refused_cleanly(text: str, words: str) -> None:
    with pytest.raises(PayloadError, match=words):
        check(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
PATHS = [
    ["cloudAccount"],
    ["cloudAccount", "provider"],
    ["cloudAccount", "roleArn"],
    ["notificationInfo"],
    ["notificationInfo", "CloudAccountID"],
    ["notificationInfo", "RuleID"],
    ["notificationInfo", "FindingInfo"],
    ["notificationInfo", "FindingInfo", "FindingId"],
    ["notificationInfo", "FindingInfo", "ObjectId"],
    ["notificationInfo", "FindingInfo", "ObjectChain"],
    ["notificationInfo", "FindingInfo", "CloudTags"],
    ["notificationInfo", "FindingInfo", "RiskScore"],
    ["notificationInfo", "FindingInfo", "Region"],
    ["autoRemediate"],
]


def replaced(path: list[str], value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(VALID)
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return payload


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), json_values | st.text(max_size=40).map(lambda t: t))
def test_any_value_anywhere_gives_a_result_or_an_error_naming_a_field(
    path: list[str], value: Any
) -> None:
    payload = replaced(path, value)
    before = copy.deepcopy(payload)
    try:
        finding = read_finding(payload, for_run=True)
    except PayloadError as problem:
        assert problem.field, f"no field named for {path}={value!r}: {problem}"
        assert str(problem).startswith(problem.field)
    else:
        assert finding.payload["notificationInfo"]["CloudAccountID"] == finding.account_id
    assert payload == before  # validation never changes what it was given


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_to_an_object_or_a_clear_error(text: str) -> None:
    try:
        value = parse_json(text)
    except PayloadError as problem:
        assert str(problem)
    else:
        assert isinstance(value, dict)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_document_is_validated_or_refused_never_crashes(value: Any) -> None:
    with contextlib.suppress(PayloadError):  # anything else would fail the test
        read_finding(parse_json(json.dumps(value)), for_run=True)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    st.lists(json_values, max_size=3),
)
def test_any_object_chain_is_read_or_refused(chain: dict[str, Any], properties: list[Any]) -> None:
    payload = replaced(
        ["notificationInfo", "FindingInfo", "ObjectChain"],
        json.dumps({**chain, "properties": properties}),
    )
    try:
        read_finding(payload, for_run=True)
    except PayloadError as problem:
        assert problem.field.startswith(("notificationInfo", "cloudAccount"))
