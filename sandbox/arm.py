"""A generic Azure Resource Manager resource store: resources by ARM path, nothing type-specific.

Paths (which resource or collection a path names) and ArmError are in sandbox/arm_paths.py.

A write fills what Azure fills: `id`, `name`, `type`, a fresh weak `etag` and
`properties.provisioningState`. Child resources live inside their parent, as the network provider
keeps them: `.../networkSecurityGroups/nsg/securityRules/ssh` is the item named `ssh` of the
parent's `properties.securityRules` list, so a PUT of the whole parent and a PUT of the child are
two views of one state; a child write changes the parent's etag too. Embedded children (list items
with a `name`) get their `id`, `type`, `etag` and `provisioningState` filled the same way.

PUT replaces (a PUT without `tags` drops them, as in Azure); PATCH merges: `tags` replaced whole
(update-tags semantics), `properties` merged key by key, lists replaced. `If-Match` / `If-None-Match`
are honoured on every write (412 PreconditionFailed). Requests reach it through
sandbox/arm_requests.py.
"""

from __future__ import annotations

import copy
import threading
import uuid
from typing import Any

from sandbox.arm_paths import ArmError, ArmPath, parse_path

__all__ = ["ArmError", "ArmPath", "ArmStore", "Resource", "new_etag", "parse_path"]

Resource = dict[str, Any]


def new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _find(items: list[Any], name: str) -> int | None:
    for index, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("name", "")).lower() == name.lower():
            return index
    return None


def _key(mapping: dict[str, Any], name: str) -> str:
    """The existing key that matches `name` case-insensitively, else `name`."""
    return next((k for k in mapping if k.lower() == name.lower()), name)


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _fill(resource: Resource, resource_id: str, resource_type: str, etag: str) -> None:
    """Set what Azure sets on a write, on the resource and every embedded child resource."""
    name = resource_id.rsplit("/", 1)[-1]
    resource.update(id=resource_id, name=name, type=resource_type, etag=etag)
    props = resource.setdefault("properties", {})
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", f"{resource_id}: properties must be an object")
    props["provisioningState"] = "Succeeded"
    for key, value in props.items():
        if isinstance(value, list):
            for child in value:
                if isinstance(child, dict) and child.get("name"):
                    child.setdefault("properties", {})
                    _fill(
                        child,
                        f"{resource_id}/{key}/{child['name']}",
                        f"{resource_type}/{key}",
                        etag,
                    )


class ArmStore:
    """Resources by ARM path, thread-safe; every method returns copies."""

    def __init__(self) -> None:
        self._top: dict[str, Resource] = {}
        self._lock = threading.RLock()  # list() reads a parent through get()

    # -- navigation ----------------------------------------------------------------------------

    def _locate(self, path: ArmPath) -> tuple[Resource | None, list[Any] | None, int | None]:
        """(top-level resource, the list holding the target child, its index) for an item path.

        For a top-level path the list is None and the index None; the resource may be None.
        """
        top = self._top.get(path.top_key())
        if len(path.names) <= 1 or top is None:
            return top, None, None
        container: Resource = top
        items: list[Any] | None = None
        index: int | None = None
        for depth in range(1, len(path.names)):
            props = container.setdefault("properties", {})
            items = props.setdefault(_key(props, path.types[depth]), [])
            if not isinstance(items, list):
                raise ArmError(400, "InvalidResourceType", f"{path.id()} is not a child resource")
            index = _find(items, path.names[depth])
            if depth < len(path.names) - 1:
                if index is None:
                    return top, None, None
                container = items[index]
        return top, items, index

    def _check_preconditions(
        self,
        current: Resource | None,
        path: ArmPath,
        if_match: str | None,
        if_none_match: str | None,
    ) -> None:
        if if_none_match == "*" and current is not None:
            raise ArmError(412, "PreconditionFailed", f"{path.id()} exists (If-None-Match: *)")
        if if_match and if_match != "*" and (current is None or current.get("etag") != if_match):
            raise ArmError(
                412,
                "PreconditionFailed",
                f"the etag {if_match} does not match {path.id()}'s current etag; "
                "it was changed since it was read",
            )
        if if_match == "*" and current is None:
            raise ArmError(412, "PreconditionFailed", f"{path.id()} does not exist (If-Match: *)")

    def _not_found(self, path: ArmPath) -> ArmError:
        if path.is_resource_group:
            return ArmError(
                404,
                "ResourceGroupNotFound",
                f"Resource group '{path.names[0]}' could not be found.",
            )
        return ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{path.resource_type}/{'/'.join(path.names)}' under resource group "
            f"'{path.resource_group}' was not found.",
        )

    # -- operations ----------------------------------------------------------------------------

    def get(self, path: ArmPath) -> Resource:
        with self._lock:
            top, items, index = self._locate(path)
            if len(path.names) <= 1:
                found = top
            else:
                found = items[index] if items is not None and index is not None else None
            if found is None:
                raise self._not_found(path)
            return copy.deepcopy(found)

    def list(self, path: ArmPath) -> list[Resource]:
        """A collection: a type in a resource group, in the subscription, or a child list."""
        with self._lock:
            if len(path.types) == 1:
                prefix = f"{path.extends or f'/subscriptions/{path.subscription}'}/".lower()
                wanted = path.resource_type.lower()
                rg = (path.resource_group or "").lower()
                found = [
                    r
                    for key, r in self._top.items()
                    if key.startswith(prefix)
                    and str(r.get("type", "")).lower() == wanted
                    and (not rg or f"/resourcegroups/{rg}/" in key)
                ]
                return copy.deepcopy(sorted(found, key=lambda r: str(r["id"]).lower()))
            parent = ArmPath(
                path.subscription, path.resource_group, path.namespace, path.types[:-1], path.names
            )
            props = self.get(parent).get("properties", {})
            children = props.get(_key(props, path.types[-1]), [])
            return (
                [c for c in children if isinstance(c, dict)] if isinstance(children, list) else []
            )

    def put(
        self,
        path: ArmPath,
        body: dict[str, Any],
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> tuple[Resource, bool]:
        """Create or replace; return (the stored resource, whether it was created)."""
        with self._lock:
            etag = new_etag()
            top, items, index = self._locate(path)
            if len(path.names) <= 1:
                self._check_preconditions(top, path, if_match, if_none_match)
                if not path.is_resource_group and self._group_missing(path):
                    raise ArmError(
                        404,
                        "ResourceGroupNotFound",
                        f"Resource group '{path.resource_group}' could not be found.",
                    )
                if path.extends and self._extended_missing(path):
                    raise self._not_found(parse_path(path.extends)[1] or path)
                if not body.get("location") and not path.extends:  # an extension has none
                    raise ArmError(
                        400,
                        "LocationRequired",
                        "The location property is required for this definition.",
                    )
                resource = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "etag")}
                _fill(resource, path.id(), path.resource_type, etag)
                self._top[path.top_key()] = resource
                return copy.deepcopy(resource), top is None
            if top is None or items is None:
                parent = ArmPath(
                    path.subscription,
                    path.resource_group,
                    path.namespace,
                    path.types[:-1],
                    path.names[:-1],
                )
                raise self._not_found(parent)
            current = items[index] if index is not None else None
            self._check_preconditions(current, path, if_match, if_none_match)
            child = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "etag")}
            child["name"] = path.names[-1]
            if index is None:
                items.append(child)
            else:
                items[index] = child
            top_path = ArmPath(
                path.subscription,
                path.resource_group,
                path.namespace,
                path.types[:1],
                path.names[:1],
            )
            _fill(top, top_path.id(), top_path.resource_type, etag)
            return copy.deepcopy(child), current is None

    def patch(
        self, path: ArmPath, body: dict[str, Any], *, if_match: str | None = None
    ) -> Resource:
        with self._lock:
            current = self._current(path)
            self._check_preconditions(current, path, if_match, None)
            if current is None:
                raise self._not_found(path)
            for key, value in body.items():
                if key in ("id", "name", "type", "etag"):
                    continue
                if key == "properties" and isinstance(value, dict):
                    _merge(current.setdefault("properties", {}), value)
                else:
                    current[key] = copy.deepcopy(value)
            top = self._top[path.top_key()]
            top_path = ArmPath(
                path.subscription,
                path.resource_group,
                path.namespace,
                path.types[:1],
                path.names[:1],
            )
            _fill(top, top_path.id(), top_path.resource_type, new_etag())
            return copy.deepcopy(current)

    def delete(self, path: ArmPath, *, if_match: str | None = None) -> bool:
        """Remove the resource (a resource group takes its resources along); False if absent."""
        with self._lock:
            current = self._current(path)
            if current is None:
                if if_match and if_match != "*":
                    self._check_preconditions(None, path, if_match, None)
                return False
            self._check_preconditions(current, path, if_match, None)
            if len(path.names) <= 1:
                key = path.top_key()
                del self._top[key]
                if path.is_resource_group:
                    for other in [k for k in self._top if k.startswith(key + "/")]:
                        del self._top[other]
                return True
            top, items, index = self._locate(path)
            assert top is not None and items is not None and index is not None
            del items[index]
            top_path = ArmPath(
                path.subscription,
                path.resource_group,
                path.namespace,
                path.types[:1],
                path.names[:1],
            )
            _fill(top, top_path.id(), top_path.resource_type, new_etag())
            return True

    def set_by_azure(self, path: ArmPath, key: str, value: Any) -> None:
        """Set a property only Azure writes (an NSG's subnets, NICs), as it would on association."""
        with self._lock:
            current = self._current(path)
            if current is None:
                raise self._not_found(path)
            current.setdefault("properties", {})[key] = copy.deepcopy(value)

    def _current(self, path: ArmPath) -> Resource | None:
        top, items, index = self._locate(path)
        if len(path.names) <= 1:
            return top
        return items[index] if items is not None and index is not None else None

    def _extended_missing(self, path: ArmPath) -> bool:
        """An extension resource (a diagnostic setting) needs the resource it extends."""
        extended = parse_path(path.extends)[1]
        return extended is None or self._current(extended) is None

    def _group_missing(self, path: ArmPath) -> bool:
        """A resource in a resource group needs the group to exist, as in Azure."""
        if path.resource_group is None:
            return False
        rg_key = f"/subscriptions/{path.subscription}/resourcegroups/{path.resource_group}".lower()
        return rg_key not in self._top
