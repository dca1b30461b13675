"""What the Azure emulator answers, before it goes on the wire: a status, a JSON body, headers.

Entra ID, Resource Manager and long-running operations build these without knowing about HTTP;
sandbox/arm_server.py writes them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Response:
    status: int
    body: Any = None  # None: no body at all (202, 204)
    headers: dict[str, str] = field(default_factory=dict)
