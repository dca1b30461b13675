"""Parameters shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from hub.schemas import ACCOUNT_ID, FINDING_ID, GROUP_ID, MAX_ID, RUN_ID

GroupId = Annotated[str, Path(pattern=GROUP_ID, description="Worker group id (wg-...).")]
AccountIdPath = Annotated[
    str, Path(pattern=ACCOUNT_ID, description="AWS account or Azure subscription id.")
]
ActionId = Annotated[int, Path(ge=1, le=MAX_ID, description="Remediation action id.")]
FindingIdPath = Annotated[
    str,
    Path(
        pattern=FINDING_ID,
        description="The finding's id (FindingId; an ASFF Id is an ARN: its '/' are taken "
        "as they are or URL-encoded).",
    ),
]
RunId = Annotated[str, Path(pattern=RUN_ID, description="Run id: the Temporal workflow id.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
