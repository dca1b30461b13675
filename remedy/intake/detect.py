"""Which format a document is in, and the findings it holds.

A document may be one finding (ASFF, OCSF or VSS), a list of them (Prowler's `json-ocsf` output,
a JSON-lines file read as a list), Security Hub's `{"Findings": [...]}` (GetFindings, exports; the
lower-case `findings` too, which is also the hub's own batch wrapper), or an EventBridge event
`Security Hub Findings - Imported` / `- Custom Action` carrying `detail.findings`. Each finding is
detected on its own, so a list may mix formats; `forced` reads every one as that format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from remedy.intake.asff import is_asff
from remedy.intake.asff import read as read_asff
from remedy.intake.normalised import FORMATS, Format, NormalisedFinding
from remedy.intake.ocsf import is_ocsf
from remedy.intake.ocsf import read as read_ocsf
from remedy.intake.vss import is_vss
from remedy.intake.vss import read as read_vss
from remedy.payload_shape import PayloadError

_FORMATS_READ = (
    "Remedy reads ASFF (SchemaVersion, AwsAccountId), OCSF (class_uid 2003/2004, finding_info) "
    "and VSS payloads (notificationInfo)"
)
EVENT_TYPES = ("Security Hub Findings - Imported", "Security Hub Findings - Custom Action")
READERS: dict[Format, Callable[[dict[str, Any]], NormalisedFinding]] = {
    "asff": read_asff,
    "ocsf": read_ocsf,
    "vss": read_vss,
}


@dataclass(frozen=True)
class Read:
    """One finding of a document: read (`finding`), or refused (`error`, naming the field)."""

    index: int
    document: Any
    format: Format | None
    finding: NormalisedFinding | None = None
    error: PayloadError | None = None

    @property
    def stated_id(self) -> str | None:
        """The finding's id as the document states it, for reporting a refused one."""
        if self.finding is not None:
            return self.finding.source_id
        doc = self.document if isinstance(self.document, dict) else {}
        for value in (
            doc.get("Id"),
            (doc.get("finding_info") or {}).get("uid")
            if isinstance(doc.get("finding_info"), dict)
            else None,
            ((doc.get("notificationInfo") or {}).get("FindingInfo") or {}).get("FindingId")
            if isinstance(doc.get("notificationInfo"), dict)
            else None,
        ):
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)[:200]
        return None


def format_of(document: Any) -> Format | None:
    if not isinstance(document, dict):
        return None
    if is_asff(document):
        return "asff"
    if is_ocsf(document):
        return "ocsf"
    if is_vss(document):
        return "vss"
    return None


def is_batch(document: Any) -> bool:
    """A wrapper or list of findings rather than one finding."""
    return isinstance(document, list) or (
        isinstance(document, dict) and _inner(document) is not None
    )


def _inner(document: dict[str, Any]) -> Any:
    if document.get("detail-type") in EVENT_TYPES and isinstance(document.get("detail"), dict):
        return document["detail"].get("findings")
    for key in ("Findings", "findings"):
        if key in document and format_of(document) is None:
            return document[key]
    return None


def documents(document: Any) -> Iterator[Any]:
    """The finding documents inside `document`, wrappers opened (one level inside a list too)."""
    if isinstance(document, list):
        for item in document:
            if isinstance(item, dict) and _inner(item) is not None:
                yield from documents(item)
            else:
                yield item
        return
    if isinstance(document, dict):
        inner = _inner(document)
        if inner is not None:
            if not isinstance(inner, list):
                raise PayloadError("findings", "must be a list of findings")
            yield from inner
            return
    yield document


def read_one(index: int, document: Any, forced: Format | None = None) -> Read:
    """Read one finding document. One that is no known format is read as a VSS payload, as
    before intake knew other formats, so its error names the VSS field that is missing."""
    if not isinstance(document, dict):
        problem = f"a finding is a JSON object, not {type(document).__name__}"
        return Read(index, document, forced, error=PayloadError("", problem))
    detected = forced or format_of(document)
    try:
        return Read(index, document, detected, finding=READERS[detected or "vss"](document))
    except PayloadError as exc:
        if detected is None and exc.field == "notificationInfo":
            exc = PayloadError(exc.field, exc.problem + f" ({_FORMATS_READ})")
        return Read(index, document, detected, error=exc)


def read_all(document: Any, forced: str | None = None) -> list[Read]:
    """Every finding in `document`, each read or refused on its own."""
    if forced is not None and forced not in FORMATS:
        raise PayloadError("format", f"must be one of {', '.join(FORMATS)}, not {forced!r}")
    fixed = next((f for f in FORMATS if f == forced), None)
    return [read_one(i, doc, fixed) for i, doc in enumerate(documents(document))]
