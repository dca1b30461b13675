"""Small readers shared by the format readers: typed field access that names the field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remedy.payload_shape import PayloadError


def text(document: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    """A string field ('' when absent and not required); PayloadError names `where.key`."""
    value = document.get(key)
    if value is None or value == "":
        if required:
            raise PayloadError(f"{where}{key}", "is missing: the finding must carry it")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{where}{key}", f"must be a string, not {type(value).__name__}")
    return str(value)


def obj(document: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{where}{key}", f"must be an object, not {type(value).__name__}")
    return value


def items(document: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where}{key}", f"must be a list, not {type(value).__name__}")
    return value


def arn_resource(arn: str) -> str:
    """The resource's own id in an ARN: `arn:aws:ec2:r:a:security-group/sg-1` -> `sg-1`,
    `arn:aws:s3:::bucket` -> `bucket`; anything else is returned as it is."""
    if not arn.startswith("arn:"):
        return arn
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return arn
    return parts[5].rsplit("/", 1)[-1].rsplit(":", 1)[-1] or arn


def azure_resource(resource_id: str) -> tuple[str, str | None]:
    """(name, resource group) of an Azure resource id; a bare name has no group."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    group = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered[:-1] else None
    return (parts[-1] if parts else resource_id), group


def tag_pairs(values: Any) -> dict[str, str]:
    """Tags given as {k: v}, as ["k=v"] labels, or as [{"name"|"Key": k, "value"|"Value": v}]."""
    if isinstance(values, dict):
        return {str(k): str(v) for k, v in values.items()}
    tags: dict[str, str] = {}
    for value in values if isinstance(values, list) else []:
        if isinstance(value, str):
            name, _, tagged = value.partition("=")
            tags[name.strip()] = tagged.strip()
        elif isinstance(value, dict):
            key = value.get("name", value.get("Key"))
            if key is not None:
                tags[str(key)] = str(value.get("value", value.get("Value", "")))
    return tags
