"""Require a secure transport on one MySQL flexible server: its `require_secure_transport` server
parameter goes from `OFF` to `ON`; every other parameter and setting of the server is kept.

ObjectId: the flexible server's name; its subscription and resource group come from the
ObjectChain. A name that is no flexible server (a retired single server among them) ends with
exit 1 and one ERROR line saying what to do (remedy/jobkit/azure_db.py).

The parameter is read from the server's parameter list (`configurations.list_by_server`, the same
RBAC action as a single `get`): the service registry resolves an SDK call by operation group and
method across every Azure SDK, and `configurations.get` is the PostgreSQL service's.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.mgmt.mysqlflexibleservers.models import Configuration

from remedy import jobkit
from remedy.jobkit import azure, info
from remedy.jobkit.azure_db import (
    SECURE_TRANSPORT,
    enforce_secure_transport,
    missing_server,
    restore_secure_transport,
)


class Parameter:
    """require_secure_transport of the finding's server, read and written through the SDK."""

    def __init__(self, finding: jobkit.Finding) -> None:
        self.client = azure.client("mysqlflexibleservers", finding)
        self.group, self.server = finding.resource_group, finding.object_id

    def read(self) -> str:
        try:
            found = self.client.configurations.list_by_server(
                self.group, self.server, keyword=SECURE_TRANSPORT
            )
            values = [str(c.value) for c in found if str(c.name).lower() == SECURE_TRANSPORT]
        except HttpResponseError as exc:
            raise missing_server(exc, "MySQL", self.server, self.group) from exc
        if not values:
            raise azure.CannotRemediate(f"{self.server} lists no {SECURE_TRANSPORT} parameter")
        return values[0]

    def write(self, value: str) -> None:
        update = Configuration(value=value, source="user-override")
        self.client.configurations.begin_update(
            self.group, self.server, SECURE_TRANSPORT, update
        ).result()


def remediate(finding: jobkit.Finding) -> None:
    parameter = Parameter(finding)
    changes = enforce_secure_transport(finding.object_id, parameter.read, parameter.write, "ON")
    info(f"done: {changes} change(s) to require a secure transport on {finding.object_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    parameter = Parameter(finding)
    restore_secure_transport(finding.object_id, records, parameter.read, parameter.write)


if __name__ == "__main__":
    # plan: remediate itself, which writes nothing when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
