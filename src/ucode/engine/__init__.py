"""The engine: ``ucode serve``, a long-running runtime over a store that runs your functions as tasks
behind an HTTP API, and swaps code under live traffic without dropping a request.

Rule: an adapter over :class:`~ucode.codebase.Codebase`, as the CLI is: every task runs through the
methods ``ucode run`` uses, every endpoint answers what its CLI command's ``--json`` prints. The parts:

=====================  ==============================================================================
:mod:`._core`          tasks in flight per snapshot, admission (503 when full), hot swap, purge, drain
:mod:`._http`          the API's endpoints (Starlette), the token, body limits, errors as JSON
:mod:`._endpoints`     your functions as ``METHOD /path/{param}`` endpoints (flags or a YAML file)
:mod:`._openapi`       the API's OpenAPI description, made from the endpoint table
:mod:`._serve`         the process: socket, recovery at start, graceful stop (uvicorn)
:mod:`._client`        what ``ucode engine status`` / ``purge`` send to a running engine (httpx)
=====================  ==============================================================================

Starlette and uvicorn are imported by this package only, and only when an engine starts: ``ucode run``
never imports them. docs/engine.md is the user's guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ucode.engine._client import engine_request, engine_status
    from ucode.engine._core import COUNTERS, Engine
    from ucode.engine._endpoints import Endpoint, load_file, parse_spec
    from ucode.engine._http import API, Settings, make_app
    from ucode.engine._serve import is_loopback, serve

_LAZY = {
    **dict.fromkeys(("engine_request", "engine_status"), "ucode.engine._client"),
    **dict.fromkeys(("COUNTERS", "Engine"), "ucode.engine._core"),
    **dict.fromkeys(("Endpoint", "load_file", "parse_spec"), "ucode.engine._endpoints"),
    **dict.fromkeys(("API", "Settings", "make_app"), "ucode.engine._http"),
    **dict.fromkeys(("is_loopback", "serve"), "ucode.engine._serve"),
}

__all__ = ["API", "COUNTERS", "Endpoint", "Engine", "Settings", "engine_request", "engine_status", "is_loopback",
           "load_file", "make_app", "parse_spec", "serve"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ucode.engine' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
