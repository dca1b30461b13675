"""Issue #11 item 5: where a worker may send notifications (remedy/destinations.py), and the hub
refusing an action that names another destination when it is saved."""

from __future__ import annotations

from typing import Any

import pytest

from remedy.destinations import allowed_from_environ, refusal, special_kind
from tests.hub_fixtures import HubHarness, new_group
from tests.test_hub_store import action, aws_account, probe_jobs

ALLOWED = ["jira.example.com", "*.atlassian.net", "hooks.example:8443", "127.0.0.1:8080"]


@pytest.mark.parametrize(
    "url",
    [
        "https://jira.example.com",
        "http://jira.example.com:8080/jira",
        "https://acme.atlassian.net",
        "https://hooks.example:8443/remedy",
        "http://127.0.0.1:8080/",
    ],
)
def test_allowed_destinations(url: str) -> None:
    assert refusal(url, ALLOWED) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://attacker.example", "not among the hosts"),
        ("https://atlassian.net", "not among the hosts"),  # the wildcard is for subdomains
        ("https://hooks.example/remedy", "not among the hosts"),  # port 443, not 8443
        ("http://127.0.0.1:9000", "not among the hosts"),
        ("http://169.254.169.254/latest/meta-data", "not among the hosts"),
        ("ftp://jira.example.com", "http:// or https://"),
        ("https://jira.example.com@attacker.example", "user name"),
        ("https://attacker.example\\@jira.example.com", "backslash"),
        ("https://jira.example.com:99999", "port"),
        ("https://", "no host"),
    ],
)
def test_refused_destinations(url: str, why: str) -> None:
    found = refusal(url, ALLOWED)
    assert found is not None and why in found, found


def test_special_addresses_need_an_entry_naming_them() -> None:
    for host in ("169.254.169.254", "fd00:ec2::254", "127.0.0.2", "::1", "0.0.0.0", "localhost"):
        assert special_kind(host), host
    assert special_kind("10.0.0.5") is None and special_kind("jira.example.com") is None
    assert special_kind("::ffff:169.254.169.254") == "metadata"
    # a wildcard that covers a metadata name does not allow it
    found = refusal("http://metadata.google.internal/", ["*.google.internal"])
    assert found is not None and "metadata address" in found
    assert refusal("http://metadata.google.internal/", ["metadata.google.internal"]) is None
    assert refusal("http://[::1]:8080/", ["[::1]:8080"]) is None
    # resolved at run time: a wildcard name that resolves to loopback is refused
    found = refusal("http://jira.localhost:8080/", ["*.localhost"], resolve=True)
    assert found is not None and "loopback" in found
    assert refusal("http://localhost:8080/", ["localhost"], resolve=True) is None


def test_the_allowlist_comes_from_the_environment() -> None:
    environ = {"REMEDY_NOTIFY_ALLOWED_HOSTS": " Jira.Example.com, *.atlassian.net  hooks:1 ,,"}
    assert allowed_from_environ(environ) == ["jira.example.com", "*.atlassian.net", "hooks:1"]
    assert allowed_from_environ({}) == []
    assert refusal("https://jira.example.com", []) is not None  # nothing listed: nothing allowed


async def register_allowing(h: HubHarness, group: Any, allowed: list[str]) -> None:
    async with h.worker_api(group.client_id, group.client_secret) as api:
        registered = await api.post(
            "/worker/register",
            json={"worker_id": "w1", "jobs": probe_jobs(), "notify_destinations": allowed},
        )
        assert registered.status_code == 200, registered.text


async def test_an_action_naming_a_destination_its_workers_refuse_is_refused(
    hub_api: HubHarness,
) -> None:
    h = hub_api
    group = await new_group(h)
    await aws_account(h, group)
    await register_allowing(h, group, ["jira.example.com", "*.hooks.example"])
    for notify, field in [
        ({"jira": {"server": "http://attacker.example", "project": "SEC"}}, "notify.jira.server"),
        ({"webhook": {"url": "http://169.254.169.254/latest/"}}, "notify.webhook.url"),
        ({"webhook": {"url": "https://jira.example.com@evil.example/"}}, "notify.webhook.url"),
    ]:
        refused = await h.admin.post("/remediations", json=action(group, notify=notify))
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["field"] == field and "w1" in body["error"]
        assert "REMEDY_NOTIFY_ALLOWED_HOSTS" in body["fix"]
    fine = {
        "jira": {"server": "https://jira.example.com", "project": "SEC"},
        "webhook": {"url": "https://in.hooks.example/remedy"},
    }
    created = await h.ok("POST", "/remediations", json=action(group, notify=fine))
    patched = await h.admin.patch(
        f"/remediations/{created['id']}",
        json={"notify": {"jira": {"server": "http://attacker.example", "project": "SEC"}}},
    )
    assert patched.status_code == 422 and patched.json()["field"] == "notify.jira.server"
