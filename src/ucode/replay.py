"""Recording and replaying effects: the core of "debugging is replay + swap".

:class:`Recorder` is the *live* handler: it performs each effect and records it (name, arguments, result
or exception, duration) as an :class:`EffectEvent`. :class:`Replayer` is the *replay* handler: it performs
nothing; it serves each effect from the recording, in order, and reports the first place where the code
asked for something else as a :class:`Divergence` a person can read. With the same code and the same
recording, a replay returns the same result, always (a property test checks it).

A *secret* effect (``@ucode.effect(secret=True)``, ``effects.secret``) is recorded sealed: a keyed digest of
its result (:func:`ucode.codec.seal`), never the value. The replay performs it again (the one effect it
performs) and checks the value against the digest: a different secret is a ``secret`` divergence that names
the effect and never shows the value. Both handlers take the key as ``secret_key``, a function asked for
it when the first secret effect comes (a task's comes from its store); without one they use a key made
for this process (:func:`process_key`), so such a recording replays only in the process that made it.

This module holds the mechanism only; tasks, their durable log in the store and the CLI build on it.
"""

from __future__ import annotations

import builtins
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, NoReturn, cast

import msgpack

from ucode import codec, effects
from ucode.errors import DivergenceError, UcodeError
from ucode.records import EVENT_FIELDS, error_of

__all__ = [
    "EVENT_FIELDS", "Divergence", "DivergenceError", "EffectEvent", "Recorder", "Recording", "ReplayResult",
    "ReplayedError", "Replayer", "diff_text", "hide_secrets", "process_key", "record", "replay",
]

_process_key: bytes | None = None


def process_key() -> bytes:
    """A random secret key made for this process (kept in memory only): what handlers seal secrets with
    when they are given no key."""
    global _process_key
    if _process_key is None:
        _process_key = os.urandom(32)
    return _process_key


class EffectEvent(NamedTuple):
    """One effect as it happened. ``args``/``kwargs``/``result`` are in wire form (:func:`codec.to_wire`);
    ``error`` is ``{type, module, message}`` when the effect raised.

    A named tuple, not a dataclass: a replay builds one per recorded effect, and the store keeps an event
    as the plain list of these fields in this order (:data:`EVENT_FIELDS`), so loading is ``_make(row)``.
    """

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
        return {"seq": self.seq, "name": self.name, "args": self.args, "kwargs": self.kwargs,
                "result": self.result, "error": self.error, "writes": self.writes, "duration": self.duration}

    @classmethod
    def from_record(cls, record: Sequence[Any] | dict[str, Any]) -> EffectEvent:
        """An event from its stored form: a list in field order, or (stores written before that) a map."""
        if isinstance(record, dict):
            return cls(**record)
        return cls._make(record)


assert EffectEvent._fields == EVENT_FIELDS, "records.EVENT_FIELDS is the stored row's order"


def hide_secrets(text: str, secret_errors: Sequence[BaseException]) -> str:
    """``text`` with the message of every exception a secret effect raised (sealed in its event) shown as
    ``<secret>``: what a task's own error and traceback record when they repeat one."""
    for message in {str(e) for e in secret_errors} - {""}:
        text = text.replace(message, codec.SECRET_TEXT)
    return text


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
    as it is recorded: that is where a task log commits it. A secret effect's result (or exception) is
    recorded sealed with the key ``secret_key()`` returns (see the module doc)."""

    def __init__(self, on_event: Callable[[EffectEvent], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter, *,
                 secret_key: Callable[[], bytes] | None = None) -> None:
        self.events: list[EffectEvent] = []
        self.on_event = on_event
        self.clock = clock
        self.secret_key = secret_key or process_key
        self.secret_errors: list[BaseException] = []  # raised by secret effects: their messages are secrets
        # Handlers compose: a task run inside ``ucode.testing.handle`` records what the test handler
        # answers, instead of performing the effect for real.
        self.outer = effects.handler()

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        # Runs once per recorded effect, in production: scalars (most arguments and results) are their own
        # wire form and skip the codec; the error messages' text is built only when a value needs it.
        wire_args = codec.scalar_list(args)
        if wire_args is None:
            wire_args = codec.to_wire(list(args), where=f"the arguments of effect {spec.name}")
        wire_kwargs = codec.to_wire(kwargs, where=f"the keyword arguments of effect {spec.name}") if kwargs else {}
        # a secret effect: the key first (a key that cannot be used stops the effect before it is performed)
        key = self.secret_key() if spec.secret else None
        clock = self.clock
        t0 = clock()
        try:
            result = perform() if self.outer is None else self.outer.handle(spec, args, kwargs, perform)
        except Exception as exc:
            if key is None:
                error = error_of(exc)
            else:
                error = codec.seal_error(exc, key)
                self.secret_errors.append(exc)
            self._add(EffectEvent(len(self.events), spec.name, wire_args, wire_kwargs, None, error,
                                  spec.writes, clock() - t0))
            raise
        duration = clock() - t0
        if key is not None:
            wire = codec.seal(result, key, where=f"the result of effect {spec.name}")
        elif codec.is_scalar(result):
            wire = result
        else:
            wire = codec.to_wire(result, where=f"the result of effect {spec.name}")
        self._add(EffectEvent(len(self.events), spec.name, wire_args, wire_kwargs, wire, None, spec.writes, duration))
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
    them), ``result`` (same effects, different result or exception), ``secret`` (a secret effect, performed
    again, gave another value than the recorded digest: ``expected`` is the call, ``actual`` says how it
    differs; neither holds the value).
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
        elif self.kind == "secret":
            head = f"at effect {self.index}: the secret {self.expected} {self.actual} (secret values are never shown)"
        else:
            head = f"same effects, different outcome: recorded {self.expected}, replayed {self.actual}"
        return head + ("\n" + self.diff if self.diff else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diff_text(expected: str, actual: str, a: str = "recorded", b: str = "replayed") -> str:
    """A unified diff of two texts (or values, pretty-printed) as divergences show them."""
    return _diff(expected, actual, a, b)


def _diff(expected: str, actual: str, a: str = "recorded", b: str = "replayed") -> str:
    import difflib  # only on a divergence
    import pprint

    left = pprint.pformat(expected, width=88).splitlines() if not isinstance(expected, str) else expected.splitlines()
    right = pprint.pformat(actual, width=88).splitlines() if not isinstance(actual, str) else actual.splitlines()
    return "\n".join(difflib.unified_diff(left, right, a, b, lineterm=""))


_PLAIN = frozenset({int, float, str, bool, bytes, type(None)})
_LOG = "log"  # the name of effects.log
_NOTE = "route.shadow"  # what became of a shadow run (ucode.routing): output of a run, not its input


# Positions in an event row (EffectEvent is a named tuple in this order; the store keeps plain lists).
_NAME, _ARGS, _KWARGS, _RESULT, _ERROR = 1, 2, 3, 4, 5


class Replayer:
    """Replay handler: serve every effect from ``events`` in order; perform nothing.

    ``events`` are :class:`EffectEvent` s or their rows as stored (lists in :data:`EVENT_FIELDS` order:
    a task replay passes those, so loading a recording builds no objects).

    With ``logs_as_output`` (what task replays use), log lines are output, not part of the comparison: a
    replayed version may log more (its lines are collected in ``logs``, nothing is matched against the
    recording) or less (recorded lines it does not emit are skipped).

    A recorded secret (sealed) is the one thing it performs: the effect runs again, and its value is
    checked against the digest with the key ``secret_key()`` returns (see the module doc).
    """

    def __init__(self, events: Sequence[Sequence[Any]], *, logs_as_output: bool = False,
                 secret_key: Callable[[], bytes] | None = None) -> None:
        self.events = events if isinstance(events, list) else list(events)
        self.position = 0
        self.divergence: Divergence | None = None
        self.logs: list[str] = []
        self._log_name = _LOG if logs_as_output else None
        # Effects a replay may ask for or not without diverging: log lines (when they are output) and the
        # notes of what became of a shadow run (``route.shadow``: a replay starts none, and a version that
        # raises earlier never gets to the note)
        self._optional = frozenset({_NOTE} | ({_LOG} if logs_as_output else set()))
        self.secret_key = secret_key or process_key
        self.fatal: UcodeError | None = None  # why the replay cannot go on (no usable key): raised by replay()
        self.secret_errors: list[BaseException] = []  # raised again by secret effects

    def event(self, index: int) -> EffectEvent:
        """The recorded effect at ``index``, as an :class:`EffectEvent`."""
        ev = self.events[index]
        return ev if isinstance(ev, EffectEvent) else EffectEvent._make(ev)

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        # This runs once per replayed effect and is written for speed: a replay of effects that cost
        # nothing live costs what this method costs. First the common case, inline: the next recorded
        # event is this effect with equal scalar arguments of the same types and a scalar result.
        name = spec.name
        events = self.events
        i = self.position
        if i < len(events) and not kwargs and name not in self._optional:
            ev = events[i]
            rargs = ev[2]
            if ev[1] == name and not ev[3] and ev[5] is None and len(args) == len(rargs):
                for j, a in enumerate(args):
                    b = rargs[j]
                    if a != b or type(a) is not type(b):
                        break
                else:
                    result = ev[4]
                    if type(result) in _PLAIN:
                        self.position = i + 1
                        return result
        # The general case: log lines, skipped recorded log lines, keyword arguments, typed values,
        # recorded exceptions, divergences.
        if name == self._log_name:
            return self._log(args, kwargs)
        if name == _NOTE:
            return self._note(args)
        if i >= len(events):
            self._diverge(Divergence("extra", i, "(nothing)", _call_text(name, args, kwargs), ""))
        ev = events[i]
        if ev[_NAME] != name and ev[_NAME] in self._optional:
            while i < len(events) and events[i][_NAME] in self._optional:
                i += 1  # a recorded log line (or shadow note) this version does not emit
            self.position = i
            return self.handle(spec, args, kwargs, perform)
        rargs = ev[_ARGS]
        rkwargs = ev[_KWARGS]
        # Fast path: equal values of the same top-level types (a plain argument's wire form is itself).
        # Otherwise compare wire forms, which is what "the same arguments" means for typed values. (Loops,
        # not map/all: at a microsecond per effect, building two lists of types was a third of the cost.)
        same = ev[_NAME] == name and list(args) == rargs and kwargs == rkwargs
        if same:
            # equal values can still differ in type (1 == True == 1.0, an IntEnum == its int)
            for j, a in enumerate(args):
                if type(a) is not type(rargs[j]):
                    same = False
                    break
            if same and kwargs:
                same = list(map(type, kwargs.values())) == list(map(type, rkwargs.values()))
        if not same and ev[_NAME] == name:
            same = (rargs == codec.to_wire(list(args), where=f"the arguments of effect {name}")
                    and rkwargs == codec.to_wire(kwargs, where=f"the keyword arguments of effect {name}"))
        if not same:
            expected, actual = self.event(i).call_text(), _call_text(name, args, kwargs)
            self._diverge(Divergence("effect", i, expected, actual, _diff(expected, actual)))
        self.position = i + 1
        error = ev[_ERROR]
        if error is not None:
            if "secret" in error:
                return self._secret(i, spec, args, kwargs, perform)
            raise _rebuild_error(error)
        result = ev[_RESULT]
        if type(result) in _PLAIN:
            return result  # already the value: no codec round trip (most results are plain)
        if codec.is_sealed(result):
            return self._secret(i, spec, args, kwargs, perform)
        return codec.from_wire(result, spec.returns)

    def _secret(self, i: int, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
                perform: Callable[[], Any]) -> Any:
        """A recorded secret: perform the effect again, check it against the recorded digest, return it.
        Nothing of the value goes into a divergence: only the call (its arguments say which secret)."""
        recorded_error: dict[str, str] | None = self.events[i][_ERROR]
        recorded = recorded_error["secret"] if recorded_error is not None else self.events[i][_RESULT]
        try:
            key = self.secret_key()
        except UcodeError as exc:  # raised in the code, which may catch it: replay() raises it again
            self.fatal = exc
            raise
        call = _call_text(spec.name, args, kwargs)
        if codec.sealed_key_id(recorded) != codec.key_id(key):
            self._diverge(Divergence(
                "secret", i, call, "was recorded with another secret key: it cannot be checked (replay with "
                "the key it was recorded with: the store's secret.key, or the UCODE_SECRET_KEY it ran with)", ""))
        how: str
        try:
            value = perform()
        except Exception as exc:
            if recorded_error is not None and codec.seal_error(exc, key)["secret"] == recorded:
                self.secret_errors.append(exc)
                raise  # the same exception, raised again by the effect itself
            how = (f"raised {type(exc).__qualname__}, " + ("another exception than recorded" if recorded_error
                                                           else "the recording returned a value"))
        else:
            if recorded_error is None and codec.seal(value, key, where=f"the result of effect {spec.name}") == recorded:
                return value
            how = ("returned a value, the recording raised " + recorded_error["type"] if recorded_error
                   else "is not the one recorded: its value changed")
        self._diverge(Divergence("secret", i, call, how, ""))

    def _note(self, args: tuple[Any, ...]) -> Any:
        """A shadow note: the recorded one when it comes next, else "not run" (nothing consumed)."""
        i = self.position
        if i < len(self.events) and self.events[i][_NAME] == _NOTE and self.events[i][_ARGS] == list(args):
            self.position = i + 1
            return self.events[i][_RESULT]
        return "not run"

    def _log(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        i = self.position
        if i < len(self.events):
            nxt = self.events[i]
            if (nxt[_NAME] == _LOG and nxt[_ARGS] == codec.to_wire(list(args))
                    and nxt[_KWARGS] == codec.to_wire(kwargs)):
                self.position = i + 1  # the recorded line: consumed
        self.logs.append(effects.format_log_line(args[0] if args else "", kwargs))

    def _diverge(self, d: Divergence) -> NoReturn:
        self.divergence = d
        raise DivergenceError(d)

    def unused(self) -> int:
        """The index of the first recorded effect this replay did not ask for (recorded log lines at the
        end do not count when logs are output); ``len(events)`` when it used them all."""
        i = self.position
        while i < len(self.events) and self.events[i][_NAME] in self._optional:
            i += 1
        return i


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
        events = [EffectEvent.from_record(e) for e in data["events"]]
        return cls(events, codec.from_wire(data["result"]), data.get("error"), data["result"])

    def to_bytes(self) -> bytes:
        """The recording as msgpack (what a task log or a golden file holds)."""
        return msgpack.packb(self.to_dict(), use_bin_type=True)  # type: ignore[no-any-return]

    @classmethod
    def from_bytes(cls, data: bytes) -> Recording:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=False,
                              ext_hook=lambda code, blob: msgpack.ExtType(code, blob))
        return cls.from_dict(raw)


def record(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Recording:
    """Run ``fn`` live, recording its effects. An exception it raises is part of the recording."""
    rec = Recorder()
    with effects.using(rec):
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            return Recording(rec.events, None, error_of(exc), None)
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
            if rep.fatal is None:
                return ReplayResult(False, None, None, cast("Divergence", exc.divergence))
        except Exception as exc:
            error = error_of(exc)
            if rep.secret_errors:  # as the recording has it: a secret effect's message is <secret>
                error = {k: hide_secrets(v, rep.secret_errors) for k, v in error.items()}
    if rep.fatal is not None:
        raise rep.fatal
    if rep.divergence is not None:  # the code caught the DivergenceError and went on: it still diverged
        return ReplayResult(False, None, None, rep.divergence)
    unused = rep.unused()
    if unused < len(rep.events):
        nxt = rep.event(unused).call_text()
        return ReplayResult(False, result, error, Divergence("missing", unused, nxt, "(end)", ""))
    outcome = None if error else codec.to_wire(result, where="the result")
    if error != recording.error or outcome != recording.outcome:
        import pprint

        exp = pprint.pformat(recording.error or recording.result)
        act = pprint.pformat(error or result)
        return ReplayResult(False, result, error, Divergence("result", rep.position, exp, act, _diff(exp, act)))
    return ReplayResult(True, result, error, None)
