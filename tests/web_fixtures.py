"""Browser fixtures: Chromium from the operating system driven by Playwright (one browser for the
session), and the hub served over HTTP on the embedded store, linked to the dev server.

Without Chromium the browser tests are skipped, naming the command that installs it; with
REMEDY_REQUIRE_BROWSER=1 (`.ci/run` exports it) a missing browser fails them instead.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hub.app import create_app
from remedy.config import TemporalSettings
from tests.conftest import DevServer
from tests.hub_fixtures import GroupCredentials, HubHarness, hub_store, make_harness, served

CHROMIUM = os.environ.get("REMEDY_CHROMIUM", "/usr/bin/chromium")
INSTALL = "sudo apt-get install -y chromium"


def chromium_or_skip() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found:
        return found
    message = f"no Chromium at {CHROMIUM}: install it with `{INSTALL}` (or set REMEDY_CHROMIUM)"
    if os.environ.get("REMEDY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message}; REMEDY_REQUIRE_BROWSER=1 makes a skipped browser test a failure")
    pytest.skip(message)


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """One headless Chromium for every browser test of the session."""
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright, expect

    # a page's assertions wait up to 15 s, not Playwright's 5: on a loaded 2-core machine the API
    # docs page alone (its bundle, then the hub's whole OpenAPI document) took longer than 5 s
    expect.set_options(timeout=15_000)

    async with async_playwright() as playwright:
        # as root (CI containers) Chromium refuses to start with its sandbox
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = await playwright.chromium.launch(executable_path=executable, args=args)
        yield launched
        await launched.close()


@dataclass
class WebHub:
    """The hub served over HTTP for the browser, and in-process for the test's own API calls and
    the worker (both on the same store)."""

    url: str
    api: HubHarness


@pytest_asyncio.fixture(scope="module")
async def web_hub(
    dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WebHub]:
    temporal = TemporalSettings(address=dev_server.address)
    directory = tmp_path_factory.mktemp("web-hub")
    # the module's tests share one hub and one client address, and their signed-out visits count
    # as failed authentications: the default limit (20 a minute, tests/test_hub_ratelimit.py)
    # would answer a later test's pages 429 depending on the order the tests ran in
    with hub_store(
        "sqlite", directory, hub_status_timeout_s=5, hub_auth_failures_per_minute=10_000
    ) as store:
        # the served app connects to Temporal itself, from uvicorn's own event loop
        app = create_app(store, temporal)
        with served(app) as url:
            api = make_harness(store, temporal)
            try:
                yield WebHub(url, api)
            finally:
                await api.aclose()
        app.state.hub.db.dispose()


async def sign_in(browser: Any, hub: WebHub, role: str) -> Any:
    """A browser context (its own cookies) signed in with the role's token; its first page."""
    context = await browser.new_context(base_url=hub.url, viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto("/ui/sign-in")
    await page.fill("input[name=token]", hub.api.tokens[role])
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r".*/ui/runs$"))
    return page


async def csrf_of(page: Any) -> str:
    """The session's CSRF token, as every form of the page carries it."""
    value = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert value
    return str(value)


def group_of(found: dict[str, Any]) -> GroupCredentials:
    return GroupCredentials(
        found["group"]["id"], found["group"]["client_id"], found["client_secret"]
    )


JOBS = Path(__file__).resolve().parent.parent / "jobs"


#: scripts/screenshots.py sets it: the browser tests then save their pages there as PNG
SCREENSHOTS = os.environ.get("REMEDY_SCREENSHOTS")


async def snap(page: Any, name: str, *, whole: bool = False) -> None:
    """Save the page (the window, or the `whole` page) as docs' screenshot `name`.png when
    screenshots are asked for."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=whole)


async def session_of(h: HubHarness, role: str) -> tuple[httpx.AsyncClient, str]:
    """A client of the hub in-process, signed in to the pages as `role`, and its CSRF token."""
    client = httpx.AsyncClient(transport=h.transport, base_url="http://hub.test")
    await client.post("/ui/sign-in", data={"token": h.tokens[role]})
    page = await client.get("/ui/runs")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return client, found[1]
