"""Every change the pages offer, POSTed by each role with a valid session and CSRF token: the
role matrix is the API's (hub/auth.py), checked by the handler itself, not only by hiding buttons."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from hub.web import ROUTERS
from tests.hub_fixtures import HubHarness
from tests.web_fixtures import session_of

#: what each page change needs beyond viewing: admins manage, analysts (and admins) trigger
MANAGE = ("/ui/actions", "/ui/groups", "/ui/accounts", "/ui/users")
OPEN_TO_ALL = ("/ui/sign-in", "/ui/sign-out")
SAMPLE = {
    "run_id": "remedy-none",
    "group_id": "wg-none",
    "action_id": "99",
    "finding_id": "f-1",
    "name": "nobody",
    "token_id": "1",
}


def page_changes() -> list[str]:
    return [
        re.sub(r"\{(\w+)(:path)?\}", lambda m: SAMPLE[m[1]], route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        and "POST" in route.methods
        and not route.path.startswith(OPEN_TO_ALL)
    ]


async def test_each_role_may_post_only_what_the_api_lets_it(hub_api: HubHarness) -> None:
    changes = page_changes()
    assert len(changes) >= 23  # every page family is walked
    for role in ("viewer", "analyst", "admin"):
        client, csrf = await session_of(hub_api, role)
        for path in changes:
            answer = await client.post(path, data={"csrf_token": csrf})
            refused = role == "viewer" or (role == "analyst" and path.startswith(MANAGE))
            if refused:
                assert answer.status_code == 403, (role, path, answer.status_code)
                assert f"a {role} may not" in answer.text
            else:  # let through: then stopped by what is missing (no such run, no field...)
                assert answer.status_code != 403, (role, path, answer.text[-300:])
