"""Where the Temporal UI is, for the links the command line prints.

TEMPORAL_UI_URL when it is set; else the UI that `remedy dev-server` / `remedy up` started for
this Temporal address (they note it here while they run, since their `--ui-port` may be any
port); else the dev server's default, http://127.0.0.1:8233.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from remedy.config import TemporalSettings


def _notes() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "remedy" / "temporal-ui.json"


def _read() -> dict[str, str]:
    try:
        found = json.loads(_notes().read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _write(notes: dict[str, str]) -> None:
    path = _notes()
    with contextlib.suppress(OSError):  # a link that says 8233 is no reason to fail a start
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(notes, indent=1))


def note_ui(address: str, ui_url: str) -> None:
    """A dev server on `address` serves its UI at `ui_url` (until `forget_ui`)."""
    _write({**_read(), address: ui_url})


def forget_ui(address: str) -> None:
    notes = _read()
    if notes.pop(address, None) is not None:
        _write(notes)


def ui_base(settings: TemporalSettings) -> str:
    """The UI's base URL for the Temporal that `settings` names."""
    if "ui_url" in settings.model_fields_set:  # TEMPORAL_UI_URL, or given in code
        return settings.ui_url.rstrip("/")
    return _read().get(settings.address, settings.ui_url).rstrip("/")


def ui_link(settings: TemporalSettings, run_id: str) -> str:
    return f"{ui_base(settings)}/namespaces/{settings.namespace}/workflows/{run_id}"
