"""Azure and its services. A job gets a client from `remedy.jobkit.azure.<service>_client`.

A job (and the worker) reaches Azure as an app registration (remedy/azure_env.py names the
variables); every client is a Resource Manager client for one subscription.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy.services.registry import Provider, Service, Tagging, WarmUp, register, register_provider

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from remedy.azure_env import AzureSettings


def network_client(
    credential: TokenCredential, subscription_id: str, settings: AzureSettings
) -> Any:
    """A Resource Manager network client for one subscription.

    polling_interval=0: a long-running operation is polled as soon as Resource Manager's
    Retry-After allows (Azure sends one; without it the poller does not wait at all).
    """
    from azure.mgmt.network import NetworkManagementClient  # here: the registry stays stdlib-only

    return NetworkManagementClient(
        credential,
        subscription_id,
        base_url=settings.arm_endpoint,
        credential_scopes=[settings.arm_scope],
        polling_interval=0,
    )


AZURE = register_provider(
    Provider(
        name="azure",
        title="Azure",
        job_variables=frozenset(
            {
                "AZURE_CLIENT_ID",
                "AZURE_CLIENT_SECRET",
                "AZURE_TENANT_ID",
                "AZURE_AUTHORITY_HOST",
                "AZURE_RESOURCE_MANAGER_ENDPOINT",
            }
        ),
        endpoint_variables=("AZURE_AUTHORITY_HOST", "AZURE_RESOURCE_MANAGER_ENDPOINT"),
        warm_up=WarmUp(modules=("azure.identity",)),
        tagging_limits="{types} only, with their resource group",
    )
)

NSG_READ = "Microsoft.Network/networkSecurityGroups/read"
NSG_WRITE = "Microsoft.Network/networkSecurityGroups/write"
RULE = "Microsoft.Network/networkSecurityGroups/securityRules"

NETWORK = register(
    Service(
        name="network",
        provider="azure",
        client=network_client,
        # SDK operation -> the RBAC action it needs. The catalogue meta-test holds every Azure
        # job's minimum_policy.json to exactly the actions of its calls.
        permissions={
            "network_security_groups.get": NSG_READ,
            "network_security_groups.list": NSG_READ,
            "network_security_groups.list_all": NSG_READ,
            "network_security_groups.begin_create_or_update": NSG_WRITE,
            "network_security_groups.update_tags": NSG_WRITE,
            "network_security_groups.begin_delete": "Microsoft.Network/networkSecurityGroups/delete",
            "security_rules.get": f"{RULE}/read",
            "security_rules.list": f"{RULE}/read",
            "security_rules.begin_create_or_update": f"{RULE}/write",
            "security_rules.begin_delete": f"{RULE}/delete",
        },
        # a begin_* call's status polls: https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/networking
        long_running="Microsoft.Network/locations/operations/read",
        resource_types=("azure:network-security-group",),
        tagging=Tagging(method="azure-nsg", resource_types=("azure:network-security-group",)),
        warm_up=WarmUp(modules=("azure.mgmt.network",)),
        distribution="azure-mgmt-network",
    )
)


def keyvault_client(
    credential: TokenCredential, subscription_id: str, settings: AzureSettings
) -> Any:
    """A Resource Manager Key Vault client (vaults: the management plane, not keys or secrets)."""
    from azure.mgmt.keyvault import KeyVaultManagementClient

    return KeyVaultManagementClient(
        credential,
        subscription_id,
        base_url=settings.arm_endpoint,
        credential_scopes=[settings.arm_scope],
        polling_interval=0,
    )


KEYVAULT = register(
    Service(
        name="keyvault",
        provider="azure",
        client=keyvault_client,
        # https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/security#microsoftkeyvault
        permissions={
            "vaults.get": "Microsoft.KeyVault/vaults/read",
            "vaults.list_by_resource_group": "Microsoft.KeyVault/vaults/read",
            "vaults.update": "Microsoft.KeyVault/vaults/write",  # a PATCH, synchronous
        },
        resource_types=("azure:key-vault",),
        warm_up=WarmUp(modules=("azure.mgmt.keyvault",)),
        distribution="azure-mgmt-keyvault",
    )
)


def monitor_client(
    credential: TokenCredential, subscription_id: str, settings: AzureSettings
) -> Any:
    """A Resource Manager Azure Monitor client (diagnostic settings: api 2021-05-01-preview)."""
    from azure.mgmt.monitor import MonitorManagementClient

    return MonitorManagementClient(
        credential,
        subscription_id,
        base_url=settings.arm_endpoint,
        credential_scopes=[settings.arm_scope],
        polling_interval=0,
    )


DIAGNOSTIC_SETTINGS = "Microsoft.Insights/diagnosticSettings"

MONITOR = register(
    Service(
        name="monitor",
        provider="azure",
        client=monitor_client,
        # https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/monitor#microsoftinsights
        permissions={
            "diagnostic_settings.get": f"{DIAGNOSTIC_SETTINGS}/read",
            "diagnostic_settings.list": f"{DIAGNOSTIC_SETTINGS}/read",
            "diagnostic_settings.create_or_update": f"{DIAGNOSTIC_SETTINGS}/write",
            "diagnostic_settings.delete": f"{DIAGNOSTIC_SETTINGS}/delete",
        },
        warm_up=WarmUp(modules=("azure.mgmt.monitor",)),
        distribution="azure-mgmt-monitor",
    )
)
