"""`--param NAME=VALUE` options, shared by the direct and the hub command lines, and the options
`remedy remediate` and `remedy remediate-batch` share."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer


def parse_parameters(pairs: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs as a dict; a VALUE that is JSON is read as JSON. ValueError if malformed."""
    parameters: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--param takes NAME=VALUE, not {pair!r}")
        try:
            parameters[name] = json.loads(raw)
        except json.JSONDecodeError:
            parameters[name] = raw
    return parameters


#: the options `remedy remediate` and `remedy remediate-batch` share
GroupOption = Annotated[
    str | None,
    typer.Option(
        "--group", help="Worker group whose workers run it.", envvar="REMEDY_WORKER_GROUP"
    ),
]
ParamOption = Annotated[
    list[str],
    typer.Option("--param", help="Job parameter NAME=VALUE (JSON values allowed); repeatable."),
]
ExternalIdOption = Annotated[
    str | None,
    typer.Option(help="External id of that role's trust policy.", envvar="REMEDY_EXTERNAL_ID"),
]
