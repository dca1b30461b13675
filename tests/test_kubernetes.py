"""The Kubernetes manifests (deploy/kubernetes: kustomize, an overlay per worker group, and two
entry points, self-hosted Temporal and Temporal Cloud), checked without a cluster: every rendered
object validated against the Kubernetes schemas of a fixed version in strict mode (unknown fields
are errors) with kubernetes-validate, KEDA's objects against tests/schemas/keda-*.yaml, then what
Remedy needs of them.

The renderings are committed (deploy/kubernetes.yaml, deploy/kubernetes-temporal-cloud.yaml), so a
machine without kubectl still validates them; where kubectl is installed, each committed file must
equal what `kubectl kustomize` renders now.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from remedy.temporal import task_queue_for
from remedy.types import JobStep
from tests.test_deployment import (
    PROJECT_VERSION,
    SECRET_NAME,
    _names_remedy_reads,
    _resolve,
    dockerfile,
)

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy" / "kubernetes"
#: entry point (a kustomization under deploy/kubernetes) -> its committed rendering
RENDERINGS = {
    "self-hosted": ROOT / "deploy" / "kubernetes.yaml",
    "temporal-cloud": ROOT / "deploy" / "kubernetes-temporal-cloud.yaml",
}
RENDERED = RENDERINGS["self-hosted"]


def header(entry: str) -> str:
    return (
        f"# Generated: kubectl kustomize deploy/kubernetes/{entry} (tests/test_kubernetes.py "
        "checks it is current).\n# Edit deploy/kubernetes/ and render again; apply with kubectl "
        "apply -k or -f.\n"
    )


KEDA_SCHEMAS: dict[str, dict[str, Any]] = {
    kind: yaml.safe_load((ROOT / f"tests/schemas/keda-{kind.lower()}.yaml").read_text())
    for kind in ("ScaledObject", "TriggerAuthentication")
}
KEDA_SCHEMA = KEDA_SCHEMAS["ScaledObject"]
#: the Kubernetes version the manifests are validated against (kubernetes-validate's schemas)
KUBERNETES_VERSION = "1.32.0"
GROUPS = sorted(p.name for p in (BASE / "groups").iterdir() if p.is_dir())
#: the health endpoints' ports (the observability contract): the worker's REMEDY_WORKER_HTTP_PORT
#: default, and the port `remedy hub serve` is given
WORKER_HTTP_PORT = 9464
HUB_PORT = 8000
#: variables the containers get that are not Remedy's own: libpq's password, Python's temp dir
NOT_REMEDYS = {"PGPASSWORD", "TMPDIR"}


def objects(rendering: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendering.read_text()) if doc]


OBJECTS = objects(RENDERED)
CLOUD = objects(RENDERINGS["temporal-cloud"])


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in OBJECTS if o["kind"] == kind]


def named(kind: str, name: str, among: list[dict[str, Any]] = OBJECTS) -> dict[str, Any]:
    [found] = [o for o in among if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    [only] = containers
    return only


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(deployment).get("env", [])}


def config_of(deployment: dict[str, Any], among: list[dict[str, Any]] = OBJECTS) -> dict[str, str]:
    """What the container's envFrom ConfigMaps give it."""
    found: dict[str, str] = {}
    for source in container(deployment).get("envFrom", []):
        if "configMapRef" in source:
            found |= named("ConfigMap", source["configMapRef"]["name"], among)["data"]
    return found


def worker(group: str) -> dict[str, Any]:
    return named("Deployment", f"remedy-worker-{group}")


HUB = named("Deployment", "remedy-hub")
WORKERS = [worker(group) for group in GROUPS]


# ------------------------------------------------------------------------------------------------
# The rendering, and its validation against the schemas
# ------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl renders the kustomization")
@pytest.mark.parametrize("entry", sorted(RENDERINGS))
def test_the_committed_renderings_are_current(entry: str) -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(BASE / entry)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    path = RENDERINGS[entry].relative_to(ROOT)
    assert RENDERINGS[entry].read_text() == header(entry) + rendered, (
        f"{path} is stale; render it again: (head -2 {path}; kubectl kustomize "
        f"deploy/kubernetes/{entry}) > new.yaml && mv new.yaml {path}"
    )


def test_the_rendering_holds_the_hub_and_every_group() -> None:
    kinds = sorted(o["kind"] for o in OBJECTS)
    n = len(GROUPS)
    assert GROUPS == ["prod-aws", "prod-azure"]
    expected = ["ConfigMap"] * 2 + ["Deployment"] * (1 + n) + ["Namespace"]
    expected += ["PodDisruptionBudget"] * n + ["ScaledObject"] * n + ["Service"]
    assert kinds == sorted(expected)
    assert {o["metadata"].get("namespace") for o in OBJECTS if o["kind"] != "Namespace"} == {
        "remedy"
    }


def _every_object() -> list[Any]:
    return [
        pytest.param(o, id=f"{entry}-{o['kind']}-{o['metadata']['name']}")
        for entry, rendering in sorted(RENDERINGS.items())
        for o in objects(rendering)
    ]


@pytest.mark.parametrize("obj", _every_object())
def test_every_object_is_valid_in_strict_mode(obj: dict[str, Any]) -> None:
    if obj["apiVersion"] == "keda.sh/v1alpha1":
        jsonschema.validate(obj, KEDA_SCHEMAS[obj["kind"]])
    else:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validators_refuse_an_unknown_field() -> None:
    """Strictness is what makes the two tests above worth having."""
    broken = yaml.safe_load(yaml.safe_dump(WORKERS[0]))
    container(broken)["securityContext"]["readOnlyRootFileSystem"] = True  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    scaled = yaml.safe_load(yaml.safe_dump(named("ScaledObject", f"remedy-worker-{GROUPS[0]}")))
    scaled["spec"]["minReplicas"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, KEDA_SCHEMA)
    scaled = yaml.safe_load(yaml.safe_dump(named("ScaledObject", f"remedy-worker-{GROUPS[0]}")))
    scaled["spec"]["triggers"][0]["metadata"]["taskqueue"] = "remedy-x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, KEDA_SCHEMA)
    auth = yaml.safe_load(yaml.safe_dump(named("TriggerAuthentication", "remedy-temporal", CLOUD)))
    auth["spec"]["secretTargetRefs"] = auth["spec"].pop("secretTargetRef")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(auth, KEDA_SCHEMAS["TriggerAuthentication"])


# ------------------------------------------------------------------------------------------------
# What Remedy needs of them
# ------------------------------------------------------------------------------------------------


def dockerfile_uid() -> int:
    [useradd] = [args for op, args in dockerfile() if op == "RUN" and "useradd" in args]
    return int(re.search(r"--uid (\d+)", useradd).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize("deployment", [HUB, *WORKERS], ids=lambda d: d["metadata"]["name"])
def test_pods_are_hardened_like_the_image(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    uid = dockerfile_uid()
    assert uid == 10001
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},  # lets Landlock's calls through
    }
    assert container(deployment)["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False  # jobs never reach the Kubernetes API
    assert pod["enableServiceLinks"] is False  # no REMEDY_HUB_* variables from the Service
    for shared in ("hostPID", "hostIPC", "hostNetwork", "shareProcessNamespace"):
        assert not pod.get(shared), shared
    assert len(pod["containers"]) == 1 and "initContainers" not in pod


@pytest.mark.parametrize("deployment", [HUB, *WORKERS], ids=lambda d: d["metadata"]["name"])
def test_the_only_writable_place_is_tmp(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    mounts = container(deployment)["volumeMounts"]
    assert [(m["name"], m["mountPath"]) for m in mounts] == [("tmp", "/tmp")]
    [volume] = pod["volumes"]
    assert volume["name"] == "tmp" and set(volume) == {"name", "emptyDir"}
    assert volume["emptyDir"]["sizeLimit"]
    # jobs' working copies and the fork server's directory come from tempfile, which reads TMPDIR
    assert env_of(deployment)["TMPDIR"]["value"] == "/tmp"


def test_the_namespace_enforces_the_restricted_pod_security_standard() -> None:
    labels = named("Namespace", "remedy")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("deployment", [HUB, *WORKERS], ids=lambda d: d["metadata"]["name"])
def test_every_container_runs_the_projects_image(deployment: dict[str, Any]) -> None:
    assert container(deployment)["image"] == f"remedy-worker:{PROJECT_VERSION}"


def test_the_hub_serves_on_its_port_with_its_probes() -> None:
    hub = container(HUB)
    command = hub["command"]
    _resolve(command)  # `remedy hub serve --host --port` exist
    assert command[command.index("--port") + 1] == str(HUB_PORT)
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert hub["ports"] == [{"name": "http", "containerPort": HUB_PORT}]
    assert hub["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert hub["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert hub["startupProbe"]["httpGet"]["path"] == "/healthz"
    # one hub migrates at a time: the old one is gone before the new one starts
    assert HUB["spec"]["strategy"] == {"type": "Recreate"} and HUB["spec"]["replicas"] == 1
    service = named("Service", "remedy-hub")
    assert service["spec"]["selector"] == HUB["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [{"name": "http", "port": HUB_PORT, "targetPort": "http"}]


def test_the_hub_reads_its_own_database_and_its_secret() -> None:
    settings = config_of(HUB)
    url = settings["REMEDY_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "remedy_hub" in url
    assert not re.search(r"://[^/@]*:[^/@]*@", url), "no password in the URL: PGPASSWORD has it"
    assert {"secretRef": {"name": "remedy-hub"}} in container(HUB)["envFrom"]


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_is_its_own_worker_with_its_own_secret(group: str) -> None:
    deployment = worker(group)
    env = env_of(deployment)
    # the id the hub gave the group (hub/groups.py), its own in each overlay
    assert re.fullmatch(r"wg-[0-9a-f]{12}", env["REMEDY_WORKER_GROUP"]["value"])
    ids = {env_of(w)["REMEDY_WORKER_GROUP"]["value"] for w in WORKERS}
    assert len(ids) == len(WORKERS)
    assert env["REMEDY_HUB_URL"]["value"] == f"http://remedy-hub:{HUB_PORT}"
    secrets = [s["secretRef"]["name"] for s in container(deployment)["envFrom"] if "secretRef" in s]
    assert secrets == [f"remedy-worker-{group}"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["remedy.dev/worker-group"] == group
    assert "replicas" not in deployment["spec"]  # KEDA owns the count
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0  # a new worker polls before an old one leaves


@pytest.mark.parametrize("group", GROUPS)
def test_workers_probe_the_health_endpoints(group: str) -> None:
    worker_container = container(worker(group))
    assert worker_container["ports"] == [{"name": "http", "containerPort": WORKER_HTTP_PORT}]
    assert worker_container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert worker_container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert worker_container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert "args" not in worker_container and "command" not in worker_container  # remedy worker


@pytest.mark.parametrize("group", GROUPS)
def test_a_worker_has_its_longest_job_step_to_drain(group: str) -> None:
    grace = worker(group)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    default_timeout = JobStep.model_fields["timeout_s"].default
    # the workflow gives a job step's activity its timeout plus a minute (workflows/remediation.py)
    assert grace >= default_timeout + 60


@pytest.mark.parametrize("group", GROUPS)
def test_the_disruption_budget_selects_exactly_its_groups_workers(group: str) -> None:
    budget = named("PodDisruptionBudget", f"remedy-worker-{group}")
    assert budget["spec"]["maxUnavailable"] == 1
    selector = budget["spec"]["selector"]["matchLabels"]
    selected = [
        d["metadata"]["name"]
        for d in of_kind("Deployment")
        if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert selected == [f"remedy-worker-{group}"]
    assert selector == worker(group)["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("group", GROUPS)
def test_keda_scales_the_groups_worker_on_its_task_queue(group: str) -> None:
    scaled = named("ScaledObject", f"remedy-worker-{group}")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == f"remedy-worker-{group}"
    assert spec["scaleTargetRef"]["kind"] == "Deployment"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    [trigger] = spec["triggers"]
    assert trigger["type"] == "temporal"
    metadata = trigger["metadata"]
    deployment = worker(group)
    assert metadata["taskQueue"] == task_queue_for(
        env_of(deployment)["REMEDY_WORKER_GROUP"]["value"]
    )
    settings = config_of(deployment)
    # the scaler reads the same Temporal as the worker
    assert settings[metadata["endpointFromEnv"]] == settings["TEMPORAL_ADDRESS"]
    assert metadata["namespace"] == settings["TEMPORAL_NAMESPACE"]
    assert int(metadata["targetQueueSize"]) > 0


def test_no_secret_is_written_in_the_manifests() -> None:
    assert not of_kind("Secret")
    for config in of_kind("ConfigMap"):
        for name, value in config["data"].items():
            assert not SECRET_NAME.search(name), f"{name} belongs in a Secret"
            assert not re.search(r"rm[ts]_|://[^/@]*:[^/@]*@", value), f"{name} holds a secret"
    for deployment in of_kind("Deployment"):
        for name, entry in env_of(deployment).items():
            if SECRET_NAME.search(name) or name == "PGPASSWORD":
                assert "value" not in entry, f"{name} must come from a Secret"


@pytest.mark.parametrize("deployment", [HUB, *WORKERS], ids=lambda d: d["metadata"]["name"])
def test_every_variable_given_is_one_remedy_reads(deployment: dict[str, Any]) -> None:
    read = _names_remedy_reads() | NOT_REMEDYS
    given = set(env_of(deployment)) | set(config_of(deployment))
    for name in given:
        assert name in read, (
            f"{deployment['metadata']['name']} is given {name}, which nothing reads"
        )


# ------------------------------------------------------------------------------------------------
# Temporal Cloud (deploy/kubernetes/temporal-cloud)
# ------------------------------------------------------------------------------------------------


def test_temporal_cloud_changes_only_where_temporal_is() -> None:
    assert sorted(o["kind"] for o in CLOUD) == sorted(
        [o["kind"] for o in OBJECTS] + ["TriggerAuthentication"]
    )
    for group in GROUPS:
        deployment = named("Deployment", f"remedy-worker-{group}", CLOUD)
        settings = config_of(deployment, CLOUD)
        assert settings["TEMPORAL_ADDRESS"].endswith(".tmprl.cloud:7233")
        assert settings["REMEDY_SEARCH_ATTRIBUTES"] == "false"
        [trigger] = named("ScaledObject", f"remedy-worker-{group}", CLOUD)["spec"]["triggers"]
        assert trigger["metadata"]["namespace"] == settings["TEMPORAL_NAMESPACE"]
        assert settings[trigger["metadata"]["endpointFromEnv"]] == settings["TEMPORAL_ADDRESS"]
        # KEDA reads the queue with the API key, from a Secret
        auth = named("TriggerAuthentication", trigger["authenticationRef"]["name"], CLOUD)
        assert auth["spec"] == {
            "secretTargetRef": [
                {"parameter": "apiKey", "name": "remedy-temporal", "key": "TEMPORAL_API_KEY"}
            ]
        }
        # the worker's own key comes from its Secret, never from the settings
        assert "TEMPORAL_API_KEY" not in settings
        assert container(deployment)["envFrom"][-1] == {
            "secretRef": {"name": f"remedy-worker-{group}"}
        }
    assert config_of(named("Deployment", "remedy-hub", CLOUD), CLOUD)["TEMPORAL_ADDRESS"].endswith(
        ".tmprl.cloud:7233"
    )


def test_every_deploy_path_the_guide_names_exists() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    named_paths = set(re.findall(r"deploy/kubernetes[\w./-]*", guide))
    assert "deploy/kubernetes/self-hosted" in named_paths
    for path in named_paths:
        assert (ROOT / path.rstrip(".")).exists(), f"docs/deploy.md names {path}, which is gone"
    for entry in RENDERINGS:
        assert f"`{entry}`" in guide or f"{entry}/" in guide, entry
