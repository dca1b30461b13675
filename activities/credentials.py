"""Temporary credentials for a target account, held in the worker's memory only.

`CredentialStore.aws(account, run_id)` assumes the account's role (with its external id) and keeps
the session in memory. By default (`REMEDY_STS_REUSE=true`) one session serves every run of that
account (role ARN, external id) while it has more than its refresh margin left (the larger of five
minutes and a tenth of its lifetime; for a job, also more than the job's timeout, so a session
never expires under a running job): AssumeRole is called once per account per session lifetime,
not once per run. The session name names the run that assumed it, so in CloudTrail a reused
session's calls carry the first run's id; each run's status ("acting as <assumed-role ARN>") and
each job's `REMEDY_CLOUD_IDENTITY` say which session acted, so a run is tied to its CloudTrail
events all the same. With `REMEDY_STS_REUSE=false` each run assumes its own session (one session
name per run, as a strict CloudTrail audit may need). A refused AssumeRole is never cached, and a
session the cloud rejects as expired or invalid (`ExpiredToken`, `InvalidClientTokenId`: `forget`)
leaves the cache, so the retry assumes again. A role deleted or a trust policy changed is seen at
the next AssumeRole: at the latest when the cached session reaches its margin (about 54 minutes).
Nothing here is ever returned from an activity: the `assume_role` activity returns the identity and
the expiry, nothing else.

Azure has no role to assume: the worker's own app registration (AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET, AZURE_TENANT_ID in its environment) is what a job acts as, and the job gets
those variables (the contract). `AzureApp.check` stands in for AssumeRole: it gets a Resource
Manager token and reads the finding's subscription, so a wrong secret or a subscription the app
has no role on fails the run at "assume role", not inside a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from azure.core import PipelineClient
from azure.core.exceptions import (
    ClientAuthenticationError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.aws_clients import SharedClients, using
from remedy import services
from remedy.azure_env import AzureSettings, MissingAzureIdentity
from remedy.logs import redact, register_secret
from remedy.types import AccountRef, AssumeRoleInput, AssumeRoleResult

REFRESH_MARGIN = timedelta(minutes=5)
#: a session is renewed when less than this share of its lifetime is left (if more than 5 minutes)
REFRESH_SHARE = 0.1
SESSION_SECONDS = 3600
#: what the cloud says of a session it no longer takes (EC2 says AuthFailure or RequestExpired,
#: most other services ExpiredToken or InvalidClientTokenId): the cached copy is dropped
REJECTED_SESSION_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "AuthFailure",
    }
)
MAX_CACHED = 1024
DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "ExpiredToken",
}
RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
    "IDPCommunicationError",
}
SUBSCRIPTIONS_API_VERSION = "2022-12-01"
UNUSABLE_SUBSCRIPTION_STATES = {"disabled", "deleted"}


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime
    identity: str
    #: when the session was obtained (its lifetime sets its refresh margin)
    issued: datetime | None = None

    def usable_at(self, now: datetime, valid_for: timedelta = timedelta(0)) -> bool:
        """True while more than the refresh margin (5 min, or a tenth of the lifetime) is left,
        and more than `valid_for` (a job's timeout: its session must outlive the job)."""
        lifetime = (
            self.expiration - self.issued if self.issued else timedelta(seconds=SESSION_SECONDS)
        )
        margin = max(REFRESH_MARGIN, lifetime * REFRESH_SHARE, valid_for)
        return self.expiration - margin > now

    def env(self, region: str | None) -> dict[str, str]:
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }
        if region:
            env["AWS_DEFAULT_REGION"] = region
        return env

    def secrets(self) -> list[str]:
        return [self.secret_access_key, self.session_token]


@dataclass(frozen=True)
class JobIdentity:
    """The credential variables a job gets, the secret values among them, and who it acts as."""

    env: dict[str, str]
    secrets: list[str]
    #: the assumed-role ARN (its session name names the run that assumed it) or the Azure app
    identity: str


def rejected_session(code: str) -> bool:
    """True when a cloud error code says the session itself is no good (expired, unknown key)."""
    return code in REJECTED_SESSION_CODES


def session_name(run_id: str) -> str:
    """STS session names are 2-64 characters of [\\w+=,.@-]; keep the run id's tail."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", run_id)
    return ("remedy-" + cleaned)[-64:]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _network_failure(exc: BaseException) -> bool:
    """True when a credential error was caused by the network, not by Entra ID's answer."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ServiceRequestError | ServiceResponseError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class AzureApp:
    """The worker's Azure app registration: one client-secret credential for every run.

    azure-identity caches the app's tokens and renews them before they expire. The secret is
    registered for redaction at once; only `env()` (for a job's process) ever hands it on.
    """

    def __init__(self, settings: AzureSettings) -> None:
        register_secret(settings.client_secret)
        self.settings = settings
        self.credential = settings.credential()

    @property
    def identity(self) -> str:
        return f"app {self.settings.client_id} in tenant {self.settings.tenant_id}"

    def env(self) -> dict[str, str]:
        return self.settings.env()

    def secrets(self) -> list[str]:
        return [self.settings.client_secret]

    def client(self, service: str, subscription_id: str) -> Any:
        """A client of a registered Azure service (remedy/services) for one subscription."""
        return services.service(service).client(self.credential, subscription_id, self.settings)

    def check(self, subscription_id: str) -> datetime:
        """Get a Resource Manager token and read the subscription; return the token's expiry.

        Raises a non-retryable ApplicationError (AccessDenied) when Entra ID refuses the app or
        the subscription is not the app's to reach; network trouble and 5xx are retried.
        """
        settings = self.settings
        try:
            token = self.credential.get_token(settings.arm_scope)
        except ClientAuthenticationError as exc:
            if _network_failure(exc):
                raise
            problem = " ".join(str(exc.message).split())[:600]
            raise ApplicationError(
                redact(
                    f"Entra ID refused a Resource Manager token to app {settings.client_id} in "
                    f"tenant {settings.tenant_id} ({problem}). Check AZURE_TENANT_ID and "
                    "AZURE_CLIENT_ID, and that AZURE_CLIENT_SECRET holds a current secret value "
                    "of that app (the value, not the secret's id; secrets expire).",
                    self.secrets(),
                ),
                type="AccessDenied",
                non_retryable=True,
            ) from None
        client: PipelineClient[HttpRequest, Any] = PipelineClient(
            base_url=settings.arm_endpoint,
            policies=[
                RetryPolicy(retry_total=2),
                BearerTokenCredentialPolicy(self.credential, settings.arm_scope),
            ],
        )
        quoted = urllib.parse.quote(subscription_id, safe="")
        with client:
            response = client.send_request(
                HttpRequest(
                    "GET",
                    f"{settings.arm_endpoint}/subscriptions/{quoted}",
                    params={"api-version": SUBSCRIPTIONS_API_VERSION},
                )
            )
        if response.status_code >= 500 or response.status_code == 429:
            response.raise_for_status()  # Temporal retries it with backoff
        state = ""
        if response.status_code == 200:
            state = str(response.json().get("state", ""))
            if state.lower() not in UNUSABLE_SUBSCRIPTION_STATES:
                return datetime.fromtimestamp(token.expires_on, UTC)
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        reason = (
            f"it is {state}"
            if state
            else f"{response.status_code} {error.get('code', '')}: {error.get('message', '')}"
        )
        raise ApplicationError(
            f"subscription {subscription_id} cannot be reached by app {settings.client_id} in "
            f"tenant {settings.tenant_id} ({reason.strip()}). Check the finding's subscription "
            "id, and that the app has a role assignment on that subscription (a custom role with "
            "the jobs' minimum_policy.json actions).",
            type="AccessDenied",
            non_retryable=True,
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CredentialStore:
    """Temporary credentials per account (per run when reuse is off), cached in memory and
    renewed before they expire."""

    def __init__(
        self,
        default_region: str | None = None,
        endpoint_url: str | None = None,
        *,
        azure: AzureSettings | None = None,
        environ: Mapping[str, str] | None = None,
        reuse_sessions: bool = True,
        session_seconds: int = SESSION_SECONDS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._session = boto3.Session()  # the worker's own identity, from its environment
        self._default_region = default_region or self._session.region_name or "us-east-1"
        self._endpoint_url = endpoint_url
        #: one session per account across runs (REMEDY_STS_REUSE), else one per run
        self.reuse_sessions = reuse_sessions
        self._session_seconds = session_seconds
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str], AwsCredentials] = OrderedDict()
        self._lock = threading.Lock()
        #: one AssumeRole at a time per cache key: a burst of runs of one account waits for it
        self._assuming: dict[tuple[str, str], threading.Lock] = {}
        self._sts: dict[str, Any] = {}  # the worker's own STS clients, one per region
        #: clients for the worker's calls in a run's name (tagging), signed per run (aws_clients)
        self.clients = SharedClients(endpoint_url)
        self._azure: AzureApp | None = None
        self._azure_problem = ""
        #: A job's cloud identity, by the provider's registry name (remedy/services).
        self._job_identity: dict[str, Callable[[AccountRef, str, timedelta], JobIdentity]] = {
            "aws": self._aws_job_identity,
            "azure": self._azure_job_identity,
        }
        try:  # the worker's Azure app, from its environment unless given
            settings = azure or AzureSettings.from_env(os.environ if environ is None else environ)
        except MissingAzureIdentity as exc:
            self._azure_problem = str(exc)
        else:
            self._azure = AzureApp(settings)

    def load_own_identity(self) -> None:
        """Resolve the worker's AWS identity while it is in the environment (it leaves at start:
        worker/own_secrets.py); botocore keeps it from here on."""
        self._session.get_credentials()

    def azure(self) -> AzureApp:
        """The worker's Azure app, or a non-retryable error saying which variable is missing."""
        if self._azure is None:
            raise ApplicationError(
                f"this worker has no Azure identity: {self._azure_problem}",
                type="AccessDenied",
                non_retryable=True,
            )
        return self._azure

    def region_for(self, account: AccountRef) -> str:
        return account.region or self._default_region

    def warm_clients(self) -> list[str]:
        """Make the worker's STS client and the shared clients of the services it calls in a
        run's name (tagging, the opt-out read) now, in the default region: botocore loads each
        service's model once per worker (EC2's takes about 0.2 s), so the first run does not wait
        for it. A client that cannot be made is skipped: the run that needs it will say why."""
        made = []
        with contextlib.suppress(Exception):  # the worker's own, for AssumeRole
            self._sts_client(self._default_region)
            made.append("sts")
        for service in services.registered("aws"):
            if service.tagging is None:
                continue
            with contextlib.suppress(Exception):
                self.clients.get(service.name, self._default_region)
                made.append(service.name)
        return made

    def _key(self, account: AccountRef, run_id: str) -> tuple[str, str]:
        return (account.cache_key(), "" if self.reuse_sessions else run_id)

    def _cached(self, key: tuple[str, str], valid_for: timedelta) -> AwsCredentials | None:
        with self._lock:
            found = self._cache.get(key)
            if found and found.usable_at(self._clock(), valid_for):
                self._cache.move_to_end(key)
                return found
            if self._cache.pop(key, None) is not None:
                self._assuming.pop(key, None)
            return None

    def aws(
        self, account: AccountRef, run_id: str, valid_for: timedelta = timedelta(0)
    ) -> AwsCredentials:
        """The account's session: the cached one while it has its margin (and `valid_for`) left,
        else a new one named for this run. A refused AssumeRole raises and leaves nothing cached."""
        key = self._key(account, run_id)
        if cached := self._cached(key, valid_for):
            return cached
        with self._lock:
            assuming = self._assuming.setdefault(key, threading.Lock())
        with assuming:
            # another run of this account may have assumed it meanwhile
            if cached := self._cached(key, valid_for):
                return cached
            fresh = self._assume(account, run_id)
            with self._lock:
                self._cache[key] = fresh
                while len(self._cache) > MAX_CACHED:
                    dropped, _ = self._cache.popitem(last=False)
                    self._assuming.pop(dropped, None)
        return fresh

    def forget(self, account: AccountRef, run_id: str, access_key_id: str) -> bool:
        """Drop a session the cloud rejected (expired, invalid), so the next call assumes again.

        Only that session leaves: one another run has cached since is kept. True if it was cached.
        """
        key = self._key(account, run_id)
        with self._lock:
            found = self._cache.get(key)
            if found is None or found.access_key_id != access_key_id:
                return False
            del self._cache[key]
            self._assuming.pop(key, None)
            return True

    def job_env(self, account: AccountRef, run_id: str, timeout_s: float = 0.0) -> JobIdentity:
        """The credential variables a job of this account gets, and the secret values among them.

        A job that may run `timeout_s` gets a session with at least that long left.

        The one place a job's cloud identity is decided (the runner adds nothing of its own); a
        job gets no variable its provider's registry entry does not name (remedy/services).
        """
        provider = services.provider(account.provider)
        identity = self._job_identity.get(account.provider)
        if provider is None or identity is None:
            raise ApplicationError(
                f"provider {account.provider} is not supported by this worker",
                type="UnsupportedProvider",
                non_retryable=True,
            )
        found = identity(account, run_id, timedelta(seconds=timeout_s))
        # A bug here, not the account's: never hand a job more than the contract names.
        if undeclared := sorted(set(found.env) - provider.job_variables):
            raise ApplicationError(
                f"{undeclared} are not {provider.title} job variables (remedy/services)",
                type="UndeclaredJobVariable",
                non_retryable=True,
            )
        return found

    def _aws_job_identity(
        self, account: AccountRef, run_id: str, valid_for: timedelta
    ) -> JobIdentity:
        creds = self.aws(account, run_id, valid_for)
        return JobIdentity(creds.env(self.region_for(account)), creds.secrets(), creds.identity)

    def _azure_job_identity(
        self, account: AccountRef, run_id: str, valid_for: timedelta
    ) -> JobIdentity:
        app = self.azure()
        return JobIdentity(app.env(), app.secrets(), app.identity)

    @contextlib.contextmanager
    def acting_as(self, account: AccountRef, run_id: str) -> Iterator[AwsCredentials]:
        """The account's session, signing the shared clients' calls (aws_clients.using).

        A call the cloud refuses because the session is expired or unknown drops the session and
        raises a retryable error: the retry assumes the role again.
        """
        creds = self.aws(account, run_id)
        try:
            with using(creds):
                yield creds
        except ClientError as exc:
            code = error_code(exc)
            if not rejected_session(code):
                raise
            self.forget(account, run_id, creds.access_key_id)
            raise ApplicationError(
                f"AWS rejected the role session {creds.identity} ({code}); it was dropped from "
                "the worker's cache and the retry assumes the role again. If this repeats, check "
                "the worker's clock (sessions are dated) and that the role still exists",
                type="SessionRejected",
            ) from None

    def forget_rejected(
        self, account: AccountRef, run_id: str, used: JobIdentity, log: str
    ) -> bool:
        """After a job failed: if its last lines say the cloud rejected the session it was given
        (`ExpiredToken`, `InvalidClientTokenId` in jobkit's ERROR line or a traceback), drop it."""
        key_id = used.env.get("AWS_ACCESS_KEY_ID")
        if account.provider != "aws" or not key_id:
            return False
        tail = "\n".join([line for line in log[-4000:].splitlines() if line.strip()][-2:])
        if not any(code in tail for code in REJECTED_SESSION_CODES):
            return False
        return self.forget(account, run_id, key_id)

    def _sts_client(self, region: str) -> Any:
        with self._lock:
            if region not in self._sts:
                self._sts[region] = self._session.client(
                    "sts",
                    region_name=region,
                    endpoint_url=self._endpoint_url,
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                )
            return self._sts[region]

    def _assume(self, account: AccountRef, run_id: str) -> AwsCredentials:
        if not account.role_arn:
            raise ApplicationError(
                f"account {account.account_id} has no role ARN to assume",
                type="AccessDenied",
                non_retryable=True,
            )
        sts = self._sts_client(self.region_for(account))
        kwargs: dict[str, Any] = {
            "RoleArn": account.role_arn,
            "RoleSessionName": session_name(run_id),
            "DurationSeconds": self._session_seconds,
        }
        if account.external_id:
            kwargs["ExternalId"] = account.external_id
        try:
            answer = sts.assume_role(**kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if (
                code in RETRYABLE_CODES
                or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
            ):
                raise  # Temporal retries it with backoff
            raise ApplicationError(
                f"AssumeRole on {account.role_arn} was refused ({code}). Check that the role's trust "
                f"policy allows the worker's identity, that the external id matches "
                f"({'one was given' if account.external_id else 'none was given'}), and that the "
                f"worker's own policy allows sts:AssumeRole on the role.",
                type="AccessDenied" if code in DENIED_CODES else f"AssumeRole.{code}",
                non_retryable=True,
            ) from None
        except ParamValidationError as exc:  # refused before sending: refused again if retried
            raise ApplicationError(
                f"AssumeRole on {account.role_arn} was not sent: {redact(str(exc))[:300]}",
                type="InvalidParameter",
                non_retryable=True,
            ) from None
        except BotoCoreError as exc:
            if "credentials" in str(exc).lower():
                raise ApplicationError(
                    f"the worker has no AWS identity of its own to call AssumeRole with ({exc}); set "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role",
                    type="AccessDenied",
                    non_retryable=True,
                ) from None
            raise
        issued = self._clock()
        creds = answer["Credentials"]
        return AwsCredentials(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            expiration=creds["Expiration"],
            identity=answer["AssumedRoleUser"]["Arn"],
            issued=issued,
        )


class CredentialActivities:
    def __init__(self, store: CredentialStore) -> None:
        self.store = store

    @activity.defn(name="assume_role")
    async def assume_role(self, request: AssumeRoleInput) -> AssumeRoleResult:
        """Obtain (and cache) the run's credentials; return who we are and until when."""
        assume = {"aws": self._assume_aws, "azure": self._check_azure}.get(request.account.provider)
        if services.provider(request.account.provider) is None or assume is None:
            raise ApplicationError(
                f"provider {request.account.provider} is not supported by this worker yet",
                type="UnsupportedProvider",
                non_retryable=True,
            )
        return await assume(request)

    async def _check_azure(self, request: AssumeRoleInput) -> AssumeRoleResult:
        app = self.store.azure()
        expires = await asyncio.to_thread(app.check, request.account.account_id)
        activity.logger.info(
            "Azure app can reach the subscription",
            extra={
                "identity": app.identity,
                "subscription": request.account.account_id,
                "runId": request.run_id,
            },
        )
        return AssumeRoleResult(identity=app.identity, expires_at=expires)

    async def _assume_aws(self, request: AssumeRoleInput) -> AssumeRoleResult:
        creds = await asyncio.to_thread(self.store.aws, request.account, request.run_id)
        activity.logger.info(
            "acting as the account's role session",
            extra={
                "identity": creds.identity,
                "runId": request.run_id,
                "sessionReused": self.store.reuse_sessions,
            },
        )
        return AssumeRoleResult(identity=creds.identity, expires_at=creds.expiration)
