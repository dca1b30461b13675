# The Remedy worker image.
#
#   docker build -t remedy-worker:0.1.0 .
#   docker run --rm -e REMEDY_WORKER_GROUP=prod-aws -e TEMPORAL_ADDRESS=temporal:7233 ... remedy-worker:0.1.0
#
# The built-in jobs are in /opt/vss/job-code, the folder the VSS worker reads. Mounting a folder of
# your own there (-v "$(pwd)":/opt/vss/job-code:ro) replaces them. Everything else is configured by
# environment variables (docs/deploy.md lists them): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
# TEMPORAL_API_KEY, REMEDY_WORKER_GROUP, VSS_CLIENT_ID, VSS_CLIENT_SECRET, AWS_*, AZURE_*, JIRA_*.

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY console ./console
COPY remedy ./remedy
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY hub ./hub
# a regular (non-editable) install into its own virtual environment, copied whole below
RUN python -m venv /opt/remedy \
    && /opt/remedy/bin/pip install . \
    && /opt/remedy/bin/remedy worker --help >/dev/null

FROM python:3.11.11-slim-bookworm
ENV PATH=/opt/remedy/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REMEDY_JOB_CODE=/opt/vss/job-code
RUN groupadd --system --gid 10001 remedy \
    && useradd --system --uid 10001 --gid remedy --home-dir /home/remedy --create-home \
       --shell /usr/sbin/nologin remedy
# git and ssh: job code from a Git repository (REMEDY_JOB_CODE_GIT)
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/remedy /opt/remedy
# owned by root: the worker (and the jobs it runs) can read the job code but not change it
COPY jobs/ /opt/vss/job-code/
WORKDIR /home/remedy
USER remedy:remedy
ENTRYPOINT ["remedy", "worker"]
