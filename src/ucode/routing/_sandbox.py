"""The sandbox of a shadow run: what the primary did, and what the candidate may do.

Rule: a shadow run can never change the world. The primary's effects are *tapped* on their way to the
task's handler (:class:`Tap`: they are performed and recorded as usual). The candidate's effects go to a
:class:`Sandbox`: an effect that matches one of the primary's (same effect, same arguments, taken in
order) is served from the tap, as a replay serves it; a write (``writes=True``: ``http.post``,
``state.put``, ...) that the primary did not make identically is never performed, only recorded as what
the candidate would have written (the call returns None); any other read is performed, or refused when the
route says ``reads: refuse``. Log lines are collected, never printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from ucode import codec, effects
from ucode.errors import SerializationError, ShadowReadRefusedError
from ucode.records import error_of

__all__ = ["Sandbox", "Seen", "Tap", "Unshadowable"]

_LOG = "log"
_ROUTING = frozenset({"route", "route.shadow"})  # decisions, not the world: never refused


class Unshadowable(Exception):
    """The primary's call cannot be shadowed: a value it passed or got cannot be recorded."""


class Seen(NamedTuple):
    """One effect as the primary made it, or as the candidate asked for it."""

    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    result: Any  # wire form (a secret: sealed)
    error: dict[str, str] | None
    writes: bool
    how: str = "performed"  # the candidate's: served | performed | withheld | refused | log
    duration: float = 0.0

    def call_text(self) -> str:
        parts = [repr(codec.from_wire(a)) for a in self.args] + [
            f"{k}={codec.from_wire(v)!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "args": self.args, "kwargs": self.kwargs, "result": self.result,
                "error": self.error, "writes": self.writes, "how": self.how, "duration": self.duration}


def _wire_call(spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    return (codec.to_wire(list(args), where=f"the arguments of effect {spec.name}"),
            codec.to_wire(kwargs, where=f"the keyword arguments of effect {spec.name}"))


class Tap:
    """The primary's handler during a shadowed call: hands each effect to the handler in force (or performs
    it) and keeps it, with its value in memory (a secret's too: it never leaves the process)."""

    def __init__(self, outer: effects.Handler | None, key: Callable[[], bytes]) -> None:
        self.outer = outer
        self.key = key
        self.seen: list[Seen] = []
        self.values: list[tuple[Any, BaseException | None]] = []
        self.broken: str | None = None  # why the call cannot be shadowed

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        try:
            wa, wk = _wire_call(spec, args, kwargs)
        except SerializationError as exc:
            self.broken, wa, wk = exc.message, [], {}
        t0 = time.perf_counter()
        try:
            result = perform() if self.outer is None else self.outer.handle(spec, args, kwargs, perform)
        except Exception as exc:
            error = codec.seal_error(exc, self.key()) if spec.secret else error_of(exc)
            self.seen.append(Seen(spec.name, wa, wk, None, error, spec.writes, duration=time.perf_counter() - t0))
            self.values.append((None, exc))
            raise
        try:
            wire = codec.seal(result, self.key(), where="a secret") if spec.secret else codec.to_wire(
                result, where=f"the result of effect {spec.name}")
        except SerializationError as exc:
            self.broken, wire = exc.message, None
        self.seen.append(Seen(spec.name, wa, wk, wire, None, spec.writes, duration=time.perf_counter() - t0))
        self.values.append((None if not spec.secret else result, None))
        return result


class Sandbox:
    """The candidate's handler in a shadow run (see the module doc)."""

    def __init__(self, primary: list[Seen], values: list[tuple[Any, BaseException | None]], reads: str) -> None:
        self.primary = primary
        self.values = values
        self.reads = reads
        self.cursor = 0
        self.seen: list[Seen] = []
        self.logs: list[str] = []

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        name = spec.name
        if name == _LOG:
            self.logs.append(effects.format_log_line(args[0] if args else "", kwargs))
            return None
        wa, wk = _wire_call(spec, args, kwargs)
        for i in range(self.cursor, len(self.primary)):
            ev = self.primary[i]
            if ev.name == name and ev.args == wa and ev.kwargs == wk:
                self.cursor = i + 1
                self.seen.append(ev._replace(how="served"))
                raw, exc = self.values[i]
                if ev.error is not None:
                    if exc is not None:
                        raise type(exc)(*exc.args) if _copyable(exc) else exc
                    raise RuntimeError(ev.error.get("message", ""))
                if spec.secret:
                    return raw
                return codec.from_wire(ev.result, spec.returns)
        if spec.writes:
            self.seen.append(Seen(name, wa, wk, None, None, True, "withheld"))
            return None
        if self.reads == "refuse" and name not in _ROUTING:
            self.seen.append(Seen(name, wa, wk, None, None, False, "refused"))
            raise ShadowReadRefusedError(name)
        t0 = time.perf_counter()
        try:
            result = perform()
        except Exception as exc:
            self.seen.append(Seen(name, wa, wk, None, error_of(exc), False, "performed", time.perf_counter() - t0))
            raise
        wire = codec.SECRET_TEXT if spec.secret else codec.to_wire(result, where=f"the result of effect {name}")
        self.seen.append(Seen(name, wa, wk, wire, None, False, "performed", time.perf_counter() - t0))
        return result

    def writes(self) -> list[Seen]:
        """What the candidate wrote, or would have: its writes served from the primary's and withheld."""
        return [s for s in self.seen if s.writes]


def _copyable(exc: BaseException) -> bool:
    try:
        type(exc)(*exc.args)
    except Exception:
        return False
    return True
