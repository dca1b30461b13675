"""An action's notification destinations, checked against its group's online workers when saved.

Each worker registers the hosts its environment lets it notify (REMEDY_NOTIFY_ALLOWED_HOSTS);
an action whose Jira server or webhook one of them would refuse is refused (422 naming the field
and the worker), with the rule the worker applies again at run time (remedy/destinations.py).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.config import HubSettings
from hub.errors import invalid
from hub.groups import is_online, workers_of
from hub.models import utcnow
from remedy.destinations import ENV, refusal
from remedy.types import NotificationSettings


def check_destinations(
    session: Session, group_id: str, notify: NotificationSettings, settings: HubSettings
) -> None:
    targets = []
    if notify.jira is not None:
        targets.append(("notify.jira.server", notify.jira.server))
    if notify.webhook is not None:
        targets.append(("notify.webhook.url", notify.webhook.url))
    if not targets:
        return
    now = utcnow()
    workers = [w for w in workers_of(session, group_id) if is_online(w, settings, now)]
    for field, url in targets:
        for worker in workers:
            why = refusal(url, [str(e) for e in worker.notify_destinations])
            if why:
                raise invalid(
                    field,
                    f"worker {worker.worker_id} of group {group_id} would refuse it: {why}",
                    f"name a host the group's workers allow, or add it to {ENV} in their "
                    "environment and restart them",
                )
