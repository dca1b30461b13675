"""The service registry: one entry per cloud provider and per cloud service Remedy works with.

In the spirit of Cloud Custodian's registries: everything that differs per service is declared in
its entry, and the code that needs it (the job kit's clients, the catalogue's policy check, the
fork server's warm-up, the tagging activity, the credentials) looks it up here instead of
branching on names. Adding a service is one `register(Service(...))` in `aws.py` or `azure.py`
(plus its emulator support in sandbox/, and its SDK in pyproject.toml, which the meta-test checks).

Stdlib only: the job kit imports this in every job process and the fork server pre-imports it;
client factories import their SDK when they are called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WarmUp:
    """What the fork server does once so that a job's first use of the service is cheap."""

    #: Modules imported in the server (shared with every forked job, copy-on-write).
    modules: tuple[str, ...] = ()
    #: AWS: load the service model into boto3's default session (a client made and dropped).
    boto3_model: bool = False
    #: AWS: also make a throwaway client in each idle spare child, so the memory that client
    #: creation touches is copied before a job waits for it (the most used services only).
    spare_client: bool = False

    def empty(self) -> bool:
        return not (self.modules or self.boto3_model or self.spare_client)


@dataclass(frozen=True)
class Tagging:
    """How the tagging activity marks a resource of this service as remediated."""

    #: The tagger in activities/tagging.py: "ec2" (CreateTags), "s3" (bucket tags merged),
    #: "arn" (Resource Groups Tagging API), "azure-nsg" (update-tags, merged), "azure-storage"
    #: (the account's tags merged in a PATCH of the account).
    method: str
    #: The resource types it tags; None: every type the service owns (Service.owns).
    resource_types: tuple[str, ...] | None = None
    #: Resource ids it recognises when the finding names no (or another) type, e.g. "sg-".
    id_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provider:
    """A cloud: how a job reaches it, and what its environment holds."""

    name: str
    title: str  # how messages name it: "AWS", "Azure"
    #: The variables that carry a job's cloud identity (the only cloud credentials it gets).
    job_variables: frozenset[str]
    #: Where the cloud is reached when not its public endpoints (passed through to jobs as set).
    endpoint_variables: tuple[str, ...] = ()
    warm_up: WarmUp = WarmUp()
    #: How an operation's permission is spelled when its service does not list it, with
    #: {prefix} and {operation} (AWS: "{prefix}:{operation}"); "": every operation is listed.
    permission_rule: str = ""
    #: Whether a resource type `<service>:<kind>` belongs to `<service>` without being listed.
    service_prefixed_types: bool = False
    #: What tagging on this cloud cannot do, said when a resource is skipped, with {types} the
    #: resource types its services tag ("" when the provider tags anything it has an id for).
    tagging_limits: str = ""


@dataclass(frozen=True)
class Service:
    """One cloud service: its client, its permissions, how its resources are tagged and warmed.

    `client` is called as the provider's convention says: AWS `client(region)`, Azure
    `client(credential, subscription_id, settings)` (a remedy.azure_env.AzureSettings).

    `permissions` maps an operation to the permission it needs. AWS: API operation name ->
    IAM action, only for actions not spelled `<iam_prefix>:<Operation>` (the rest follow the
    rule). Azure: `<operation group>.<method>` of the SDK client -> RBAC action, every operation
    a job may call (Azure has no such rule).
    """

    name: str  # AWS: the boto3 service name; Azure: the azure-mgmt package's short name
    provider: str
    client: Callable[..., Any]
    permissions: Mapping[str, str]
    #: The resource types jobs may name in remedy.json (`resource_type`).
    resource_types: tuple[str, ...] = ()
    tagging: Tagging | None = None
    warm_up: WarmUp = WarmUp()
    #: AWS: the IAM action prefix when it is not the service name (tag: for the tagging API).
    iam_prefix: str = ""
    #: The distribution that holds its SDK (a dependency in pyproject.toml).
    distribution: str = ""
    #: Azure: the action polling a long-running (`begin_*`) operation's status needs, beside the
    #: operation's own (Resource Manager checks the poll on its own; see sandbox/arm_access.py).
    long_running: str = ""
    #: The further actions checked when an operation is called (AWS: by operation name; Azure:
    #: by `<group>.<method>`, a linked check on a resource the call names), e.g.
    #: {"CreateFlowLogs": ("iam:PassRole",)} when the call hands a role to the service
    #: (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html). A job's
    #: minimum policy lists them beside the operation's own action (tests/test_catalogue.py).
    implied: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The `<group>.<method>` permissions as {(group, method): action} (Azure), made at init.
    operations: dict[tuple[str, str], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not self.iam_prefix:
            object.__setattr__(self, "iam_prefix", self.name)
        for operation, action in self.permissions.items():
            group, dot, method = operation.partition(".")
            if dot:
                self.operations[(group, method)] = action

    def action(self, operation: str) -> str | None:
        """The permission an operation needs (None: not listed, and its provider has no rule)."""
        if operation in self.permissions:
            return self.permissions[operation]
        rule = PROVIDERS[self.provider].permission_rule
        return rule.format(prefix=self.iam_prefix, operation=operation) if rule else None

    def owns(self, resource_type: str) -> bool:
        """Whether a resource type is this service's: listed, or `<name>:<kind>` where the
        provider spells types so (AWS)."""
        if resource_type in self.resource_types:
            return True
        prefixed = PROVIDERS[self.provider].service_prefixed_types
        return prefixed and resource_type.split(":", 1)[0] == self.name


PROVIDERS: dict[str, Provider] = {}
SERVICES: dict[str, Service] = {}


def register_provider(provider: Provider) -> Provider:
    if provider.name in PROVIDERS:
        raise ValueError(f"provider {provider.name} is registered twice")
    PROVIDERS[provider.name] = provider
    return provider


def register(service: Service) -> Service:
    if service.provider not in PROVIDERS:
        raise ValueError(f"service {service.name}: provider {service.provider} is not registered")
    if service.name in SERVICES:
        raise ValueError(f"service {service.name} is registered twice")
    SERVICES[service.name] = service
    return service


def provider(name: str) -> Provider | None:
    return PROVIDERS.get(name)


def service(name: str) -> Service:
    """The registered service, or a KeyError that says how to add it."""
    try:
        return SERVICES[name]
    except KeyError:
        raise KeyError(
            f"service {name!r} is not registered: add its entry in remedy/services/"
        ) from None


def registered(provider_name: str | None = None) -> Iterator[Service]:
    """The registered services, of one provider when named, in registration order."""
    return (s for s in SERVICES.values() if provider_name in (None, s.provider))


def service_for_resource_type(resource_type: str) -> Service | None:
    """The service that owns a resource type: the one that lists it, else `<service>:<kind>`."""
    declared = next((s for s in SERVICES.values() if resource_type in s.resource_types), None)
    return declared or next((s for s in SERVICES.values() if s.owns(resource_type)), None)


def service_by_iam_prefix(iam_prefix: str) -> Service | None:
    """The AWS service whose IAM actions start `<iam_prefix>:`."""
    return next((s for s in registered("aws") if s.iam_prefix == iam_prefix), None)


def tagging_service(
    provider_name: str, resource_id: str, resource_type: str | None
) -> Service | None:
    """The service whose tagging takes the resource: the one that owns its type, else the first
    that recognises its id (an EC2 id, an ARN), else None (the resource is not tagged)."""
    if resource_type:
        owner = service_for_resource_type(resource_type)
        if owner is not None and owner.provider == provider_name and owner.tagging is not None:
            types = owner.tagging.resource_types
            if types is None or resource_type in types:
                return owner
    return next(
        (
            s
            for s in registered(provider_name)
            if s.tagging is not None
            and s.tagging.id_prefixes
            and resource_id.startswith(s.tagging.id_prefixes)
        ),
        None,
    )


def modules_to_warm() -> list[str]:
    """The modules the fork server imports for the providers and services, in that order."""
    warm_ups = [p.warm_up for p in PROVIDERS.values()] + [s.warm_up for s in SERVICES.values()]
    return [module for warm_up in warm_ups for module in warm_up.modules]


def azure_operation_actions(
    group: str, method: str, among: Iterable[str] | None = None
) -> tuple[str, ...]:
    """Every RBAC action an Azure SDK call needs: its own and, for a long-running `begin_*`
    call, its service's poll action, and its `implied` (linked) actions; () if the call is not
    registered.

    `among`: the services the caller uses, in order of preference (SDKs share operation group
    names: `configurations.get` is PostgreSQL's and MySQL's); None: every Azure service."""
    candidates = list(registered("azure"))
    if among is not None:
        named = {s.name: s for s in candidates}
        candidates = [named[n] for n in dict.fromkeys(among) if n in named]
    for s in candidates:
        if (group, method) in s.operations:
            poll = (s.long_running,) if method.startswith("begin_") and s.long_running else ()
            return (s.operations[(group, method)], *poll, *s.implied.get(f"{group}.{method}", ()))
    return ()


def azure_operation_action(group: str, method: str) -> str | None:
    """The RBAC action of an Azure SDK call `<client>.<group>.<method>(...)`, if registered."""
    return next(
        (
            s.operations[(group, method)]
            for s in registered("azure")
            if (group, method) in s.operations
        ),
        None,
    )
