"""The HTTP API: a thin adapter over ``Codebase`` and :class:`~ucode.engine.Engine` (Starlette).

Rule: each endpoint reads its parameters, calls the one ``Codebase`` (or engine) method the CLI command
calls, and answers the JSON that command's ``--json`` prints (:mod:`ucode.present`). A
:class:`~ucode.errors.UcodeError` is answered with its ``http_status`` and ``{"error": ..., "hint": ...}``,
the CLI's ``--json`` error, with the same message. Nothing else decides anything here: which endpoints
need the token is the table :data:`API`'s third column.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ucode.codebase import Codebase
from ucode.engine._core import Engine
from ucode.engine._endpoints import Endpoint, arguments
from ucode.errors import (
    EngineError,
    InvalidRequestError,
    RequestTooLargeError,
    TaskCutOffError,
    UcodeError,
    UnauthorizedError,
)
from ucode.present import dicts, failure_json, failure_lines, jsonable, route_json

__all__ = ["API", "Settings", "make_app"]

Handler = Callable[["Api", Request], Awaitable[Response]]


class Settings:
    """What the app needs besides the engine: the token (None: no token needed anywhere, a test), whether
    reads need it too (an engine listening beyond loopback), the body size limit."""

    def __init__(self, token: str | None, *, token_for_reads: bool = False, max_body: int = 1 << 20) -> None:
        self.token = token
        self.token_for_reads = token_for_reads
        self.max_body = max_body


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


def error_response(exc: UcodeError) -> JSONResponse:
    headers = {}
    retry = getattr(exc, "retry_after", None)
    if exc.http_status == 503 and retry is not None:
        headers["Retry-After"] = str(retry)
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ucode"'
    return _json({"error": exc.message, "hint": exc.hint}, exc.http_status, headers)


class Api:
    """The endpoints' shared parts: the codebase, the engine, the settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.cb: Codebase = engine.cb
        self.settings = settings
        self.isolation = asyncio.Semaphore(2)  # replays and resumes in processes of their own, two at a time

    # ---------------------------------------------------------------------------- plumbing

    def authorize(self, request: Request, needs_token: bool) -> None:
        token = self.settings.token
        if token is None or not (needs_token or self.settings.token_for_reads):
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if not given:
            raise UnauthorizedError("no Authorization header")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise UnauthorizedError("the token is not the engine's")

    async def body(self, request: Request) -> Any:
        """The JSON body (None when there is none), read up to the size limit."""
        limit = self.settings.max_body
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestTooLargeError(int(declared), limit)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestTooLargeError(size, limit)
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            where = f" ({exc.msg} at line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) \
                else ""
            raise InvalidRequestError(f"the request body is not JSON{where}",
                                      hint="send a JSON object, e.g. {\"args\": [1]}") from None

    async def obj(self, request: Request) -> dict[str, Any]:
        body = await self.body(request)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise InvalidRequestError(f"the request body is a JSON {type(body).__name__}, not an object",
                                      hint="send a JSON object of the endpoint's fields")
        return body

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kwargs)

    async def changed(self) -> None:
        """After an endpoint changed the names: the engine notes the change now, off the event loop."""
        await run_in_threadpool(self.engine.check)

    async def run(self, name: str, args: list[Any], kwargs: dict[str, Any], version: str | None,
                  durability: str | None = None) -> JSONResponse:
        """A run's answer: ``{"task", "result"}`` (200), or the failure (500) as ``ucode run --json`` has it."""
        started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        job = asyncio.ensure_future(self.engine.run(name, args, kwargs, version=version, durability=durability,
                                                    announce=started))
        try:
            run = await self.engine.until_cutoff(job)
        except TaskCutOffError:  # the drain deadline passed first: the task goes on, its request is answered
            tid = started.result() if started.done() and not started.exception() else None
            exc = TaskCutOffError(tid)
            return _json({"task": tid, "error": {"type": type(exc).__name__, "message": exc.message,
                                                 "hint": exc.hint}}, 503, {"Retry-After": "1"})
        self.engine.note_outcome(run)
        headers = {"X-Ucode-Task": run.id}
        if run.error is not None:
            if isinstance(run.error, UcodeError):
                return _json({"task": run.id, "error": {"type": type(run.error).__name__, "message": run.error.message,
                                                       "hint": run.error.hint}}, run.error.http_status, headers)
            lines = failure_lines(run.error, run.trace)
            return _json(failure_json(run.id, run.error, run.trace, lines), 500, headers)
        return _json({"task": run.id, "result": jsonable(run.result)}, 200, headers)


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None,
           required: bool = False) -> Any:
    if name not in body or body[name] is None:
        if required:
            raise InvalidRequestError(f"the request needs the field {name!r}")
        return default
    value = body[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidRequestError(f"the field {name!r} must be a {want}, not a {type(value).__name__}: {value!r}")
    return value


def _query_int(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise InvalidRequestError(f"the query parameter {name!r} must be a number, not {text!r}")
    return int(text)


# ------------------------------------------------------------------------------------- running

async def run_name(api: Api, request: Request) -> Response:
    """``POST /v1/run/{name}`` = ``ucode run NAME --json``; ``"wait": false`` answers 202 ``{"task"}`` once
    the task is recorded."""
    body = await api.obj(request)
    args = _field(body, "args", list, [])
    kwargs = _field(body, "kwargs", dict, {})
    version = _field(body, "version", str)
    durability = _field(body, "durability", str)
    name = request.path_params["name"]
    if _field(body, "wait", bool, True):
        return await api.run(name, args, kwargs, version, durability)
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def background() -> None:
        try:
            run = await api.engine.run(name, args, kwargs, version=version, durability=durability,
                                       announce=started)
            api.engine.note_outcome(run)
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)

    api.engine.background(background())
    task_id = await started
    return _json({"task": task_id}, 202, {"X-Ucode-Task": task_id, "Location": f"/v1/tasks/{task_id}"})


async def task_list(api: Api, request: Request) -> Response:
    """``GET /v1/tasks`` = ``ucode task list --json`` (query: status, name, failed, limit)."""
    q = request.query_params
    rows = await api.call(api.cb.task_list, failed=q.get("failed") in ("1", "true"), name=q.get("name"),
                          status=q.getlist("status") or None, limit=_query_int(request, "limit"))
    return _json(rows)


async def task_show(api: Api, request: Request) -> Response:
    """``GET /v1/tasks/{id}`` = ``ucode task show ID --json``."""
    view = await api.call(api.cb.task_view, request.path_params["id"])
    return _json(jsonable(view.to_dict()))


async def task_events(api: Api, request: Request) -> Response:
    """``GET /v1/tasks/{id}/events``: the task's recorded effects (as in ``task show --json``)."""
    task = await api.call(api.cb.task, request.path_params["id"])
    return _json(jsonable(await api.call(api.cb.task_events, task["id"])))


async def task_stream(api: Api, request: Request) -> Response:
    """``GET /v1/tasks/{id}/stream``: server-sent events, one per recorded effect as it lands, then one
    ``end`` event with the task's summary once it is no longer running."""
    task = await api.call(api.cb.task, request.path_params["id"])
    tid = task["id"]

    async def events() -> Any:
        sent = 0
        while True:
            row = await api.call(api.cb.task_summary, tid)  # first: no event of a finished task is missed
            evs = await api.call(api.cb.task_events, tid)
            for ev in evs[sent:]:
                yield f"event: effect\ndata: {json.dumps(jsonable(ev))}\n\n"
            sent = len(evs)
            if row["status"] != "running":
                yield f"event: end\ndata: {json.dumps(jsonable(row))}\n\n"
                return
            await asyncio.sleep(0.05)

    return StreamingResponse(events(), media_type="text/event-stream")


async def tasks_stream(api: Api, request: Request) -> Response:
    """``GET /v1/tasks/stream``: server-sent events, one ``task`` event (a ``task list`` row) each time a
    task starts or changes status, from now on (query: name). Until the client disconnects."""
    name = request.query_params.get("name")
    since = time.time()

    async def events() -> Any:
        seen: dict[str, str] = {}
        while not await request.is_disconnected():
            rows = await api.call(api.cb.task_list, name=name, since=since - 1.0, limit=500)
            for row in reversed(rows):  # oldest first
                if row["started"] >= since and seen.get(row["id"]) != row["status"]:
                    seen[row["id"]] = row["status"]
                    yield f"event: task\ndata: {json.dumps(jsonable(row))}\n\n"
            await asyncio.sleep(0.1)

    return StreamingResponse(events(), media_type="text/event-stream")


async def _isolated(api: Api, argv: list[str]) -> tuple[int, Any]:
    """``ucode ARGV --json`` on this store, in a process of its own: (exit status, what it printed).

    Replays and resumes run there, not in the engine: they run a task's old snapshot, whose modules the
    runtime puts in ``sys.modules`` for the duration (one snapshot at a time), which would hold every live
    task back until they end, and they would share the engine's GIL. A process costs ~0.3 s of start-up."""
    async with api.isolation:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from ucode.cli import main; main()", "--store", str(api.cb.path), *argv, "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
    try:
        return int(proc.returncode or 0), json.loads(out)
    except ValueError:
        last = (err.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise EngineError(f"`ucode {' '.join(argv)}` failed: {last}",
                          hint="run it in a terminal to see the whole error") from None


def _isolated_error(status: int, data: Any) -> JSONResponse:
    """What a replay or resume process answered with an error (a CLI ``--json`` error): 400 for bad input,
    503 for a store that cannot be used (exit status 2)."""
    return _json(data if isinstance(data, dict) else {"error": str(data), "hint": None}, 503 if status == 2 else 400)


async def task_replay(api: Api, request: Request) -> Response:
    """``POST /v1/tasks/{id}/replay`` with ``{"use": {"lookupUser": "v2"}}`` = ``ucode task replay ID
    --use lookupUser=v2 --json``, run in a process of its own (200 whether or not it diverged:
    ``identical`` says)."""
    body = await api.obj(request)
    use = _field(body, "use", dict, {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in use.items()):
        raise InvalidRequestError("`use` must map names to versions or #hashes (strings)")
    task = await api.call(api.cb.task, request.path_params["id"])  # no such task: a 404, as the CLI says
    status, data = await _isolated(api, ["task", "replay", str(task["id"]),
                                         *[a for k, v in use.items() for a in ("--use", f"{k}={v}")]])
    if status in (0, 3):  # 3: it diverged, which is an answer
        return _json(data)
    return _isolated_error(status, data)


async def task_resume(api: Api, request: Request) -> Response:
    """``POST /v1/tasks/{id}/resume`` = ``ucode task resume ID --json``, run in a process of its own."""
    task = await api.call(api.cb.task, request.path_params["id"])
    status, data = await _isolated(api, ["task", "resume", str(task["id"])])
    if status in (0, 1) and isinstance(data, dict) and "task" in data:
        api.engine.resumed(str(task["id"]))  # finished now (well or not): no longer interrupted
    if status == 0:
        return _json(data)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):  # the stored code raised
        return _json(data, 500)
    return _isolated_error(status, data)


# --------------------------------------------------------------------------------------- names

async def names(api: Api, request: Request) -> Response:
    """``GET /v1/names`` = ``ucode ls [PREFIX] --json`` (query: prefix, version)."""
    q = request.query_params
    return _json(dicts(await api.call(api.cb.ls, q.get("prefix"), version=q.get("version"))))


async def name_view(api: Api, request: Request) -> Response:
    """``GET /v1/names/{ref}`` = ``ucode view REF --json`` (query: version)."""
    v = await api.call(api.cb.view, request.path_params["ref"], version=request.query_params.get("version"))
    return _json(v.to_dict())


async def versions(api: Api, request: Request) -> Response:
    """``GET /v1/versions`` = ``ucode versions --json``."""
    return _json(dicts(await api.call(api.cb.versions)))


async def history(api: Api, request: Request) -> Response:
    """``GET /v1/history`` = ``ucode history [NAME] --json`` (query: name, limit)."""
    q = request.query_params
    return _json(dicts(await api.call(api.cb.history, q.get("name"), limit=_query_int(request, "limit"))))


async def bind(api: Api, request: Request) -> Response:
    """``POST /v1/bind`` with ``{"name", "target", "version"}`` = ``ucode bind NAME TARGET --json``."""
    body = await api.obj(request)
    events = await api.call(api.cb.bind, _field(body, "name", str, required=True),
                            _field(body, "target", str, required=True), version=_field(body, "version", str),
                            new=_field(body, "new", bool, False), create=_field(body, "create", bool, False))
    await api.changed()  # the next task runs the new code (it would anyway: this also pre-loads it)
    return _json(dicts(events))


async def undo(api: Api, request: Request) -> Response:
    """``POST /v1/undo`` = ``ucode undo --json``."""
    result = await api.call(api.cb.undo)
    await api.changed()
    return _json(result.to_dict())


# -------------------------------------------------------------------------------------- routes

async def routes(api: Api, request: Request) -> Response:
    """``GET /v1/routes`` = ``ucode route list --json``."""
    return _json(jsonable([v.to_dict() for v in await api.call(api.cb.routes)]))


async def route_show(api: Api, request: Request) -> Response:
    """``GET /v1/routes/{name}`` = ``ucode route show NAME --json``."""
    name = request.path_params["name"]
    view = await api.call(api.cb.route, name)
    rep = await api.call(api.cb.route_report, name)
    return _json(route_json(view.to_dict(), rep))


async def route_report(api: Api, request: Request) -> Response:
    """``GET /v1/routes/{name}/report`` = ``ucode route report NAME --json``."""
    return _json(jsonable(await api.call(api.cb.route_report, request.path_params["name"],
                                         limit=_query_int(request, "limit") or 5)))


async def route_set(api: Api, request: Request) -> Response:
    """``POST /v1/routes/{name}`` with ``{"mode": "shadow" | "percent" | "primary", ...}`` = ``ucode route
    shadow|percent|set ... --json``."""
    body = await api.obj(request)
    name = request.path_params["name"]
    mode = _field(body, "mode", str, required=True)
    cb = api.cb
    if mode == "shadow":
        change = await api.call(cb.route_shadow, name, _field(body, "candidate", str, required=True),
                                primary=_field(body, "primary", str), ignore=_field(body, "ignore", list, []),
                                reads=_field(body, "reads", str, "perform"))
    elif mode == "percent":
        change = await api.call(cb.route_percent, name, _field(body, "candidate", str, required=True),
                                float(_field(body, "percent", (int, float), required=True)),
                                key=_field(body, "key", str), primary=_field(body, "primary", str),
                                salt=_field(body, "salt", str))
    elif mode == "primary":
        change = await api.call(cb.route_primary, name, _field(body, "version", str, required=True))
    else:
        raise InvalidRequestError(f"unknown route mode {mode!r}", hint="one of shadow, percent, primary")
    await api.changed()
    return _json(jsonable(change.to_dict()))


async def route_clear(api: Api, request: Request) -> Response:
    """``DELETE /v1/routes/{name}`` = ``ucode route clear NAME --json``."""
    change = await api.call(api.cb.route_clear, request.path_params["name"])
    await api.changed()
    return _json(jsonable(change.to_dict()))


async def route_promote(api: Api, request: Request) -> Response:
    """``POST /v1/routes/{name}/promote`` = ``ucode route promote NAME --json``."""
    body = await api.obj(request)
    change = await api.call(api.cb.route_promote, request.path_params["name"], version=_field(body, "version", str))
    await api.changed()
    return _json(jsonable(change.to_dict()))


async def divergence(api: Api, request: Request) -> Response:
    """``GET /v1/divergences/{id}`` = ``ucode divergence show ID --json``."""
    return _json(jsonable(await api.call(api.cb.divergence, request.path_params["id"])))


# -------------------------------------------------------------------------------------- engine

async def engine_status(api: Api, request: Request) -> Response:
    """``GET /v1/engine`` = ``ucode engine status --json``."""
    return _json(api.engine.status())


async def engine_purge(api: Api, request: Request) -> Response:
    """``POST /v1/engine/purge`` with ``{"brutal": false, "timeout": 30}`` = ``ucode engine purge --json``."""
    body = await api.obj(request)
    brutal = _field(body, "brutal", bool, False)
    timeout = float(_field(body, "timeout", (int, float), 30.0))
    return _json(await asyncio.to_thread(api.engine.purge, brutal=brutal, timeout=timeout))


async def openapi(api: Api, request: Request) -> Response:
    """``GET /v1/openapi.json``: this API, described."""
    from ucode.engine._openapi import document

    return _json(document(API, api.engine.endpoints))


API: list[tuple[str, str, bool, Handler]] = [
    # method, path, needs the token (writes, or runs code), handler
    ("POST", "/v1/run/{name}", True, run_name),
    ("GET", "/v1/tasks", False, task_list),
    ("GET", "/v1/tasks/stream", False, tasks_stream),  # before /v1/tasks/{id}: the first match serves
    ("GET", "/v1/tasks/{id}", False, task_show),
    ("GET", "/v1/tasks/{id}/events", False, task_events),
    ("GET", "/v1/tasks/{id}/stream", False, task_stream),
    ("POST", "/v1/tasks/{id}/replay", False, task_replay),
    ("POST", "/v1/tasks/{id}/resume", True, task_resume),
    ("GET", "/v1/names", False, names),
    ("GET", "/v1/names/{ref}", False, name_view),
    ("GET", "/v1/versions", False, versions),
    ("GET", "/v1/history", False, history),
    ("POST", "/v1/bind", True, bind),
    ("POST", "/v1/undo", True, undo),
    ("GET", "/v1/routes", False, routes),
    ("GET", "/v1/routes/{name}", False, route_show),
    ("POST", "/v1/routes/{name}", True, route_set),
    ("DELETE", "/v1/routes/{name}", True, route_clear),
    ("GET", "/v1/routes/{name}/report", False, route_report),
    ("POST", "/v1/routes/{name}/promote", True, route_promote),
    ("GET", "/v1/divergences/{id}", False, divergence),
    ("GET", "/v1/engine", False, engine_status),
    ("POST", "/v1/engine/purge", True, engine_purge),
    ("GET", "/v1/openapi.json", False, openapi),
]
"""Every endpoint of the engine's API. docs/engine.md documents each; tests/engine check the table against
the OpenAPI description."""


def _wrap(api: Api, handler: Handler, needs_token: bool) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            api.authorize(request, needs_token)
            return await handler(api, request)
        except UcodeError as exc:
            return error_response(exc)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _user_endpoint(api: Api, ep: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await api.body(request)
            kwargs = arguments(ep, dict(request.path_params), list(request.query_params.multi_items()), body)
            return await api.run(ep.function, [], kwargs, ep.version)
        except UcodeError as exc:
            return error_response(exc)

    return endpoint


async def _internal(request: Request, exc: Exception) -> Response:
    """An exception no endpoint expected (a bug in ucode): a JSON 500, and its traceback in the engine's log."""
    import traceback

    traceback.print_exception(exc)
    return _json({"error": f"internal error: {type(exc).__name__}: {exc}",
                  "hint": "this is a bug in ucode: the engine's output has the traceback"}, 500)


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    what = "no such endpoint" if status == 404 else f"{request.method} is not allowed here"
    return _json({"error": f"{what}: {request.method} {request.url.path}",
                  "hint": "GET /v1/openapi.json lists the engine's endpoints"}, status)


def make_app(engine: Engine, settings: Settings) -> Starlette:
    """The ASGI app: the API (:data:`API`) and the user's endpoints (``engine.endpoints``)."""
    api = Api(engine, settings)
    routes = [Route(path, _wrap(api, handler, token), methods=[method]) for method, path, token, handler in API]
    routes += [Route(ep.path, _user_endpoint(api, ep), methods=[ep.method]) for ep in engine.endpoints]
    return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found, Exception: _internal})
