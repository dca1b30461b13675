"""Make the screenshots of the hub's pages in docs/screenshots/ from the real pages.

The browser tests (tests/test_web_pages.py) drive the real stack (the hub served over HTTP, the
Temporal dev server, a hub-linked worker, the sandbox cloud, Chromium); with REMEDY_SCREENSHOTS
set they save each page they reach as a PNG. This runs them so:

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out = parser.parse_args().out.resolve()
    env = {**os.environ, "REMEDY_SCREENSHOTS": str(out), "REMEDY_REQUIRE_BROWSER": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-n", "0", "tests/test_web_pages.py"]
    done = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    if done == 0:
        print(f"screenshots in {out}: {', '.join(sorted(p.name for p in out.glob('*.png')))}")
    return done


if __name__ == "__main__":
    sys.exit(main())
