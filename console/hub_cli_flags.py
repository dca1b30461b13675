"""The hub's refusals in the command line's words: an answer names API fields (`role_arn`,
`steps.0.job`); the command that sent them prints its own flags (`--role-arn`, `--job`) instead,
so the fix can be typed as it reads."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: `remedy accounts add`
ACCOUNT_FLAGS = {
    "account_id": "ACCOUNT_ID",
    "provider": "--provider",
    "name": "--name",
    "role_arn": "--role-arn",
    "external_id": "--external-id",
}
#: `remedy actions create` from flags (a --file's fields are its own: they stay as they are)
ACTION_FLAGS = {
    "name": "--name",
    "provider": "--provider",
    "worker_group_id": "--group",
    "rule_ids": "--rule",
    "account_ids": "--account",
    "criteria.regions": "--region",
    "criteria.min_risk_score": "--min-risk",
    "criteria.min_level": "--min-level",
    "steps.N.job": "--job",
    "steps.N.parameters": "--param",
    "auto_remediate": "--auto",
}
#: `remedy groups create`
GROUP_FLAGS = {"name": "NAME", "description": "--description"}
#: `remedy remediate-action`
RUN_FLAGS = {"finding_ids": "--finding"}


def _pattern(field: str) -> str:
    # `steps.N.job` stands for every step; a field may come as `body.<field>` and with a
    # position or a sub-field after it (`rule_ids.0`, `steps.1.parameters.port`)
    body = re.escape(field).replace("N", r"\d+")
    tail = r"(?:\.\w+)*(?![\w])"
    if re.search(r"[_.]", field):
        return rf"(?<![\w.-])(?:body\.)?{body}{tail}"
    # a plain word (`name`) is a field only where the hub names one: `body.name`, or
    # `name:` opening a line; elsewhere it is just the word
    return rf"(?:(?<![\w.-])body\.{body}{tail}|(?m:^){body}{tail}(?=:))"


def in_flags(text: str, flags: Mapping[str, str]) -> str:
    """`text` with every API field of `flags` written as the command's flag."""
    for field in sorted(flags, key=len, reverse=True):  # `criteria.regions` before `name`
        text = re.sub(_pattern(field), flags[field], text)
    return re.sub(r"\bgive (--[\w-]+): ", r"give \1 ", text)  # "give --role-arn ARN"
