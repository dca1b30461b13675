"""Azure Resource Manager paths and errors: what a path names, and how ARM says no.

Paths are those of ARM (case-insensitive, as in Azure):

    /subscriptions/{sub}/resourceGroups/{rg}
    /subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{subtype}/{subname}...]
    /subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}          (a collection)
    /subscriptions/{sub}/providers/{ns}/{type}                              (every one in the sub)
    {a resource's path}/providers/{ns}/{type}[/{name}]    (an extension resource: diagnostic settings)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ArmError(Exception):
    """An ARM error response: HTTP status, `error.code`, `error.message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass(frozen=True)
class ArmPath:
    """A parsed ARM path below one subscription.

    `types`/`names` alternate after the provider namespace: types=["networkSecurityGroups",
    "securityRules"], names=["nsg", "ssh"] is a child item; one name fewer is a collection.
    A resource group is namespace "Microsoft.Resources", types ["resourceGroups"].
    """

    subscription: str
    resource_group: str | None
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]
    #: an extension resource's scope: the id of the resource it extends, else ""
    #: (https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/extension-resource-types)
    extends: str = ""

    @property
    def is_collection(self) -> bool:
        return len(self.names) < len(self.types)

    @property
    def resource_type(self) -> str:
        return "/".join((self.namespace, *self.types))

    @property
    def is_resource_group(self) -> bool:
        return self.types == ("resourceGroups",) and self.namespace == "Microsoft.Resources"

    def top_key(self) -> str:
        """The store key of the top-level resource this path is (or is inside)."""
        return self._id(1).lower()

    def _id(self, depth: int) -> str:
        base = f"/subscriptions/{self.subscription}"
        if self.is_resource_group:
            return f"{base}/resourceGroups/{self.names[0]}" if depth and self.names else base
        rg = f"{base}/resourceGroups/{self.resource_group}" if self.resource_group else base
        rg = self.extends or rg
        tail = "".join(
            f"/{t}/{n}" for t, n in zip(self.types[:depth], self.names[:depth], strict=False)
        )
        return f"{rg}/providers/{self.namespace}{tail}"

    def id(self) -> str:
        return self._id(len(self.names))

    def scope(self) -> str:
        """What an authorization error names: the resource, or the collection's parent."""
        return self._id(len(self.names))


def parse_path(path: str) -> tuple[str, ArmPath | None]:
    """(subscription id, parsed path) for a path below /subscriptions/{sub}; None = the sub itself.

    Raises ArmError(400/404) for a path that names no resource or collection.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise ArmError(404, "InvalidResourceNamespace", f"no resource at {path}")
    sub, rest = parts[1], parts[2:]
    if not rest:
        return sub, None
    rg: str | None = None
    if rest[0].lower() == "resourcegroups":
        if len(rest) <= 2:
            names = tuple(rest[1:2])
            return sub, ArmPath(sub, None, "Microsoft.Resources", ("resourceGroups",), names)
        rg, rest = rest[1], rest[2:]
    if len(rest) < 3 or rest[0].lower() != "providers":
        raise ArmError(
            404, "InvalidResourceNamespace", f"{path} is not a resource path of this emulator"
        )
    namespace, pairs = rest[1], rest[2:]
    extension = next((i for i in range(2, len(pairs), 2) if pairs[i].lower() == "providers"), 0)
    if extension and len(pairs) > extension + 2:  # {resource}/providers/{ns}/{type}[/{name}]
        parent = "/".join(parts[: len(parts) - len(pairs) + extension])
        pairs, namespace = pairs[extension + 2 :], pairs[extension + 1]
        types, names = tuple(pairs[0::2]), tuple(pairs[1::2])
        return sub, ArmPath(sub, rg, namespace, types, names, extends=f"/{parent}")
    types, names = tuple(pairs[0::2]), tuple(pairs[1::2])
    return sub, ArmPath(sub, rg, namespace, types, names)
