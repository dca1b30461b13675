"""What RDS refuses and moto (5.x) lets through, for the calls the RDS jobs and their tests make.

Installed into the sandbox's moto server by sandbox/moto_server.py:

- a `BackupRetentionPeriod` outside 0-35 days on CreateDBInstance or ModifyDBInstance: 400
  InvalidParameterValue. AWS: "Must be a value from 0 to 35" (the parameter's constraints,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html and
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html; "You can
  set the backup retention period to between 0 and 35 days",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html);
  the error code is the common InvalidParameterValue, status 400
  (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html). moto stores any
  integer, -3 and 99 included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moto.rds.exceptions import InvalidParameterValue
from moto.rds.models import RDSBackend

MAX_RETENTION_DAYS = 35


def check_retention(db_kwargs: Mapping[str, Any]) -> None:
    """InvalidParameterValue for a backup retention period AWS does not take."""
    value = db_kwargs.get("backup_retention_period")
    if value is None:
        return
    if not 0 <= int(value) <= MAX_RETENTION_DAYS:
        raise InvalidParameterValue(
            f"Invalid backup retention period: {value}. "
            f"The backup retention period must be between 0 and {MAX_RETENTION_DAYS} days."
        )


_create_db_instance = RDSBackend.create_db_instance
_modify_db_instance = RDSBackend.modify_db_instance


def create_db_instance(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
    check_retention(db_kwargs)
    return _create_db_instance(self, db_kwargs)


def modify_db_instance(
    self: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]
) -> Any:
    check_retention(db_kwargs)
    return _modify_db_instance(self, db_instance_identifier, db_kwargs)


def install() -> None:
    RDSBackend.create_db_instance = create_db_instance  # type: ignore[method-assign]
    RDSBackend.modify_db_instance = modify_db_instance  # type: ignore[method-assign]
