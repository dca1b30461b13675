"""moto's state dump (`/moto-api/data.json`), kept answering whatever the sandbox holds.

The secret sweep (console/secret_sweep.py) reads every credential moto issued from that dump.
moto 5.x builds it by reading every public attribute of every model and skips only TypeError,
AttributeError and ValueError; a Lambda function's `docker_client` attribute connects to Docker,
which this machine does not run, so the dump answered 500 once the catalogue's Lambda job had made
a function. The patched dump skips an attribute that raises anything, as it skips one that does
not serialise. Installed by sandbox/moto_server.py.
"""

from __future__ import annotations

import json
from typing import Any

from moto.moto_api._internal.responses import MotoAPIResponse


def _readable(instance: Any) -> dict[str, Any]:
    found = {}
    for attr in dir(instance):
        if attr.startswith("_"):
            continue
        try:
            value = getattr(instance, attr)
            json.dumps(value)
        except Exception:
            continue
        found[attr] = value
    return found


def model_data(self: MotoAPIResponse, request: Any, full_url: str, headers: Any) -> Any:
    from moto.core.model_instances import model_data as tracked

    results: dict[str, dict[str, list[Any]]] = {}
    for service in sorted(tracked):
        models = tracked[service]
        results[service] = {
            name: [_readable(i) for i in models[name].instances_tracked]  # type: ignore[attr-defined]
            for name in sorted(models)
        }
    return 200, {"Content-Type": "application/javascript"}, json.dumps(results)


def install() -> None:
    MotoAPIResponse.model_data = model_data  # type: ignore[method-assign]
