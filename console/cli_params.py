"""`--param NAME=VALUE` options, shared by the direct and the hub command lines."""

from __future__ import annotations

import json
from typing import Any


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
