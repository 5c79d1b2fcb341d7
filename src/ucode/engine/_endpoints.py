"""Your functions as HTTP endpoints: ``METHOD /path/{param}`` -> a stored function, from flags or a file.

Rule: parsing and argument building only (no HTTP server here). A request's arguments are, by name: the
path parameters (typed by their converter: ``{user_id:int}``), the query parameters (a value that parses
as JSON is that value, ``?n=3`` is 3; else the text), and the JSON body's keys, or the whole body as one
parameter when the endpoint says ``body: PARAM``. The same name from two places is a 400.

Flag form (``ucode serve --endpoint``): ``'GET /users/{user_id:int}=lookupUser'``, ``'POST /handle=
handleRequest@v2'``. File form (``--config serve.yaml``)::

    endpoints:
      GET /users/{user_id:int}: lookupUser
      POST /handle:
        function: handleRequest
        body: request        # the JSON body is this parameter (default: its keys are keyword arguments)
        version: v2          # optional: a version other than the store's default
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ucode.errors import EndpointConfigError, InvalidRequestError

__all__ = ["METHODS", "Endpoint", "arguments", "load_file", "parse_spec"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PATH = re.compile(r"^/[A-Za-z0-9_\-./{}:~]*$")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(str|int|float|path|uuid))?\}")
_FIELDS = ("function", "version", "body")


@dataclass(frozen=True)
class Endpoint:
    """One mapping: ``method path`` runs ``function`` (in ``version``), with the JSON body as keyword
    arguments or, with ``body``, as that one parameter. ``where`` says where it was written."""

    method: str
    path: str
    function: str
    version: str | None = None
    body: str | None = None
    where: str = "--endpoint"

    @property
    def params(self) -> list[str]:
        return [m.group(1) for m in _PARAM.finditer(self.path)]

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "function": self.function, "version": self.version,
                "body": self.body}


def _check(method: str, path: str, function: str, where: str, version: str | None = None,
           body: str | None = None) -> Endpoint:
    method = method.upper()
    if method not in METHODS:
        raise EndpointConfigError(where, f"unknown method {method!r} (one of {', '.join(METHODS)})")
    if not _PATH.match(path) or path.count("{") != path.count("}"):
        raise EndpointConfigError(where, f"{path!r} is not a path like /users/{{user_id:int}}")
    if path == "/v1" or path.startswith("/v1/"):
        raise EndpointConfigError(where, f"{path!r} is under /v1/, which is the engine's own API",
                                  hint="serve your functions under another prefix, e.g. /app/...")
    stripped = _PARAM.sub("", path)
    if "{" in stripped or "}" in stripped:
        raise EndpointConfigError(where, f"{path!r} has a parameter that is not {{name}} or {{name:int}} "
                                         "(converters: str, int, float, path, uuid)")
    names = [m.group(1) for m in _PARAM.finditer(path)]
    if len(set(names)) != len(names):
        raise EndpointConfigError(where, f"{path!r} names a parameter twice")
    if not function or "=" in function or " " in function:
        raise EndpointConfigError(where, f"{function!r} is not a function name")
    if "@" in function and version is None:
        function, _, version = function.partition("@")
    if body is not None and (not body.isidentifier() or body in names):
        raise EndpointConfigError(where, f"body: {body!r} must be a parameter name other than the path's")
    return Endpoint(method, path, function, version or None, body, where)


def parse_spec(text: str, where: str = "--endpoint") -> Endpoint:
    """``'METHOD /path=function[@version]'``."""
    head, sep, function = text.rpartition("=")
    parts = head.split()
    if not sep or len(parts) != 2:
        raise EndpointConfigError(f"{where} {text!r}", "expected 'METHOD /path=function'")
    return _check(parts[0], parts[1], function.strip(), f"{where} {text!r}")


def load_file(path: Path) -> list[Endpoint]:
    """The ``endpoints:`` of a YAML (or JSON) file; every mistake names the file and the entry."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EndpointConfigError(str(path), f"cannot be read ({exc.strerror})", hint="check the path") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise EndpointConfigError(f"{path}{at}", f"not YAML ({getattr(exc, 'problem', None) or exc})",
                                  hint="check the indentation (spaces, no tabs)") from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), dict):
        raise EndpointConfigError(str(path), "expected a mapping `endpoints:` of 'METHOD /path' to a function")
    out: list[Endpoint] = []
    for key, value in data["endpoints"].items():
        where = f"{path}: {key!r}"
        parts = str(key).split()
        if len(parts) != 2:
            raise EndpointConfigError(where, "expected a key 'METHOD /path'")
        if isinstance(value, str):
            out.append(_check(parts[0], parts[1], value, where))
            continue
        if not isinstance(value, dict) or not isinstance(value.get("function"), str):
            raise EndpointConfigError(where, "expected a function name, or a mapping with `function:`")
        unknown = sorted(set(value) - set(_FIELDS))
        if unknown:
            raise EndpointConfigError(where, f"unknown setting {unknown[0]!r} (known: {', '.join(_FIELDS)})")
        version, body = value.get("version"), value.get("body")
        out.append(_check(parts[0], parts[1], value["function"], where,
                          str(version) if version is not None else None, str(body) if body is not None else None))
    return out


def _query_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def arguments(endpoint: Endpoint, path_params: dict[str, Any], query: list[tuple[str, str]],
              body: Any) -> dict[str, Any]:
    """The keyword arguments of a request to ``endpoint`` (see the module doc). ``body`` is the parsed
    JSON body, or None when there is none."""
    kwargs: dict[str, Any] = dict(path_params)

    def put(name: str, value: Any, source: str) -> None:
        if name in kwargs:
            raise InvalidRequestError(f"the argument {name!r} is given twice (in the {source}, and before it in the "
                                      "path or the query)", hint="give each argument once")
        kwargs[name] = value

    for k, v in query:
        put(k, _query_value(v), "query")
    if body is None:
        return kwargs
    if endpoint.body is not None:
        put(endpoint.body, body, "body")
    elif isinstance(body, dict):
        for k, v in body.items():
            put(str(k), v, "body")
    else:
        raise InvalidRequestError(
            f"the body of {endpoint.method} {endpoint.path} is a JSON {type(body).__name__}, not an object of "
            "keyword arguments", hint=f"send an object, or map the whole body to one parameter: `body: PARAM` "
                                      f"in the endpoint's config ({endpoint.where})")
    return kwargs
