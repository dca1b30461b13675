"""What the hub starts for one claimed run (hub/runs.py plans it, hub/batching.py groups them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from remedy.types import RemediationSpec


@dataclass
class StartPlan:
    run_id: str
    payload: dict[str, Any]
    spec: RemediationSpec
    group_id: str
    action_id: int = 0
    #: the finding's account and region: runs batch only within one (hub/batching.py)
    account_id: str = ""
    region: str = ""
    #: the batch its start was tried in before: it starts again in that one
    batch_id: str | None = None
