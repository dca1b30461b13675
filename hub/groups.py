"""Worker groups, the cloud accounts they serve, and the workers that register in them."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.auth import SECRET_PREFIX, digest, new_secret
from hub.code_versions import code_versions, drift_warnings, job_versions, job_warning
from hub.config import HubSettings
from hub.errors import ApiError, check_storable, invalid, not_found
from hub.models import CloudAccount, GroupAccount, Worker, WorkerGroup, utcnow
from hub.names import check_distinct, check_name
from hub.schemas import (
    AccountIn,
    AccountOut,
    DeployCommands,
    GroupIn,
    GroupJob,
    GroupOut,
    JobSummary,
    Registered,
    WorkerOut,
    WorkerRegistration,
)
from remedy.finding import AWS_ACCOUNT, ROLE_ARN, UUID
from remedy.types import JobInfo

SECRET_PLACEHOLDER = (
    "<client secret: shown once, when the group was made or its secret regenerated>"
)


def deploy_commands(
    group: WorkerGroup, hub_url: str, temporal_address: str, image: str
) -> DeployCommands:
    """`docker run` for a worker of this group; the secret and the cloud identity are placeholders."""
    common = [
        f"docker run -d --restart unless-stopped --name remedy-worker-{group.id}",
        f"-e REMEDY_WORKER_GROUP={group.id}",
        f"-e REMEDY_HUB_URL={hub_url}",
        f"-e VSS_CLIENT_ID={group.client_id}",
        f"-e VSS_CLIENT_SECRET='{SECRET_PLACEHOLDER}'",
        f"-e TEMPORAL_ADDRESS={temporal_address}",
        "-e REMEDY_NOTIFY_ALLOWED_HOSTS='<Jira servers and webhook hosts it may notify>'",
    ]
    aws = [
        "-e AWS_ACCESS_KEY_ID=<worker identity key id; omit both on an instance or task role>",
        "-e AWS_SECRET_ACCESS_KEY=<worker identity secret key>",
        "-e AWS_DEFAULT_REGION=<region, e.g. us-east-1>",
    ]
    azure = [
        "-e AZURE_CLIENT_ID=<app registration (client) id>",
        "-e AZURE_CLIENT_SECRET=<app registration secret>",
        "-e AZURE_TENANT_ID=<tenant id>",
    ]
    joiner = " \\\n  "
    return DeployCommands(
        aws=joiner.join([*common, *aws, image]), azure=joiner.join([*common, *azure, image])
    )


# -- groups ---------------------------------------------------------------------------------------


def get_group(session: Session, group_id: str) -> WorkerGroup:
    group = session.get(WorkerGroup, group_id)
    if group is None:
        raise not_found("worker group", group_id, "/worker-groups")
    return group


def offline_after(settings: HubSettings) -> timedelta:
    return timedelta(seconds=settings.hub_heartbeat_interval_s * settings.hub_offline_after_missed)


def is_online(worker: Worker, settings: HubSettings, now: datetime) -> bool:
    return now - worker.last_heartbeat <= offline_after(settings)


def group_out(session: Session, group: WorkerGroup, settings: HubSettings) -> GroupOut:
    now = utcnow()
    workers = workers_of(session, group.id)
    accounts = session.scalars(
        select(GroupAccount.account_id)
        .where(GroupAccount.group_id == group.id)
        .order_by(GroupAccount.account_id)
    ).all()
    online = [w for w in workers if is_online(w, settings, now)]
    return GroupOut(
        id=group.id,
        name=group.name,
        description=group.description,
        enabled=group.enabled,
        client_id=group.client_id,
        created_at=group.created_at,
        secret_rotated_at=group.secret_rotated_at,
        accounts=list(accounts),
        workers_online=len(online),
        workers_total=len(workers),
        code_versions=code_versions(online),
        warnings=drift_warnings(group.id, online),
    )


def create_group(session: Session, body: GroupIn) -> tuple[WorkerGroup, str]:
    check_name(body.name, "name", 200)
    check_distinct(body.name, session.scalars(select(WorkerGroup.name)), "worker group")
    secret = new_secret(SECRET_PREFIX)
    group = WorkerGroup(
        id=f"wg-{secrets.token_hex(6)}",
        name=body.name,
        description=body.description,
        client_id=f"rmc_{secrets.token_hex(12)}",
        secret_hash=digest(secret),
        enabled=True,
    )
    session.add(group)
    session.flush()
    return group, secret


def list_groups(session: Session) -> list[WorkerGroup]:
    return list(session.scalars(select(WorkerGroup).order_by(WorkerGroup.created_at)).all())


def set_enabled(session: Session, group_id: str, enabled: bool) -> WorkerGroup:
    group = get_group(session, group_id)
    group.enabled = enabled
    return group


def regenerate_secret(session: Session, group_id: str) -> tuple[WorkerGroup, str]:
    """A new secret; the old one fails from the next request on (only the hash is checked)."""
    group = get_group(session, group_id)
    secret = new_secret(SECRET_PREFIX)
    group.secret_hash = digest(secret)
    group.secret_rotated_at = utcnow()
    return group, secret


# -- workers --------------------------------------------------------------------------------------


def workers_of(session: Session, group_id: str) -> list[Worker]:
    return list(
        session.scalars(
            select(Worker).where(Worker.group_id == group_id).order_by(Worker.worker_id)
        ).all()
    )


def worker_out(worker: Worker, settings: HubSettings, now: datetime) -> WorkerOut:
    infos = [JobInfo.model_validate(j) for j in worker.jobs]
    return WorkerOut(
        worker_id=worker.worker_id,
        host=worker.host,
        version=worker.version,
        state="Online" if is_online(worker, settings, now) else "Offline",
        registered_at=worker.registered_at,
        last_heartbeat=worker.last_heartbeat,
        jobs=[JobSummary(name=i.name, provider=i.provider, checksum=i.checksum) for i in infos],
        code_version=worker.code_version,
        code_commit=worker.code_commit,
    )


def offered_jobs(session: Session, group_id: str, settings: HubSettings) -> dict[str, GroupJob]:
    """The jobs the group's online workers registered (checksums differ while a rollout runs:
    each job then names its versions and carries a warning)."""
    now = utcnow()
    online = [w for w in workers_of(session, group_id) if is_online(w, settings, now)]
    offered: dict[str, GroupJob] = {}
    for worker in online:
        for raw in worker.jobs:
            info = JobInfo.model_validate(raw)
            job = offered.setdefault(
                info.name,
                GroupJob(
                    name=info.name,
                    provider=info.provider,
                    checksums=[],
                    workers=[],
                    rules=info.rules,
                    parameters=info.parameters,
                    description=info.description,
                ),
            )
            if info.checksum not in job.checksums:
                job.checksums.append(info.checksum)
            job.workers.append(worker.worker_id)
    for name, versions in job_versions(online).items():
        offered[name].versions = versions
        offered[name].warning = job_warning(name, versions, online)
    return dict(sorted(offered.items()))


def register_worker(
    session: Session, group: WorkerGroup, body: WorkerRegistration, settings: HubSettings
) -> Registered:
    if body.group_id and body.group_id != group.id:
        raise ApiError(
            409,
            f"these credentials belong to worker group {group.id}, not {body.group_id}",
            "set REMEDY_WORKER_GROUP and VSS_CLIENT_ID / VSS_CLIENT_SECRET from the same group",
            field="group_id",
        )
    jobs = [info.model_dump(mode="json") for info in body.jobs]
    check_storable(jobs, "jobs")
    now = utcnow()
    for _ in range(2):  # a concurrent registration of the same worker id: update the row it made
        worker = session.scalar(
            select(Worker).where(Worker.group_id == group.id, Worker.worker_id == body.worker_id)
        )
        if worker is not None:
            worker.host, worker.version, worker.jobs = body.host, body.version, jobs
            worker.code_version, worker.code_commit = body.code_version, body.code_commit
            worker.notify_destinations = list(body.notify_destinations)
            worker.registered_at = worker.last_heartbeat = now
            break
        try:
            with session.begin_nested():
                session.add(
                    Worker(
                        group_id=group.id,
                        worker_id=body.worker_id,
                        host=body.host,
                        version=body.version,
                        jobs=jobs,
                        code_version=body.code_version,
                        code_commit=body.code_commit,
                        notify_destinations=list(body.notify_destinations),
                        registered_at=now,
                        last_heartbeat=now,
                    )
                )
            break
        except IntegrityError:
            continue
    return Registered(
        group_id=group.id,
        heartbeat_interval_s=settings.hub_heartbeat_interval_s,
        offline_after_s=offline_after(settings).total_seconds(),
    )


def heartbeat(session: Session, group: WorkerGroup, worker_id: str) -> None:
    worker = session.scalar(
        select(Worker).where(Worker.group_id == group.id, Worker.worker_id == worker_id)
    )
    if worker is None:
        raise ApiError(
            404,
            f"worker {worker_id!r} is not registered in group {group.id}",
            "register first: POST /worker/register (the hub client does it again by itself)",
        )
    worker.last_heartbeat = utcnow()


# -- accounts -------------------------------------------------------------------------------------


def check_account(body: AccountIn) -> None:
    if body.provider == "aws":
        if not AWS_ACCOUNT.match(body.account_id):
            raise invalid("account_id", "an AWS account id is 12 digits", "give the 12-digit id")
        if not body.role_arn:
            raise invalid(
                "role_arn",
                "an AWS account needs the role the worker assumes",
                "give role_arn: arn:aws:iam::<account>:role/<name>",
            )
        match = ROLE_ARN.match(body.role_arn)
        if not match:
            raise invalid(
                "role_arn",
                "is not an IAM role ARN",
                "give arn:aws:iam::<12-digit account>:role/<name>",
            )
        if match.group(1) != body.account_id:
            raise invalid(
                "role_arn",
                f"the role is in account {match.group(1)}, not in {body.account_id}",
                "give the ARN of a role in the account itself",
            )
        if not body.external_id:
            raise invalid(
                "external_id",
                "is missing: the remediation role's trust policy should require an external id",
                "give the external id of the role's trust policy (sts:ExternalId)",
            )
    else:
        if not UUID.match(body.account_id):
            raise invalid(
                "account_id", "an Azure subscription id is a uuid", "give the subscription id"
            )
        if body.role_arn or body.external_id:
            raise invalid(
                "role_arn" if body.role_arn else "external_id",
                "Azure subscriptions take no role ARN or external id",
                "leave it out: the worker's AZURE_CLIENT_ID / AZURE_CLIENT_SECRET / "
                "AZURE_TENANT_ID identity reaches the subscription",
            )


def account_out(session: Session, account: CloudAccount) -> AccountOut:
    groups = session.scalars(
        select(GroupAccount.group_id)
        .where(GroupAccount.account_id == account.id)
        .order_by(GroupAccount.group_id)
    ).all()
    return AccountOut(
        account_id=account.id,
        provider="aws" if account.provider == "aws" else "azure",
        name=account.name,
        role_arn=account.role_arn,
        external_id=account.external_id,
        groups=list(groups),
        created_at=account.created_at,
    )


def put_account(session: Session, body: AccountIn) -> tuple[CloudAccount, bool]:
    """Create the account, or update how it is reached; True when it was created."""
    check_account(body)
    account = session.get(CloudAccount, body.account_id)
    if account is not None and account.provider != body.provider:
        raise ApiError(
            409,
            f"account {body.account_id} is registered as {account.provider}",
            "give the provider it was registered with",
            field="provider",
        )
    created = account is None
    if account is None:
        account = CloudAccount(id=body.account_id, provider=body.provider)
        session.add(account)
    account.name = body.name
    account.role_arn = body.role_arn
    account.external_id = body.external_id
    session.flush()
    return account, created


def get_account(session: Session, account_id: str) -> CloudAccount:
    account = session.get(CloudAccount, account_id)
    if account is None:
        raise not_found("account", account_id, "/accounts")
    return account


def list_accounts(session: Session, group_id: str | None = None) -> list[CloudAccount]:
    query = select(CloudAccount).order_by(CloudAccount.id)
    if group_id is not None:
        get_group(session, group_id)
        query = query.join(GroupAccount, GroupAccount.account_id == CloudAccount.id).where(
            GroupAccount.group_id == group_id
        )
    return list(session.scalars(query).all())


def associate(session: Session, group_id: str, account_id: str) -> None:
    get_group(session, group_id)
    get_account(session, account_id)
    if session.get(GroupAccount, (group_id, account_id)) is None:
        try:
            with session.begin_nested():
                session.add(GroupAccount(group_id=group_id, account_id=account_id))
        except IntegrityError:
            pass  # associated concurrently: the same outcome


def dissociate(session: Session, group_id: str, account_id: str) -> None:
    link = session.get(GroupAccount, (group_id, account_id))
    if link is None:
        raise ApiError(
            404,
            f"account {account_id!r} is not associated with group {group_id!r}",
            f"GET /worker-groups/{group_id}/accounts lists its accounts",
        )
    session.delete(link)


def group_account_ids(session: Session, group_id: str) -> set[str]:
    return set(
        session.scalars(
            select(GroupAccount.account_id).where(GroupAccount.group_id == group_id)
        ).all()
    )
