"""Signing in to the pages (no browser needed: the hub in-process, each store backend): the session
cookie's flags, what ends a session, where sign-in may send the browser, CSRF on sign-out."""

from __future__ import annotations

import re

import httpx

from tests.hub_fixtures import HubHarness


def browser_of(h: HubHarness, scheme: str = "http") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=h.transport, base_url=f"{scheme}://hub.test")


async def signed_in(h: HubHarness, token: str, scheme: str = "http") -> httpx.AsyncClient:
    client = browser_of(h, scheme)
    answer = await client.post("/ui/sign-in", data={"token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/runs"
    return client


async def test_a_token_opens_a_session_whose_cookie_scripts_cannot_read(
    hub_api: HubHarness,
) -> None:
    client = browser_of(hub_api)
    answer = await client.post("/ui/sign-in", data={"token": hub_api.tokens["analyst"]})
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("remedy_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert hub_api.tokens["analyst"] not in cookie
    page = await client.get("/ui/runs")
    assert page.status_code == 200 and "analyst-user (analyst)" in page.text
    assert page.headers["cache-control"] == "no-store"
    # the cookie is not an API credential
    assert (await client.get("/runs")).status_code == 401

    https = browser_of(hub_api, "https")
    secure = await https.post("/ui/sign-in", data={"token": hub_api.tokens["analyst"]})
    assert "Secure" in secure.headers["set-cookie"]


async def test_a_bad_token_opens_nothing(hub_api: HubHarness) -> None:
    client = browser_of(hub_api)
    answer = await client.post("/ui/sign-in", data={"token": "rmt_not-a-token"})
    assert answer.status_code == 401 and "set-cookie" not in answer.headers
    assert "the API token is not valid" in answer.text
    assert "www-authenticate" not in answer.headers
    nobody = await client.get("/ui/findings?status=open")
    assert nobody.status_code == 303
    assert nobody.headers["location"] == "/ui/sign-in?next=/ui/findings%3Fstatus%3Dopen"
    # a fragment refreshing itself (htmx) sends the whole page to sign-in
    fragment = await client.get("/ui/runs-table", headers={"HX-Request": "true"})
    assert fragment.status_code == 204
    assert fragment.headers["hx-redirect"] == "/ui/sign-in?next=/ui/runs-table"


async def test_revoking_the_token_or_disabling_the_user_ends_its_sessions(
    hub_api: HubHarness,
) -> None:
    issued = await hub_api.ok("POST", "/users/viewer-user/tokens", json={"label": "web"})
    client = await signed_in(hub_api, issued["token"])
    assert (await client.get("/ui/runs")).status_code == 200
    await hub_api.ok("DELETE", f"/users/viewer-user/tokens/{issued['details']['id']}")
    assert (await client.get("/ui/runs")).status_code == 303

    client = await signed_in(hub_api, hub_api.tokens["viewer"])
    await hub_api.ok("PATCH", "/users/viewer-user", json={"disabled": True})
    assert (await client.get("/ui/runs")).status_code == 303


async def test_sign_in_sends_the_browser_only_to_the_hubs_own_pages(hub_api: HubHarness) -> None:
    client = browser_of(hub_api)
    token = hub_api.tokens["viewer"]
    for target, landed in [
        ("/ui/findings", "/ui/findings"),
        ("https://evil.example/", "/ui/runs"),
        ("//evil.example/ui/", "/ui/runs"),
    ]:
        answer = await client.post("/ui/sign-in", data={"token": token, "next": target})
        assert answer.headers["location"] == landed, target
    # a sign-in form on another site may not sign the browser in with its token
    elsewhere = await client.post(
        "/ui/sign-in", data={"token": token}, headers={"origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403 and "set-cookie" not in elsewhere.headers
    here = await client.post(
        "/ui/sign-in", data={"token": token}, headers={"origin": "http://hub.test"}
    )
    assert here.status_code == 303


async def test_signing_out_needs_the_forms_csrf_token_and_ends_the_session(
    hub_api: HubHarness,
) -> None:
    client = await signed_in(hub_api, hub_api.tokens["admin"])
    page = await client.get("/ui/runs")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    refused = await client.post("/ui/sign-out", data={})
    assert refused.status_code == 403 and "CSRF token" in refused.text
    assert (await client.get("/ui/runs")).status_code == 200
    cookie = client.cookies.get("remedy_session")
    assert cookie
    out = await client.post("/ui/sign-out", data={"csrf_token": found[1]})
    assert out.status_code == 303 and out.headers["location"] == "/ui/sign-in"
    audit = await hub_api.ok("GET", "/audit")
    assert {"actor": "admin-user", "action": "POST /ui/sign-out"}.items() <= audit["items"][
        0
    ].items()
    assert (await client.get("/ui/runs")).status_code == 303
    # the session is gone from the store, not only from the browser
    stale = browser_of(hub_api)
    stale.cookies.set("remedy_session", cookie)
    assert (await stale.get("/ui/runs")).status_code == 303
