"""Actions: the list with the circuit breaker's state; create and edit (the job chain chosen from
the jobs the groups' online workers offer); publish, unpublish, resume after the breaker."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from hub import actions, blast_radius
from hub.auth import Permission
from hub.context import Hub, HubDep
from hub.errors import ApiError
from hub.groups import list_groups, offered_jobs, workers_of
from hub.routes.common import ActionId
from hub.schemas import RemediationIn, RemediationOut, RemediationPatch
from hub.web.csrf import checked_form
from hub.web.render import invalid_form, redirect, render
from hub.web.session import PageUser, may
from hub.web.sessions import SignedIn

router = APIRouter(prefix="/ui", include_in_schema=False)

STEPS = 3  # job rows on the form; an action may chain more through the API


def _words(form: FormData, name: str) -> list[str]:
    return [w for w in str(form.get(name, "")).replace(",", " ").split() if w]


def body_of(form: FormData) -> dict[str, Any]:
    """The action as the API's JSON body, from the form's fields."""
    steps = []
    for n in range(STEPS):
        job = str(form.get(f"job_{n}", "")).strip()
        if not job:
            continue
        raw = str(form.get(f"parameters_{n}", "")).strip() or "{}"
        try:
            parameters = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(
                422,
                f"steps.{n}.parameters: not JSON ({exc.msg})",
                'write them as a JSON object: {"port": 22}',
                field=f"steps.{n}.parameters",
            ) from None
        steps.append({"job": job, "parameters": parameters})
    criteria: dict[str, Any] = {
        "regions": _words(form, "regions"),
        "standards": _words(form, "standards"),
        "resource_types": _words(form, "resource_types"),
    }
    if form.get("min_level"):
        criteria["min_level"] = str(form.get("min_level"))
    body: dict[str, Any] = {
        "name": str(form.get("name", "")).strip(),
        "description": str(form.get("description", "")),
        "provider": str(form.get("provider", "")),
        "worker_group_id": str(form.get("worker_group_id", "")),
        "rule_ids": _words(form, "rule_ids"),
        "account_ids": _words(form, "account_ids"),
        "criteria": criteria,
        "steps": steps,
        "auto_remediate": form.get("auto_remediate") == "on",
    }
    if form.get("approval") == "on":
        body["approval"] = {"expires_hours": float(str(form.get("expires_hours") or 24))}
    return body


def values_of(action: RemediationOut) -> dict[str, str]:
    """The form's fields, filled from a saved action."""
    values = {
        "name": action.name,
        "description": action.description,
        "provider": action.provider,
        "worker_group_id": action.worker_group_id,
        "rule_ids": " ".join(action.rule_ids),
        "account_ids": " ".join(action.account_ids),
        "regions": " ".join(action.criteria.regions),
        "standards": " ".join(action.criteria.standards),
        "resource_types": " ".join(action.criteria.resource_types),
        "min_level": action.criteria.min_level or "",
        "auto_remediate": "on" if action.auto_remediate else "",
        "approval": "on" if action.approval else "",
        "expires_hours": str(action.approval.expires_hours) if action.approval else "24",
    }
    for n, step in enumerate(action.steps[:STEPS]):
        values[f"job_{n}"] = step.job
        values[f"parameters_{n}"] = json.dumps(step.parameters)
    return values


def _form_context(session: Session, hub: Hub) -> dict[str, Any]:
    groups = list_groups(session)
    # as the API checks steps: before any worker of a group has registered, the built-in catalogue
    waiting = {g.id for g in groups if not workers_of(session, g.id)}
    return {
        "groups": groups,
        "jobs": {
            g.id: sorted(
                actions.builtin_jobs()
                if g.id in waiting
                else offered_jobs(session, g.id, hub.settings)
            )
            for g in groups
        },
        "no_worker_yet": waiting,
    }


@router.get("/actions")
def actions_page(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    found = hub.db.run(lambda s: [actions.action_out(a) for a in actions.list_actions(s)])
    return render(request, "actions.html", user, rows=found)


@router.get("/actions/new")
def new_action_page(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    may(user, Permission.MANAGE, "create remediations")
    context = hub.db.run(lambda s: _form_context(s, hub))
    return render(request, "action_form.html", user, action=None, values={}, error=None, **context)


@router.get("/actions/{action_id}")
def action_page(action_id: ActionId, request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    def work(session: Session) -> dict[str, Any]:
        action = actions.action_out(actions.get_action(session, action_id))
        return {"action": action, "values": values_of(action), **_form_context(session, hub)}

    return render(request, "action_form.html", user, error=None, **hub.db.run(work))


async def _save(request: Request, hub: Hub, user: SignedIn, action_id: int | None) -> Response:
    """Create or update the action from the form: its page next, or the form again naming the
    field at fault (422)."""
    caller = may(user, Permission.MANAGE, "create or update remediations")
    form = await checked_form(request, user)
    try:
        body = body_of(form)
        if action_id is None:
            created = RemediationIn.model_validate(body)
            saved = await hub.db.call(
                lambda s: actions.action_out(
                    actions.create_action(s, created, hub.settings, caller.name)
                )
            )
        else:
            patch = RemediationPatch.model_validate(body)
            saved = await hub.db.call(
                lambda s: actions.action_out(
                    actions.update_action(s, action_id, patch, hub.settings)
                )
            )
        return redirect(f"/ui/actions/{saved.id}", "saved")
    except (ApiError, ValidationError) as exc:
        error = invalid_form(exc) if isinstance(exc, ValidationError) else exc
        if error.status != 422:
            raise error from None
        context = await hub.db.call(lambda s: _form_context(s, hub))
        action = None
        if action_id is not None:
            action = await hub.db.call(
                lambda s: actions.action_out(actions.get_action(s, action_id))
            )
        return render(
            request,
            "action_form.html",
            user,
            status_code=422,
            action=action,
            values=body_or_empty(form),
            error=error,
            **context,
        )


def body_or_empty(form: FormData) -> dict[str, Any]:
    return {k: str(v) for k, v in form.items() if k != "csrf_token"}


@router.post("/actions/new")
async def create(request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _save(request, hub, user, None)


@router.post("/actions/{action_id}")
async def update(action_id: ActionId, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _save(request, hub, user, action_id)


async def _status(
    request: Request, hub: Hub, user: SignedIn, action_id: int, published: bool
) -> Response:
    may(user, Permission.MANAGE, "publish remediations")
    await checked_form(request, user)
    patch = RemediationPatch(status="published" if published else "draft")
    await hub.db.call(lambda s: actions.update_action(s, action_id, patch, hub.settings))
    return redirect(f"/ui/actions/{action_id}", "published" if published else "unpublished")


@router.post("/actions/{action_id}/publish")
async def publish(action_id: ActionId, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _status(request, hub, user, action_id, True)


@router.post("/actions/{action_id}/unpublish")
async def unpublish(action_id: ActionId, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _status(request, hub, user, action_id, False)


@router.post("/actions/{action_id}/pause")
async def pause(action_id: ActionId, request: Request, hub: HubDep, user: PageUser) -> Response:
    caller = may(user, Permission.MANAGE, "pause remediations")
    await checked_form(request, user)

    def work(session: Session) -> None:
        blast_radius.pause(session, actions.get_action(session, action_id), caller.name)

    await hub.db.call(work)
    return redirect(f"/ui/actions/{action_id}", "paused")


@router.post("/actions/{action_id}/resume")
async def resume(action_id: ActionId, request: Request, hub: HubDep, user: PageUser) -> Response:
    caller = may(user, Permission.MANAGE, "resume remediations")
    await checked_form(request, user)

    def work(session: Session) -> None:
        blast_radius.resume(session, actions.get_action(session, action_id), caller.name)

    await hub.db.call(work)
    return redirect(f"/ui/actions/{action_id}", "resumed")
