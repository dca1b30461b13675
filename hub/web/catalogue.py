"""The catalogue: which rules and controls the built-in jobs cover, by standard (the data of
`remedy jobs coverage`, remedy/coverage.py)."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub.errors import ApiError
from hub.web.catalogue_jobs import SPEC_DIR, catalogue_jobs
from hub.web.render import render
from hub.web.session import PageUser
from remedy import coverage as cov

router = APIRouter(prefix="/ui", include_in_schema=False)

SHOWN = ("vss", "fsbp", "cis-1.2", "cis-1.4", "cis-3.0", "pci", "prowler")


@cache
def standards() -> tuple[cov.Standard, ...]:
    rules = cov.read_rules(SPEC_DIR / "catalogue-rules.csv")
    controls = cov.read_controls(SPEC_DIR / "security-hub-controls.csv")
    jobs = catalogue_jobs()
    return tuple(cov.coverage(jobs, rules, controls, name) for name in SHOWN)


@router.get("/catalogue")
def catalogue_page(request: Request, user: PageUser, standard: str | None = None) -> HTMLResponse:
    try:
        found = standards()
    except OSError as exc:  # an installed hub without the repository's docs/spec
        raise ApiError(
            503,
            f"the catalogue's reference lists are not here ({exc.filename})",
            "run the hub from a checkout of the repository (docs/spec holds them)",
        ) from None
    chosen = next((s for s in found if s.name == standard), None)
    return render(request, "catalogue.html", user, standards=found, chosen=chosen)
