"""Custom search attributes, so the Temporal UI filters remediation runs (e.g. `RuleID = "..."`)."""

from __future__ import annotations

import hashlib

from temporalio.common import SearchAttributeKey

RULE_ID = SearchAttributeKey.for_keyword("RuleID")
FINDING_ID = SearchAttributeKey.for_keyword("FindingId")
JOB = SearchAttributeKey.for_keyword_list("Job")
CLOUD_ACCOUNT = SearchAttributeKey.for_keyword("CloudAccount")
PROVIDER = SearchAttributeKey.for_keyword("Provider")
REMEDIATION_STATUS = SearchAttributeKey.for_keyword("RemediationStatus")
#: a key per finding of a batch (`run_key` of its run id; workflows/batch.py): `remedy status
#: <run id>` finds the batch. Keys, not run ids: Temporal limits one value to 2 KB
BATCH_RUNS = SearchAttributeKey.for_keyword_list("BatchRuns")


def run_key(run_id: str) -> str:
    """A run id's key in `BatchRuns`: 12 hex characters (a batch is checked for the run itself)."""
    return hashlib.sha256(run_id.encode()).hexdigest()[:12]


ALL = (RULE_ID, FINDING_ID, JOB, CLOUD_ACCOUNT, PROVIDER, REMEDIATION_STATUS, BATCH_RUNS)


def dev_server_flags() -> list[str]:
    """`--search-attribute NAME=TYPE` flags for `temporal server start-dev`."""
    return [f"--search-attribute={key.name}={key._metadata_type}" for key in ALL]
