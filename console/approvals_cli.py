"""`remedy approvals list`, `remedy approve RUN`, `remedy reject RUN`: the decisions a run that
asks for approval waits on, straight on Temporal.

Through Temporal there is no hub to say who is who: the decision names `--by` (default: this
shell's user) as an admin, and the run refuses it only when `--by` is the run's own requester.
Through the hub, the hub names the signed-in user and their role.
"""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from console.cli_output import console, err, fail, ui_link
from remedy.config import temporal_settings

approvals_app = typer.Typer(help="Runs waiting for approval.", no_args_is_help=True)

By = Annotated[
    str | None,
    typer.Option("--by", help="Who decides (default: this shell's user), recorded in the run."),
]


@approvals_app.command("list")
def approvals_list() -> None:
    """The runs waiting for a decision, each with the plan it would apply."""
    from remedy.starter import pending_approvals
    from remedy.temporal import connect

    settings = temporal_settings()

    async def main() -> None:
        waiting = await pending_approvals(await connect(settings))
        if not waiting:
            console.print("no run is waiting for approval")
        for status in waiting:
            expires = status.approval_expires_at
            until = f" until {expires:%Y-%m-%d %H:%M:%SZ}" if expires else ""
            console.print(
                f"[bold]{status.run_id}[/bold] {status.remediation} on {status.resource} "
                f"({status.account_id}){until}  {ui_link(settings, status.run_id)}",
                highlight=False,
            )
            for change in status.plan:
                print(f"  would change: {change}")

    asyncio.run(main())


def _decide(run_id: str, approve: bool, comment: str, by: str | None) -> None:
    from remedy.starter import DecisionRefused, decide
    from remedy.temporal import connect
    from remedy.types import Decision

    decision = Decision(approve=approve, by=by or getpass.getuser(), role="admin", comment=comment)

    async def main() -> str:
        return await decide(await connect(temporal_settings()), run_id, decision)

    try:
        answer = asyncio.run(main())
    except DecisionRefused as exc:
        raise fail(str(exc), code=1) from None
    err.print(f"{run_id}: {answer} by {decision.by}")


def approve(
    run_id: Annotated[str, typer.Argument(help="The run waiting for approval.")],
    comment: Annotated[str, typer.Option(help="Why; kept in the run's history.")] = "",
    by: By = None,
) -> None:
    """Approve the plan a run waits on: it re-plans, and applies the plan if it is unchanged."""
    _decide(run_id, True, comment, by)


def reject(
    run_id: Annotated[str, typer.Argument(help="The run waiting for approval.")],
    comment: Annotated[str, typer.Option(help="Why (required); kept in the run's history.")],
    by: By = None,
) -> None:
    """Reject the plan a run waits on: the run fails with your reason; nothing is changed."""
    _decide(run_id, False, comment, by)
