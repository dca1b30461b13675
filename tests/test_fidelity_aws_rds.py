"""The AWS sandbox refuses what RDS refuses, with RDS's status and error code: the constraints the
RDS jobs could break that moto (5.x) does not enforce (sandbox/rds_strict.py), and the ones moto
does enforce that the jobs rely on (checked here so an upgrade that drops one is noticed).
Real boto3 calls against the sandbox's moto server.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sandbox.aws import AwsSandbox
from tests.test_fidelity_aws import refused


def new_instance(rds: Any, **settings: Any) -> str:
    name = f"fidelity-db-{uuid.uuid4().hex[:10]}"
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="remedy",
        MasterUserPassword="not-a-real-password-1",
        AllocatedStorage=20,
        **settings,
    )
    return name


def retention(rds: Any, name: str) -> int:
    found: int = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
        "BackupRetentionPeriod"
    ]
    return found


# ----------------------------------------------------------------------------------------------
# Added in sandbox/rds_strict.py
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [36, 99, -1])
def test_a_retention_outside_0_to_35_is_refused(aws_sandbox: AwsSandbox, days: int) -> None:
    rds = aws_sandbox.admin_client("rds")
    name = new_instance(rds, BackupRetentionPeriod=7)
    refused(
        rds.modify_db_instance,
        400,
        "InvalidParameterValue",
        DBInstanceIdentifier=name,
        BackupRetentionPeriod=days,
        ApplyImmediately=True,
    )
    assert retention(rds, name) == 7  # nothing changed


def test_a_new_instance_with_a_retention_over_35_is_refused(aws_sandbox: AwsSandbox) -> None:
    rds = aws_sandbox.admin_client("rds")
    with pytest.raises(Exception) as caught:
        new_instance(rds, BackupRetentionPeriod=36)
    error = caught.value.response  # type: ignore[attr-defined]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidParameterValue"


@pytest.mark.parametrize("days", [0, 1, 35])
def test_a_retention_of_0_to_35_is_taken(aws_sandbox: AwsSandbox, days: int) -> None:
    rds = aws_sandbox.admin_client("rds")
    name = new_instance(rds, BackupRetentionPeriod=7)
    rds.modify_db_instance(
        DBInstanceIdentifier=name, BackupRetentionPeriod=days, ApplyImmediately=True
    )
    assert retention(rds, name) == days


# ----------------------------------------------------------------------------------------------
# moto's own (the jobs rely on them)
# ----------------------------------------------------------------------------------------------


def test_a_missing_instance_is_db_instance_not_found(aws_sandbox: AwsSandbox) -> None:
    rds = aws_sandbox.admin_client("rds")
    refused(rds.describe_db_instances, 404, "DBInstanceNotFound", DBInstanceIdentifier="absent-db")
    refused(
        rds.modify_db_instance,
        404,
        "DBInstanceNotFound",
        DBInstanceIdentifier="absent-db",
        PubliclyAccessible=False,
    )


def test_missing_snapshots_are_not_found(aws_sandbox: AwsSandbox) -> None:
    rds = aws_sandbox.admin_client("rds")
    refused(
        rds.describe_db_snapshot_attributes,
        404,
        "DBSnapshotNotFound",
        DBSnapshotIdentifier="absent",
    )
    refused(
        rds.describe_db_cluster_snapshot_attributes,
        404,
        "DBClusterSnapshotNotFoundFault",
        DBClusterSnapshotIdentifier="absent",
    )


def test_a_deletion_protected_instance_cannot_be_deleted(aws_sandbox: AwsSandbox) -> None:
    rds = aws_sandbox.admin_client("rds")
    name = new_instance(rds, DeletionProtection=True)
    refused(
        rds.delete_db_instance,
        400,
        "InvalidParameterCombination",
        DBInstanceIdentifier=name,
        SkipFinalSnapshot=True,
    )


def test_removing_all_keeps_the_accounts(aws_sandbox: AwsSandbox) -> None:
    rds = aws_sandbox.admin_client("rds")
    snapshot = f"fidelity-snap-{uuid.uuid4().hex[:10]}"
    rds.create_db_snapshot(DBInstanceIdentifier=new_instance(rds), DBSnapshotIdentifier=snapshot)
    rds.modify_db_snapshot_attribute(
        DBSnapshotIdentifier=snapshot, AttributeName="restore", ValuesToAdd=["all", "111122223333"]
    )
    rds.modify_db_snapshot_attribute(
        DBSnapshotIdentifier=snapshot, AttributeName="restore", ValuesToRemove=["all"]
    )
    found = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=snapshot)
    attributes = found["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
    assert attributes == [{"AttributeName": "restore", "AttributeValues": ["111122223333"]}]
