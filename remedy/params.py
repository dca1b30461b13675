"""The parameter contract: a job's parameters are a JSON Schema, checked by one function.

`remedy.json` `parameters` is a JSON Schema (Draft 2020-12) object schema::

    {"type": "object",
     "properties": {"port": {"type": "integer", "minimum": 1, "maximum": 65535,
                             "description": "The TCP port to close to the internet."}},
     "required": ["port"], "additionalProperties": false}

A job without one (a plain VSS job, or `{}`) takes any parameters. `check_schema` refuses a bad
schema when the registry loads the job; `check_parameters` is the only check of parameter values:
the hub (an action's steps), the worker (the validate activity and the job runner, through the
registry) and the jobs' kit (in the job's process, before `remediate`) all call it, so a value out
of range gets the same message everywhere, only the path's root differs (`steps.0.parameters`,
`parameters`, `remediationParameters`).

Why the kit checks again, with jsonschema: a job can be started by hand, or by another VSS worker,
with whatever `remediationParameters`; its code then reads `finding.parameters["port"]` with no
bounds of its own. jsonschema costs ~45 ms to import: the worker's fork server imports
`remedy.jobkit` (so this module) once when it starts, so a forked job pays nothing; a job started
by the plain launcher pays it once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError

# JSON Schema counts 22.0 as an integer; a job asking for an integer gets an int.
_TYPES = Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
)
_Validator = validators.extend(Draft202012Validator, type_checker=_TYPES)  # type: ignore[no-untyped-call]
_validators: dict[str, Any] = {}


class SchemaProblem(ValueError):
    """A job's `parameters` is not a valid JSON Schema object schema."""


class ParameterError(ValueError):
    """A parameter value the job's schema refuses; `path` names it (`<root>.<name>`)."""

    def __init__(self, path: str, problem: str, job: str | None = None) -> None:
        super().__init__(f"job {job}: {path} {problem}" if job else f"{path} {problem}")
        self.path = path
        self.problem = problem


def check_schema(schema: Any) -> None:
    """SchemaProblem naming the keyword at fault, unless `schema` is `{}` or a valid object schema."""
    if not isinstance(schema, dict):
        raise SchemaProblem(f"parameters must be a JSON Schema object, not {type(schema).__name__}")
    if not schema:
        return
    if schema.get("type") != "object" or not isinstance(schema.get("properties", {}), dict):
        raise SchemaProblem(
            'parameters must be an object schema: {"type": "object", "properties": {"<name>": '
            '{"type": ...}}, "required": [...], "additionalProperties": false}'
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = ".".join(str(part) for part in ("parameters", *exc.path))
        raise SchemaProblem(f"{where}: {exc.message}") from None
    unknown = sorted(set(schema.get("required", [])) - set(schema.get("properties", {})))
    if unknown:
        raise SchemaProblem(
            f"parameters.required names {unknown[0]!r}, which has no properties entry"
        )


def defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The `default` of each property that has one."""
    properties = schema.get("properties") or {}
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


def with_defaults(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The schema with `values` as defaults (an alias's parameters): they are no longer required."""
    if not values or not schema:
        return dict(schema)
    properties = {
        name: {**spec, "default": values[name]} if name in values else spec
        for name, spec in (schema.get("properties") or {}).items()
    }
    required = [name for name in schema.get("required", []) if name not in values]
    return {**schema, "properties": properties, "required": required}


def describe(spec: Mapping[str, Any]) -> str:
    """What a property takes, in words: `an integer from 1 to 65535`."""
    if "enum" in spec:
        return "one of " + ", ".join(json.dumps(v) for v in spec["enum"])
    kind = spec.get("type")
    words = {
        "integer": "an integer",
        "number": "a number",
        "string": "a string",
        "boolean": "true or false",
        "array": "a list",
        "object": "a JSON object",
    }
    text = words.get(kind, "a value") if isinstance(kind, str) else "a value"
    low, high = spec.get("minimum"), spec.get("maximum")
    if low is not None and high is not None:
        text += f" from {low} to {high}"
    elif low is not None:
        text += f" of at least {low}"
    elif high is not None:
        text += f" of at most {high}"
    return text


def _validator(schema: Mapping[str, Any]) -> Any:
    key = json.dumps(schema, sort_keys=True, default=str)
    if key not in _validators:
        check_schema(schema)
        _validators[key] = _Validator(schema)
    return _validators[key]


def _order(error: ValidationError) -> tuple[int, str]:
    # an unknown name first (a typo explains a missing one), then a missing one, then values
    rank = {"additionalProperties": 0, "required": 1}.get(str(error.validator), 2)
    return rank, ".".join(str(p) for p in error.path)


def _problem(
    error: ValidationError,
    schema: Mapping[str, Any],
    values: Mapping[str, Any],
    root: str,
    aliases: Sequence[str],
) -> tuple[str, str]:
    properties = schema.get("properties") or {}
    if error.validator == "additionalProperties" and not error.path:
        name = sorted(set(values) - set(properties))[0]
        takes = ", ".join(sorted(properties)) or "none"
        return (
            f"{root}.{name}",
            f"is unknown: the job takes no parameter {name!r} (it takes: {takes})",
        )
    if error.validator == "required" and not error.path:
        name = next(n for n in schema.get("required", []) if n not in values)
        spec = properties.get(name) or {}
        about = spec.get("description")
        hint = f", or run an alias such as {aliases[0]}" if aliases else ""
        need = describe(spec) + (f": {about}" if about else "")
        return f"{root}.{name}", f"is missing: this job needs it ({need}){hint}"
    path = ".".join([root, *(str(p) for p in error.path)])
    spec = properties.get(error.path[0]) if len(error.path) == 1 else None
    if isinstance(spec, dict) and error.validator in ("type", "minimum", "maximum", "enum"):
        return path, f"must be {describe(spec)}, not {error.instance!r}"
    return path, f"is not valid: {error.message}"


def check_parameters(
    schema: Mapping[str, Any],
    values: Any,
    *,
    root: str = "parameters",
    aliases: Sequence[str] = (),
    job: str | None = None,
) -> dict[str, Any]:
    """The schema's defaults overlaid with `values`, checked; ParameterError names the first fault.

    `root` is where the caller's parameters live (`remediationParameters`, `steps.0.parameters`);
    `aliases` (names of the job's aliases) are offered when a required parameter is missing;
    `job` prefixes the message when the caller runs several jobs.
    """
    if not isinstance(values, dict):
        raise ParameterError(root, "must be a JSON object", job)
    if not schema:
        return dict(values)  # a plain VSS job declares no parameters and takes any
    try:
        validator = _validator(schema)
    except SchemaProblem as exc:
        problem = f"cannot be checked: the job's schema is invalid ({exc})"
        raise ParameterError(root, problem, job) from None
    merged = {**defaults(schema), **values}
    errors = sorted(validator.iter_errors(merged), key=_order)
    if errors:
        path, problem = _problem(errors[0], schema, merged, root, aliases)
        raise ParameterError(path, problem, job)
    return merged
