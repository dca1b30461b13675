"""The service registry (remedy/services/registry.py) with every provider and service registered.

from remedy import services
services.service("ec2").client("us-east-1")
"""

from remedy.services import aws, azure  # noqa: F401  (registers the entries)
from remedy.services.registry import (
    PROVIDERS,
    SERVICES,
    Provider,
    Service,
    Tagging,
    WarmUp,
    azure_operation_action,
    azure_operation_actions,
    modules_to_warm,
    provider,
    registered,
    service,
    service_by_iam_prefix,
    service_for_resource_type,
    tagging_service,
)

__all__ = [
    "PROVIDERS",
    "SERVICES",
    "Provider",
    "Service",
    "Tagging",
    "WarmUp",
    "azure_operation_action",
    "azure_operation_actions",
    "modules_to_warm",
    "provider",
    "registered",
    "service",
    "service_by_iam_prefix",
    "service_for_resource_type",
    "tagging_service",
]
