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


def storage_client(
    credential: TokenCredential, subscription_id: str, settings: AzureSettings
) -> Any:
    """A Resource Manager storage client for one subscription (storage accounts, their blob
    service and containers: the management plane, not the blob data plane)."""
    from azure.mgmt.storage import StorageManagementClient  # here: the registry stays stdlib-only

    return StorageManagementClient(
        credential,
        subscription_id,
        base_url=settings.arm_endpoint,
        credential_scopes=[settings.arm_scope],
        polling_interval=0,
    )


STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts"
BLOB_SERVICE = f"{STORAGE_ACCOUNT}/blobServices"
CONTAINER = f"{BLOB_SERVICE}/containers"

STORAGE = register(
    Service(
        name="storage",
        provider="azure",
        client=storage_client,
        # https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/storage
        permissions={
            "storage_accounts.get_properties": f"{STORAGE_ACCOUNT}/read",
            "storage_accounts.list_by_resource_group": f"{STORAGE_ACCOUNT}/read",
            "storage_accounts.update": f"{STORAGE_ACCOUNT}/write",
            "blob_services.get_service_properties": f"{BLOB_SERVICE}/read",
            "blob_services.set_service_properties": f"{BLOB_SERVICE}/write",
            "blob_containers.list": f"{CONTAINER}/read",
            "blob_containers.get": f"{CONTAINER}/read",
            "blob_containers.update": f"{CONTAINER}/write",
        },
        # a begin_* call's status polls (none of the storage jobs makes one)
        long_running="Microsoft.Storage/locations/asyncoperations/read",
        resource_types=("azure:storage-account",),
        warm_up=WarmUp(modules=("azure.mgmt.storage",)),
        distribution="azure-mgmt-storage",
    )
)
