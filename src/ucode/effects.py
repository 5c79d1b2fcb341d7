"""Typed effects: the explicit boundary between code and the world (time, randomness, HTTP, env, ...).

Stored code calls effects like ordinary functions::

    from ucode import effects

    def greet(name: str) -> str:
        effects.log("greeting", name=name)
        return f"hello {name} at {effects.now().isoformat()}"

Outside a task an effect just performs. Inside one it goes through the task's *handler*: live (perform
and record), replay (return the recorded result; nothing real happens), or a test handler
(:func:`ucode.testing.handle`), so code that uses effects is testable without patching. Any function
becomes an effect with :func:`effect` — the boundary for database drivers, cloud SDKs and other libraries
that cannot be pure. Its arguments and result are typed by its annotations and recorded with
:mod:`ucode.codec`; an effect is marked ``writes=True`` when it changes the world (replay never performs
it, and a resumed task never performs it twice).

The handler is a context variable: it follows the task through threads started with
``contextvars.copy_context()`` and through ``asyncio`` tasks.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import functools
import inspect
import os
import sys
import time as _time
import typing
import uuid as _uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar, overload

__all__ = [
    "EffectSpec",
    "Handler",
    "Response",
    "effect",
    "env",
    "handler",
    "http",
    "log",
    "monotonic",
    "now",
    "randint",
    "random",
    "registry",
    "sleep",
    "using",
    "uuid4",
]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class EffectSpec:
    """What an effect is: its name (the key in recordings and test handlers), whether it writes, the
    function that performs it, and its return annotation (how a recorded result is rebuilt)."""

    name: str
    writes: bool
    perform: Callable[..., Any] = field(repr=False, compare=False)
    returns: Any = field(default=None, repr=False, compare=False)


class Handler(Protocol):
    """Decides what an effect call does. ``perform()`` performs it for real."""

    def handle(self, spec: EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any: ...


_current: contextvars.ContextVar[Handler | None] = contextvars.ContextVar("ucode_effect_handler", default=None)
registry: dict[str, EffectSpec] = {}
"""Every effect defined so far, by name."""


def handler() -> Handler | None:
    """The handler in force here (None outside tasks and tests)."""
    return _current.get()


@contextmanager
def using(h: Handler | None) -> Iterator[Handler | None]:
    """Run the block with ``h`` handling effects (None: perform them directly)."""
    token = _current.set(h)
    try:
        yield h
    finally:
        _current.reset(token)


@overload
def effect(fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def effect(*, name: str | None = None, writes: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def effect(fn: Callable[..., Any] | None = None, /, *, name: str | None = None,
           writes: bool = False) -> Any:
    """Make ``fn`` an effect: ``@ucode.effect`` or ``@ucode.effect(name="db.fetch", writes=True)``.

    The default name is ``module.qualname``. Calls go through the current handler (see the module doc);
    with none, ``fn`` simply runs.
    """

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        effect_name = name or f"{f.__module__}.{f.__qualname__}"
        try:
            returns = typing.get_type_hints(f).get("return")
        except Exception:  # unresolvable forward references: results are rebuilt untyped
            returns = None
        spec = EffectSpec(effect_name, writes, f, returns)
        registry[effect_name] = spec

        if inspect.iscoroutinefunction(f):
            @functools.wraps(f)
            async def async_call(*args: Any, **kwargs: Any) -> Any:
                h = _current.get()
                if h is None:
                    return await f(*args, **kwargs)
                return await h.handle(spec, args, kwargs, lambda: f(*args, **kwargs))

            async_call.__ucode_effect__ = spec  # type: ignore[attr-defined]
            return async_call

        @functools.wraps(f)
        def call(*args: Any, **kwargs: Any) -> Any:
            h = _current.get()
            if h is None:
                return f(*args, **kwargs)
            return h.handle(spec, args, kwargs, lambda: f(*args, **kwargs))

        call.__ucode_effect__ = spec  # type: ignore[attr-defined]
        return call

    return wrap(fn) if fn is not None else wrap


# ------------------------------------------------------------------------------ built-in effects


@effect(name="time.now")
def now() -> _dt.datetime:
    """The current time, timezone-aware (UTC)."""
    return _dt.datetime.now(_dt.UTC)


@effect(name="time.monotonic")
def monotonic() -> float:
    """A monotonic clock reading, in seconds."""
    return _time.monotonic()


@effect(name="time.sleep")
def sleep(seconds: float) -> None:
    """Sleep. Replay does not sleep again."""
    _time.sleep(seconds)


@effect(name="random.random")
def random() -> float:
    """A random float in [0, 1)."""
    import random as _random  # imported when used: start-up counts

    return _random.random()


@effect(name="random.randint")
def randint(a: int, b: int) -> int:
    """A random integer in [a, b]."""
    import random as _random

    return _random.randint(a, b)


@effect(name="uuid.uuid4")
def uuid4() -> _uuid.UUID:
    """A random UUID."""
    return _uuid.uuid4()


@effect(name="env")
def env(name: str, default: str | None = None) -> str | None:
    """An environment variable (recorded: a replay sees what the run saw)."""
    return os.environ.get(name, default)


@effect(name="log")
def log(message: str, **fields: Any) -> None:
    """A structured log line. In a task it is recorded with the task; outside, it goes to stderr."""
    extra = " ".join(f"{k}={v!r}" for k, v in fields.items())
    print(f"{message} {extra}".rstrip(), file=sys.stderr)


@dataclass(frozen=True)
class Response:
    """An HTTP response, as recorded: status, headers, body."""

    status: int
    headers: dict[str, str]
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400


def _http_effect(method: str) -> Callable[..., Response]:
    reads = method in ("GET", "HEAD", "OPTIONS")

    def perform(url: str, **kwargs: Any) -> Response:
        import httpx  # imported when used: most runs make no HTTP request

        r = httpx.request(method, url, **kwargs)
        return Response(r.status_code, dict(r.headers), r.content, str(r.url))

    perform.__annotations__["return"] = Response
    perform.__qualname__ = perform.__name__ = method.lower()
    return effect(name=f"http.{method.lower()}", writes=not reads)(perform)


class _Http:
    """``effects.http.get(url, ...)`` and the other verbs, on httpx: each verb is an effect
    (``http.get``, ``http.post``, ...; GET, HEAD and OPTIONS read, the others write). Keyword arguments
    are httpx's (``params``, ``headers``, ``json``, ``content``, ``timeout``)."""

    get = staticmethod(_http_effect("GET"))
    head = staticmethod(_http_effect("HEAD"))
    options = staticmethod(_http_effect("OPTIONS"))
    post = staticmethod(_http_effect("POST"))
    put = staticmethod(_http_effect("PUT"))
    patch = staticmethod(_http_effect("PATCH"))
    delete = staticmethod(_http_effect("DELETE"))


http = _Http()


# ------------------------------------------------------------------------------------ world state

_store: contextvars.ContextVar[Any] = contextvars.ContextVar("ucode_state_store", default=None)
_task: contextvars.ContextVar[str | None] = contextvars.ContextVar("ucode_task_id", default=None)


@contextmanager
def using_store(codebase: Any, task: str | None = None) -> Iterator[None]:
    """Keyed world state (``effects.state``) reads and writes this codebase's store in the block (a task
    run does this for you)."""
    t1, t2 = _store.set(codebase), _task.set(task)
    try:
        yield
    finally:
        _store.reset(t1)
        _task.reset(t2)


def _codebase() -> Any:
    cb = _store.get()
    if cb is None:
        from ucode.errors import UcodeError

        raise UcodeError("effects.state needs a store: it is available inside a task",
                         hint="run the code with `ucode run` / Codebase.run, or inside effects.using_store(cb)")
    return cb


class _State:
    """Keyed world state kept in the store: ``state.get(key)``, ``state.put(key, value)``,
    ``state.delete(key)``. Each write is an event of the store's state log (state = fold of those events,
    ``Codebase.state_at``); inside a task each call is also a recorded effect, so a replay sees the values
    the run saw and writes nothing."""

    @staticmethod
    @effect(name="state.get")
    def get(key: str, default: Any = None) -> Any:
        from ucode import codec

        raw = _codebase().state_get(key)
        return default if raw is None else codec.from_wire(raw)

    @staticmethod
    @effect(name="state.put", writes=True)
    def put(key: str, value: Any) -> None:
        from ucode import codec

        _codebase().state_write(key, codec.to_wire(value, where=f"the value of state {key!r}"), task=_task.get())

    @staticmethod
    @effect(name="state.delete", writes=True)
    def delete(key: str) -> None:
        _codebase().state_write(key, None, task=_task.get(), delete=True)


state = _State()
