"""Recording and replaying effects: the core of "debugging is replay + swap".

:class:`Recorder` is the *live* handler: it performs each effect and records it (name, arguments, result
or exception, duration) as an :class:`EffectEvent`. :class:`Replayer` is the *replay* handler: it performs
nothing; it serves each effect from the recording, in order, and reports the first place where the code
asked for something else as a :class:`Divergence` a person can read. With the same code and the same
recording, a replay returns the same result, always (a property test checks it).

This module holds the mechanism only; tasks, their durable log in the store and the CLI build on it.
"""

from __future__ import annotations

import builtins
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import msgpack

from ucode import codec, effects
from ucode.errors import UcodeError

__all__ = [
    "Divergence", "DivergenceError", "EffectEvent", "Recorder", "Recording", "ReplayResult", "ReplayedError",
    "Replayer", "record", "replay",
]


@dataclass(frozen=True)
class EffectEvent:
    """One effect as it happened. ``args``/``kwargs``/``result`` are in wire form (:func:`codec.to_wire`);
    ``error`` is ``{type, module, message}`` when the effect raised."""

    seq: int
    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    result: Any = None
    error: dict[str, str] | None = None
    writes: bool = False
    duration: float = 0.0

    def call_text(self) -> str:
        """``time.now()``, ``random.randint(1, 6)``: the call as a person reads it."""
        return _call_text(self.name, codec.from_wire(self.args), codec.from_wire(self.kwargs))

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict: it deep-copies, and this runs once per recorded effect
        return {"seq": self.seq, "name": self.name, "args": self.args, "kwargs": self.kwargs,
                "result": self.result, "error": self.error, "writes": self.writes, "duration": self.duration}


def _call_text(name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


class ReplayedError(Exception):
    """An exception recorded from an effect whose type cannot be rebuilt here (not a builtin, and its
    module is not imported): same message, and the original type's name in ``type_name``."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


def _rebuild_error(error: dict[str, str]) -> BaseException:
    module = sys.modules.get(error["module"]) if error["module"] != "builtins" else builtins
    cls = getattr(module, error["type"], None) if module is not None else None
    if isinstance(cls, type) and issubclass(cls, BaseException):
        try:
            return cls(error["message"])
        except Exception:  # a constructor that wants other arguments
            pass
    return ReplayedError(f"{error['module']}.{error['type']}", error["message"])


class Recorder:
    """Live handler: perform every effect and record it. ``on_event`` (if given) sees each event as soon
    as it is recorded: that is where a task log commits it."""

    def __init__(self, on_event: Callable[[EffectEvent], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.events: list[EffectEvent] = []
        self.on_event = on_event
        self.clock = clock
        # Handlers compose: a task run inside ``ucode.testing.handle`` records what the test handler
        # answers, instead of performing the effect for real.
        self.outer = effects.handler()

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        wire_args = codec.to_wire(list(args), where=f"the arguments of effect {spec.name}")
        wire_kwargs = codec.to_wire(kwargs, where=f"the keyword arguments of effect {spec.name}")
        t0 = self.clock()
        try:
            result = perform() if self.outer is None else self.outer.handle(spec, args, kwargs, perform)
        except Exception as exc:
            self._add(EffectEvent(len(self.events), spec.name, wire_args, wire_kwargs, None,
                                  {"type": type(exc).__qualname__, "module": type(exc).__module__,
                                   "message": str(exc)}, spec.writes, self.clock() - t0))
            raise
        wire = codec.to_wire(result, where=f"the result of effect {spec.name}")
        self._add(EffectEvent(len(self.events), spec.name, wire_args, wire_kwargs, wire, None, spec.writes,
                              self.clock() - t0))
        return result

    def _add(self, event: EffectEvent) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)


@dataclass(frozen=True)
class Divergence:
    """Where a replay stopped matching its recording, for a person to read.

    ``kind``: ``effect`` (the code asked for a different effect or arguments at ``index``), ``extra``
    (the code asked for more effects than were recorded), ``missing`` (it finished before using all of
    them), ``result`` (same effects, different result or exception).
    """

    kind: str
    index: int
    expected: str
    actual: str
    diff: str

    def __str__(self) -> str:
        if self.kind == "effect":
            head = f"at effect {self.index}: the recording has {self.expected}, the replay asked for {self.actual}"
        elif self.kind == "extra":
            head = f"at effect {self.index}: the replay asked for {self.actual}, past the end of the recording"
        elif self.kind == "missing":
            head = f"the replay finished after {self.index} effects; the recording continues with {self.expected}"
        else:
            head = f"same effects, different outcome: recorded {self.expected}, replayed {self.actual}"
        return head + ("\n" + self.diff if self.diff else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DivergenceError(UcodeError):
    """Raised inside a replay at the first effect that does not match: nothing real is performed."""

    def __init__(self, divergence: Divergence) -> None:
        super().__init__(f"replay diverged {divergence}".split("\n")[0],
                         hint="the code or its inputs changed since the recording; see the divergence")
        self.divergence = divergence


def _diff(expected: str, actual: str) -> str:
    import difflib  # only on a divergence
    import pprint

    a = pprint.pformat(expected, width=88).splitlines() if not isinstance(expected, str) else expected.splitlines()
    b = pprint.pformat(actual, width=88).splitlines() if not isinstance(actual, str) else actual.splitlines()
    return "\n".join(difflib.unified_diff(a, b, "recorded", "replayed", lineterm=""))


_PLAIN = frozenset({int, float, str, bool, bytes, type(None)})


def _plain_equal(values: Sequence[Any], recorded: Sequence[Any]) -> bool:
    """Fast path of the argument comparison: scalars of the very same types and values (a recorded
    argument in wire form *is* its value for these types)."""
    if len(values) != len(recorded):
        return False
    for a, b in zip(values, recorded, strict=True):  # a loop, not all(<genexpr>): this runs per effect
        if type(a) is not type(b) or type(a) not in _PLAIN or a != b:
            return False
    return True


class Replayer:
    """Replay handler: serve every effect from ``events`` in order; perform nothing."""

    def __init__(self, events: Sequence[EffectEvent]) -> None:
        self.events = list(events)
        self.position = 0
        self.divergence: Divergence | None = None

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        i = self.position
        if i >= len(self.events):
            self._diverge(Divergence("extra", i, "(nothing)", _call_text(spec.name, args, kwargs), ""))
        ev = self.events[i]
        same = ev.name == spec.name and (
            (_plain_equal(args, ev.args)
             and ((not kwargs and not ev.kwargs) or (_plain_equal(tuple(kwargs.values()), tuple(ev.kwargs.values()))
                                                   and list(kwargs) == list(ev.kwargs))))
            or (ev.args == codec.to_wire(list(args), where=f"the arguments of effect {spec.name}")
                and ev.kwargs == codec.to_wire(kwargs, where=f"the keyword arguments of effect {spec.name}")))
        if not same:
            expected, actual = ev.call_text(), _call_text(spec.name, args, kwargs)
            self._diverge(Divergence("effect", i, expected, actual, _diff(expected, actual)))
        self.position += 1
        if ev.error is not None:
            raise _rebuild_error(ev.error)
        if type(ev.result) in _PLAIN:
            return ev.result  # already the value: no codec round trip (most results are plain)
        return codec.from_wire(ev.result, spec.returns)

    def _diverge(self, d: Divergence) -> None:
        self.divergence = d
        raise DivergenceError(d)


@dataclass
class Recording:
    """What a live run produced: its effects and its outcome (result, or ``error`` as type and message)."""

    events: list[EffectEvent]
    result: Any = None
    error: dict[str, str] | None = None
    outcome: Any = field(default=None, repr=False)  # the result in wire form, for comparisons

    def to_dict(self) -> dict[str, Any]:
        return {"events": [e.to_dict() for e in self.events], "result": self.outcome, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recording:
        events = [EffectEvent(**e) for e in data["events"]]
        return cls(events, codec.from_wire(data["result"]), data.get("error"), data["result"])

    def to_bytes(self) -> bytes:
        """The recording as msgpack (what a task log or a golden file holds)."""
        return msgpack.packb(self.to_dict(), use_bin_type=True)  # type: ignore[no-any-return]

    @classmethod
    def from_bytes(cls, data: bytes) -> Recording:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=False,
                              ext_hook=lambda code, blob: msgpack.ExtType(code, blob))
        return cls.from_dict(raw)


def _error_dict(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__qualname__, "module": type(exc).__module__, "message": str(exc)}


def record(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Recording:
    """Run ``fn`` live, recording its effects. An exception it raises is part of the recording."""
    rec = Recorder()
    with effects.using(rec):
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            return Recording(rec.events, None, _error_dict(exc), None)
    return Recording(rec.events, result, None, codec.to_wire(result, where="the result"))


@dataclass(frozen=True)
class ReplayResult:
    identical: bool
    result: Any
    error: dict[str, str] | None
    divergence: Divergence | None

    def to_dict(self) -> dict[str, Any]:
        return {"identical": self.identical, "result": codec.to_wire(self.result, where="the result"),
                "error": self.error, "divergence": None if self.divergence is None else self.divergence.to_dict()}


def replay(fn: Callable[..., Any], recording: Recording, *args: Any, handler: Replayer | None = None,
           **kwargs: Any) -> ReplayResult:
    """Run ``fn`` again with every effect served from ``recording`` (by ``handler``, a :class:`Replayer`
    by default); report whether it behaved the same."""
    rep = handler if handler is not None else Replayer(recording.events)
    result: Any = None
    error: dict[str, str] | None = None
    with effects.using(rep):
        try:
            result = fn(*args, **kwargs)
        except DivergenceError as exc:
            return ReplayResult(False, None, None, exc.divergence)
        except Exception as exc:
            error = _error_dict(exc)
    if rep.position < len(recording.events):
        nxt = recording.events[rep.position].call_text()
        return ReplayResult(False, result, error, Divergence("missing", rep.position, nxt, "(end)", ""))
    outcome = None if error else codec.to_wire(result, where="the result")
    if error != recording.error or outcome != recording.outcome:
        import pprint

        exp = pprint.pformat(recording.error or recording.result)
        act = pprint.pformat(error or result)
        return ReplayResult(False, result, error, Divergence("result", rep.position, exp, act, _diff(exp, act)))
    return ReplayResult(True, result, error, None)
