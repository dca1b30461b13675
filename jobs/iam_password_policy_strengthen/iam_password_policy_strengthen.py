"""Strengthen the account's IAM password policy: raise each setting asked for, keep the rest.

Account level: the target is the finding's account (its ObjectId is not read). Parameters say
which settings to enforce and how far (0 or false: leave that setting as it is): a minimum length
is raised to at least `minimum_password_length`, reuse prevention to at least
`password_reuse_prevention`, the password age lowered to at most `max_password_age` (or set, when
passwords never expire), and each `require_*` turned on. A setting already as strong or stronger
is kept as it is (a minimum length of 20 stays 20 when 14 is asked).

UpdateAccountPasswordPolicy replaces the whole policy, and a setting left out of the call falls
back to AWS's default (a minimum length of 6, no reuse prevention, ...). So the job reads the
policy first and writes back every setting it is not about exactly as it was:
AllowUsersToChangePassword, HardExpiry and the settings not asked for. An account with no policy
gets one with only the asked settings, on top of AWS's defaults for the others.

Plan prints the same CHANGE lines after reading only. Before writing, one record (kind
`iam-password-policy`) keeps the whole policy as it was (`null`: there was none) and as the job
leaves it; rollback writes the old policy back (or deletes the policy when there was none), once
the policy is still exactly as the job left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_iam.client import IAMClient

KIND = "iam-password-policy"
#: the writable settings of a password policy and their value when a policy leaves them out
SETTINGS: dict[str, int | bool] = {
    "MinimumPasswordLength": 6,
    "RequireSymbols": False,
    "RequireNumbers": False,
    "RequireUppercaseCharacters": False,
    "RequireLowercaseCharacters": False,
    "AllowUsersToChangePassword": False,
    "MaxPasswordAge": 0,
    "PasswordReusePrevention": 0,
    "HardExpiry": False,
}
#: setting -> the parameter that asks for it
REQUIRES = {
    "RequireUppercaseCharacters": "require_uppercase",
    "RequireLowercaseCharacters": "require_lowercase",
    "RequireSymbols": "require_symbols",
    "RequireNumbers": "require_numbers",
}
AT_LEAST = {
    "MinimumPasswordLength": "minimum_password_length",
    "PasswordReusePrevention": "password_reuse_prevention",
}
AT_MOST = {"MaxPasswordAge": "max_password_age"}
AWS_MINIMUM_LENGTH = 6


def iam_client(finding: jobkit.Finding) -> IAMClient:
    made: IAMClient = jobkit.client("iam", finding)
    return made


def normalised(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    """The writable settings of a policy (None when there is none), absent ones at AWS's value."""
    if policy is None:
        return None
    found: dict[str, Any] = {}
    for name, default in SETTINGS.items():
        value = policy.get(name)
        if isinstance(default, bool):
            found[name] = bool(value)
        else:
            found[name] = int(value) if value else default
    return found


def current_policy(iam: IAMClient) -> dict[str, Any] | None:
    """The account's password policy, normalised; None when the account has none."""
    try:
        policy = iam.get_account_password_policy()["PasswordPolicy"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return None
    return normalised(dict(policy))


def asked(parameters: Any) -> dict[str, Any]:
    """setting -> the value the parameters ask for (settings left alone are not listed)."""
    wanted: dict[str, Any] = {}
    for setting, name in REQUIRES.items():
        if parameters.get(name):
            wanted[setting] = True
    for setting, name in {**AT_LEAST, **AT_MOST}.items():
        if parameters.get(name):
            wanted[setting] = int(parameters[name])
    if not wanted:
        raise jobkit.BadInput(
            "remediationParameters: no setting is asked for (every parameter is 0 or false): "
            "run one of the job's aliases or name the settings to enforce"
        )
    return wanted


def weak(policy: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """setting -> (now, what it must become), for each asked setting the policy falls short of."""
    now = policy if policy is not None else normalised({})
    assert now is not None
    short: dict[str, tuple[Any, Any]] = {}
    for setting, value in wanted.items():
        have = now[setting]
        if setting in REQUIRES and not have:
            short[setting] = (have, True)
        elif setting in AT_LEAST and have < value:
            floor = AWS_MINIMUM_LENGTH if setting == "MinimumPasswordLength" else 1
            short[setting] = (have, max(value, floor))
        elif setting in AT_MOST and (have == 0 or have > value):
            short[setting] = (have, value)
    return short


def describe(setting: str, value: Any) -> str:
    if setting == "MaxPasswordAge" and not value:
        return "never expire"
    if setting == "PasswordReusePrevention" and not value:
        return "off"
    return str(value).lower() if isinstance(value, bool) else str(value)


def write(iam: IAMClient, policy: dict[str, Any]) -> None:
    """UpdateAccountPasswordPolicy with every setting of `policy`; AWS takes no 0 for the two
    whose 0 means unset (MaxPasswordAge, PasswordReusePrevention), so those are left out."""
    unset_by_zero = ("MaxPasswordAge", "PasswordReusePrevention")
    given = {k: v for k, v in policy.items() if v or k not in unset_by_zero}
    iam.update_account_password_policy(**given)


def remediate(finding: jobkit.Finding) -> None:
    wanted = asked(finding.parameters)
    iam = iam_client(finding)
    account = finding.account_id
    before = current_policy(iam)
    short = weak(before, wanted)
    if not short:
        settings = ", ".join(f"{k} {describe(k, v)}" for k, v in wanted.items())
        jobkit.info(f"ok: account {account} password policy already has {settings} or stronger")
        return
    base = before if before is not None else normalised({})
    assert base is not None
    after = {**base, **{k: new for k, (_, new) in short.items()}}
    jobkit.record(account, KIND, before, after)
    if not jobkit.planning():
        write(iam, after)
    if before is None:
        jobkit.change(
            f"account {account}: password policy created (there was none; AWS defaults for "
            "the settings not asked for)"
        )
    for setting, (was, new) in short.items():
        jobkit.change(
            f"account {account}: password policy {setting} {describe(setting, was)} -> "
            f"{describe(setting, new)}"
        )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    account = finding.account_id
    if any(r["resource"] != account for r in found):
        raise jobkit.RecordError(f"the change records are not about account {account}")
    iam = iam_client(finding)
    now = current_policy(iam)
    last = found[-1]
    if now != normalised(last["after"]):
        raise jobkit.ChangedSince(
            f"account {account}'s password policy changed since the job set it: it is now {now}"
        )
    first = found[0]  # several records: the first one's before is the policy found first
    was = normalised(first["before"])
    if was is None:
        iam.delete_account_password_policy()
        jobkit.change(f"account {account}: password policy deleted, as there was none (rollback)")
        return
    write(iam, was)
    for setting in SETTINGS:
        if now is not None and now[setting] != was[setting]:
            jobkit.change(
                f"account {account}: password policy {setting} {describe(setting, now[setting])} "
                f"-> {describe(setting, was[setting])} (rollback)"
            )


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
