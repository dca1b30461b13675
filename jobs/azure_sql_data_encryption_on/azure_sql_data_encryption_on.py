"""Turn on transparent data encryption (TDE) of every database of an Azure SQL server.

ObjectId: the server's name; its subscription and resource group come from the ObjectChain.
Each database but `master` (the service encrypts it; TDE is not a setting of it) whose
`transparentDataEncryption/current` is not Enabled gets `state: Enabled`; nothing else changes.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit import azure, info
from remedy.jobkit.azure_sql import Properties, Setting, apply, rollback

TDE = "current"  # a database's one TDE configuration
MASTER = "master"


def wanted(props: Properties) -> Properties:
    return {} if str(props.get("state", "")).lower() == "enabled" else {"state": "Enabled"}


def encryption_settings(finding: jobkit.Finding) -> list[Setting]:
    """One setting per database of the server, master left out."""
    sql = azure.client("sql", finding)
    group, server = finding.resource_group, finding.object_id

    def setting(database: str) -> Setting:
        def read() -> Properties:
            tde = sql.transparent_data_encryptions.get(group, server, database, TDE).as_dict()
            return dict(tde.get("properties") or {})

        def write(props: Properties) -> None:
            sql.transparent_data_encryptions.begin_create_or_update(
                group, server, database, TDE, {"properties": props}
            ).result()

        label = f"database {server}/{database}: transparent data encryption"
        return Setting(f"{server}/{database}/transparentDataEncryption/{TDE}", label, read, write)

    names = sorted(str(db.name) for db in sql.databases.list_by_server(group, server))
    return [setting(name) for name in names if name.lower() != MASTER]


def remediate(finding: jobkit.Finding) -> None:
    settings = encryption_settings(finding)
    if not settings:
        info(f"ok: server {finding.object_id} has no database but master")
    changes = sum(apply(s, wanted, "Enabled") for s in settings)
    info(f"done: {changes} database(s) of {finding.object_id} encrypted")


def undo(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    changes = rollback(encryption_settings(finding), records)
    info(f"done: {changes} database(s) of {finding.object_id} restored")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=undo)
