"""The OpenAPI description of the engine's API (``GET /v1/openapi.json``), made from the endpoint table
(:data:`ucode.engine._http.API`, passed in) and each handler's docstring, so it cannot drift from what is
served.

Rule: a pure function of the table and the user's endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ucode.engine._endpoints import Endpoint

__all__ = ["document"]

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "hint": {"type": ["string", "null"]}},
          "required": ["error"]}
_RUN = {"type": "object", "properties": {"task": {"type": "string"}, "result": {}, "error": {"type": "object"}},
        "required": ["task"]}
_RUN_BODY = {"type": "object", "properties": {
    "args": {"type": "array"}, "kwargs": {"type": "object"}, "version": {"type": "string"},
    "durability": {"enum": ["durable", "batched", "off"]}, "wait": {"type": "boolean", "default": True}}}
_STATUSES = {
    "200": "the command's --json output", "400": "bad input (the CLI's message)", "401": "no or wrong token",
    "404": "no such name, task, version, route or divergence", "409": "a conflict (the CLI's message)",
    "413": "the body is larger than --max-body", "503": "the engine is full or stopping (Retry-After)",
}


def _summary(doc: str | None) -> tuple[str, str]:
    text = " ".join((doc or "").split())
    first = text.split(". ")[0].rstrip(".")
    return first, text


def _params(path: str) -> list[dict[str, Any]]:
    out = []
    for m in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}", path):
        kind = {"int": "integer", "float": "number"}.get(m.group(2) or "", "string")
        out.append({"name": m.group(1), "in": "path", "required": True, "schema": {"type": kind}})
    return out


def document(api: Sequence[tuple[str, str, bool, Any]], endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The description of the endpoints ``api`` (method, path, needs the token, handler) and ``endpoints``."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, needs_token, handler in api:
        summary, description = _summary(handler.__doc__)
        op: dict[str, Any] = {
            "operationId": handler.__name__, "summary": summary, "description": description,
            "parameters": _params(path),
            "responses": {code: {"description": what, "content": {"application/json": {
                "schema": _ERROR if code != "200" else {}}}} for code, what in _STATUSES.items()},
        }
        if path == "/v1/run/{name}":
            op["requestBody"] = {"content": {"application/json": {"schema": _RUN_BODY}}}
            op["responses"]["200"]["content"]["application/json"]["schema"] = _RUN
            op["responses"]["202"] = {"description": "\"wait\": false: the task is recorded and runs"}
            op["responses"]["500"] = {"description": "the stored code raised: the task and its error",
                                      "content": {"application/json": {"schema": _RUN}}}
        elif method in ("POST", "DELETE"):
            op["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
        if needs_token:
            op["security"] = [{"bearer": []}]
        paths.setdefault(re.sub(r"\{([A-Za-z_]+):[a-z]+\}", r"{\1}", path), {})[method.lower()] = op
    for ep in endpoints:
        op = {"operationId": f"user_{ep.function}", "summary": f"runs {ep.function}"
              + (f"@{ep.version}" if ep.version else ""), "parameters": _params(ep.path),
              "responses": {"200": {"description": "the function's result, as JSON"},
                            "500": {"description": "the function raised", "content": {
                                "application/json": {"schema": _RUN}}}},
              "tags": ["your functions"]}
        paths.setdefault(re.sub(r"\{([A-Za-z_]+):[a-z]+\}", r"{\1}", ep.path), {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "ucode engine", "version": "1",
                 "description": "The engine's API: every endpoint calls the Codebase method the CLI command "
                                "calls and answers its --json output. See docs/engine.md."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                       "description": "`ucode engine token` prints it"}}},
    }
