"""The IAM jobs in every mode, on moto (sandbox/iam_strict.py makes it as strict as IAM where the
jobs could tell), run as the worker runs them: tests/job_modes.py's `exercise` for each job, and
for each what it keeps, what it refuses and how it fails.

The account's password policy is one per account: each test here sets the one it starts from.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox
from sandbox.iam_strict import age_credentials
from sandbox.request_log import RecordingProxy
from tests.job_modes import Case, Run, exercise, runner
from tests.test_jobs import ACCOUNT, payload

ACCOUNT_OBJECT = f"AWS::::Account:{ACCOUNT}"
MIN_LENGTH_RULE = "5c8c260b7a550e1fb6560bf4"
REUSE_RULE = "5c8c26107a550e1fb6560bfc"
PASSWORD_JOB = "iam_password_policy_strengthen"


def password_policy(iam: Any) -> dict[str, Any] | None:
    """The account's policy as the tests compare it (None: there is none)."""
    try:
        found = dict(iam.get_account_password_policy()["PasswordPolicy"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return None
    found.pop("ExpirePasswords", None)  # derived from MaxPasswordAge
    found.setdefault("MaxPasswordAge", 0)
    found["PasswordReusePrevention"] = found.get("PasswordReusePrevention") or 0
    return found


def set_password_policy(iam: Any, **settings: Any) -> None:
    """Start from exactly this policy (none at all when no setting is given)."""
    if password_policy(iam) is not None:
        iam.delete_account_password_policy()
    if settings:
        iam.update_account_password_policy(**settings)


def test_password_reuse_prevention_modes_keeps_the_rest(aws_sandbox: AwsSandbox, run: Run) -> None:
    iam = aws_sandbox.admin_client("iam")
    set_password_policy(
        iam,
        MinimumPasswordLength=14,
        RequireSymbols=True,
        AllowUsersToChangePassword=True,
        HardExpiry=True,
        MaxPasswordAge=60,
        PasswordReusePrevention=5,
    )

    def tamper() -> None:  # someone lengthens the minimum after the fix
        now = password_policy(iam)
        assert now is not None
        iam.update_account_password_policy(**{**now, "MinimumPasswordLength": 20})

    finding = payload(ACCOUNT_OBJECT, REUSE_RULE)  # no parameters: the rule's alias gives them
    exercise(run, Case(PASSWORD_JOB, finding, lambda: password_policy(iam), tamper))

    # the open catalogue's job replaced the whole policy (the minimum length fell to 6): not this
    set_password_policy(
        iam,
        MinimumPasswordLength=14,
        RequireSymbols=True,
        AllowUsersToChangePassword=True,
        HardExpiry=True,
        MaxPasswordAge=60,
    )
    fixed = run(PASSWORD_JOB, finding)
    assert fixed.returncode == 0, str(fixed)
    assert fixed.changes == [
        f"CHANGE: account {ACCOUNT}: password policy PasswordReusePrevention off -> 24"
    ]
    assert password_policy(iam) == {
        "MinimumPasswordLength": 14,
        "RequireSymbols": True,
        "RequireNumbers": False,
        "RequireUppercaseCharacters": False,
        "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": True,
        "MaxPasswordAge": 60,
        "PasswordReusePrevention": 24,
        "HardExpiry": True,
    }


def test_password_min_length_creates_a_policy_and_rollback_deletes_it(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    iam = aws_sandbox.admin_client("iam")
    set_password_policy(iam)

    def tamper() -> None:
        iam.update_account_password_policy(MinimumPasswordLength=14, RequireNumbers=True)

    finding = payload(ACCOUNT_OBJECT, MIN_LENGTH_RULE)
    exercise(run, Case(PASSWORD_JOB, finding, lambda: password_policy(iam), tamper))

    set_password_policy(iam)
    fixed = run(PASSWORD_JOB, finding)
    assert fixed.changes[0].endswith(
        "password policy created (there was none; AWS defaults for the settings not asked for)"
    )
    created = password_policy(iam)
    assert created is not None and created["MinimumPasswordLength"] == 14
    assert created["PasswordReusePrevention"] == 0 and created["RequireSymbols"] is False
    undone = run(PASSWORD_JOB, finding, "rollback", fixed.records)
    assert undone.returncode == 0, str(undone)
    assert password_policy(iam) is None


@pytest.mark.parametrize(
    ("parameters", "start", "expected"),
    [
        (
            {"require_uppercase": True},
            {"MinimumPasswordLength": 9},
            {"RequireUppercaseCharacters": True},
        ),
        (
            {"require_lowercase": True},
            {"MinimumPasswordLength": 9},
            {"RequireLowercaseCharacters": True},
        ),
        ({"require_symbols": True}, {"MinimumPasswordLength": 9}, {"RequireSymbols": True}),
        ({"require_numbers": True}, {"MinimumPasswordLength": 9}, {"RequireNumbers": True}),
        (
            {"max_password_age": 90},
            {"MinimumPasswordLength": 9, "MaxPasswordAge": 400},
            {"MaxPasswordAge": 90},
        ),
        ({"max_password_age": 90}, {"MinimumPasswordLength": 9}, {"MaxPasswordAge": 90}),
        # IAM.7's defaults: a longer minimum is kept
        (
            {
                "minimum_password_length": 8,
                "require_uppercase": True,
                "require_lowercase": True,
                "require_symbols": True,
                "require_numbers": True,
            },
            {"MinimumPasswordLength": 12, "RequireNumbers": True},
            {
                "RequireUppercaseCharacters": True,
                "RequireLowercaseCharacters": True,
                "RequireSymbols": True,
            },
        ),
        # IAM.10 (PCI.IAM.8): 14 characters and 30 days are stronger than 7 and 90, and kept
        (
            {
                "minimum_password_length": 7,
                "password_reuse_prevention": 4,
                "max_password_age": 90,
                "require_uppercase": True,
                "require_lowercase": True,
                "require_numbers": True,
            },
            {"MinimumPasswordLength": 14, "MaxPasswordAge": 30, "PasswordReusePrevention": 2},
            {
                "RequireUppercaseCharacters": True,
                "RequireLowercaseCharacters": True,
                "RequireNumbers": True,
                "PasswordReusePrevention": 4,
            },
        ),
    ],
)
def test_password_policy_aliases_change_only_their_settings(
    aws_sandbox: AwsSandbox,
    run: Run,
    parameters: dict[str, Any],
    start: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    iam = aws_sandbox.admin_client("iam")
    set_password_policy(iam, AllowUsersToChangePassword=True, **start)
    before = password_policy(iam)
    assert before is not None
    finding = payload(ACCOUNT_OBJECT, "IAM.x", **parameters)
    assert run(PASSWORD_JOB, finding, "verify").returncode == 3
    fixed = run(PASSWORD_JOB, finding)
    assert fixed.returncode == 0, str(fixed)
    assert len(fixed.changes) == len(expected)
    assert password_policy(iam) == {**before, **expected}
    assert run(PASSWORD_JOB, finding, "verify").returncode == 0
    again = run(PASSWORD_JOB, finding)
    assert again.changes == [] and again.records == []


def test_password_policy_aliases_carry_the_control_parameters() -> None:
    meta = json.loads(
        (Path(__file__).parent.parent / "jobs" / PASSWORD_JOB / "remedy.json").read_text()
    )
    aliases = meta["aliases"]
    assert aliases["iam_password_policy_strong"]["parameters"] == {
        "minimum_password_length": 8,
        "require_uppercase": True,
        "require_lowercase": True,
        "require_symbols": True,
        "require_numbers": True,
    }
    assert aliases["iam_password_policy_pci"]["parameters"] == {
        "minimum_password_length": 7,
        "password_reuse_prevention": 4,
        "max_password_age": 90,
        "require_uppercase": True,
        "require_lowercase": True,
        "require_numbers": True,
    }


def test_password_policy_job_refuses_to_guess(aws_sandbox: AwsSandbox, run: Run) -> None:
    nothing = run(PASSWORD_JOB, payload(ACCOUNT_OBJECT, "IAM.x"))
    assert nothing.returncode == 2, str(nothing)
    assert len(nothing.errors) == 1 and "no setting is asked for" in nothing.errors[0]
    assert nothing.mutating == []


def test_password_policy_job_fails_with_one_error(
    aws_sandbox: AwsSandbox, env: dict[str, str], proxy: RecordingProxy, tmp_path: Path
) -> None:
    iam = aws_sandbox.admin_client("iam")
    set_password_policy(iam, MinimumPasswordLength=8)
    broken = runner(tmp_path, {**env, "AWS_SESSION_TOKEN": "expired"}, proxy.log)
    failed = broken(PASSWORD_JOB, payload(ACCOUNT_OBJECT, REUSE_RULE))
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "GetAccountPasswordPolicy failed" in failed.errors[0]
    assert password_policy(iam) == {**(password_policy(iam) or {}), "MinimumPasswordLength": 8}


# ----------------------------------------------------------------------------------------------
# aws_iam_server_certificate_expired (irreversible: no rollback)
# ----------------------------------------------------------------------------------------------

CERT_JOB = "aws_iam_server_certificate_expired"
CERT_RULE = "7fe4eb28-3b82-11eb-adc1-0242ac120002"


def self_signed(expires_in: dt.timedelta) -> tuple[str, str]:
    """A self-signed certificate (PEM) that expires `expires_in` from now (negative: expired),
    and its private key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "remedy.example")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + expires_in)
        .sign(key, hashes.SHA256())
    )
    body = certificate.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return body, private


def upload_certificate(iam: Any, prefix: str, expires_in: dt.timedelta) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    body, key = self_signed(expires_in)
    iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=body, PrivateKey=key)
    return name


def certificate_names(iam: Any) -> set[str]:
    listed = iam.list_server_certificates()["ServerCertificateMetadataList"]
    return {c["ServerCertificateName"] for c in listed}


def test_server_certificate_expired_account_level(aws_sandbox: AwsSandbox, run: Run) -> None:
    iam = aws_sandbox.admin_client("iam")
    old = {upload_certificate(iam, "old", dt.timedelta(days=-d)) for d in (1, 30)}
    valid = upload_certificate(iam, "valid", dt.timedelta(days=60))
    finding = payload(ACCOUNT_OBJECT, CERT_RULE)

    assert run(CERT_JOB, finding, "verify").returncode == 3
    plan = run(CERT_JOB, finding, "plan")
    assert plan.returncode == 0 and len(plan.changes) >= 2, str(plan)
    assert plan.mutating == [] and plan.records == []
    assert {*old, valid} <= certificate_names(iam)

    fixed = run(CERT_JOB, finding)
    assert fixed.returncode == 0, str(fixed)
    assert fixed.changes == plan.changes
    assert all(n in "".join(fixed.changes) for n in old)
    assert valid in certificate_names(iam)  # the valid one is kept
    assert old.isdisjoint(certificate_names(iam))
    assert run(CERT_JOB, finding, "verify").returncode == 0

    again = run(CERT_JOB, finding)
    assert again.returncode == 0 and again.changes == [], str(again)

    refused = run(
        CERT_JOB, finding, "rollback", [{"resource": "x", "kind": "y", "before": 1, "after": 2}]
    )
    assert refused.returncode == 1, str(refused)
    assert len(refused.errors) == 1 and "cannot be rolled back" in refused.errors[0]
    assert refused.mutating == []
    assert valid in certificate_names(iam)


def test_server_certificate_expired_named_deletes_only_that_one(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    iam = aws_sandbox.admin_client("iam")
    target = upload_certificate(iam, "old", dt.timedelta(days=-2))
    other = upload_certificate(iam, "old-other", dt.timedelta(days=-2))
    arn = f"arn:aws:iam::{ACCOUNT}:server-certificate/{target}"
    finding = payload(arn, CERT_RULE)
    assert run(CERT_JOB, finding, "verify").returncode == 3
    fixed = run(CERT_JOB, finding)
    assert fixed.returncode == 0 and len(fixed.changes) == 1, str(fixed)
    assert target not in certificate_names(iam) and other in certificate_names(iam)
    assert run(CERT_JOB, finding, "verify").returncode == 0
    gone = run(CERT_JOB, finding)  # already gone: what the fix wants
    assert gone.returncode == 0 and gone.changes == [], str(gone)

    valid = upload_certificate(iam, "valid", dt.timedelta(days=10))
    kept = run(CERT_JOB, payload(valid, CERT_RULE))
    assert kept.returncode == 0 and kept.changes == [] and kept.mutating == [], str(kept)
    assert valid in certificate_names(iam)


def test_server_certificate_job_fails_with_one_error(
    aws_sandbox: AwsSandbox, env: dict[str, str], proxy: RecordingProxy, tmp_path: Path
) -> None:
    broken = runner(tmp_path, {**env, "AWS_SESSION_TOKEN": "expired"}, proxy.log)
    failed = broken(CERT_JOB, payload(ACCOUNT_OBJECT, CERT_RULE))
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "ListServerCertificates failed" in failed.errors[0]


# ----------------------------------------------------------------------------------------------
# iam_deactivate_old_access_keys, iam_remove_unused_credentials
# ----------------------------------------------------------------------------------------------

OLD_KEYS_JOB = "iam_deactivate_old_access_keys"
UNUSED_JOB = "iam_remove_unused_credentials"


def days_ago(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def new_user(iam: Any, prefix: str = "remedy-user") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    return name


def new_key(sandbox: AwsSandbox, iam: Any, user: str, created: int, used: int | None = None) -> str:
    """A key of `user` created `created` days ago and last used `used` days ago (None: never)."""
    key = str(iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"])
    age_credentials(
        sandbox.endpoint,
        access_key_id=key,
        create_date=days_ago(created),
        last_used=None if used is None else days_ago(used),
    )
    return key


def key_statuses(iam: Any, user: str) -> dict[str, str]:
    listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in listed}


def has_password(iam: Any, user: str) -> bool:
    try:
        iam.get_login_profile(UserName=user)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return False
    return True


def test_deactivate_old_access_keys_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    iam = aws_sandbox.admin_client("iam")
    user = new_user(iam)
    old = new_key(aws_sandbox, iam, user, created=120)
    young = new_key(aws_sandbox, iam, user, created=30)

    def tamper() -> None:  # its owner turns the old key on again
        iam.update_access_key(UserName=user, AccessKeyId=old, Status="Active")

    arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    finding = payload(arn, "IAM.3")
    exercise(run, Case(OLD_KEYS_JOB, finding, lambda: key_statuses(iam, user), tamper))

    iam.update_access_key(UserName=user, AccessKeyId=old, Status="Active")
    fixed = run(OLD_KEYS_JOB, finding)
    assert fixed.returncode == 0 and len(fixed.changes) == 1, str(fixed)
    assert old in fixed.changes[0] and "120 days ago" in fixed.changes[0]
    assert key_statuses(iam, user) == {old: "Inactive", young: "Active"}  # the young one is kept
    stricter = run(OLD_KEYS_JOB, payload(user, "IAM.3", max_age_days=20))
    assert stricter.returncode == 0 and len(stricter.changes) == 1, str(stricter)
    assert key_statuses(iam, user) == {old: "Inactive", young: "Inactive"}


def test_deactivate_old_access_keys_fails_for_a_missing_user(run: Run) -> None:
    failed = run(OLD_KEYS_JOB, payload("no-such-user-x1", "IAM.3"))
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "NoSuchEntity" in failed.errors[0], str(failed)
    assert failed.mutating == []


def test_remove_unused_credentials_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    iam = aws_sandbox.admin_client("iam")
    user = new_user(iam)
    stale = new_key(aws_sandbox, iam, user, created=200, used=100)
    recent = new_key(aws_sandbox, iam, user, created=200, used=10)

    def tamper() -> None:  # someone deletes the deactivated key
        iam.delete_access_key(UserName=user, AccessKeyId=stale)

    finding = payload(user, "IAM.8", max_unused_days=90)
    exercise(run, Case(UNUSED_JOB, finding, lambda: key_statuses(iam, user), tamper))
    assert key_statuses(iam, user) == {recent: "Active"}


def test_remove_unused_credentials_45_days_and_never_used_keys(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    iam = aws_sandbox.admin_client("iam")
    user = new_user(iam)
    fifty = new_key(aws_sandbox, iam, user, created=300, used=50)
    never_old = new_key(aws_sandbox, iam, user, created=100)
    ninety = payload(user, "IAM.8", max_unused_days=90)
    forty_five = payload(user, "IAM.22", max_unused_days=45)
    first = run(UNUSED_JOB, ninety)  # only the key never used in 100 days
    assert first.returncode == 0 and len(first.changes) == 1, str(first)
    assert "never used, created 100 days ago" in first.changes[0]
    assert key_statuses(iam, user) == {fifty: "Active", never_old: "Inactive"}
    assert run(UNUSED_JOB, ninety, "verify").returncode == 0
    assert run(UNUSED_JOB, forty_five, "verify").returncode == 3
    second = run(UNUSED_JOB, forty_five)
    assert second.returncode == 0 and len(second.changes) == 1, str(second)
    assert key_statuses(iam, user) == {fifty: "Inactive", never_old: "Inactive"}
    young = new_user(iam)
    new_key(aws_sandbox, iam, young, created=10)  # never used, but new: kept
    kept = run(UNUSED_JOB, payload(young, "IAM.22", max_unused_days=45))
    assert kept.returncode == 0 and kept.changes == [] and kept.mutating == [], str(kept)


def test_remove_unused_console_password_rollback_says_it_cannot_restore_it(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    iam = aws_sandbox.admin_client("iam")
    user = new_user(iam)
    stale = new_key(aws_sandbox, iam, user, created=200, used=120)
    iam.create_login_profile(UserName=user, Password="Remedy-test-Pa55!")
    age_credentials(
        aws_sandbox.endpoint,
        user_name=user,
        login_profile_create_date=days_ago(200),
        password_last_used=days_ago(95),
    )
    # remove_console_password false: the password is left, the job stays reversible
    keys_only = run(
        UNUSED_JOB, payload(user, "IAM.8", max_unused_days=90, remove_console_password=False)
    )
    assert keys_only.returncode == 0 and len(keys_only.changes) == 1, str(keys_only)
    assert has_password(iam, user)
    iam.update_access_key(UserName=user, AccessKeyId=stale, Status="Active")

    finding = payload(user, "IAM.8", max_unused_days=90)
    assert run(UNUSED_JOB, finding, "verify").returncode == 3
    plan = run(UNUSED_JOB, finding, "plan")
    assert plan.returncode == 0 and len(plan.changes) == 2 and plan.mutating == [], str(plan)
    fixed = run(UNUSED_JOB, finding)
    assert fixed.returncode == 0 and fixed.changes == plan.changes, str(fixed)
    assert "console password removed" in fixed.changes[1] and "95 days ago" in fixed.changes[1]
    assert not has_password(iam, user)
    assert key_statuses(iam, user) == {stale: "Inactive"}
    assert run(UNUSED_JOB, finding, "verify").returncode == 0
    assert "Remedy-test-Pa55!" not in fixed.stdout + fixed.stderr

    undone = run(UNUSED_JOB, finding, "rollback", fixed.records)
    assert undone.returncode == 1, str(undone)
    assert len(undone.errors) == 1 and "cannot be restored" in undone.errors[0]
    assert "1 access key(s) were reactivated" in undone.errors[0]
    assert key_statuses(iam, user) == {stale: "Active"}  # the keys are back
    assert not has_password(iam, user)  # the password is not


def test_remove_unused_credentials_fails_for_a_missing_user(run: Run) -> None:
    failed = run(UNUSED_JOB, payload("no-such-user-x2", "IAM.8"))
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "NoSuchEntity" in failed.errors[0], str(failed)


# ----------------------------------------------------------------------------------------------
# iam_create_support_role
# ----------------------------------------------------------------------------------------------

SUPPORT_JOB = "iam_create_support_role"
SUPPORT_POLICY = "arn:aws:iam::aws:policy/AWSSupportAccess"


def support_holders(iam: Any) -> list[str]:
    found = iam.list_entities_for_policy(PolicyArn=SUPPORT_POLICY)
    return sorted(
        [f"role/{r['RoleName']}" for r in found["PolicyRoles"]]
        + [f"user/{u['UserName']}" for u in found["PolicyUsers"]]
        + [f"group/{g['GroupName']}" for g in found["PolicyGroups"]]
    )


def no_support_access(iam: Any) -> None:
    """Start from an account where nobody has AWSSupportAccess (roles this module made go)."""
    found = iam.list_entities_for_policy(PolicyArn=SUPPORT_POLICY)
    for role in found["PolicyRoles"]:
        iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=SUPPORT_POLICY)
    for user in found["PolicyUsers"]:
        iam.detach_user_policy(UserName=user["UserName"], PolicyArn=SUPPORT_POLICY)
    for group in found["PolicyGroups"]:
        iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=SUPPORT_POLICY)


def role_state(iam: Any, name: str) -> Any:
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return None
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    return (role["AssumeRolePolicyDocument"], sorted(p["PolicyArn"] for p in attached))


def test_create_support_role_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    iam = aws_sandbox.admin_client("iam")
    no_support_access(iam)
    name = f"support-{uuid.uuid4().hex[:8]}"

    def tamper() -> None:  # someone gives the role more
        iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")

    finding = payload(ACCOUNT_OBJECT, "IAM.18", role_name=name)
    exercise(run, Case(SUPPORT_JOB, finding, lambda: role_state(iam, name), tamper))

    document, attached = role_state(iam, name)
    assert SUPPORT_POLICY in attached
    statement = document["Statement"][0]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Action"] == "sts:AssumeRole"


def test_create_support_role_with_a_principal_and_when_someone_has_it(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    iam = aws_sandbox.admin_client("iam")
    no_support_access(iam)
    name = f"support-{uuid.uuid4().hex[:8]}"
    security = "arn:aws:iam::210987654321:root"
    fixed = run(
        SUPPORT_JOB, payload(ACCOUNT_OBJECT, "IAM.18", role_name=name, principal="210987654321")
    )
    assert fixed.returncode == 0, str(fixed)
    assert fixed.changes == [
        f"CHANGE: account {ACCOUNT}: created role {name} with AWSSupportAccess, trusted by {security}"
    ]
    assert support_holders(iam) == [f"role/{name}"]
    assert role_state(iam, name)[0]["Statement"][0]["Principal"] == {"AWS": security}

    # a group has the policy: the control passes, nothing is created
    no_support_access(iam)
    group = f"support-group-{uuid.uuid4().hex[:6]}"
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=SUPPORT_POLICY)
    other = f"support-{uuid.uuid4().hex[:8]}"
    kept = run(SUPPORT_JOB, payload(ACCOUNT_OBJECT, "IAM.18", role_name=other))
    assert kept.returncode == 0 and kept.changes == [] and kept.mutating == [], str(kept)
    assert f"group/{group}" in kept.stdout
    assert role_state(iam, other) is None


def test_create_support_role_never_changes_an_existing_role(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    iam = aws_sandbox.admin_client("iam")
    no_support_access(iam)
    name = f"taken-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    before = role_state(iam, name)
    failed = run(SUPPORT_JOB, payload(ACCOUNT_OBJECT, "IAM.18", role_name=name))
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "exists without AWSSupportAccess" in failed.errors[0]
    assert failed.mutating == [] and failed.changes == []
    assert role_state(iam, name) == before
    bad = run(SUPPORT_JOB, payload(ACCOUNT_OBJECT, "IAM.18", principal="everyone"))
    assert bad.returncode == 2 and len(bad.errors) == 1 and "principal" in bad.errors[0], str(bad)
