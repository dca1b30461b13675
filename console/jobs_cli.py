"""`remedy jobs ...`: list the jobs a worker would register, run one locally in a mode, run its
own tests against the sandbox, scaffold a new one, and keep the generated tables of the job
READMEs in step with their metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from console.cli_output import console, err, fail
from remedy.config import worker_settings
from remedy.logs import setup_logging

jobs_app = typer.Typer(
    help="The job catalogue: list, run, test, scaffold, document.", no_args_is_help=True
)

JobCode = Annotated[
    Path | None,
    typer.Option(
        "--job-code",
        help="Job-code directory (one folder "
        "per job). Default: REMEDY_JOB_CODE, else the built-in jobs/.",
    ),
]


@jobs_app.command("list")
def jobs_list(
    job_code: JobCode = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """List the jobs in the job-code directory: name, provider, checksum, rules fixed."""
    from remedy.job_registry import discover

    setup_logging("WARNING")
    registry = discover(job_code or worker_settings().job_code)
    if as_json:
        print(json.dumps([info.model_dump(mode="json") for info in registry.infos()], indent=2))
        return
    table = Table("job", "provider", "alias of", "checksum", "rules")
    for info in registry.infos():
        table.add_row(
            info.name,
            info.provider or "?",
            info.alias_of or "",
            info.checksum[:12],
            ", ".join(info.rules),
        )
    console.print(table)
    for problem in registry.errors:
        err.print(f"[red]not registered:[/red] {problem}")


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="The job (or alias) to run.")],
    payload: Annotated[Path, typer.Option("--payload", help="The finding payload (JSON file).")],
    mode: Annotated[
        str, typer.Option(help="remediate, plan (change nothing), verify or rollback.")
    ] = "remediate",
    records: Annotated[
        Path | None,
        typer.Option(
            "--records",
            help="rollback: the change records (a JSON list, or a job's output with RECORD lines).",
        ),
    ] = None,
    records_out: Annotated[
        Path | None,
        typer.Option("--records-out", help="Write the RECORD lines the job prints (JSON list)."),
    ] = None,
    job_code: JobCode = None,
) -> None:
    """Run one job here, in one mode, with this shell's credentials (the configured account, or
    the sandbox's): for people writing jobs. Exits with the job's exit code."""
    from console.job_run import CannotRun, run_job
    from remedy.job_registry import ParameterError, UnknownJobError, discover
    from remedy.jobkit.modes import RecordError
    from remedy.payload_shape import PayloadError, parse_json

    setup_logging("WARNING")
    registry = discover(job_code or worker_settings().job_code)
    try:
        job = registry.get(name)
        document = parse_json(payload.read_text(encoding="utf-8"))
        text = records.read_text(encoding="utf-8") if records is not None else None
        code = run_job(job, document, mode, text, records_out)
    except (UnknownJobError, CannotRun, RecordError, ParameterError, OSError) as exc:
        raise fail(str(exc), code=2) from None
    except PayloadError as exc:
        raise fail(f"{payload}: {exc.sentence()}", code=2) from None
    raise typer.Exit(code)


@jobs_app.command(
    "test", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def jobs_test(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The job (or alias) whose tests to run.")],
    job_code: JobCode = None,
) -> None:
    """Run a job's own tests with pytest against the sandbox cloud: for people writing jobs.

    The tests: test_*.py files in the job's folder, a tests/ folder in it, and
    tests/test_job_NAME.py beside the job-code directory (where `remedy jobs new` writes one).
    The sandbox: the one the environment names (AWS_ENDPOINT_URL, e.g. after
    `source .remedy/sandbox.env`), else one started for the run and stopped after it; its
    endpoints and administrator keys are in the tests' environment, with REMEDY_JOB,
    REMEDY_JOB_FOLDER and REMEDY_JOB_CODE. Arguments after the name go to pytest
    (`remedy jobs test NAME -- -k refuses -x`). Exits with pytest's exit code; 2 for an unknown
    job, 5 when the job has no tests.
    """
    from console.job_tests import (
        NoSuchJob,
        NoTests,
        find_job,
        pytest_missing,
        run_tests,
        sandbox_environment,
        tests_of,
    )
    from remedy.job_registry import discover

    setup_logging("WARNING")
    registry = discover(job_code or worker_settings().job_code)
    try:
        job = find_job(registry, name)
        paths = tests_of(registry, job)
    except NoSuchJob as exc:
        raise fail(str(exc), code=2) from None
    except NoTests as exc:
        raise fail(str(exc), code=5) from None
    missing = pytest_missing()
    if missing:
        raise fail(missing, code=2)
    err.print(f"job {job.name}: {', '.join(str(p) for p in paths)}", highlight=False)
    with sandbox_environment(lambda line: err.print(line, highlight=False)) as env:
        code = run_tests(registry, job, paths, env, list(ctx.args))
    raise typer.Exit(code)


@jobs_app.command("new")
def jobs_new(
    name: Annotated[str, typer.Argument(help="The job's name: its folder and entry point.")],
    provider: Annotated[str, typer.Option(help="aws or azure.")],
    service: Annotated[
        str, typer.Option(help="A registered service (remedy/services), e.g. ec2, s3, network.")
    ],
    rule: Annotated[
        list[str],
        typer.Option("--rule", help="A rule or control id the job fixes (repeat for more)."),
    ],
    resource_type: Annotated[
        str | None,
        typer.Option(help="The resource type (default: the service's first listed one)."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="One line: what it fixes.")] = None,
    jobs_dir: Annotated[Path, typer.Option(help="Where job folders live.")] = Path("jobs"),
    tests_dir: Annotated[Path, typer.Option(help="Where its test goes.")] = Path("tests"),
) -> None:
    """Scaffold a job folder (entry point, verify.py, remedy.json, least-privilege policy,
    README with generated tables) and its test; it passes the catalogue meta-test as made."""
    from console.scaffold import ScaffoldError, scaffold

    try:
        made = scaffold(
            jobs_dir,
            tests_dir,
            name,
            provider=provider,
            service=service,
            rules=rule,
            resource_type=resource_type,
            description=description,
        )
    except ScaffoldError as exc:
        raise fail(str(exc), code=2) from None
    for path in made:
        console.print(f"wrote {path}")
    console.print("next: fill in the TODOs, then `remedy jobs readme` and `make test`")


@jobs_app.command("readme")
def jobs_readme(
    jobs_dir: Annotated[Path, typer.Option(help="Where job folders live.")] = Path("jobs"),
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if a README is stale.")
    ] = False,
) -> None:
    """Rewrite the rule and parameter tables of every job README from its remedy.json."""
    from console.job_docs import stale_readmes, write_readmes

    if check:
        stale = stale_readmes(jobs_dir)
        for readme in stale:
            err.print(f"stale: {readme} (run `remedy jobs readme`)")
        raise typer.Exit(1 if stale else 0)
    written = write_readmes(jobs_dir)
    for readme in written:
        console.print(f"wrote {readme}")
    console.print(f"{len(written)} README(s) rewritten")


SPEC_DIR = Path(__file__).resolve().parent.parent / "docs" / "spec"


@jobs_app.command("coverage")
def jobs_coverage(
    standard: Annotated[
        list[str] | None,
        typer.Option(
            "--standard",
            help="vss, fsbp (Security Hub's consolidated controls), cis-1.2, cis-1.4, cis-3.0, "
            "pci or prowler; repeat for more. Default: vss, fsbp and cis-1.2.",
        ),
    ] = None,
    provider: Annotated[
        str | None, typer.Option(help="Only the rules of one provider (aws or azure).")
    ] = None,
    missing: Annotated[
        bool, typer.Option("--missing", help="List only what no job covers.")
    ] = False,
    job_code: JobCode = None,
    spec_dir: Annotated[
        Path, typer.Option(help="Where catalogue-rules.csv and security-hub-controls.csv are.")
    ] = SPEC_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Which rules and controls the job catalogue covers, by which job or alias, and which not."""
    from remedy import coverage as cov
    from remedy.job_registry import discover

    setup_logging("WARNING")
    chosen = standard or ["vss", "fsbp", "cis-1.2"]
    unknown = [s for s in chosen if s not in cov.STANDARDS]
    if unknown:
        raise fail(f"unknown standard {', '.join(unknown)}: use {', '.join(cov.STANDARDS)}")
    try:
        rules = cov.read_rules(spec_dir / "catalogue-rules.csv")
        controls = cov.read_controls(spec_dir / "security-hub-controls.csv")
    except OSError as exc:
        raise fail(f"cannot read the reference lists in {spec_dir}: {exc.strerror}") from None
    registry = discover(job_code or worker_settings().job_code)
    jobs = [
        cov.CatalogueJob(j.name, j.provider, j.rules, j.controls, j.alias_of, j.modes)
        for j in registry.jobs.values()
    ]
    modes = {j.name: j.modes for j in jobs}
    found = [cov.coverage(jobs, rules, controls, name) for name in chosen]
    for one in found:
        if provider is not None:
            one.items = [i for i in one.items if i.provider == provider]
    if as_json:
        print(json.dumps([one.as_dict(modes) for one in found], indent=2))
        return
    for one in found:
        reference = f"of {one.reference}" if one.reference else "(the ids the jobs name)"
        console.print(
            f"[bold]{one.name}[/bold]: {one.covered} of {len(one.items)} covered {reference}",
            highlight=False,
        )
        for item in one.items:
            if missing and item.covered:
                continue
            who = ", ".join(item.jobs) if item.jobs else "NOT COVERED"
            priority = f" [{item.priority}]" if item.priority else ""
            title = f"  ({item.title})" if item.title else ""
            print(f"  {item.id}{priority}  {who}{title}")
