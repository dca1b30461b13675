"""Every endpoint for every role: 401 without a valid token, 403 for a role that may not, through
for one that may (whatever the request then says about its body or ids)."""

from __future__ import annotations

import re

import pytest

from tests.hub_fixtures import HubHarness, new_group

V, T, M, W, P = "view", "trigger", "manage", "worker", "public"

#: The roles matrix (finding-payload.md) applied to every endpoint. A new endpoint fails the walk
#: until it is listed here.
EXPECTED = {
    ("POST", "/users"): M,
    ("GET", "/users"): M,
    ("PATCH", "/users/{user_name}"): M,
    ("DELETE", "/users/{user_name}"): M,
    ("POST", "/users/{user_name}/tokens"): M,
    ("GET", "/users/{user_name}/tokens"): M,
    ("DELETE", "/users/{user_name}/tokens/{token_id}"): M,
    ("GET", "/audit"): M,
    ("POST", "/worker-groups"): M,
    ("GET", "/worker-groups"): V,
    ("GET", "/worker-groups/{group_id}"): V,
    ("POST", "/worker-groups/{group_id}/enable"): M,
    ("POST", "/worker-groups/{group_id}/disable"): M,
    ("POST", "/worker-groups/{group_id}/regenerate-secret"): M,
    ("GET", "/worker-groups/{group_id}/deploy"): V,
    ("GET", "/worker-groups/{group_id}/workers"): V,
    ("GET", "/worker-groups/{group_id}/jobs"): V,
    ("GET", "/worker-groups/{group_id}/logs"): V,
    ("GET", "/worker-groups/{group_id}/accounts"): V,
    ("PUT", "/worker-groups/{group_id}/accounts/{account_id}"): M,
    ("DELETE", "/worker-groups/{group_id}/accounts/{account_id}"): M,
    ("POST", "/accounts"): M,
    ("GET", "/accounts"): V,
    ("GET", "/accounts/{account_id}"): V,
    ("POST", "/remediations"): M,
    ("GET", "/remediations"): V,
    ("GET", "/remediations/{action_id}"): V,
    ("PATCH", "/remediations/{action_id}"): M,
    ("POST", "/remediations/{action_id}/publish"): M,
    ("POST", "/remediations/{action_id}/unpublish"): M,
    ("POST", "/remediations/{action_id}/resume"): M,
    ("POST", "/remediations/{action_id}/pause"): M,
    ("POST", "/remediations/{action_id}/run"): T,
    ("POST", "/findings"): T,
    ("GET", "/findings"): V,
    ("GET", "/findings/{finding_id}"): V,
    ("PATCH", "/findings/{finding_id}"): T,
    ("GET", "/runs"): V,
    ("GET", "/runs/{run_id}"): V,
    ("GET", "/runs/{run_id}/logs"): V,
    ("GET", "/approvals"): V,
    ("POST", "/runs/{run_id}/approve"): T,
    ("POST", "/runs/{run_id}/reject"): T,
    ("POST", "/runs/{run_id}/rollback"): T,
    ("POST", "/worker/register"): W,
    ("POST", "/worker/heartbeat"): W,
    ("POST", "/worker/runs/{run_id}/logs"): W,
    ("POST", "/worker/findings"): W,
    ("GET", "/health"): P,
    ("GET", "/healthz"): P,
    ("GET", "/readyz"): P,
    ("GET", "/metrics"): P,
}
ALLOWED = {
    "admin": {V, T, M},
    "analyst": {V, T},
    "viewer": {V},
}
SAMPLE_IDS = {
    "group_id": "wg-000000000000",
    "account_id": "123456789012",
    "action_id": "1",
    "finding_id": "finding-1",
    "run_id": "remedy-x-1",
    "user_name": "nobody",
    "token_id": "1",
}


@pytest.mark.parametrize("hub_settings", ["sqlite"], indirect=True)
async def test_every_endpoint_for_every_role(hub_api: HubHarness) -> None:
    h = hub_api
    routes = {
        (method.upper(), path)
        for path, operations in h.app.openapi()["paths"].items()
        for method in operations
    }
    assert routes == set(EXPECTED), "list every endpoint in EXPECTED with its permission"
    group = await new_group(h)
    worker = h.worker_api(group.client_id, group.client_secret)
    walked = 0
    for (method, template), permission in sorted(EXPECTED.items()):
        path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_IDS[m.group(1)], template)
        for role in (None, "viewer", "analyst", "admin"):
            response = await h.as_(role).request(method, path, json={})
            where = f"{method} {template} as {role}: {response.status_code} {response.text[:200]}"
            if permission == P:
                assert response.status_code == 200, where
            elif permission == W:
                assert response.status_code == 401, where  # a user token is no worker credential
            elif role is None:
                assert response.status_code == 401, where
            elif permission in ALLOWED[role]:
                assert response.status_code not in (401, 403), where
            else:
                assert response.status_code == 403, where
                assert role in response.json()["error"] and response.json()["fix"], where
            walked += 1
        if permission == W:
            response = await worker.request(method, path, json={})
            assert response.status_code not in (401, 403), (method, template, response.text)
    assert walked == 4 * len(EXPECTED)
    await worker.aclose()
