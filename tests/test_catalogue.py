"""Meta-tests: every job folder under jobs/ keeps the catalogue's conventions.

One test per convention, parametrised per job folder, so a new job is checked the moment its folder
exists: entry point, least-privilege policy, README, metadata, rule ids that match the rule
catalogue (the csv beside the repository), a test that runs it, a resource type and policy
actions of services in the service registry (remedy/services), and a policy that lists exactly
the actions the code calls (AWS: IAM actions of the boto3 calls; Azure: the role definition's
Actions for the azure-mgmt calls), both as the registry's permission maps spell them.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import os
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from console.job_docs import project_readme, render, render_catalogue
from remedy import services
from remedy.job_registry import JOB_MODES, read_controls, read_modes
from remedy.jobkit import modes as kit_modes
from remedy.params import check_parameters, check_schema

ROOT = Path(__file__).resolve().parent.parent
# The catalogue under test: the built-in one, or another (tests/test_scaffold.py points these at a
# freshly scaffolded job to prove it passes every convention as generated).
JOBS_DIR = Path(os.environ.get("REMEDY_CATALOGUE_JOBS", ROOT / "jobs"))
TESTS_DIR = Path(os.environ.get("REMEDY_CATALOGUE_TESTS", ROOT / "tests"))
RULES_CSV = ROOT / "docs" / "spec" / "catalogue-rules.csv"
CONTROLS_CSV = ROOT / "docs" / "spec" / "security-hub-controls.csv"
PROWLER_CHECK = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")

JOB_DIRS = sorted(p for p in JOBS_DIR.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
AZURE_ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z]+)+/(read|write|delete|action)$")
AZURE_POLICY_FILES = ("minimum_policy.json", "minimum_permissions.json")
PROVIDERS = set(services.PROVIDERS)
PAYLOAD_ROOTS = ("notificationInfo.", "cloudAccount.", "remediationParameters.")

jobs = pytest.mark.parametrize("job_dir", JOB_DIRS, ids=[p.name for p in JOB_DIRS])


def metadata(job_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((job_dir / "remedy.json").read_text())
    return document


def all_rules(meta: dict[str, Any]) -> list[str]:
    """The rule ids the job and its aliases claim."""
    aliased = [r for alias in meta.get("aliases", {}).values() for r in alias.get("rules", [])]
    return [*meta.get("rules", []), *aliased]


@cache
def catalogue() -> dict[str, str]:
    """rule id -> anchor job name, from the shared rule catalogue."""
    with RULES_CSV.open(newline="") as handle:
        return {row["rule_id"]: row["anchor_job"] for row in csv.DictReader(handle)}


def test_there_are_jobs() -> None:
    assert JOB_DIRS, f"no job folder under {JOBS_DIR}"


@jobs
def test_folder_holds_its_entry_point(job_dir: Path) -> None:
    assert not re.search(r"\s", job_dir.name), "a job's name has no whitespace"
    assert (job_dir / f"{job_dir.name}.py").is_file(), f"{job_dir.name}/{job_dir.name}.py missing"


def azure_role_actions(job_dir: Path) -> list[str]:
    """The Actions of an Azure job's custom role definition, in either format Azure takes:
    `az role definition create` (Actions) or ARM (properties.permissions[].actions)."""
    path = next((job_dir / n for n in AZURE_POLICY_FILES if (job_dir / n).is_file()), None)
    assert path is not None, "an Azure job names its permissions"
    role = json.loads(path.read_text())
    if "Actions" in role:
        assert role.get("AssignableScopes"), f"{path.name}: a role definition names its scopes"
        return list(role["Actions"])
    permissions = role["properties"]["permissions"]
    return [a for p in permissions for a in p["actions"]]


@jobs
def test_minimum_policy(job_dir: Path) -> None:
    if metadata(job_dir)["provider"] != "aws":
        actions = azure_role_actions(job_dir)
        assert actions, "least privilege still needs the actions listed"
        assert all(AZURE_ACTION.match(a) for a in actions), actions  # no wildcards
        assert len(actions) == len(set(actions))
        return
    policy = json.loads((job_dir / "minimum_policy.json").read_text())
    assert policy["Version"] == "2012-10-17"
    assert isinstance(policy["Statement"], list)
    assert policy["Statement"]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow", "least privilege: only Allow statements"
        assert isinstance(statement["Action"], list)
        assert statement["Action"]
        assert all(IAM_ACTION.match(a) for a in statement["Action"]), statement["Action"]
        assert "*" not in statement["Action"]
        assert "Resource" in statement


@jobs
def test_readme_names_every_rule(job_dir: Path) -> None:
    readme = (job_dir / "README.md").read_text()
    assert job_dir.name in readme
    missing = [r for r in all_rules(metadata(job_dir)) if r not in readme]
    assert not missing, f"README.md does not mention {missing}"


@jobs
def test_metadata(job_dir: Path) -> None:
    meta = metadata(job_dir)
    assert meta["provider"] in PROVIDERS
    assert isinstance(meta["description"], str)
    assert meta["description"].strip()
    assert "\n" not in meta["description"]
    assert re.fullmatch(r"[a-z0-9]+:[a-z0-9-]+", meta["resource_type"]), meta["resource_type"]
    assert isinstance(meta["rules"], list)
    assert isinstance(meta.get("aliases", {}), dict)
    answers_to = [
        i for c in all_controls(meta, job_dir.name).values() for v in c.values() for i in v
    ]
    assert all_rules(meta) or answers_to, (
        "a job fixes at least one rule or control, itself or through an alias"
    )
    assert all(p.startswith(PAYLOAD_ROOTS) for p in meta.get("requires", [])), meta["requires"]
    schema = meta["parameters"]
    check_schema(schema)  # a JSON Schema object schema, as the registry demands
    assert schema["type"] == "object"
    parameters = schema["properties"]
    assert isinstance(parameters, dict)
    for name, spec in parameters.items():
        assert spec["type"] in {"integer", "string", "boolean", "number", "array", "object"}
        assert spec.get("description"), f"parameter {name} has no description"
    for alias, spec in meta.get("aliases", {}).items():
        assert not re.search(r"\s", alias)
        assert spec.get("rules") or spec.get("controls"), (
            f"alias {alias} fixes no rule and no control"
        )
        given = spec.get("parameters", {})
        assert set(given) <= set(parameters), f"alias {alias} sets unknown parameters"
        for name, value in given.items():
            if parameters[name]["type"] == "integer":
                assert isinstance(value, int)
                assert not isinstance(value, bool)
        # every value in range and every required parameter set: the one parameter check passes
        check_parameters(schema, given, root=f"aliases.{alias}.parameters")
        required = {n for n in schema.get("required", []) if "default" not in parameters[n]}
        assert required <= set(given), f"alias {alias} leaves {required - set(given)} unset"


def run_keywords(entry: Path) -> set[str]:
    """The keywords the entry point passes to `jobkit.run` (plan=, rollback=)."""
    for node in ast.walk(ast.parse(entry.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "run"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "jobkit"
        ):
            return {k.arg for k in node.keywords if k.arg}
    return set()


@jobs
def test_metadata_declares_the_modes_the_job_supports(job_dir: Path) -> None:
    meta = metadata(job_dir)
    assert isinstance(meta.get("modes"), list), "remedy.json must list the job's modes"
    assert set(JOB_MODES) == set(kit_modes.ALL_MODES)  # the registry and the kit agree
    modes, irreversible = read_modes(meta, job_dir)  # valid, as the registry reads it
    assert ("verify" in modes) == (job_dir / "verify.py").is_file()
    # the entry point hands the kit a function for each mode it claims, and for no other
    passed = run_keywords(job_dir / f"{job_dir.name}.py")
    # a batch's prefetch (remedy/jobkit/batch.py) is no mode: only a job that takes batches has one
    assert "prefetch" not in passed or meta.get("batch") is True, "prefetch without batch: true"
    passed.discard("prefetch")
    assert passed == {m for m in ("plan", "rollback") if m in modes}, passed
    if JOBS_DIR == ROOT / "jobs":  # a built-in job: plan, verify, and rollback or why not
        assert {"remediate", "plan", "verify"} <= set(modes), modes
        assert "rollback" in modes or irreversible, "no rollback and no reason why not"


@jobs
def test_every_mode_the_job_claims_is_tested(job_dir: Path) -> None:
    """plan and rollback are proven on the emulator in tests/test_job_modes*.py."""
    modes = metadata(job_dir).get("modes", [])
    if not {"plan", "rollback"} & set(modes):
        return
    tested = "".join(p.read_text() for p in sorted(TESTS_DIR.glob("test_job_modes*.py")))
    assert re.search(rf"\b{re.escape(job_dir.name)}\b", tested), (
        f"no test in tests/test_job_modes*.py runs {job_dir.name} in its modes"
    )


@jobs
def test_rules_match_the_rule_catalogue(job_dir: Path) -> None:
    if not RULES_CSV.is_file():
        pytest.skip(f"{RULES_CSV} is absent")
    meta, anchors = metadata(job_dir), catalogue()
    owners = {job_dir.name: meta["rules"]}
    owners |= {alias: spec["rules"] for alias, spec in meta.get("aliases", {}).items()}
    for owner, rules in owners.items():
        unknown = [r for r in rules if r not in anchors]
        assert not unknown, f"{owner}: rule ids not in the catalogue: {unknown}"
        wrong = {r: anchors[r] for r in rules if anchors[r] != owner}
        assert not wrong, f"{owner}: these rules are anchored to other jobs: {wrong}"
        forgotten = sorted(r for r, anchor in anchors.items() if anchor == owner and r not in rules)
        assert not forgotten, f"{owner}: the catalogue anchors {forgotten} here too"


def test_names_and_rules_are_unique_across_jobs() -> None:
    names = Counter(p.name for p in JOB_DIRS)
    rules: Counter[str] = Counter()
    for job_dir in JOB_DIRS:
        meta = metadata(job_dir)
        names.update(list(meta.get("aliases", {})))
        rules.update(all_rules(meta))
    assert not [n for n, c in names.items() if c > 1], "a job or alias name is used twice"
    assert not [r for r, c in rules.items() if c > 1], "a rule is fixed by two jobs"


def all_controls(meta: dict[str, Any], name: str) -> dict[str, dict[str, list[str]]]:
    """owner (the job or an alias) -> its `controls`: source -> ids."""
    owners = {name: meta.get("controls") or {}}
    owners |= {a: spec.get("controls") or {} for a, spec in meta.get("aliases", {}).items()}
    return owners


@cache
def security_hub_controls() -> dict[str, str]:
    """Security Hub control id -> its CIS AWS 1.2 item ('' if none), from the controls list."""
    with CONTROLS_CSV.open(newline="") as handle:
        return {row["control_id"]: row["cis_aws_1_2"] for row in csv.DictReader(handle)}


@jobs
def test_controls_have_the_shape_intake_matches_on(job_dir: Path) -> None:
    meta = metadata(job_dir)
    schema = meta["parameters"]
    required = {n for n in schema.get("required", []) if "default" not in schema["properties"][n]}
    for owner, controls in all_controls(meta, job_dir.name).items():
        read_controls(controls)  # the registry's own check: source -> list of id strings
        if owner == job_dir.name and controls:
            assert not required, f"{owner} needs {required}: put its controls on the aliases"
        for source, ids in controls.items():
            assert len(set(ids)) == len(ids), f"{owner}: {source} names an id twice"
            if source == "securityhub":
                unknown = set(ids) - set(security_hub_controls())
                assert not unknown, f"{owner}: not in {CONTROLS_CSV.name}: {unknown}"
            if source == "cis-aws-1.2":  # a control's cell may name several items: "1.1 3.3"
                items = {c: set(cell.split()) for c, cell in security_hub_controls().items()}
                cis = set().union(*items.values())
                assert set(ids) <= cis, f"{owner}: CIS 1.2 items not in the controls list: {ids}"
                # the same item through its Security Hub control: both or neither
                paired = {c for c, named in items.items() if named & set(ids)}
                assert paired <= set(controls.get("securityhub", [])), (owner, paired)
            if source == "prowler":
                assert all(PROWLER_CHECK.match(i) for i in ids), f"{owner}: {ids}"


def test_controls_are_unique_across_jobs() -> None:
    """One control id, one job: a finding naming it must have one fix."""
    seen: Counter[tuple[str, str]] = Counter()
    for job_dir in JOB_DIRS:
        for controls in all_controls(metadata(job_dir), job_dir.name).values():
            seen.update((source, i) for source, ids in controls.items() for i in ids)
    assert not [c for c, n in seen.items() if n > 1], "a control is claimed by two jobs"


@jobs
def test_readme_tables_are_generated_from_the_metadata(job_dir: Path) -> None:
    readme = (job_dir / "README.md").read_text()
    meta = metadata(job_dir)
    assert render(readme, job_dir.name, meta) == readme, (
        "the README's rule or parameter table disagrees with remedy.json: run `remedy jobs readme`"
    )


def test_the_project_readme_lists_every_job_as_its_metadata_says() -> None:
    readme = project_readme(JOBS_DIR)
    if JOBS_DIR != ROOT / "jobs":
        return  # a scaffolded catalogue elsewhere has no project README
    assert readme is not None, "README.md lost the generated catalogue table's markers"
    text = readme.read_text()
    assert render_catalogue(text, JOBS_DIR) == text, (
        "README.md's job table is stale: run `remedy jobs readme`"
    )
    assert all(f"[`{d.name}`]" in text for d in JOB_DIRS)


@jobs
def test_every_job_has_a_test(job_dir: Path) -> None:
    sources = [p.read_text() for p in TESTS_DIR.glob("test_*.py") if p.name != Path(__file__).name]
    assert any(f'"{job_dir.name}"' in text for text in sources), f"no test runs {job_dir.name}"


# ----------------------------------------------------------------------------------------------
# The policy lists exactly the AWS actions the code calls
# ----------------------------------------------------------------------------------------------


@cache
def operations(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name, for one registered service."""
    model = botocore.session.get_session().get_service_model(services.service(service).name)
    return {xform_name(op): op for op in model.operation_names}


def module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:  # `name` is a function or class inside a module, not a module
        return None
    origin = spec.origin if spec else None
    return Path(origin) if origin and origin.endswith(".py") else None


def job_sources(job_dir: Path) -> list[Path]:
    """The job's entry point and the remedy.jobkit modules it imports (one level, by design)."""
    entry = job_dir / f"{job_dir.name}.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(entry.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{a.name}" for a in node.names)
            names.add(node.module)
    modules = [module_file(n) for n in sorted(names) if n.startswith("remedy.jobkit")]
    return [entry, *sorted({m for m in modules if m is not None})]


KIT_MODULE = Path(kit_modes.__file__).resolve().with_name("__init__.py")


def named_services(sources: list[Path], trees: list[ast.Module]) -> set[str]:
    """What the sources name: their strings (`jobkit.client("s3control", ...)`) and the kit's
    client helpers they call (`jobkit.s3_client(...)` names s3). The kit's own strings are left
    out: its helpers name s3 and ec2 for every job, s3control's included."""
    names: set[str] = set()
    for source, tree in zip(sources, trees, strict=True):
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if source.resolve() != KIT_MODULE:
                    names.add(node.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr.endswith("_client")
            ):
                names.add(node.func.attr.removesuffix("_client"))
    return names


def called_actions(sources: list[Path], prefixes: set[str]) -> set[str]:
    """The IAM actions of every boto3 call in the sources, for the registered AWS services whose
    IAM prefix is one of `prefixes`."""
    trees = [ast.parse(source.read_text()) for source in sources]
    named = [s for s in services.registered("aws") if s.iam_prefix in prefixes]
    sharing = Counter(s.iam_prefix for s in named)
    # services that share an IAM prefix (s3 and s3control, elb and elbv2) count only when the
    # sources name the service (`jobkit.client("s3control", ...)`), their method names overlap
    literals = named_services(sources, trees)
    named = [s for s in named if sharing[s.iam_prefix] == 1 or s.name in literals]
    called: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                for service in named:
                    operation = operations(service.name).get(node.func.attr)
                    action = service.action(operation) if operation else None
                    if action:
                        called.add(action)
                        called.update(service.implied.get(operation or "", ()))
    return called


def azure_called_actions(sources: list[Path], resource_type: str = "") -> set[str]:
    """The actions of every `<client>.<operation group>.<method>(...)` call in the sources, each
    resolved among the services the job uses: its resource type's, then those its sources name
    (SDKs share operation group names, so the first registered one is not always the job's)."""
    trees = [ast.parse(source.read_text()) for source in sources]
    literals = {
        node.value
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    owner = services.service_for_resource_type(resource_type) if resource_type else None
    among = [owner.name] if owner else []
    among += [s.name for s in services.registered("azure") if s.name in literals]
    called: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute)
            ):
                called.update(
                    services.azure_operation_actions(node.func.value.attr, node.func.attr, among)
                )
    return called


@jobs
def test_policy_lists_exactly_the_calls(job_dir: Path) -> None:
    meta = metadata(job_dir)
    if meta["provider"] == "azure":
        called = azure_called_actions(job_sources(job_dir), meta["resource_type"])
        allowed = set(azure_role_actions(job_dir))
        assert called, "no azure-mgmt call found: is the operation in remedy/services/azure.py?"
        assert called == allowed, (
            f"called but not allowed: {called - allowed}; allowed but not called: {allowed - called}"
        )
        return
    policy = json.loads((job_dir / "minimum_policy.json").read_text())
    allowed = {a for s in policy["Statement"] for a in s["Action"]}
    # the services the policy names, less iam: when it only passes a role (an implied action)
    prefixes = {a.split(":")[0] for a in allowed if a != "iam:PassRole"}
    prefixes |= {meta["resource_type"].split(":")[0]}
    called = called_actions(job_sources(job_dir), prefixes)
    assert called == allowed, (
        f"called but not allowed: {called - allowed}; allowed but not called: {allowed - called}"
    )


# ----------------------------------------------------------------------------------------------
# Every job stays within the service registry (remedy/services)
# ----------------------------------------------------------------------------------------------


@jobs
def test_resource_type_names_a_registered_service(job_dir: Path) -> None:
    meta = metadata(job_dir)
    owner = services.service_for_resource_type(meta["resource_type"])
    assert owner is not None, f"{meta['resource_type']}: no service in remedy/services owns it"
    assert meta["resource_type"] in owner.resource_types, (
        f"{meta['resource_type']}: list it in service {owner.name}'s resource_types"
    )
    assert owner.provider == meta["provider"]


def policy_actions(job_dir: Path) -> list[str]:
    if metadata(job_dir)["provider"] == "azure":
        return azure_role_actions(job_dir)
    policy = json.loads((job_dir / "minimum_policy.json").read_text())
    return [a for statement in policy["Statement"] for a in statement["Action"]]


def registered_actions(provider: str) -> dict[str, set[str]]:
    """action -> the registered services of a provider that may need it.

    AWS: every operation of the service's API model, spelled by its permission map; Azure: the
    permission map itself and its poll action (Azure actions follow no rule)."""
    found: dict[str, set[str]] = {}
    for service in services.registered(provider):
        if provider == "aws":
            actions = {service.action(op) for op in operations(service.name).values()}
            actions |= {a for implied in service.implied.values() for a in implied}
        else:
            actions = set(service.permissions.values()) | {service.long_running}
        for action in actions:
            if action:
                found.setdefault(action, set()).add(service.name)
    return found


@jobs
def test_every_policy_action_belongs_to_a_registered_service(job_dir: Path) -> None:
    known = registered_actions(metadata(job_dir)["provider"])
    strangers = [a for a in policy_actions(job_dir) if a not in known]
    assert not strangers, f"no service in remedy/services needs {strangers}: register it"


# ----------------------------------------------------------------------------------------------
# Coverage: every AWS rule of the open VSS catalogue and every `must` Security Hub control has a job
# ----------------------------------------------------------------------------------------------


def catalogue_jobs() -> list[Any]:
    from remedy.coverage import CatalogueJob
    from remedy.job_registry import discover

    registry = discover(JOBS_DIR)
    return [
        CatalogueJob(j.name, j.provider, j.rules, j.controls, j.alias_of, j.modes)
        for j in registry.jobs.values()
    ]


def test_every_vss_rule_and_must_control_has_a_job() -> None:
    """The catalogues' bar (issues #12 and #15): `remedy jobs coverage` lists every rule of the
    open VSS catalogue (AWS and Azure) and every `must` Security Hub control as covered."""
    if JOBS_DIR != ROOT / "jobs":
        return  # a scaffolded catalogue elsewhere is held to its own conventions only
    from remedy import coverage as cov

    jobs = catalogue_jobs()
    rules, controls = cov.read_rules(RULES_CSV), cov.read_controls(CONTROLS_CSV)
    vss = cov.coverage(jobs, rules, controls, "vss")
    missing = [f"{i.provider} {i.id}" for i in vss.missing()]
    assert not missing, f"rules of {RULES_CSV.name} no job fixes: {missing}"
    fsbp = cov.coverage(jobs, rules, controls, "fsbp")
    assert not fsbp.missing("must"), f"must controls no job answers to: {fsbp.missing('must')}"
    cis = cov.coverage(jobs, rules, controls, "cis-1.2")
    assert not cis.missing("must"), f"CIS 1.2 items no job answers to: {cis.missing('must')}"
    # every job behind a covered item can plan, verify and roll back (or says why it cannot)
    modes = {j.name: set(j.modes) for j in jobs}
    for item in [*vss.items, *fsbp.items]:
        for name in item.jobs:
            assert {"plan", "verify"} <= modes[name], (item.id, name, modes[name])
