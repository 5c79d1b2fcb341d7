"""The mechanism of effects: what an effect is (:class:`EffectSpec`), who decides what a call does (the
:class:`Handler` in force, a context variable), and :func:`effect`, which makes any function an effect.

Rule: outside a task an effect just performs; inside one, every call goes through the handler (record,
replay, test). Nothing here knows what the handlers do or where recordings go.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar, overload

__all__ = ["EffectSpec", "Handler", "effect", "handler", "registry", "using"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class EffectSpec:
    """What an effect is: its name (the key in recordings and test handlers), whether it writes, the
    function that performs it, its return annotation (how a recorded result is rebuilt), and whether its
    result is a secret (recorded only as a keyed digest, performed again by a replay and checked)."""

    name: str
    writes: bool
    perform: Callable[..., Any] = field(repr=False, compare=False)
    returns: Any = field(default=None, repr=False, compare=False)
    secret: bool = False


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
def effect(*, name: str | None = None, writes: bool = False,
           secret: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def effect(fn: Callable[..., Any] | None = None, /, *, name: str | None = None, writes: bool = False,
           secret: bool = False) -> Any:
    """Make ``fn`` an effect: ``@ucode.effect`` or ``@ucode.effect(name="db.fetch", writes=True)``.

    The default name is ``module.qualname``. Calls go through the current handler (see the module doc);
    with none, ``fn`` simply runs. ``secret=True`` (a token, a password read from a vault): a task records
    only a keyed digest of the result (shown as ``<secret>``), and a replay performs the effect again and
    checks it against the digest; its arguments are recorded as usual (they say *which* secret). A secret
    effect cannot write: every replay performs it.
    """

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        effect_name = name or f"{f.__module__}.{f.__qualname__}"
        if secret and writes:
            from ucode.errors import InvalidEffectError

            raise InvalidEffectError(
                effect_name, "it is declared secret=True and writes=True, but a replay performs a secret effect "
                "again, which must not change the world",
                hint="make the write its own effect (writes=True) and the read of the secret another (secret=True)")
        try:
            returns = typing.get_type_hints(f).get("return")
        except Exception:  # unresolvable forward references: results are rebuilt untyped
            returns = None
        spec = EffectSpec(effect_name, writes, f, returns, secret)
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
