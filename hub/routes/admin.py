"""Users, worker groups and cloud accounts."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import groups
from hub.auth import Caller, Role, create_user
from hub.context import HubDep, Manager, Viewer
from hub.errors import ERROR_RESPONSES
from hub.logs import read_logs
from hub.models import User, WorkerGroup, utcnow
from hub.routes.common import AccountIdPath, GroupId, Limit, Offset
from hub.schemas import (
    AccountIn,
    AccountOut,
    DeployCommands,
    GroupCreated,
    GroupIn,
    GroupJob,
    GroupOut,
    LogEntryOut,
    Page,
    SecretRegenerated,
    UserCreated,
    UserIn,
    UserOut,
    WorkerOut,
)

router = APIRouter(responses=ERROR_RESPONSES)


def _user_out(user: User) -> UserOut:
    return UserOut(
        name=user.name, role=Role(user.role), created_at=user.created_at, disabled=user.disabled
    )


@router.post("/users", status_code=201, tags=["users"])
def post_user(body: UserIn, hub: HubDep, caller: Manager) -> UserCreated:
    """Make a user with one role; its API token is in this answer only."""
    user, token = hub.db.run(lambda s: create_user(s, body.name, body.role))
    return UserCreated(user=_user_out(user), token=token)


@router.get("/users", tags=["users"])
def get_users(hub: HubDep, caller: Manager) -> list[UserOut]:
    return hub.db.run(
        lambda s: [_user_out(u) for u in s.scalars(select(User).order_by(User.name)).all()]
    )


# -- worker groups --------------------------------------------------------------------------------


#: never the request's Host header: whoever sends the request would choose where workers connect
HUB_URL_PLACEHOLDER = "<the hub's URL as workers reach it: set REMEDY_HUB_PUBLIC_URL>"


def _hub_url(hub: HubDep, request: Request) -> str:
    return hub.settings.hub_public_url or HUB_URL_PLACEHOLDER


def _shown(account: AccountOut, caller: Caller) -> AccountOut:
    """External ids guard the trust between a worker and an account: admins only see them."""
    if caller.role != Role.ADMIN:
        account.external_id = None
    return account


def _deploy(hub: HubDep, request: Request, group: WorkerGroup) -> DeployCommands:
    return groups.deploy_commands(
        group,
        _hub_url(hub, request),
        hub.temporal_settings.address,
        hub.settings.hub_worker_image,
    )


@router.post("/worker-groups", status_code=201, tags=["worker groups"])
def post_group(body: GroupIn, hub: HubDep, caller: Manager, request: Request) -> GroupCreated:
    """Make a worker group: its client id and secret (shown once) and how to deploy its workers."""

    def work(session: Session) -> GroupCreated:
        group, secret = groups.create_group(session, body)
        return GroupCreated(
            group=groups.group_out(session, group, hub.settings),
            client_secret=secret,
            deploy=_deploy(hub, request, group),
        )

    return hub.db.run(work)


@router.get("/worker-groups", tags=["worker groups"])
def get_groups(hub: HubDep, caller: Viewer) -> list[GroupOut]:
    return hub.db.run(
        lambda s: [groups.group_out(s, g, hub.settings) for g in groups.list_groups(s)]
    )


@router.get("/worker-groups/{group_id}", tags=["worker groups"])
def get_group(group_id: GroupId, hub: HubDep, caller: Viewer) -> GroupOut:
    return hub.db.run(lambda s: groups.group_out(s, groups.get_group(s, group_id), hub.settings))


@router.post("/worker-groups/{group_id}/enable", tags=["worker groups"])
def enable_group(group_id: GroupId, hub: HubDep, caller: Manager) -> GroupOut:
    return hub.db.run(
        lambda s: groups.group_out(s, groups.set_enabled(s, group_id, True), hub.settings)
    )


@router.post("/worker-groups/{group_id}/disable", tags=["worker groups"])
def disable_group(group_id: GroupId, hub: HubDep, caller: Manager) -> GroupOut:
    """A disabled group takes no new runs (manual ones are refused with 409)."""
    return hub.db.run(
        lambda s: groups.group_out(s, groups.set_enabled(s, group_id, False), hub.settings)
    )


@router.post("/worker-groups/{group_id}/regenerate-secret", tags=["worker groups"])
def regenerate_secret(
    group_id: GroupId, hub: HubDep, caller: Manager, request: Request
) -> SecretRegenerated:
    """A new client secret, shown once; the previous one stops working at once."""

    def work(session: Session) -> SecretRegenerated:
        group, secret = groups.regenerate_secret(session, group_id)
        return SecretRegenerated(
            group_id=group.id,
            client_id=group.client_id,
            client_secret=secret,
            deploy=_deploy(hub, request, group),
        )

    return hub.db.run(work)


@router.get("/worker-groups/{group_id}/deploy", tags=["worker groups"])
def get_deploy(group_id: GroupId, hub: HubDep, caller: Viewer, request: Request) -> DeployCommands:
    """The worker deployment commands (the secret is a placeholder: it was shown once)."""
    return hub.db.run(lambda s: _deploy(hub, request, groups.get_group(s, group_id)))


@router.get("/worker-groups/{group_id}/workers", tags=["worker groups"])
def get_workers(group_id: GroupId, hub: HubDep, caller: Viewer) -> list[WorkerOut]:
    """The group's workers, Online or Offline from their heartbeats."""

    def work(session: Session) -> list[WorkerOut]:
        groups.get_group(session, group_id)
        now = utcnow()
        return [
            groups.worker_out(w, hub.settings, now) for w in groups.workers_of(session, group_id)
        ]

    return hub.db.run(work)


@router.get("/worker-groups/{group_id}/jobs", tags=["worker groups"])
def get_jobs(group_id: GroupId, hub: HubDep, caller: Viewer) -> list[GroupJob]:
    """The jobs the group offers: those its online workers registered."""

    def work(session: Session) -> list[GroupJob]:
        groups.get_group(session, group_id)
        return list(groups.offered_jobs(session, group_id, hub.settings).values())

    return hub.db.run(work)


@router.get("/worker-groups/{group_id}/logs", tags=["worker groups", "logs"])
def get_group_logs(
    group_id: GroupId, hub: HubDep, caller: Viewer, offset: Offset = 0, limit: Limit = 100
) -> Page[LogEntryOut]:
    """Job logs the group's workers shipped, newest first (redacted)."""

    def work(session: Session) -> Page[LogEntryOut]:
        groups.get_group(session, group_id)
        items, total = read_logs(
            session,
            group_id=group_id,
            offset=offset,
            limit=limit,
            max_chars=hub.settings.hub_max_log_page_chars,
        )
        return Page(items=items, total=total, offset=offset, limit=limit)

    return hub.db.run(work)


@router.get("/worker-groups/{group_id}/accounts", tags=["worker groups", "accounts"])
def get_group_accounts(group_id: GroupId, hub: HubDep, caller: Viewer) -> list[AccountOut]:
    """The group's accounts (`external_id` only for admins)."""
    return hub.db.run(
        lambda s: [
            _shown(groups.account_out(s, a), caller) for a in groups.list_accounts(s, group_id)
        ]
    )


@router.put(
    "/worker-groups/{group_id}/accounts/{account_id}",
    status_code=204,
    tags=["worker groups", "accounts"],
)
def put_group_account(
    group_id: GroupId, account_id: AccountIdPath, hub: HubDep, caller: Manager
) -> Response:
    """Associate an account with the group (an account may be in several groups)."""
    hub.db.run(lambda s: groups.associate(s, group_id, account_id))
    return Response(status_code=204)


@router.delete(
    "/worker-groups/{group_id}/accounts/{account_id}",
    status_code=204,
    tags=["worker groups", "accounts"],
)
def delete_group_account(
    group_id: GroupId, account_id: AccountIdPath, hub: HubDep, caller: Manager
) -> Response:
    hub.db.run(lambda s: groups.dissociate(s, group_id, account_id))
    return Response(status_code=204)


# -- accounts -------------------------------------------------------------------------------------


@router.post("/accounts", tags=["accounts"], responses={201: {"model": AccountOut}})
def post_account(body: AccountIn, hub: HubDep, caller: Manager, response: Response) -> AccountOut:
    """Register an AWS account (role ARN in it, external id) or an Azure subscription; posting
    it again updates how it is reached (200)."""

    def work(session: Session) -> AccountOut:
        account, created = groups.put_account(session, body)
        response.status_code = 201 if created else 200
        return groups.account_out(session, account)

    return hub.db.run(work)


@router.get("/accounts", tags=["accounts"])
def get_accounts(hub: HubDep, caller: Viewer) -> list[AccountOut]:
    """Every account (`external_id` only for admins)."""
    return hub.db.run(
        lambda s: [_shown(groups.account_out(s, a), caller) for a in groups.list_accounts(s)]
    )


@router.get("/accounts/{account_id}", tags=["accounts"])
def get_account(account_id: AccountIdPath, hub: HubDep, caller: Viewer) -> AccountOut:
    """The account (`external_id` only for admins)."""
    return hub.db.run(
        lambda s: _shown(groups.account_out(s, groups.get_account(s, account_id)), caller)
    )
