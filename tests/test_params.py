"""The parameter contract: one JSON Schema per job, one check, the same message at every door."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.validate import ValidationActivities
from hub.actions import _check_parameters
from hub.errors import ApiError
from remedy.config import BUILTIN_JOBS
from remedy.job_registry import discover
from remedy.jobkit.finding import parse_finding
from remedy.params import ParameterError, SchemaProblem, check_parameters, check_schema
from remedy.types import AccountAccess, JobStep, RemediationSpec, ValidateInput
from tests.findings import aws_finding

ROLE = "arn:aws:iam::123456789012:role/remedy-remediation"
PORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
    "required": ["port"],
    "additionalProperties": False,
}
PROBLEM = "must be an integer from 1 to 65535, not 70000"
OUT_OF_RANGE = f"port {PROBLEM}"


def test_a_port_out_of_range_gets_the_same_message_at_the_hub_the_worker_and_the_job() -> None:
    registry = discover(BUILTIN_JOBS)
    job = registry.get("security_group_close_port")

    with pytest.raises(ApiError) as at_hub:
        _check_parameters(
            0, JobStep(job=job.name, parameters={"port": 70000}), job.info().parameters
        )
    assert at_hub.value.field == "steps.0.parameters.port"
    assert at_hub.value.error == f"steps.0.parameters.port: {PROBLEM}"

    request = ValidateInput(
        payload=aws_finding("sg-1", role_arn=ROLE),
        spec=RemediationSpec(
            steps=[JobStep(job=job.name, parameters={"port": 70000})],
            access=AccountAccess(role_arn=ROLE),
        ),
    )
    with pytest.raises(ApplicationError) as at_worker:
        ValidationActivities(registry).check(request)
    assert at_worker.value.type == "ParameterError"
    assert at_worker.value.message == f"job security_group_close_port: parameters.{OUT_OF_RANGE}"

    payload = {**aws_finding("sg-1"), "remediationParameters": {"port": 70000}}
    metadata = json.loads((job.folder / "remedy.json").read_text())
    with pytest.raises(ParameterError) as in_job:
        parse_finding(["job.py", json.dumps(payload)], {}, metadata)
    assert str(in_job.value) == f"remediationParameters.{OUT_OF_RANGE}"


@pytest.mark.parametrize(
    ("values", "path", "words"),
    [
        ({}, "parameters.port", "is missing: this job needs it (an integer from 1 to 65535)"),
        ({"port": "22"}, "parameters.port", "must be an integer from 1 to 65535, not '22'"),
        ({"port": 22.0}, "parameters.port", "must be an integer"),
        ({"port": True}, "parameters.port", "must be an integer"),
        ({"port": 22, "prot": 23}, "parameters.prot", "takes no parameter 'prot' (it takes: port)"),
    ],
)
def test_each_problem_names_the_parameter_and_the_constraint(
    values: dict[str, Any], path: str, words: str
) -> None:
    with pytest.raises(ParameterError) as raised:
        check_parameters(PORT_SCHEMA, values)
    assert raised.value.path == path and words in str(raised.value)


def test_defaults_fill_in_and_a_job_without_a_schema_takes_anything() -> None:
    schema = {**PORT_SCHEMA, "properties": {"port": {"type": "integer", "default": 22}}}
    assert check_parameters(schema, {}) == {"port": 22}
    assert check_parameters({}, {"anything": [1]}) == {"anything": [1]}
    with pytest.raises(ParameterError, match="remediationParameters must be a JSON object"):
        check_parameters({}, [1], root="remediationParameters")


def test_a_missing_required_parameter_offers_an_alias() -> None:
    with pytest.raises(ParameterError, match=r"or run an alias such as close_22$"):
        check_parameters(PORT_SCHEMA, {}, root="remediationParameters", aliases=["close_22"])


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ([], "must be a JSON Schema object, not list"),
        ({"port": {"type": "integer"}}, 'must be an object schema: {"type": "object"'),
        (
            {"type": "object", "properties": {"port": {"type": "integr"}}},
            "parameters.properties.port.type: 'integr' is not valid",
        ),
        (
            {"type": "object", "properties": {"port": {"minimum": "one"}}},
            "parameters.properties.port.minimum: 'one' is not of type 'number'",
        ),
        (
            {"type": "object", "properties": {}, "required": ["port"]},
            "parameters.required names 'port', which has no properties entry",
        ),
    ],
)
def test_a_bad_schema_is_refused_naming_the_keyword(schema: Any, words: str) -> None:
    with pytest.raises(SchemaProblem) as raised:
        check_schema(schema)
    assert words in str(raised.value)


def test_the_registry_refuses_a_job_whose_remedy_json_has_an_invalid_schema(
    tmp_path: Path,
) -> None:
    shutil.copytree(BUILTIN_JOBS / "security_group_close_port", tmp_path / "close_port")
    (tmp_path / "close_port" / "security_group_close_port.py").rename(
        tmp_path / "close_port" / "close_port.py"
    )
    metadata_file = tmp_path / "close_port" / "remedy.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["parameters"]["properties"]["port"]["maximum"] = "65535"
    metadata_file.write_text(json.dumps(metadata))

    registry = discover(tmp_path)

    assert "close_port" not in registry.jobs
    assert registry.errors == [
        "job folder 'close_port' is not registered: close_port/remedy.json: "
        "parameters.properties.port.maximum: '65535' is not of type 'number'"
    ]


def test_the_registry_refuses_an_alias_whose_value_the_schema_refuses(tmp_path: Path) -> None:
    shutil.copytree(
        BUILTIN_JOBS / "security_group_close_port", tmp_path / "security_group_close_port"
    )
    metadata_file = tmp_path / "security_group_close_port" / "remedy.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["aliases"]["security_group_close_port_22"]["parameters"]["port"] = 70000
    metadata_file.write_text(json.dumps(metadata))

    registry = discover(tmp_path)

    assert "security_group_close_port" in registry.jobs
    assert "security_group_close_port_22" not in registry.jobs
    assert any(
        "alias security_group_close_port_22 of security_group_close_port is not registered" in e
        and "aliases.security_group_close_port_22.parameters.port must be an integer from 1 to "
        "65535, not 70000"
        in e
        for e in registry.errors
    ), registry.errors


def test_an_alias_publishes_its_value_as_the_default_of_the_schema() -> None:
    alias = discover(BUILTIN_JOBS).get("security_group_close_port_22")
    schema = alias.info().parameters
    assert schema["properties"]["port"]["default"] == 22 and schema["required"] == []
    assert alias.resolve_parameters({}) == {"port": 22, "protocol": "tcp"}  # protocol: its default
    with pytest.raises(ParameterError, match=OUT_OF_RANGE):
        check_parameters(schema, {"port": 70000})
