"""The RDS jobs in every mode, on moto, run as the worker runs them (tests/job_modes.py), and what
each keeps: rds_modify_instance through each of its settings (the catalogue aliases
rds_backup_retention_30_days, rds_remove_public_endpoint, rds_enable_version_update, and
deletion protection), aws_rds_snapshot_remove_publicaccess on DB and DB cluster snapshots.

Every outcome is read back from moto with the administrator's client.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sandbox.aws import AwsSandbox
from sandbox.request_log import RequestLog
from tests.job_modes import Case, Run, exercise
from tests.test_jobs import ACCOUNT, REGION, payload

INSTANCE_JOB = "rds_modify_instance"
SNAPSHOT_JOB = "aws_rds_snapshot_remove_publicaccess"
BACKUP_RULE = "5c8c264a7a550e1fb6560c4d"
PUBLIC_RULE = "5c8c26467a550e1fb6560c48"
VERSION_RULE = "5c8c264a7a550e1fb6560c4c"
SNAPSHOT_RULE = "5c8c26487a550e1fb6560c4a"
FIELDS = (
    "BackupRetentionPeriod",
    "PreferredBackupWindow",
    "PreferredMaintenanceWindow",
    "PubliclyAccessible",
    "AutoMinorVersionUpgrade",
    "DeletionProtection",
    "MultiAZ",
    "DBInstanceClass",
)
WINDOW = "03:00-03:30"
SHARED = "111122223333"


def new_instance(rds: Any, **settings: Any) -> str:
    name = f"remedy-db-{uuid.uuid4().hex[:10]}"
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="remedy",
        MasterUserPassword="not-a-real-password-1",
        AllocatedStorage=20,
        PreferredBackupWindow=WINDOW,
        **settings,
    )
    return name


def instance_state(rds: Any, name: str) -> dict[str, Any]:
    found = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return {field: found.get(field) for field in FIELDS}


def modify(rds: Any, name: str, **settings: Any) -> None:
    rds.modify_db_instance(DBInstanceIdentifier=name, ApplyImmediately=True, **settings)


# ----------------------------------------------------------------------------------------------
# rds_modify_instance: every setting in every mode
# ----------------------------------------------------------------------------------------------

SETTINGS = [
    # (setting, rule, parameters, the non-compliant start, what the fix leaves, a person's tamper)
    (
        "backup_retention",
        BACKUP_RULE,
        {"retention_days": 30},
        {"BackupRetentionPeriod": 1},
        {"BackupRetentionPeriod": 30},
        {"BackupRetentionPeriod": 14},
    ),
    (
        "no_public_access",
        PUBLIC_RULE,
        {},
        {"PubliclyAccessible": True},
        {"PubliclyAccessible": False},
        {"PubliclyAccessible": True},
    ),
    (
        "auto_minor_version_upgrade",
        VERSION_RULE,
        {},
        {"AutoMinorVersionUpgrade": False},
        {"AutoMinorVersionUpgrade": True},
        {"AutoMinorVersionUpgrade": False},
    ),
    (
        "deletion_protection",
        "rule-x",
        {},
        {"DeletionProtection": False},
        {"DeletionProtection": True},
        {"DeletionProtection": False},
    ),
]


@pytest.mark.parametrize(
    ("setting", "rule", "parameters", "start", "fixed", "tampered"),
    SETTINGS,
    ids=[s[0] for s in SETTINGS],
)
def test_rds_modify_instance_modes(
    aws_sandbox: AwsSandbox,
    run: Run,
    setting: str,
    rule: str,
    parameters: dict[str, Any],
    start: dict[str, Any],
    fixed: dict[str, Any],
    tampered: dict[str, Any],
) -> None:
    rds = aws_sandbox.admin_client("rds")
    name = new_instance(rds, **start)
    before = instance_state(rds, name)
    finding = payload(name, rule, setting=setting, **parameters)

    exercise(
        run,
        Case(
            INSTANCE_JOB,
            finding,
            lambda: instance_state(rds, name),
            lambda: modify(rds, name, **tampered),
        ),
    )

    # the fix changed its one field and kept every other (the backup window included)
    modify(rds, name, **start)  # back to the start, as the exercise's tamper left it
    assert run(INSTANCE_JOB, finding).returncode == 0
    assert instance_state(rds, name) == {**before, **fixed}
    assert instance_state(rds, name)["PreferredBackupWindow"] == WINDOW


def test_each_alias_changes_only_its_own_setting(aws_sandbox: AwsSandbox, run: Run) -> None:
    """A raw payload with the rule id only: the alias supplies the parameters."""
    rds = aws_sandbox.admin_client("rds")
    start = {
        "BackupRetentionPeriod": 1,
        "PubliclyAccessible": True,
        "AutoMinorVersionUpgrade": False,
        "DeletionProtection": False,
    }
    name = new_instance(rds, **start)
    before = instance_state(rds, name)
    expected = dict(before)
    for rule, field, value in (
        (PUBLIC_RULE, "PubliclyAccessible", False),
        (VERSION_RULE, "AutoMinorVersionUpgrade", True),
        (BACKUP_RULE, "BackupRetentionPeriod", 30),
    ):
        done = run(INSTANCE_JOB, payload(name, rule))
        assert done.returncode == 0, str(done)
        assert len(done.changes) == 1 and field in done.changes[0], str(done)
        expected[field] = value
        assert instance_state(rds, name) == expected
    assert expected["DeletionProtection"] is False  # no alias turned on what it is not about


def test_a_longer_retention_is_kept(aws_sandbox: AwsSandbox, run: Run) -> None:
    rds = aws_sandbox.admin_client("rds")
    name = new_instance(rds, BackupRetentionPeriod=35)
    done = run(
        INSTANCE_JOB, payload(name, BACKUP_RULE, setting="backup_retention", retention_days=30)
    )
    assert done.returncode == 0, str(done)
    assert done.changes == [] and done.records == [] and done.mutating == [], str(done)
    assert "ok:" in done.stdout
    assert instance_state(rds, name)["BackupRetentionPeriod"] == 35
    assert (
        run(
            INSTANCE_JOB,
            payload(name, BACKUP_RULE, setting="backup_retention", retention_days=30),
            "verify",
        ).returncode
        == 0
    )


def test_backups_turned_on_from_zero_and_rolled_back(aws_sandbox: AwsSandbox, run: Run) -> None:
    """0 (backups off) -> 30; rollback puts 0 back, as the records say (the sandbox refuses
    nothing outside 0-35 here: every value sent is one AWS takes)."""
    rds = aws_sandbox.admin_client("rds")
    name = new_instance(rds, BackupRetentionPeriod=0)
    finding = payload(name, BACKUP_RULE, setting="backup_retention", retention_days=30)
    fixed = run(INSTANCE_JOB, finding)
    assert fixed.returncode == 0, str(fixed)
    assert fixed.changes == [
        f"CHANGE: {name}: BackupRetentionPeriod 0 -> 30 (automated backup retention (days))"
    ]
    assert fixed.records == [
        {
            "resource": name,
            "kind": "rds-instance-setting",
            "before": {"BackupRetentionPeriod": 0},
            "after": {"BackupRetentionPeriod": 30},
        }
    ]
    undone = run(INSTANCE_JOB, finding, "rollback", fixed.records)
    assert undone.returncode == 0, str(undone)
    assert instance_state(rds, name)["BackupRetentionPeriod"] == 0


def test_an_instance_named_by_its_arn(aws_sandbox: AwsSandbox, run: Run) -> None:
    rds = aws_sandbox.admin_client("rds")
    name = new_instance(rds, PubliclyAccessible=True)
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}"
    done = run(INSTANCE_JOB, payload(arn, PUBLIC_RULE, setting="no_public_access"))
    assert done.returncode == 0, str(done)
    assert instance_state(rds, name)["PubliclyAccessible"] is False


def test_an_arn_of_something_else_is_bad_input(run: Run) -> None:
    done = run(
        INSTANCE_JOB,
        payload(
            f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:s", PUBLIC_RULE, setting="no_public_access"
        ),
    )
    assert done.returncode == 2, str(done)
    assert len(done.errors) == 1 and "ObjectId" in done.errors[0]
    assert done.mutating == []


def test_a_missing_instance_fails_with_one_error(run: Run) -> None:
    done = run(INSTANCE_JOB, payload("remedy-db-absent", PUBLIC_RULE, setting="no_public_access"))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "DBInstanceNotFound" in done.errors[0], str(done)
    assert done.changes == [] and done.mutating == []
    assert "Traceback" not in done.stderr


def test_rollback_refuses_records_of_another_instance(aws_sandbox: AwsSandbox, run: Run) -> None:
    rds = aws_sandbox.admin_client("rds")
    name = new_instance(rds, PubliclyAccessible=True)
    finding = payload(name, PUBLIC_RULE, setting="no_public_access")
    foreign = [
        {
            "resource": "other-db",
            "kind": "rds-instance-setting",
            "before": {"PubliclyAccessible": True},
            "after": {"PubliclyAccessible": False},
        }
    ]
    done = run(INSTANCE_JOB, finding, "rollback", foreign)
    assert done.returncode == 2, str(done)
    assert done.mutating == []
    assert instance_state(rds, name)["PubliclyAccessible"] is True


# ----------------------------------------------------------------------------------------------
# aws_rds_snapshot_remove_publicaccess: DB snapshots and DB cluster snapshots
# ----------------------------------------------------------------------------------------------


def restore_values(rds: Any, snapshot: str, cluster: bool) -> list[str]:
    if cluster:
        result = rds.describe_db_cluster_snapshot_attributes(DBClusterSnapshotIdentifier=snapshot)
        found = result["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    else:
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=snapshot)
        found = result["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
    values = next(a["AttributeValues"] for a in found if a["AttributeName"] == "restore")
    return sorted(values)


def share(rds: Any, snapshot: str, cluster: bool, *values: str) -> None:
    if cluster:
        rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=snapshot, AttributeName="restore", ValuesToAdd=list(values)
        )
    else:
        rds.modify_db_snapshot_attribute(
            DBSnapshotIdentifier=snapshot, AttributeName="restore", ValuesToAdd=list(values)
        )


def new_snapshot(rds: Any, cluster: bool) -> str:
    snapshot = f"remedy-snap-{uuid.uuid4().hex[:10]}"
    if cluster:
        name = f"remedy-cluster-{uuid.uuid4().hex[:10]}"
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="remedy",
            MasterUserPassword="not-a-real-password-1",
        )
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier=name, DBClusterSnapshotIdentifier=snapshot
        )
    else:
        rds.create_db_snapshot(
            DBInstanceIdentifier=new_instance(rds), DBSnapshotIdentifier=snapshot
        )
    share(rds, snapshot, cluster, "all", SHARED)
    return snapshot


@pytest.mark.parametrize("cluster", [False, True], ids=["db-snapshot", "db-cluster-snapshot"])
def test_aws_rds_snapshot_remove_publicaccess_modes(
    aws_sandbox: AwsSandbox, run: Run, cluster: bool
) -> None:
    rds = aws_sandbox.admin_client("rds")
    snapshot = new_snapshot(rds, cluster)
    finding = payload(snapshot, SNAPSHOT_RULE)

    def tamper() -> None:  # someone shares it with one more account
        share(rds, snapshot, cluster, "444455556666")

    exercise(
        run, Case(SNAPSHOT_JOB, finding, lambda: restore_values(rds, snapshot, cluster), tamper)
    )


@pytest.mark.parametrize("cluster", [False, True], ids=["db-snapshot", "db-cluster-snapshot"])
def test_the_snapshot_stays_shared_with_its_accounts(
    aws_sandbox: AwsSandbox, run: Run, cluster: bool
) -> None:
    rds = aws_sandbox.admin_client("rds")
    snapshot = new_snapshot(rds, cluster)
    done = run(SNAPSHOT_JOB, payload(snapshot, SNAPSHOT_RULE))
    assert done.returncode == 0, str(done)
    kind = "db-cluster-snapshot" if cluster else "db-snapshot"
    assert done.changes == [
        f"CHANGE: {kind} {snapshot}: no longer restorable by all, still shared with {SHARED}"
    ]
    assert restore_values(rds, snapshot, cluster) == [SHARED]


def test_a_snapshot_named_by_its_arn(aws_sandbox: AwsSandbox, run: Run) -> None:
    rds = aws_sandbox.admin_client("rds")
    snapshot = new_snapshot(rds, cluster=True)
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:{snapshot}"
    done = run(SNAPSHOT_JOB, payload(arn, SNAPSHOT_RULE))
    assert done.returncode == 0, str(done)
    assert restore_values(rds, snapshot, cluster=True) == [SHARED]
    assert not any("DescribeDBSnapshotAttributes" in r for r in done.requests)  # the ARN said which


def test_a_missing_snapshot_fails_with_one_error(run: Run) -> None:
    done = run(SNAPSHOT_JOB, payload("remedy-snap-absent", SNAPSHOT_RULE))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "DBClusterSnapshotNotFoundFault" in done.errors[0], str(done)
    assert done.changes == [] and done.mutating == []
    assert "Traceback" not in done.stderr


# ----------------------------------------------------------------------------------------------
# redshift_modify_cluster: every setting in every mode
# ----------------------------------------------------------------------------------------------

REDSHIFT_JOB = "redshift_modify_cluster"
CLUSTER_FIELDS = (
    "PubliclyAccessible",
    "AutomatedSnapshotRetentionPeriod",
    "AllowVersionUpgrade",
    "PreferredMaintenanceWindow",
    "NodeType",
    "NumberOfNodes",
    "Encrypted",
)
REDSHIFT_SETTINGS = [
    (
        "no_public_access",
        {},
        {"PubliclyAccessible": True},
        {"PubliclyAccessible": False},
        {"PubliclyAccessible": True},
    ),
    (
        "snapshot_retention",
        {"retention_days": 7},
        {"AutomatedSnapshotRetentionPeriod": 1},
        {"AutomatedSnapshotRetentionPeriod": 7},
        {"AutomatedSnapshotRetentionPeriod": 3},
    ),
    (
        "allow_version_upgrade",
        {},
        {"AllowVersionUpgrade": False},
        {"AllowVersionUpgrade": True},
        {"AllowVersionUpgrade": False},
    ),
]


def new_cluster(redshift: Any, **settings: Any) -> str:
    name = f"remedy-rs-{uuid.uuid4().hex[:10]}"
    redshift.create_cluster(
        ClusterIdentifier=name,
        NodeType="dc2.large",
        ClusterType="single-node",
        MasterUsername="remedy",
        MasterUserPassword="NotARealPassword1",
        PreferredMaintenanceWindow="tue:04:00-tue:04:30",
        **settings,
    )
    return name


def cluster_state(redshift: Any, name: str) -> dict[str, Any]:
    found = redshift.describe_clusters(ClusterIdentifier=name)["Clusters"][0]
    return {field: found.get(field) for field in CLUSTER_FIELDS}


@pytest.mark.parametrize(
    ("setting", "parameters", "start", "fixed", "tampered"),
    REDSHIFT_SETTINGS,
    ids=[s[0] for s in REDSHIFT_SETTINGS],
)
def test_redshift_modify_cluster_modes(
    aws_sandbox: AwsSandbox,
    run: Run,
    setting: str,
    parameters: dict[str, Any],
    start: dict[str, Any],
    fixed: dict[str, Any],
    tampered: dict[str, Any],
) -> None:
    redshift = aws_sandbox.admin_client("redshift")
    name = new_cluster(redshift, **start)
    before = cluster_state(redshift, name)
    finding = payload(name, "rule-x", setting=setting, **parameters)

    def tamper() -> None:
        redshift.modify_cluster(ClusterIdentifier=name, **tampered)

    exercise(run, Case(REDSHIFT_JOB, finding, lambda: cluster_state(redshift, name), tamper))

    redshift.modify_cluster(ClusterIdentifier=name, **start)
    assert run(REDSHIFT_JOB, finding).returncode == 0
    assert cluster_state(redshift, name) == {**before, **fixed}  # one field, the rest kept


def test_a_longer_snapshot_retention_is_kept(aws_sandbox: AwsSandbox, run: Run) -> None:
    redshift = aws_sandbox.admin_client("redshift")
    name = new_cluster(redshift, AutomatedSnapshotRetentionPeriod=20)
    done = run(REDSHIFT_JOB, payload(name, "rule-x", setting="snapshot_retention"))
    assert done.returncode == 0, str(done)
    assert done.changes == [] and done.mutating == [], str(done)
    assert cluster_state(redshift, name)["AutomatedSnapshotRetentionPeriod"] == 20


def test_a_cluster_named_by_its_arn(aws_sandbox: AwsSandbox, run: Run) -> None:
    redshift = aws_sandbox.admin_client("redshift")
    name = new_cluster(redshift, PubliclyAccessible=True)
    arn = f"arn:aws:redshift:{REGION}:{ACCOUNT}:cluster:{name}"
    done = run(REDSHIFT_JOB, payload(arn, "rule-x", setting="no_public_access"))
    assert done.returncode == 0, str(done)
    assert cluster_state(redshift, name)["PubliclyAccessible"] is False


def test_a_missing_cluster_fails_with_one_error(run: Run) -> None:
    done = run(REDSHIFT_JOB, payload("remedy-rs-absent", "rule-x", setting="no_public_access"))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "ClusterNotFound" in done.errors[0], str(done)
    assert done.changes == [] and done.mutating == []


# ----------------------------------------------------------------------------------------------
# dynamodb_enable_deletion_protection
# ----------------------------------------------------------------------------------------------

DYNAMODB_JOB = "dynamodb_enable_deletion_protection"


def new_table(dynamodb: Any) -> str:
    name = f"remedy-table-{uuid.uuid4().hex[:10]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 2},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return name


def table_state(dynamodb: Any, name: str) -> dict[str, Any]:
    table = dynamodb.describe_table(TableName=name)["Table"]
    return {
        "DeletionProtectionEnabled": table.get("DeletionProtectionEnabled"),
        "ProvisionedThroughput": {
            k: table["ProvisionedThroughput"][k]
            for k in ("ReadCapacityUnits", "WriteCapacityUnits")
        },
        "StreamSpecification": table.get("StreamSpecification"),
    }


def test_dynamodb_enable_deletion_protection_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    dynamodb = aws_sandbox.admin_client("dynamodb")
    name = new_table(dynamodb)
    before = table_state(dynamodb, name)

    def tamper() -> None:  # someone turns protection off again
        dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)

    finding = payload(name, "rule-x")
    exercise(run, Case(DYNAMODB_JOB, finding, lambda: table_state(dynamodb, name), tamper))

    assert run(DYNAMODB_JOB, finding).returncode == 0
    # capacity and stream kept; the table can no longer be deleted
    assert table_state(dynamodb, name) == {**before, "DeletionProtectionEnabled": True}
    with pytest.raises(Exception, match="DeletionProtectionEnabled"):
        dynamodb.delete_table(TableName=name)


def test_a_table_named_by_its_arn(aws_sandbox: AwsSandbox, run: Run) -> None:
    dynamodb = aws_sandbox.admin_client("dynamodb")
    name = new_table(dynamodb)
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    done = run(DYNAMODB_JOB, payload(arn, "rule-x"))
    assert done.returncode == 0, str(done)
    assert table_state(dynamodb, name)["DeletionProtectionEnabled"] is True


def test_a_missing_table_fails_with_one_error(run: Run) -> None:
    done = run(DYNAMODB_JOB, payload("remedy-table-absent", "rule-x"))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "ResourceNotFoundException" in done.errors[0], str(done)
    assert done.changes == [] and done.mutating == []


def test_the_request_log_reads_the_json_protocols_action() -> None:
    """DynamoDB (and SQS, Logs, ...) name the action in X-Amz-Target, not in an Action field."""
    log = RequestLog()
    log.add("POST", "/", b"{}", "DynamoDB_20120810.DescribeTable")
    log.add("POST", "/", b"{}", "DynamoDB_20120810.UpdateTable")
    assert [str(r) for r in log.mutating()] == ["POST / (UpdateTable)"]
