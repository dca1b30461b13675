"""Azure and its services. A job gets a client from `remedy.jobkit.azure.<service>_client`.

A job (and the worker) reaches Azure as an app registration (remedy/azure_env.py names the
variables); every client is a Resource Manager client for one subscription.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from remedy.services.registry import Provider, Service, Tagging, WarmUp, register, register_provider

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from remedy.azure_env import AzureSettings


def arm_client(module: str, name: str) -> Callable[[TokenCredential, str, AzureSettings], Any]:
    """The client factory of an azure-mgmt SDK: its `name` client for one subscription, on the
    settings' Resource Manager endpoint and token scope.

    polling_interval=0: a long-running operation is polled as soon as Resource Manager's
    Retry-After allows (Azure sends one; without it the poller does not wait at all). The SDK is
    imported when a client is made: the registry stays stdlib-only.
    """

    def make(credential: TokenCredential, subscription_id: str, settings: AzureSettings) -> Any:
        sdk = importlib.import_module(module)
        return getattr(sdk, name)(
            credential,
            subscription_id,
            base_url=settings.arm_endpoint,
            credential_scopes=[settings.arm_scope],
            polling_interval=0,
        )

    make.__name__ = make.__qualname__ = f"{name} factory"
    return make


network_client = arm_client("azure.mgmt.network", "NetworkManagementClient")


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


postgresql_flexible_client = arm_client(
    "azure.mgmt.postgresqlflexibleservers", "PostgreSQLManagementClient"
)


mysql_flexible_client = arm_client("azure.mgmt.mysqlflexibleservers", "MySQLManagementClient")


# The two SDKs name their operation groups alike (configurations, firewall_rules): a call is
# resolved among the services its job uses, its resource type's first
# (services.azure_operation_actions `among`, tests/test_catalogue.py).
PG = "Microsoft.DBforPostgreSQL/flexibleServers"
POSTGRESQL_FLEXIBLE = register(
    Service(
        name="postgresqlflexibleservers",
        provider="azure",
        client=postgresql_flexible_client,
        permissions={
            "configurations.get": f"{PG}/configurations/read",
            "configurations.begin_put": f"{PG}/configurations/write",
            "firewall_rules.list_by_server": f"{PG}/firewallRules/read",
            "firewall_rules.begin_create_or_update": f"{PG}/firewallRules/write",
            "firewall_rules.begin_delete": f"{PG}/firewallRules/delete",
        },
        # https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/databases
        long_running="Microsoft.DBforPostgreSQL/locations/azureAsyncOperation/read",
        resource_types=("azure:postgresql-flexible-server",),
        warm_up=WarmUp(modules=("azure.mgmt.postgresqlflexibleservers",)),
        distribution="azure-mgmt-postgresqlflexibleservers",
    )
)

MY = "Microsoft.DBforMySQL/flexibleServers"
MYSQL_FLEXIBLE = register(
    Service(
        name="mysqlflexibleservers",
        provider="azure",
        client=mysql_flexible_client,
        permissions={
            "configurations.list_by_server": f"{MY}/configurations/read",
            "configurations.begin_update": f"{MY}/configurations/write",
        },
        long_running="Microsoft.DBforMySQL/locations/azureAsyncOperation/read",
        resource_types=("azure:mysql-flexible-server",),
        warm_up=WarmUp(modules=("azure.mgmt.mysqlflexibleservers",)),
        distribution="azure-mgmt-mysqlflexibleservers",
    )
)


sql_client = arm_client("azure.mgmt.sql", "SqlManagementClient")


SQL_SERVER = "Microsoft.Sql/servers"

SQL = register(
    Service(
        name="sql",
        provider="azure",
        client=sql_client,
        # https://learn.microsoft.com/en-us/azure/role-based-access-control/permissions/databases
        permissions={
            "server_blob_auditing_policies.get": f"{SQL_SERVER}/auditingSettings/read",
            "server_blob_auditing_policies.begin_create_or_update": (
                f"{SQL_SERVER}/auditingSettings/write"
            ),
            "databases.list_by_server": f"{SQL_SERVER}/databases/read",
            "transparent_data_encryptions.get": (
                f"{SQL_SERVER}/databases/transparentDataEncryption/read"
            ),
            "transparent_data_encryptions.begin_create_or_update": (
                f"{SQL_SERVER}/databases/transparentDataEncryption/write"
            ),
            "server_security_alert_policies.get": f"{SQL_SERVER}/securityAlertPolicies/read",
            "server_security_alert_policies.begin_create_or_update": (
                f"{SQL_SERVER}/securityAlertPolicies/write"
            ),
            "encryption_protectors.get": f"{SQL_SERVER}/encryptionProtector/read",
            "encryption_protectors.begin_create_or_update": (
                f"{SQL_SERVER}/encryptionProtector/write"
            ),
            "server_keys.get": f"{SQL_SERVER}/keys/read",
            "server_keys.begin_create_or_update": f"{SQL_SERVER}/keys/write",
        },
        # No one poll action: Azure SQL polls each kind of setting at its own
        # Microsoft.Sql/locations/<kind>AzureAsyncOperation; the sandbox answers these settings'
        # PUTs with 200 (done), which the REST reference documents beside 202 (sandbox/sql_rules.py)
        long_running="",
        resource_types=("azure:sql-server",),
        warm_up=WarmUp(modules=("azure.mgmt.sql",)),
        distribution="azure-mgmt-sql",
    )
)


compute_client = arm_client("azure.mgmt.compute", "ComputeManagementClient")


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


keyvault_client = arm_client("azure.mgmt.keyvault", "KeyVaultManagementClient")


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


monitor_client = arm_client("azure.mgmt.monitor", "MonitorManagementClient")


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


storage_client = arm_client("azure.mgmt.storage", "StorageManagementClient")


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
        # tags merged by a PATCH of the account (storageAccounts/write, as the jobs that fix it)
        tagging=Tagging(method="azure-storage", resource_types=("azure:storage-account",)),
        warm_up=WarmUp(modules=("azure.mgmt.storage",)),
        distribution="azure-mgmt-storage",
    )
)
