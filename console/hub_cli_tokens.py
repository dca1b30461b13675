"""`remedy hub token ...` and `remedy hub user ...`: token and user lifecycle on the store.

Like `remedy hub create-user`, these work on the store directly (REMEDY_DATABASE_URL), so an
operator of the hub can recover when no admin token is left; the API offers the same to admins
(`POST /users/{name}/tokens`, `PATCH /users/{name}`, ...). Each change is written to the audit log
as `local:<os user>`.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from console.cli_output import make_console

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")
console = make_console()
err = make_console(stderr=True)

token_app = typer.Typer(help="Users' API tokens: issue, list, revoke.", no_args_is_help=True)
user_app = typer.Typer(
    help="Users: change a role, disable, enable, delete (`hub create-user` makes one).",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _on_store(what: str, work: Callable[[Session], T]) -> T:
    """`work` on the migrated store, audited as `what` when it changes something."""
    from hub.audit import record
    from hub.config import HubSettings
    from hub.db import Database
    from hub.errors import ApiError

    db = Database(HubSettings())
    try:
        db.migrate()

        def audited(session: Session) -> T:
            done = work(session)
            if what:
                record(session, f"local:{getpass.getuser()}", "admin", what, 0, "remedy hub")
            return done

        return db.run(audited)
    except ApiError as exc:
        err.print(f"[red]error:[/red] {exc.error} ({exc.fix})", highlight=False)
        raise typer.Exit(1) from None
    finally:
        db.dispose()


def _json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


@token_app.command("issue")
def token_issue(
    name: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    expires_in_days: Annotated[
        float | None, typer.Option(help="Days until it expires (default: never).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """A new token for user NAME, printed once."""
    from hub.tokens import TokenIn, issue

    try:
        body = TokenIn(label=label, expires_in_days=expires_in_days)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    issued = _on_store(f"token issue {name}", lambda s: issue(s, name, body))
    if as_json:
        _json(issued.model_dump(mode="json"))
        return
    expiry = issued.details.expires_at or "never"
    console.print(f"token {issued.details.id} of {name} (expires: {expiry}); shown this once:")
    print(issued.token)


@token_app.command("list")
def token_list(name: str, as_json: AsJson = False) -> None:
    """User NAME's tokens: id, label, created, expiry, last use, revoked."""
    from hub.tokens import list_tokens

    found = _on_store("", lambda s: list_tokens(s, name))
    if as_json:
        _json([t.model_dump(mode="json") for t in found])
        return
    for t in found:
        state = "active" if t.active else ("revoked" if t.revoked_at else "expired")
        console.print(
            f"{t.id:>6}  {state:8} {t.label or '-':20} created {t.created_at:%Y-%m-%d %H:%M}  "
            f"expires {t.expires_at or 'never'}  last used {t.last_used_at or 'never'}",
            highlight=False,
        )


@token_app.command("revoke")
def token_revoke(name: str, token_id: int) -> None:
    """Revoke token TOKEN_ID of user NAME (refused from its next request on)."""
    from hub.tokens import revoke

    _on_store(f"token revoke {name} {token_id}", lambda s: revoke(s, name, token_id))
    console.print(f"token {token_id} of {name} revoked")


@user_app.command("set-role")
def user_set_role(name: str, role: str) -> None:
    """Give user NAME another role: admin, analyst or viewer."""
    from hub.auth import Role
    from hub.tokens import UserPatch, update_user

    try:
        chosen = Role(role.lower())
    except ValueError:
        err.print(f"[red]error:[/red] ROLE must be admin, analyst or viewer, not {role!r}")
        raise typer.Exit(2) from None
    _on_store(
        f"user set-role {name} {chosen.value}",
        lambda s: update_user(s, name, UserPatch(role=chosen)),
    )
    console.print(f"{name} is now {chosen.value}")


def _set_disabled(name: str, disabled: bool) -> None:
    from hub.tokens import UserPatch, update_user

    verb = "disable" if disabled else "enable"
    _on_store(f"user {verb} {name}", lambda s: update_user(s, name, UserPatch(disabled=disabled)))
    console.print(f"{name} {verb}d")


@user_app.command("disable")
def user_disable(name: str) -> None:
    """Disable user NAME: its tokens are refused until it is enabled again."""
    _set_disabled(name, True)


@user_app.command("enable")
def user_enable(name: str) -> None:
    """Enable user NAME again."""
    _set_disabled(name, False)


@user_app.command("delete")
def user_delete(
    name: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False
) -> None:
    """Delete user NAME and its tokens."""
    from hub.tokens import delete_user

    if not yes:
        typer.confirm(f"delete user {name} and its tokens?", abort=True)
    _on_store(f"user delete {name}", lambda s: delete_user(s, name))
    console.print(f"{name} deleted")
