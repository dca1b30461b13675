"""moto's server, with the one check of AssumeRole that moto leaves out: the trust policy's
`sts:ExternalId` condition.

moto (5.x) hands out credentials for any AssumeRole its IAM enforcement lets through, whatever
the role's trust policy asks of the caller. Real AWS refuses an AssumeRole whose `ExternalId` is
missing or differs from the one a `StringEquals` condition of the trust policy names, with
AccessDenied (403) "User: <caller> is not authorized to perform: sts:AssumeRole on resource:
<role>" (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html,
"How to use an external ID"; the condition key: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_externalid).
The sandbox does the same, so a run (or a test) that forgets the external id fails as it would
on AWS. Run as `python -m sandbox.moto_server -H HOST -p PORT` (moto.server's arguments).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import AccessDeniedError
from moto.iam.models import iam_backends
from moto.sts.responses import TokenResponse

from sandbox import (
    iam_strict,
    monitor_strict,
    moto_signing,
    moto_state,
    ports_strict,
    queues_strict,
    rds_strict,
    s3_strict,
    trail_strict,
    vpc_strict,
)

_ASSUME_ROLE = "sts:AssumeRole"


def external_ids_required(trust_policy: str | dict[str, Any]) -> set[str] | None:
    """The external ids an Allow of sts:AssumeRole in the trust policy accepts (a
    `StringEquals` on `sts:ExternalId`); None when no allowing statement asks for one."""
    document = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    statements = document.get("Statement", [])
    accepted: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {_ASSUME_ROLE, "sts:*", "*"} & set(actions):
            continue
        equals = statement.get("Condition", {}).get("StringEquals", {})
        wanted = next((v for k, v in equals.items() if k.lower() == "sts:externalid"), None)
        if wanted is None:
            return None  # this statement lets the caller in without one
        accepted |= {wanted} if isinstance(wanted, str) else set(wanted)
    return accepted or None


def _trust_policy(role_arn: str) -> str | None:
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    for partition_backend in iam_backends.get(account, {}).values():
        for role in partition_backend.get_roles():
            if role.arn == role_arn:
                return str(role.assume_role_policy_document)
    return None


_moto_authorize = TokenResponse._authenticate_and_authorize_normal_action


def _authorize(self: TokenResponse, resource: str = "*") -> None:
    """Before moto's own check (which refuses a wrong id without naming the role and lets a
    missing one through): the trust policy's external id, refused in AWS's words."""
    if self._get_action() == "AssumeRole":
        role_arn = self._get_param("RoleArn")
        trust = _trust_policy(role_arn) if role_arn else None
        accepted = external_ids_required(trust) if trust else None
        if accepted is not None and self._get_param("ExternalId") not in accepted:
            _, caller, _ = self.backend.get_caller_identity(self.get_access_key(), self.region)
            raise AccessDeniedError(caller, f"{_ASSUME_ROLE} on resource: {role_arn}")
    _moto_authorize(self, resource)


def install() -> None:
    """Check the external id on every AssumeRole this process serves, S3's refusals that moto
    leaves out (sandbox/s3_strict.py), and Security Hub's filters and BatchUpdateFindings
    (sandbox/securityhub.py)."""
    from sandbox import securityhub

    TokenResponse._authenticate_and_authorize_normal_action = _authorize  # type: ignore[method-assign,assignment]
    moto_signing.install()  # before any service check: bodiless REST requests sign right
    moto_state.install()  # the state dump the secret sweep reads, whatever the models hold
    s3_strict.install()
    monitor_strict.install()
    trail_strict.install()
    iam_strict.install()
    rds_strict.install()
    vpc_strict.install()
    queues_strict.install()

    TokenResponse._authenticate_and_authorize_normal_action = _authorize  # type: ignore[method-assign,assignment]
    ports_strict.install()
    securityhub.install()


if __name__ == "__main__":
    from moto.server import main

    install()
    main()
