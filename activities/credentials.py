"""Temporary credentials for a target account, held in the worker's memory only.

`CredentialStore.aws(account, run_id)` assumes the account's role (with its external id) once per
run, so CloudTrail shows the run id as the session name, and reuses the credentials for every step
of that run until five minutes before they expire. Nothing here is ever returned from an activity:
the `assume_role` activity returns the identity and the expiry, nothing else.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from remedy.types import AccountRef, AssumeRoleInput, AssumeRoleResult

REFRESH_MARGIN = timedelta(minutes=5)
SESSION_SECONDS = 3600
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


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime
    identity: str

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

    def client(self, service: str, region: str | None, endpoint_url: str | None = None) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )


def session_name(run_id: str) -> str:
    """STS session names are 2-64 characters of [\\w+=,.@-]; keep the run id's tail."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", run_id)
    return ("remedy-" + cleaned)[-64:]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class CredentialStore:
    """Per-(account, run) temporary credentials, cached in memory and refreshed before expiry."""

    def __init__(self, default_region: str | None = None, endpoint_url: str | None = None) -> None:
        self._session = boto3.Session()  # the worker's own identity, from its environment
        self._default_region = default_region or self._session.region_name or "us-east-1"
        self._endpoint_url = endpoint_url
        self._cache: OrderedDict[tuple[str, str], AwsCredentials] = OrderedDict()
        self._lock = threading.Lock()

    def region_for(self, account: AccountRef) -> str:
        return account.region or self._default_region

    def _cached(self, key: tuple[str, str]) -> AwsCredentials | None:
        with self._lock:
            found = self._cache.get(key)
            if found and found.expiration - REFRESH_MARGIN > datetime.now(UTC):
                self._cache.move_to_end(key)
                return found
            self._cache.pop(key, None)
            return None

    def aws(self, account: AccountRef, run_id: str) -> AwsCredentials:
        key = (account.cache_key(), run_id)
        if cached := self._cached(key):
            return cached
        fresh = self._assume(account, run_id)
        with self._lock:
            self._cache[key] = fresh
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        return fresh

    def job_env(self, account: AccountRef, run_id: str) -> tuple[dict[str, str], list[str]]:
        """The credential variables a job of this account gets, and the secret values among them.

        The one place a job's cloud identity is decided (the runner adds nothing of its own).
        """
        if account.provider == "aws":
            creds = self.aws(account, run_id)
            return creds.env(self.region_for(account)), creds.secrets()
        raise ApplicationError(
            f"provider {account.provider} is not supported by this worker",
            type="UnsupportedProvider",
            non_retryable=True,
        )

    def _assume(self, account: AccountRef, run_id: str) -> AwsCredentials:
        if not account.role_arn:
            raise ApplicationError(
                f"account {account.account_id} has no role ARN to assume",
                type="AccessDenied",
                non_retryable=True,
            )
        sts = self._session.client(
            "sts",
            region_name=self.region_for(account),
            endpoint_url=self._endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )
        kwargs: dict[str, Any] = {
            "RoleArn": account.role_arn,
            "RoleSessionName": session_name(run_id),
            "DurationSeconds": SESSION_SECONDS,
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
        except BotoCoreError as exc:
            if "credentials" in str(exc).lower():
                raise ApplicationError(
                    f"the worker has no AWS identity of its own to call AssumeRole with ({exc}); set "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role",
                    type="AccessDenied",
                    non_retryable=True,
                ) from None
            raise
        creds = answer["Credentials"]
        return AwsCredentials(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            expiration=creds["Expiration"],
            identity=answer["AssumedRoleUser"]["Arn"],
        )


class CredentialActivities:
    def __init__(self, store: CredentialStore) -> None:
        self.store = store

    @activity.defn(name="assume_role")
    async def assume_role(self, request: AssumeRoleInput) -> AssumeRoleResult:
        """Obtain (and cache) the run's credentials; return who we are and until when."""
        if request.account.provider != "aws":
            raise ApplicationError(
                f"provider {request.account.provider} is not supported by this worker yet",
                type="UnsupportedProvider",
                non_retryable=True,
            )
        creds = await asyncio.to_thread(self.store.aws, request.account, request.run_id)
        activity.logger.info(
            "assumed role", extra={"identity": creds.identity, "runId": request.run_id}
        )
        return AssumeRoleResult(identity=creds.identity, expires_at=creds.expiration)
