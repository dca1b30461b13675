"""The Azure emulator answers real clients the way Azure does (what the jobs and worker rely on)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import NetworkSecurityGroup, SecurityRule

from sandbox.azure import AzureSandbox, start_azure_sandbox

GROUP = f"remedy-emulator-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def network(azure_sandbox: AzureSandbox) -> NetworkManagementClient:
    azure_sandbox.create_resource_group(GROUP)
    return azure_sandbox.network_client()


def nsg_path(sandbox: AzureSandbox, name: str) -> str:
    return (
        f"/subscriptions/{sandbox.subscription_id}/resourceGroups/{GROUP}/providers/"
        f"Microsoft.Network/networkSecurityGroups/{name}"
    )


def raw(sandbox: AzureSandbox, path: str, token: str | None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{sandbox.endpoint}{path}",
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    context = ssl.create_default_context(cafile=sandbox.ca_file)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_put_fills_what_azure_fills_and_if_match_guards_writes(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient
) -> None:
    ops = network.network_security_groups
    body = NetworkSecurityGroup({"location": "westeurope", "tags": {"team": "a"}})
    created = ops.begin_create_or_update(GROUP, "guarded", body).result()
    assert created.id == nsg_path(azure_sandbox, "guarded")
    assert created.type == "Microsoft.Network/networkSecurityGroups"
    assert created.provisioning_state == "Succeeded" and created.etag
    stale = created.etag
    ops.update_tags(GROUP, "guarded", {"tags": {"team": "b"}})  # PATCH: a new etag
    current = ops.get(GROUP, "guarded")
    assert current.tags == {"team": "b"} and current.etag != stale

    with pytest.raises(HttpResponseError) as refused:
        ops.begin_create_or_update(GROUP, "guarded", body, headers={"If-Match": stale}).result()
    assert refused.value.status_code == 412
    assert refused.value.error is not None and refused.value.error.code == "PreconditionFailed"
    with pytest.raises(HttpResponseError) as exists:
        ops.begin_create_or_update(GROUP, "guarded", body, headers={"If-None-Match": "*"}).result()
    assert exists.value.status_code == 412
    ops.begin_create_or_update(GROUP, "guarded", body, headers={"If-Match": current.etag}).result()
    assert ops.get(GROUP, "guarded").tags == {"team": "a"}  # PUT replaces


def test_security_rules_are_children_of_their_nsg(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient
) -> None:
    network.network_security_groups.begin_create_or_update(
        GROUP, "parent", NetworkSecurityGroup({"location": "westeurope"})
    ).result()
    before = network.network_security_groups.get(GROUP, "parent").etag
    rule = SecurityRule(
        {
            "properties": {
                "protocol": "Tcp",
                "access": "Allow",
                "direction": "Inbound",
                "priority": 100,
                "sourceAddressPrefix": "*",
                "sourcePortRange": "*",
                "destinationAddressPrefix": "*",
                "destinationPortRange": "22",
            }
        }
    )
    made = network.security_rules.begin_create_or_update(GROUP, "parent", "ssh", rule).result()
    assert made.id == f"{nsg_path(azure_sandbox, 'parent')}/securityRules/ssh"
    parent = network.network_security_groups.get(GROUP, "parent")
    assert [r.name for r in parent.security_rules or []] == ["ssh"]
    assert parent.etag != before
    assert [r.name for r in network.security_rules.list(GROUP, "parent")] == ["ssh"]
    network.security_rules.begin_delete(GROUP, "parent", "ssh").result()
    assert not network.network_security_groups.get(GROUP, "parent").security_rules
    network.network_security_groups.begin_delete(GROUP, "parent").result()
    names = [n.name for n in network.network_security_groups.list_all()]
    assert "parent" not in names and "guarded" in names


def test_resource_manager_checks_tokens_api_version_groups_and_subscriptions(
    azure_sandbox: AzureSandbox, network: NetworkManagementClient
) -> None:
    path = f"/subscriptions/{azure_sandbox.subscription_id}?api-version=2022-12-01"
    status, body = raw(azure_sandbox, path, None)
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"
    status, body = raw(azure_sandbox, path, "forged-token")
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"

    token = (
        ClientSecretCredential(
            azure_sandbox.tenant_id,
            azure_sandbox.client_id,
            azure_sandbox.client_secret,
            authority=azure_sandbox.authority_host,
            disable_instance_discovery=True,
            connection_verify=azure_sandbox.ca_file,
        )
        .get_token(f"{azure_sandbox.endpoint}/.default")
        .token
    )
    status, body = raw(azure_sandbox, path, token)
    assert status == 200 and body["subscriptionId"] == azure_sandbox.subscription_id
    status, body = raw(azure_sandbox, path.split("?")[0], token)
    assert status == 400 and body["error"]["code"] == "MissingApiVersionParameter"
    other = f"/subscriptions/{uuid.uuid4()}?api-version=2022-12-01"
    status, body = raw(azure_sandbox, other, token)
    assert status == 404 and body["error"]["code"] == "SubscriptionNotFound"

    with pytest.raises(HttpResponseError) as no_group:
        network.network_security_groups.begin_create_or_update(
            "no-such-group", "x", NetworkSecurityGroup({"location": "westeurope"})
        ).result()
    assert no_group.value.status_code == 404


def test_rbac_follows_the_worker_role(azure_sandbox: AzureSandbox) -> None:
    worker = azure_sandbox.network_client(admin=False)
    list(worker.network_security_groups.list_all())  # read: in the jobs' role
    with pytest.raises(HttpResponseError) as denied:
        worker.network_security_groups.begin_delete(GROUP, "anything").result()
    assert denied.value.status_code == 403
    assert "Microsoft.Network/networkSecurityGroups/delete" in str(denied.value)


def test_token_endpoint_refuses_a_wrong_secret_like_entra_id(azure_sandbox: AzureSandbox) -> None:
    credential = ClientSecretCredential(
        azure_sandbox.tenant_id,
        azure_sandbox.client_id,
        "wrong-secret-value",
        authority=azure_sandbox.authority_host,
        disable_instance_discovery=True,
        connection_verify=azure_sandbox.ca_file,
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        credential.get_token(f"{azure_sandbox.endpoint}/.default")


def test_a_sandbox_stops_and_frees_its_port() -> None:
    sandbox = start_azure_sandbox()
    context = ssl.create_default_context(cafile=sandbox.ca_file)
    url = f"{sandbox.authority_host}/{sandbox.tenant_id}/v2.0/.well-known/openid-configuration"
    with urllib.request.urlopen(url, context=context, timeout=5) as answer:
        assert json.loads(answer.read())["token_endpoint"].startswith(sandbox.authority_host)
    sandbox.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, context=context, timeout=5)
