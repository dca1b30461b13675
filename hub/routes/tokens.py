"""Users' tokens and lifecycle, and the audit log (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from hub import tokens
from hub.audit import AuditOut, read
from hub.context import HubDep, Manager
from hub.errors import ERROR_RESPONSES
from hub.routes.common import Limit, Offset
from hub.schemas import MAX_ID, Page

router = APIRouter(responses=ERROR_RESPONSES)

UserName = Annotated[str, Path(min_length=1, max_length=100, description="The user's name.")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="The token's id (GET .../tokens).")]


@router.post("/users/{user_name}/tokens", status_code=201, tags=["users"])
def post_token(
    user_name: UserName, body: tokens.TokenIn, hub: HubDep, caller: Manager
) -> tokens.TokenIssued:
    """A new token for the user (shown in this answer only), expiring after `expires_in_days`
    when given."""
    return hub.db.run(lambda s: tokens.issue(s, user_name, body))


@router.get("/users/{user_name}/tokens", tags=["users"])
def get_tokens(user_name: UserName, hub: HubDep, caller: Manager) -> list[tokens.TokenOut]:
    """The user's tokens (never the tokens themselves): created, expiry, last use, revoked."""
    return hub.db.run(lambda s: tokens.list_tokens(s, user_name))


@router.delete("/users/{user_name}/tokens/{token_id}", tags=["users"])
def revoke_token(
    user_name: UserName, token_id: TokenId, hub: HubDep, caller: Manager
) -> tokens.TokenOut:
    """Revoke the token: refused from the next request on."""
    return hub.db.run(lambda s: tokens.revoke(s, user_name, token_id))


@router.patch("/users/{user_name}", tags=["users"])
def patch_user(
    user_name: UserName, body: tokens.UserPatch, hub: HubDep, caller: Manager
) -> tokens.UserDetail:
    """Change the user's role, or disable it (its tokens are refused) or enable it again.
    409 when it would leave no enabled admin."""
    return hub.db.run(lambda s: tokens.user_detail(s, tokens.update_user(s, user_name, body)))


@router.delete("/users/{user_name}", status_code=204, tags=["users"])
def delete_user(user_name: UserName, hub: HubDep, caller: Manager) -> Response:
    """Delete the user and its tokens. 409 when it is the last enabled admin."""
    hub.db.run(lambda s: tokens.delete_user(s, user_name))
    return Response(status_code=204)


@router.get("/audit", tags=["audit"])
def get_audit(
    hub: HubDep,
    caller: Manager,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Page[AuditOut]:
    """Every change an admin or analyst made (who, what, when), newest first."""
    items, total = hub.db.run(lambda s: read(s, actor=actor, offset=offset, limit=limit))
    return Page(items=items, total=total, offset=offset, limit=limit)
