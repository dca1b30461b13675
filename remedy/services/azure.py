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
VNET_READ = "Microsoft.Network/virtualNetworks/read"
VNET_WRITE = "Microsoft.Network/virtualNetworks/write"
DDOS_READ = "Microsoft.Network/ddosProtectionPlans/read"
DDOS_JOIN = "Microsoft.Network/ddosProtectionPlans/join/action"

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
            "network_interfaces.get": "Microsoft.Network/networkInterfaces/read",
            "virtual_networks.get": VNET_READ,
            "virtual_networks.begin_create_or_update": VNET_WRITE,
            "ddos_protection_plans.get": DDOS_READ,
            "ddos_protection_plans.list": DDOS_READ,
            # not an SDK call (no dot): the linked check below, listed so the action is known
            "ddos_protection_plans/join": DDOS_JOIN,
        },
        # a virtual network's write that names a DDoS protection plan is also checked against
        # the plan (a linked check): https://learn.microsoft.com/en-us/azure/ddos-protection/manage-permissions
        implied={"virtual_networks.begin_create_or_update": (DDOS_JOIN,)},
        # a begin_* call's status polls: https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/networking
        long_running="Microsoft.Network/locations/operations/read",
        resource_types=("azure:network-security-group", "azure:virtual-network"),
        tagging=Tagging(method="azure-nsg", resource_types=("azure:network-security-group",)),
        warm_up=WarmUp(modules=("azure.mgmt.network",)),
        distribution="azure-mgmt-network",
    )
)


def compute_client(
    credential: TokenCredential, subscription_id: str, settings: AzureSettings
) -> Any:
    """A Resource Manager compute client for one subscription (as network_client)."""
    from azure.mgmt.compute import ComputeManagementClient

    return ComputeManagementClient(
        credential,
        subscription_id,
        base_url=settings.arm_endpoint,
        credential_scopes=[settings.arm_scope],
        polling_interval=0,
    )


COMPUTE = register(
    Service(
        name="compute",
        provider="azure",
        client=compute_client,
        permissions={
            "virtual_machine_scale_sets.get": "Microsoft.Compute/virtualMachineScaleSets/read",
            "virtual_machines.get": "Microsoft.Compute/virtualMachines/read",
        },
        long_running="Microsoft.Compute/locations/operations/read",
        resource_types=("azure:virtual-machine-scale-set", "azure:virtual-machine"),
        warm_up=WarmUp(modules=("azure.mgmt.compute",)),
        distribution="azure-mgmt-compute",
    )
)
