"""The Azure side of the job contract: which variables carry the identity, and what they mean.

A job (and the worker) reaches Azure with an app registration's client-secret credential from
`AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` and `AZURE_TENANT_ID`. Two optional variables point it
somewhere else than the public cloud (a sovereign cloud, Azure Stack, the sandbox emulator):
`AZURE_AUTHORITY_HOST` (Entra ID, read by azure-identity itself) and
`AZURE_RESOURCE_MANAGER_ENDPOINT` (Resource Manager; the token scope follows it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from azure.identity import ClientSecretCredential

CLIENT_ID_VARIABLE = "AZURE_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "AZURE_CLIENT_SECRET"
TENANT_ID_VARIABLE = "AZURE_TENANT_ID"
AUTHORITY_HOST_VARIABLE = "AZURE_AUTHORITY_HOST"
ARM_ENDPOINT_VARIABLE = "AZURE_RESOURCE_MANAGER_ENDPOINT"
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
IDENTITY_VARIABLES = (CLIENT_ID_VARIABLE, CLIENT_SECRET_VARIABLE, TENANT_ID_VARIABLE)


class MissingAzureIdentity(ValueError):
    """Some AZURE_* variable the credential needs is unset; the message names which."""


@dataclass(frozen=True)
class AzureSettings:
    """An app registration's identity and where to reach Azure with it."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    authority_host: str | None = None
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AzureSettings:
        missing = [name for name in IDENTITY_VARIABLES if not environ.get(name)]
        if missing:
            raise MissingAzureIdentity(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: an Azure "
                f"identity needs {', '.join(IDENTITY_VARIABLES)} (an app registration's client id, "
                "a client secret value and its tenant)"
            )
        return cls(
            tenant_id=environ[TENANT_ID_VARIABLE],
            client_id=environ[CLIENT_ID_VARIABLE],
            client_secret=environ[CLIENT_SECRET_VARIABLE],
            authority_host=environ.get(AUTHORITY_HOST_VARIABLE) or None,
            arm_endpoint=(environ.get(ARM_ENDPOINT_VARIABLE) or DEFAULT_ARM_ENDPOINT).rstrip("/"),
        )

    @property
    def arm_scope(self) -> str:
        """The token scope for Resource Manager: its endpoint's `/.default`."""
        return f"{self.arm_endpoint}/.default"

    def credential(self) -> ClientSecretCredential:
        # Instance discovery asks login.microsoftonline.com whether the authority is known; a
        # custom authority (Azure Stack, the sandbox) is configured on purpose, so skip it. For the
        # public and sovereign clouds MSAL knows the hosts and does no discovery either way.
        kwargs: dict[str, str] = {"authority": self.authority_host} if self.authority_host else {}
        return ClientSecretCredential(
            self.tenant_id,
            self.client_id,
            self.client_secret,
            disable_instance_discovery=True,
            **kwargs,
        )

    def env(self) -> dict[str, str]:
        """The variables a job's process gets: the identity, and the endpoints when configured."""
        env = {
            CLIENT_ID_VARIABLE: self.client_id,
            CLIENT_SECRET_VARIABLE: self.client_secret,
            TENANT_ID_VARIABLE: self.tenant_id,
        }
        if self.authority_host:
            env[AUTHORITY_HOST_VARIABLE] = self.authority_host
        if self.arm_endpoint != DEFAULT_ARM_ENDPOINT:
            env[ARM_ENDPOINT_VARIABLE] = self.arm_endpoint
        return env
