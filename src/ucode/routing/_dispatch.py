"""Dispatchers: a routed name, in the modules that define it, is a function that decides per call.

Rule: only routed names pay. A module whose names have routes gets, once its program has run, a
dispatcher in place of each routed function (:meth:`Router.install`, the runtime's ``RouteHook``); every
other call stays a plain global lookup. A dispatcher makes one decision per call and records it in the
task's log as a ``route`` effect (so a replay takes the same decision; a decision is memoized per task and
key, so a task records each one once):

* ``primary``: the route's version answers;
* ``percent``: the call's key is hashed into a bucket (:mod:`._bucket`); the candidate answers the buckets
  in its share, the primary the others; a call without the key goes to the primary and is counted;
* ``shadow``: the primary answers; its effects are tapped, and the candidate is queued to run on the same
  arguments in a sandbox (:mod:`._shadow`, :mod:`._sandbox`).

In a shadow route, while a target runs, calls of the same name inside it go straight to the definition
its module holds (one shadow run per call tree, none inside a shadow run). A primary or percent route
decides every call (a recursive call with another key may go elsewhere); a version 2 that wraps version 1
calls version 1, as it was written against it. A replay whose snapshot overrides a routed name
(``--use``, a per-task route) takes the recorded decisions but runs the override: the override wins.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ucode import codec, effects
from ucode.effects._mechanism import _current as _handler_var
from ucode.errors import SerializationError, UcodeError
from ucode.records import error_of
from ucode.routing._bucket import MISSING, bucket_of, key_reader, key_text, threshold
from ucode.routing._policy import Policy, parse_key
from ucode.routing._sandbox import Tap

if TYPE_CHECKING:
    import types

    from ucode.routing._shadow import Job, ShadowWorker
    from ucode.runtime import Runtime, Snapshot
    from ucode.store import Store

__all__ = ["ROUTE_EFFECT", "SHADOW_EFFECT", "Router", "counter_key", "not_live"]

ROUTE_EFFECT = effects.EffectSpec("route", False, lambda *a: None)
"""The effect a decision is recorded as: ``route(name, key) -> {to, version, hash, bucket, shadow}``."""
SHADOW_EFFECT = effects.EffectSpec("route.shadow", False, lambda *a: None)
"""The effect that records what became of a shadowed call's shadow run (queued, dropped, ...)."""

_guards: dict[str, contextvars.ContextVar[bool]] = {}
_live: contextvars.ContextVar[bool] = contextvars.ContextVar("ucode_live_traffic", default=True)
_MEMO = 4096  # decisions remembered per dispatcher (per task); more keys than this start again


def _guard(name: str) -> contextvars.ContextVar[bool]:
    """Whether a target of route ``name`` is running here (one variable per name, made once)."""
    var = _guards.get(name)
    if var is None:
        var = _guards.setdefault(name, contextvars.ContextVar(f"ucode_route_{name}", default=False))
    return var


@contextlib.contextmanager
def not_live() -> Iterator[None]:
    """Run the block as something other than live traffic (a replay, a shadow run): its routed calls start
    no shadow runs and are not counted."""
    token = _live.set(False)
    try:
        yield
    finally:
        _live.reset(token)


def _note(name: str, outcome: str) -> None:
    """Record in the task's log what became of one shadowed call's shadow run (``route.shadow(name) ->
    queued | dropped | unshadowable | ...``); a replay is served the recorded outcome."""
    h = _handler_var.get()
    if h is not None:
        h.handle(SHADOW_EFFECT, (name,), {}, lambda: outcome)


def _noted(name: str, outcome: str, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn(*args, **kwargs)``, then :func:`_note` (also when it raises)."""
    try:
        return fn(*args, **kwargs)
    finally:
        _note(name, outcome)


def _memo_of(handler: Any) -> dict[tuple[str, Any], dict[str, Any]] | None:
    """The decisions a task's handler has recorded (a dict kept on it: one task, one memo, whichever
    thread it runs in); None for a handler that cannot keep one (each call then records its decision)."""
    memo: dict[tuple[str, Any], dict[str, Any]] | None = getattr(handler, "ucode_routes", None)
    if memo is None:
        memo = {}
        try:
            handler.ucode_routes = memo
        except (AttributeError, TypeError):
            return None
    return memo


def counter_key(policy: Policy, target: str | None) -> str:
    """What a route's counters are kept under: its revision and the hash its candidate (a primary route:
    its primary) runs, so that fixing the candidate (another hash under the same label) starts them
    again."""
    return f"{policy.revision}/{target[:10] if target else ''}"


class _Counts(dict[str, int]):
    """Counters of one route (under ``key``: :func:`counter_key`), not yet written to the store."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def __missing__(self, key: str) -> int:
        return 0


class Router:
    """Routing for one codebase: dispatchers, decisions, counters, and the shadow worker."""

    def __init__(self, store: Store, *, capacity: int = 256) -> None:
        self.store = store
        self.runtime: Runtime | None = None
        self.capacity = capacity
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], _Counts] = {}
        self._worker: ShadowWorker | None = None

    # ------------------------------------------------------------------------------ counters

    def counts(self, name: str, key: str) -> _Counts:
        with self._lock:
            found = self._pending.get((name, key))
            if found is None:
                found = self._pending[(name, key)] = _Counts(key)
            return found

    def take_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """The counters not yet written, reset (the caller writes them)."""
        with self._lock:
            out = {k: dict(v) for k, v in self._pending.items() if v}
            for v in self._pending.values():
                v.clear()
            return out

    def pending(self, name: str) -> dict[str, dict[str, int]]:
        """Counters of ``name`` not yet written: revision -> counters."""
        with self._lock:
            return {rev: dict(c) for (n, rev), c in self._pending.items() if n == name and c}

    def flush(self) -> None:
        """Write the counters gathered so far (one transaction)."""
        from ucode.store import routes as stored

        taken = self.take_counts()
        if not taken:
            return
        with contextlib.suppress(UcodeError), self.store.write() as txn:  # a read-only store: not counted
            for (name, revision), c in taken.items():
                stored.add_counts(txn, name, revision, c)

    # ------------------------------------------------------------------------------ shadows

    @property
    def worker(self) -> ShadowWorker:
        if self._worker is None:
            from ucode.routing._shadow import ShadowWorker

            self._worker = ShadowWorker(self, self.capacity)
        return self._worker

    def drain(self, timeout: float | None = 30.0) -> int:
        """Wait for queued shadow runs (up to ``timeout`` seconds), then write the counters; returns how many
        shadow runs were still queued."""
        left = self._worker.drain(timeout) if self._worker is not None else 0
        self.flush()
        return left

    def close(self) -> None:
        self.drain()
        if self._worker is not None:
            self._worker.stop()

    # ------------------------------------------------------------------------------ installing

    def install(self, snap: Snapshot, module: types.ModuleType, routes: Mapping[str, str]) -> None:
        """Put a dispatcher in place of each routed function of ``module`` (the runtime calls this once the
        module's program has run)."""
        d = module.__dict__
        for attr, text in routes.items():
            original = d.get(attr)
            if not inspect.isfunction(original) or hasattr(original, "__ucode_route__"):
                continue  # a route names a function; anything else keeps running as it is
            full = f"{module.__name__}.{attr}"
            d[attr] = self._dispatcher(snap, full, original, Policy.from_text(text), full in snap.overrides)

    def _resolve(self, snap: Snapshot, full: str, target: str | None, original: Any) -> tuple[Any, str | None]:
        """The object ``target`` (a version label, ``#hash``, None: the caller's own) names for ``full``,
        and its hash. A target other than the caller's own runs as a replay with ``--use`` and a ``promote``
        would run it: its definition bound to the name in the caller's snapshot (so a shadow run, a replay
        with the candidate swapped in and the promoted code agree)."""
        own = snap.source.lookup(full)
        if target is None:
            return original, own
        h = self.target_hash(snap, full, target)
        if h == own or h is None:
            return original, own
        assert self.runtime is not None
        obj, _ = self.runtime.load(full, version=snap.version, at=snap.position,
                                   overrides={**snap.overrides, full: h})
        return getattr(obj, "__ucode_original__", obj), h

    def target_hash(self, snap: Snapshot, full: str, target: str) -> str | None:
        """The hash ``target`` (a version label or ``#hash``) runs for ``full`` at the snapshot's position."""
        assert self.runtime is not None
        if target.startswith("#"):
            return snap.source.resolve(target)[1]
        return self.runtime.resolver.snapshot_source(target, snap.position, None).lookup(full)

    def _dispatcher(self, snap: Snapshot, full: str, original: Any, policy: Policy,
                    forced: bool) -> Callable[..., Any]:
        # The hot path: written for speed (a routed call pays for this function and nothing else). A
        # decision is memoized per task (its handler) and key, so a task records each decision once; the
        # function a decision picks is resolved once per dispatcher.
        router = self
        guard = _guard(full)
        label = policy.candidate or policy.primary
        counts = self.counts(full, counter_key(policy, self.target_hash(snap, full, label) if label else None))
        mode = policy.mode
        path = parse_key(full, policy.key) if mode == "percent" else None
        read_key = key_reader(original, path) if path is not None else None
        by_task = mode == "percent" and path is None
        bucket = bucket_of(policy.salt)
        share = threshold(policy.percent)  # computed once: a call compares its bucket with it
        targets: dict[str, tuple[Any, str | None]] = {}
        fns: dict[str, Any] = {}
        local: dict[Any, dict[str, Any]] = {}  # decisions outside tasks, by key
        lock = threading.Lock()

        def target(which: str) -> tuple[Any, str | None]:
            found = targets.get(which)
            if found is None:
                with lock:
                    label = policy.candidate if which == "candidate" else policy.primary
                    found = targets[which] = router._resolve(snap, full, label, original)
            return found

        def decide(key: str | None) -> dict[str, Any]:
            if mode == "percent":
                if key is None:
                    return {"to": "primary", "version": policy.primary, "hash": target("primary")[1],
                            "bucket": None, "shadow": False, "reason": "no key"}
                b = bucket(key)
                which = "candidate" if b < share else "primary"
                label = policy.candidate if which == "candidate" else policy.primary
                return {"to": which, "version": label, "hash": target(which)[1], "bucket": b, "shadow": False}
            if mode == "shadow":
                return {"to": "primary", "version": policy.primary, "hash": target("primary")[1],
                        "bucket": None, "shadow": True, "candidate": policy.candidate,
                        "candidate_hash": target("candidate")[1]}
            return {"to": "primary", "version": policy.primary, "hash": target("primary")[1], "bucket": None,
                    "shadow": False}

        def slow(h: Any, key: Any) -> dict[str, Any]:
            """A decision not made yet in this task (or outside tasks): made, recorded, remembered. ``key``
            is the key's value as memoized (a str or an int as it is), or None."""
            text = None if key is None else key_text(key)
            if h is None:
                found = decide(text)
                if len(local) >= _MEMO:
                    local.clear()
                local[key] = found
                return found
            memo = _memo_of(h)
            made: dict[str, Any] = h.handle(ROUTE_EFFECT, (full, text), {}, lambda: decide(text))
            if memo is not None:
                memo[(full, key)] = made
            return made

        def fn_for(to: str) -> Any:
            if forced:
                fn = original
            else:
                try:
                    fn = target(to)[0]
                except UcodeError:
                    if to != "candidate":
                        raise
                    counts["candidate_errors"] += 1  # a candidate that cannot be loaded: the primary answers
                    return target("primary")[0]
            fns[to] = fn
            return fn

        def select(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
            h = _handler_var.get()
            if read_key is not None:
                key = read_key(args, kwargs)
                t = type(key)
                if t is not str and t is not int:  # memoized as they are; anything else by its text
                    key = None if key is MISSING else key_text(key)
            else:
                key = effects.current_task() if by_task else None
            if h is None:
                found = local.get(key)
            else:
                memo = getattr(h, "ucode_routes", None)
                found = memo.get((full, key)) if memo is not None else None
            if found is None:
                found = slow(h, key)
            to = found["to"]
            if _live.get():
                counts["calls"] += 1
                if to == "candidate":
                    counts["candidate"] += 1
                elif key is None and mode == "percent":
                    counts["no_key"] += 1
            return found, fns.get(to) or fn_for(to)

        direct: int | None = getattr(read_key, "index", None)

        if mode != "shadow":
            if inspect.iscoroutinefunction(original):
                async def dispatch_async(*args: Any, **kwargs: Any) -> Any:
                    return await select(args, kwargs)[1](*args, **kwargs)

                dispatcher: Callable[..., Any] = dispatch_async
            else:
                def dispatch(*args: Any, **kwargs: Any) -> Any:
                    # select(), inlined: this is every call of a primary or percent route
                    if direct is not None and direct < len(args):
                        key = args[direct]
                        t = type(key)
                        if t is not str and t is not int:
                            key = key_text(key)
                    elif read_key is not None:
                        key = read_key(args, kwargs)
                        t = type(key)
                        if t is not str and t is not int:
                            key = None if key is MISSING else key_text(key)
                    else:
                        key = effects.current_task() if by_task else None
                    h = _handler_var.get()
                    if h is None:
                        found = local.get(key)
                    else:
                        memo = getattr(h, "ucode_routes", None)
                        found = memo.get((full, key)) if memo is not None else None
                    if found is None:
                        found = slow(h, key)
                    to = found["to"]
                    if _live.get():
                        counts["calls"] += 1
                        if to == "candidate":
                            counts["candidate"] += 1
                        elif key is None and mode == "percent":
                            counts["no_key"] += 1
                    return (fns.get(to) or fn_for(to))(*args, **kwargs)

                dispatcher = dispatch
        elif inspect.iscoroutinefunction(original):
            async def shadow_async(*args: Any, **kwargs: Any) -> Any:
                if guard.get():  # inside a target of this route: the definition its module holds
                    return await original(*args, **kwargs)
                fn = select(args, kwargs)[1]
                token = guard.set(True)
                try:
                    if not forced and _live.get():
                        return await router._shadow_async(full, policy, counts, fn, target, args, kwargs)
                    try:
                        return await fn(*args, **kwargs)
                    finally:
                        _note(full, "not run")  # a replay takes the recorded note; a shadow run starts none
                finally:
                    guard.reset(token)

            dispatcher = shadow_async
        else:
            def shadow(*args: Any, **kwargs: Any) -> Any:
                if guard.get():  # inside a target of this route: the definition its module holds
                    return original(*args, **kwargs)
                fn = select(args, kwargs)[1]
                token = guard.set(True)
                try:
                    if not forced and _live.get():
                        return router._shadow(full, policy, counts, fn, target, args, kwargs)
                    return _noted(full, "not run", fn, args, kwargs)  # a replay takes the recorded note
                finally:
                    guard.reset(token)

            dispatcher = shadow
        functools.update_wrapper(dispatcher, original)
        dispatcher.__ucode_route__ = policy  # type: ignore[attr-defined]
        dispatcher.__ucode_original__ = original  # type: ignore[attr-defined]
        return dispatcher

    # ------------------------------------------------------------------------------ a shadowed call

    def _begin(self, counts: _Counts, target: Callable[[str], tuple[Any, str | None]],
               args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any] | str:
        """What a shadow run needs from the caller's thread: the arguments in recorded form and the
        candidate (loaded here, once: loading imports, which belongs to the caller's thread); or why there
        will be no shadow run (counted)."""
        if not self.worker.has_room():
            counts["dropped"] += 1
            return "dropped"
        try:
            wargs = codec.to_wire(list(args), where="an argument")
            wkwargs = codec.to_wire(kwargs, where="an argument")
        except SerializationError:
            counts["unshadowable"] += 1
            return "unshadowable"
        try:
            candidate = target("candidate")
        except UcodeError:
            counts["candidate_errors"] += 1
            return "candidate not loaded"
        return wargs, wkwargs, candidate

    def _shadow(self, full: str, policy: Policy, counts: _Counts, fn: Any,
                target: Callable[[str], tuple[Any, str | None]], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
        begun = self._begin(counts, target, args, kwargs)
        if isinstance(begun, str):
            return _noted(full, begun, fn, args, kwargs)
        tap = Tap(_handler_var.get(), self.store.secret_key)
        t0 = time.perf_counter()
        with effects.using(tap):
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                outcome = self._submit(full, policy, counts, target, begun, tap, None, error_of(exc),
                                       time.perf_counter() - t0)
                _note(full, outcome)
                raise
        _note(full, self._primary_done(full, policy, counts, target, begun, tap, result, t0))
        return result

    async def _shadow_async(self, full: str, policy: Policy, counts: _Counts, fn: Any,
                            target: Callable[[str], tuple[Any, str | None]], args: tuple[Any, ...],
                            kwargs: dict[str, Any]) -> Any:
        begun = self._begin(counts, target, args, kwargs)
        if isinstance(begun, str):
            try:
                return await fn(*args, **kwargs)
            finally:
                _note(full, begun)
        tap = Tap(_handler_var.get(), self.store.secret_key)
        t0 = time.perf_counter()
        with effects.using(tap):
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                outcome = self._submit(full, policy, counts, target, begun, tap, None, error_of(exc),
                                       time.perf_counter() - t0)
                _note(full, outcome)
                raise
        _note(full, self._primary_done(full, policy, counts, target, begun, tap, result, t0))
        return result

    def _primary_done(self, full: str, policy: Policy, counts: _Counts,
                      target: Callable[[str], tuple[Any, str | None]], begun: tuple[Any, Any, Any], tap: Tap,
                      result: Any, t0: float) -> str:
        """The primary returned ``result``: queue the shadow run (unless its result cannot be recorded)."""
        elapsed = time.perf_counter() - t0
        try:
            wire = codec.to_wire(result, where="the result")
        except SerializationError:
            counts["unshadowable"] += 1
            return "unshadowable"
        return self._submit(full, policy, counts, target, begun, tap, wire, None, elapsed)

    def _submit(self, full: str, policy: Policy, counts: _Counts, target: Callable[[str], tuple[Any, str | None]],
                begun: tuple[Any, Any, Any], tap: Tap, result: Any, error: dict[str, str] | None,
                elapsed: float) -> str:
        """Queue the shadow run; what became of it: ``queued``, ``dropped`` or ``unshadowable``."""
        from ucode.routing._shadow import Job

        if tap.broken is not None:
            counts["unshadowable"] += 1
            return "unshadowable"
        wargs, wkwargs, (candidate, chash) = begun
        job = Job(full, policy, counts.key, wargs, wkwargs, candidate, chash, target("primary")[1], tap.seen,
                  tap.values, result, error, elapsed, effects.current_task(), contextvars.copy_context(), time.time())
        if not self.worker.submit(job):
            counts["dropped"] += 1
            return "dropped"
        return "queued"

    def run_candidate(self, job: Job) -> Any:
        """Run a queued candidate in its sandbox (the worker calls this in the caller's copied context)."""
        guard = _guard(job.name)
        token, token2 = guard.set(True), _live.set(False)
        try:
            from ucode.runtime import call

            return call(job.candidate, codec.from_wire(job.args), codec.from_wire(job.kwargs))
        finally:
            guard.reset(token)
            _live.reset(token2)
