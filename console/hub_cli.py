"""`remedy hub ...`, `groups`, `accounts`, `actions`, `findings`, `runs`, `remediate-action`.

Every command but `hub serve`, `hub create-user` and `hub migrate` talks to the hub's API at
REMEDY_HUB_URL with the token in REMEDY_HUB_TOKEN; `--json` prints the API's answer as it is.
The commands live in `hub_cli_setup.py`, `hub_cli_actions.py` and `hub_cli_runs.py`; what they
share (the API client, errors, tables) in `hub_api.py`.
"""

from __future__ import annotations

import typer

from console.hub_cli_actions import actions_app, findings_app
from console.hub_cli_runs import remediate_action, runs_app
from console.hub_cli_setup import accounts_app, groups_app, hub_app
from console.hub_cli_tokens import token_app, user_app


def register(app: typer.Typer) -> None:
    """Add the hub's commands to `remedy`."""
    hub_app.add_typer(token_app, name="token")
    hub_app.add_typer(user_app, name="user")
    app.add_typer(hub_app, name="hub")
    app.add_typer(groups_app, name="groups")
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(actions_app, name="actions")
    app.add_typer(findings_app, name="findings")
    app.add_typer(runs_app, name="runs")
    app.command("remediate-action")(remediate_action)
