"""AWS's own constraints on the identifiers a run assumes a role with, in one place.

The role ARN and the external id enter at three edges (the CLI's `--account-role-arn` /
`--external-id`, the hub's accounts, and the workflow input, checked by the validate activity);
each checks them here, so a value STS would refuse is refused where it was typed, once, instead of
reaching AssumeRole (botocore refuses an external id of one character before sending anything).

From the STS AssumeRole reference: ExternalId is 2-1224 characters of `[\\w+=,.@:/-]`; a role
ARN is `arn:<partition>:iam::<12-digit account>:role/<path and name>` (name and path of
`[\\w+=,.@/-]`).
"""

from __future__ import annotations

import re

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
EXTERNAL_ID_MIN, EXTERNAL_ID_MAX = 2, 1224
#: AWS's `[\w+=,.@:/-]`, where \w is ASCII letters, digits and underscore
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9_+=,.@:/-]+$"
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)


class AwsIdError(ValueError):
    """An identifier AWS would refuse: `field` names it, the message says what AWS accepts."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def check_external_id(external_id: str | None) -> None:
    """Raise AwsIdError unless `external_id` is absent or one STS accepts."""
    if external_id is None:
        return
    if not EXTERNAL_ID_MIN <= len(external_id) <= EXTERNAL_ID_MAX:
        raise AwsIdError(
            "external_id",
            f"an external id is {EXTERNAL_ID_MIN} to {EXTERNAL_ID_MAX} characters "
            f"(this one has {len(external_id)})",
        )
    if not _EXTERNAL_ID.match(external_id):
        raise AwsIdError(
            "external_id",
            "an external id holds only letters, digits and _+=,.@:/- (no spaces)",
        )


def check_role_arn(role_arn: str | None) -> None:
    """Raise AwsIdError unless `role_arn` is absent or an IAM role ARN."""
    if role_arn is not None and not ROLE_ARN.match(role_arn):
        raise AwsIdError(
            "role_arn",
            f"{role_arn[:100]!r} is not an IAM role ARN "
            "(arn:aws:iam::<12-digit account>:role/<name>)",
        )


def check_access(role_arn: str | None, external_id: str | None) -> None:
    """Both identifiers of a remediation's account access (either may be absent)."""
    check_role_arn(role_arn)
    check_external_id(external_id)
