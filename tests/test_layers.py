"""The layering holds: import-linter checks the contracts in pyproject.toml ([tool.importlinter]).

console > hub | worker > workflows | activities > remedy (core and the jobs' kit); the sandbox is
imported by the console only, and imports only the core contracts. A function-local import counts like any
other, so a cycle cannot hide in one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout
