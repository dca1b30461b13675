"""Issue #11 item 6: failed authentication is slowed per client address (429 with Retry-After),
and other clients are not slowed."""

from __future__ import annotations

import time

import httpx

from hub.ratelimit import FailedAuthLimiter
from tests.hub_fixtures import HubHarness, new_group


def from_address(h: HubHarness, address: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=h.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://hub.test", headers=headers)


async def test_wrong_tokens_are_answered_429_and_good_clients_go_on(hub_api: HubHarness) -> None:
    h = hub_api
    limit = h.settings.hub_auth_failures_per_minute
    group = await new_group(h)
    async with (
        from_address(h, "203.0.113.7", Authorization="Bearer rmt_guess") as guesser,
        from_address(h, "198.51.100.2", Authorization=f"Bearer {h.tokens['viewer']}") as good,
    ):
        answers = [(await guesser.get("/runs")).status_code for _ in range(limit + 30)]
        assert answers[:limit] == [401] * limit and set(answers[limit:]) == {429}
        slowed = await guesser.get(
            "/runs", headers={"Authorization": f"Bearer {h.tokens['admin']}"}
        )
        assert slowed.status_code == 429  # a right guess is not told apart while slowed
        assert 0 < int(slowed.headers["retry-after"]) <= 60
        assert slowed.json()["error"] and slowed.json()["fix"]
        # wrong worker credentials count too, from their own address
        async with from_address(h, "203.0.113.8") as worker:
            for _ in range(limit):
                bad = await worker.post(
                    "/worker/heartbeat", json={"worker_id": "w"}, auth=(group.client_id, "nope")
                )
                assert bad.status_code == 401
            blocked = await worker.post(
                "/worker/heartbeat", json={"worker_id": "w"}, auth=(group.client_id, "nope")
            )
            assert blocked.status_code == 429 and blocked.headers["retry-after"]
        started = time.monotonic()
        for _ in range(50):
            assert (await good.get("/runs")).status_code == 200
        assert time.monotonic() - started < 20  # never made to wait
    async with from_address(h, "192.0.2.1") as anonymous:  # no token at all guesses nothing
        for _ in range(limit + 5):
            assert (await anonymous.get("/runs")).status_code == 401


def test_an_address_is_free_again_a_minute_after_its_failures() -> None:
    now = [1000.0]
    limiter = FailedAuthLimiter(3, clock=lambda: now[0])
    for step in range(3):
        now[0] += 10 * step
        limiter.failed("a")
    assert limiter.retry_after("a") == 60 - 30  # the oldest of the last three was 30 s ago
    assert limiter.retry_after("b") == 0
    now[0] += 31
    assert limiter.retry_after("a") == 0
