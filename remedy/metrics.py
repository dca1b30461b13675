"""The worker's Prometheus metrics that activities record (docs/observability.md lists each).

Definitions only: no import of Remedy's other modules, so any layer may record into them. The
run counters are not here: workflows count through Temporal's replay-safe meter
(worker/run_metrics.py), which the worker bridges into the same scrape (worker/sdk_metrics.py).
Labels never carry a secret or a user name: job names, providers, account ids, outcomes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.process_collector import ProcessCollector

#: everything a worker's `GET /metrics` serves besides the bridged Temporal SDK metrics
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

#: seconds: a job step takes from well under a second to its timeout (default 15 min)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
#: seconds a task waited on the queue before a worker took it
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

JOB_DURATION = Histogram(
    "remedy_job_duration_seconds",
    "Wall time of one job process (an attempt of a job or verify step), by job and exit",
    ["job", "outcome"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
STEP_DURATION = Histogram(
    "remedy_step_duration_seconds",
    "Wall time of one activity attempt on this worker (validate, assume role, run job, tag, "
    "notify, ...), by activity and, for job steps, job",
    ["activity", "job"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
QUEUE_WAIT = Histogram(
    "remedy_queue_wait_seconds",
    "Schedule-to-start of activity attempts: how long a step waited for a worker of the group",
    ["activity"],
    buckets=WAIT_BUCKETS,
    registry=REGISTRY,
)
FORKSERVER_LAUNCHES = Counter(
    "remedy_forkserver_launches",
    "Job processes forked by the fork server (the plain launcher's are not counted)",
    registry=REGISTRY,
)
NOTIFICATIONS = Counter(
    "remedy_notifications",
    "Notifications (Jira issue, webhook call) made or given up on, at a notify step's end",
    ["outcome"],
    registry=REGISTRY,
)


def count_notifications(sent: int, failed: int) -> None:
    NOTIFICATIONS.labels("sent").inc(sent)
    NOTIFICATIONS.labels("failed").inc(failed)
