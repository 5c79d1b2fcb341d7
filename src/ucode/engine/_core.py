"""The engine's core: tasks in flight, per snapshot; admission; hot swap; purge; drain.

Rule: the core knows tasks and snapshots, never HTTP. It runs every task through the codebase (the same
``Codebase`` methods ``ucode run`` uses): a plain function on the worker pool, a coroutine function on the
event loop; each task has its own effect handler (a context variable of its thread or asyncio task).

Code changes are Erlang's current and old code, per task: a task resolves its entry point when it starts and
keeps the objects of that snapshot until it ends; a task that starts after a ``bind``, ``route`` or
``undo`` (from any process: they all move the log position) runs the new code. A watcher polls the log
position every ``poll`` seconds (one read transaction) and loads the new snapshot of the recently run
entry points before a request needs it, so the first request after a swap does not pay for the import.
A snapshot is in use while a task runs on it; when its last task ends and it is not the newest, it is
dropped (its module instances are collected). :meth:`Engine.purge` is Erlang's ``soft_purge`` (wait for
the tasks on old code) and, with ``brutal``, ``purge`` (end them with :class:`TaskPurgedError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ucode.codebase import Codebase
from ucode.engine._endpoints import Endpoint
from ucode.errors import (
    EngineBusyError,
    EngineError,
    EngineStoppingError,
    TaskCutOffError,
    TaskPurgedError,
    UcodeError,
)
from ucode.tasks import TaskRun

if TYPE_CHECKING:
    from ucode.records import TaskRecord
    from ucode.runtime import Entry

__all__ = ["COUNTERS", "Engine", "Flight"]

COUNTERS = ("accepted", "succeeded", "failed", "rejected", "purged", "resumed", "swaps", "snapshots_dropped")
"""What the engine counts (``GET /v1/engine``): tasks accepted, ended well or raising, requests refused
(503), tasks purged, tasks resumed at start, code changes seen, snapshots dropped once unused."""

RECENT = 64
"""Entry points (with their version) the watcher loads again after a code change."""


@dataclass
class Flight:
    """One task in flight: what it runs (its snapshot: version and log position) and where."""

    id: str
    name: str
    version: str
    position: int
    closure: str
    started: float
    thread: int | None = None  # a plain function: the worker thread running it
    atask: asyncio.Task[Any] | None = field(default=None, repr=False)  # a coroutine function: its task
    purged: bool = False
    running: bool = True  # in the user's code (not yet finishing): what a brutal purge may interrupt


class Engine:
    """Runs tasks for an adapter (the HTTP API): bounded, counted per snapshot, swapped without a restart.

    ``workers`` threads run plain functions; at most ``max_in_flight`` tasks run at once (one more is
    refused at once with :class:`EngineBusyError`: no unbounded queue); ``poll`` is how often the log
    position is read for code changes.
    """

    def __init__(self, codebase: Codebase, *, workers: int = 8, max_in_flight: int = 64, poll: float = 0.01,
                 durability: str | None = None) -> None:
        if workers < 1 or max_in_flight < 1:
            raise EngineError(f"workers ({workers}) and max in flight ({max_in_flight}) must be at least 1")
        self.cb = codebase
        _ = codebase.runtime  # made now, before worker threads race to make it
        self.commit = codebase.group_commit()
        self.workers = workers
        self.max_in_flight = max_in_flight
        self.poll = poll
        # the store's setting, read once (a task reading it would cost a transaction per request)
        self.durability = durability or str(codebase.config()["durability"])
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="ucode-task")
        self.started = time.time()
        self.accepting = True
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.swaps: deque[dict[str, Any]] = deque(maxlen=20)
        self.interrupted: list[str] = []  # tasks earlier engines left interrupted (found at start)
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()  # one check at a time (the watcher's, an endpoint's)
        self.last_watch_error: str | None = None
        self._flights: dict[str, Flight] = {}
        self._reserved = 0  # admitted, in flight or about to be
        self._in_use: dict[tuple[str, int], int] = {}  # snapshot (version, position) -> tasks on it
        self._recent: dict[tuple[str, str | None], None] = {}  # (ref, version) recently run, oldest first
        self._pending_swap: dict[str, Any] | None = None
        self._collect = False
        self.endpoints: list[Endpoint] = []  # the user's functions as HTTP endpoints (the app serves them)
        self._background: set[asyncio.Task[Any]] = set()
        self._waiting: set[asyncio.Task[Any]] = set()  # requests waiting for their task (until_cutoff)
        self.is_cut_off = False
        self.position = codebase.log_position()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="ucode-engine-watch", daemon=True)
        self._watcher.start()

    # ----------------------------------------------------------------------------------- running

    def _admit(self) -> None:
        with self._lock:
            if not self.accepting:
                self.counters["rejected"] += 1
                raise EngineStoppingError()
            if self._reserved >= self.max_in_flight:
                self.counters["rejected"] += 1
                raise EngineBusyError(self.max_in_flight)
            self._reserved += 1
            self.counters["accepted"] += 1

    def _release(self) -> None:
        with self._lock:
            self._reserved -= 1

    async def run(self, ref: str, args: list[Any], kwargs: dict[str, Any], *, version: str | None = None,
                  durability: str | None = None, announce: asyncio.Future[str] | list[str] | None = None
                  ) -> TaskRun:
        """Run ``ref`` as a task and return how it ended (its exception is in ``TaskRun.error``). A
        :class:`~ucode.errors.UcodeError` (unknown name, wrong arguments, a full engine) is raised.
        ``announce`` gets the task's id as soon as the task is recorded: a future's result (the caller
        awaits it), or appended to a list (free: no wake-up of the event loop)."""
        self._admit()
        try:
            loop = asyncio.get_running_loop()
            mode = durability or self.durability
            outcome = await loop.run_in_executor(self.pool, self._run_in_thread, ref, args, kwargs, version, mode,
                                                 announce)
            if isinstance(outcome, TaskRun):
                if outcome.committed is not None:  # answered only once its outcome is committed
                    await asyncio.wrap_future(outcome.committed)
                return outcome
            call = _Call(self, asyncio.current_task(), announce)  # a coroutine function: it runs on the loop
            try:
                return await self.cb.execute_async(ref, args, kwargs, version=version, durability=mode,
                                                   loaded=outcome, on_start=call.started)
            finally:
                call.end()
        finally:
            self._release()

    def _run_in_thread(self, ref: str, args: list[Any], kwargs: dict[str, Any], version: str | None,
                       durability: str | None, announce: asyncio.Future[str] | list[str] | None
                       ) -> TaskRun | tuple[Any, Entry]:
        from ucode.tasks import is_async

        loaded = self.cb.load(ref, version=version, known=self.position)  # the watcher's: no read per task
        self._remember(ref, version)
        if is_async(loaded[0]):
            return loaded
        call = _Call(self, None, announce)
        try:
            return self.cb.execute(ref, args, kwargs, version=version, durability=durability, loaded=loaded,
                                   on_start=call.started, defer_commit=True)
        except TaskPurgedError as exc:  # purged after its code returned, before it was marked so: rare
            raise EngineError(f"task {call.flight.id if call.flight else '?'} was purged as it ended: "
                              "`ucode task show` says whether its outcome was recorded") from exc
        finally:
            call.end()

    def _remember(self, ref: str, version: str | None) -> None:
        key = (ref, version)
        if key not in self._recent:
            with self._lock:
                self._recent[key] = None
                while len(self._recent) > RECENT:
                    del self._recent[next(iter(self._recent))]

    def _register(self, f: Flight) -> None:
        with self._lock:
            self._flights[f.id] = f
            snap = (f.version, f.position)
            self._in_use[snap] = self._in_use.get(snap, 0) + 1
            swap = self._pending_swap
            if swap is not None and f.position >= swap["position"]:
                swap["first_task"] = time.time()
                swap["first_task_ms"] = round((swap["first_task"] - swap["seen"]) * 1000, 3)
                self._pending_swap = None

    def _returned(self, f: Flight) -> None:
        """The task's code returned: from now on it is finishing (writing its outcome), not to be purged."""
        with self._lock:
            if f.purged and f.running and f.thread is not None:
                _clear_async_exc(f.thread)  # it returned before the purge reached it: nothing is pending
            f.running = False

    def _end(self, f: Flight) -> None:
        with self._lock:
            if self._flights.pop(f.id, None) is None:
                return
            f.running = False
            if f.purged:
                self.counters["purged"] += 1
            snap = (f.version, f.position)
            left = self._in_use.get(snap, 1) - 1
            if left:
                self._in_use[snap] = left
            else:
                del self._in_use[snap]
                if f.position != self.position:
                    self.counters["snapshots_dropped"] += 1
                    self._collect = True

    def background(self, coro: Any) -> None:
        """Run ``coro`` on the loop without waiting for it (``"wait": false`` runs); kept until it ends."""
        t = asyncio.ensure_future(coro)
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    def resumed(self, task_id: str) -> None:
        """A task earlier engines left interrupted was resumed (at start with ``--resume``, or through the API)."""
        with self._lock:
            self.counters["resumed"] += 1
            if task_id in self.interrupted:
                self.interrupted.remove(task_id)

    def note_outcome(self, run: TaskRun) -> None:
        """Count how a task ended (the adapter calls this with each run)."""
        with self._lock:
            self.counters["failed" if run.error is not None else "succeeded"] += 1

    # ------------------------------------------------------------------------------- hot swap

    def _watch(self) -> None:
        last_flush = time.monotonic()
        while not self._stop.wait(self.poll):
            try:
                self.check()
                if time.monotonic() - last_flush >= 1.0:
                    last_flush = time.monotonic()
                    self.cb.flush_route_counters()
            except Exception as exc:  # the watcher must outlive one bad poll (a store briefly unreadable)
                with self._lock:
                    self.counters["watch_errors"] = self.counters.get("watch_errors", 0) + 1
                    self.last_watch_error = f"{type(exc).__name__}: {exc}"

    def check(self) -> bool:
        """Pick up a code change (a new log position): load the new snapshot of recent entry points.
        Returns whether there was one. The watcher calls this every ``poll`` seconds; an endpoint that
        changed the names calls it too (on a thread of its own: loading may import modules)."""
        with self._check_lock:
            return self._check()

    def _check(self) -> bool:
        pos = self.cb.log_position()
        changed = pos != self.position
        if changed:
            seen = time.time()
            swap: dict[str, Any] = {"position": pos, "previous": self.position, "seen": seen}
            with self._lock:
                self.position = pos
                self.counters["swaps"] += 1
                self.swaps.append(swap)
                self._pending_swap = swap
                recent = list(self._recent)
            for ref, version in recent:
                with contextlib.suppress(UcodeError):  # a name unbound by the change: its next call says so
                    self.cb.load(ref, version=version)
            swap["loaded_ms"] = round((time.time() - seen) * 1000, 3)
            with self._lock:
                self._collect = True
        if self._collect:
            with self._lock:
                self._collect = False
            self.cb.runtime.collect()
        return changed

    # ---------------------------------------------------------------------------------- purge

    def old(self) -> list[Flight]:
        """Tasks in flight on an older snapshot than the newest."""
        with self._lock:
            return [f for f in self._flights.values() if f.position != self.position]

    def purge(self, *, brutal: bool = False, timeout: float = 30.0) -> dict[str, Any]:
        """Erlang's ``soft_purge`` of old code: wait (up to ``timeout`` s) for the tasks running on older
        snapshots to end. ``brutal`` (Erlang's ``purge``): end them now with :class:`TaskPurgedError`,
        recorded as their failure (a plain function gets it at its next Python instruction; one blocked in
        a C call, when that returns; a coroutine at its next ``await``). Returns what happened."""
        self.check()
        targets = self.old()
        if brutal:
            for f in targets:
                self._interrupt(f)
        deadline = time.monotonic() + timeout
        ids = {f.id for f in targets}
        while time.monotonic() < deadline:
            with self._lock:
                left = [i for i in ids if i in self._flights]
            if not left:
                break
            time.sleep(0.005)
        with self._lock:
            left = sorted(i for i in ids if i in self._flights)
        collected = self.cb.runtime.collect()
        return {"mode": "brutal" if brutal else "soft", "position": self.position,
                "old_tasks": sorted(ids), "ended": sorted(ids - set(left)), "remaining": left,
                "modules_collected": collected}

    def _interrupt(self, f: Flight) -> None:
        with self._lock:
            if f.id not in self._flights or f.purged:
                return
            if not f.running:
                return  # its code returned: it is writing its outcome, which a purge must not cut off
            f.purged = True
            if f.atask is not None:
                f.atask.get_loop().call_soon_threadsafe(f.atask.cancel, TaskPurgedError(f.position))
            elif f.thread is not None:
                _raise_in_thread(f.thread, TaskPurgedError)

    # ---------------------------------------------------------------------------- reporting

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/engine`` and ``ucode engine status`` show."""
        with self._lock:
            flights = list(self._flights.values())
            in_use = dict(self._in_use)
            counters = dict(self.counters)
            position = self.position
            swaps = [dict(s) for s in self.swaps]
        snaps: dict[tuple[str, int], list[Flight]] = {}
        for f in flights:
            snaps.setdefault((f.version, f.position), []).append(f)
        snapshots = [{"version": v, "position": p, "current": p == position, "in_flight": n,
                      "tasks": [f.id for f in sorted(snaps.get((v, p), []), key=lambda f: f.started)][:20]}
                     for (v, p), n in sorted(in_use.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
        return {
            "pid": os.getpid(), "started": self.started, "uptime": round(time.time() - self.started, 3),
            "store": str(self.cb.path), "accepting": self.accepting, "position": position,
            "in_flight": len(flights), "max_in_flight": self.max_in_flight, "workers": self.workers,
            "snapshots": snapshots, "counters": {**counters, "commits": self.commit.commits,
                                                 "writes": self.commit.writes},
            "swaps": swaps, "interrupted": list(self.interrupted), "last_watch_error": self.last_watch_error,
        }

    # ----------------------------------------------------------------------------- stopping

    def drain(self, timeout: float) -> list[str]:
        """Stop accepting tasks and wait (up to ``timeout`` s) for those in flight; returns the ids of the
        tasks still running then (they are interrupted when the process ends: ``ucode task resume``)."""
        with self._lock:
            self.accepting = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._flights and not self._reserved:
                    return []
            time.sleep(0.01)
        with self._lock:
            return sorted(self._flights)

    async def until_cutoff(self, job: asyncio.Future[TaskRun]) -> TaskRun:
        """``job``'s run; or, when the drain deadline passes first, :class:`TaskCutOffError` (the job goes
        on: its task ends interrupted with the process, or finishes). One waiter per request, no timer:
        :meth:`cut_off` wakes those still waiting."""
        waiter = asyncio.current_task()
        if waiter is not None:
            self._waiting.add(waiter)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            if not self.is_cut_off:
                raise
            if waiter is not None:
                waiter.uncancel()  # the cancellation was ours, and is answered: the response can be sent
            self.background(job)
            raise TaskCutOffError(None) from None
        finally:
            if waiter is not None:
                self._waiting.discard(waiter)

    def cut_off(self) -> None:
        """The drain deadline (called on the event loop): requests still waiting for their task are answered."""
        self.is_cut_off = True
        for waiter in list(self._waiting):
            waiter.cancel()

    def close(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Call:
    """One task's hooks into the engine: registered when recorded, finishing once its code returns, gone
    when it ends."""

    def __init__(self, engine: Engine, atask: asyncio.Task[Any] | None,
                 announce: asyncio.Future[str] | list[str] | None) -> None:
        self.engine = engine
        self.atask = atask
        self.announce = announce
        self.flight: Flight | None = None

    def started(self, rec: TaskRecord, entry: Entry) -> Callable[[], None]:
        f = self.flight = Flight(rec.id, rec.entry, entry.version, entry.position, entry.closure, rec.started,
                                 thread=None if self.atask is not None else threading.get_ident(), atask=self.atask)
        self.engine._register(f)
        if isinstance(self.announce, list):
            self.announce.append(rec.id)
        elif self.announce is not None:
            fut = self.announce
            fut.get_loop().call_soon_threadsafe(_announce, fut, rec.id)
        return lambda: self.engine._returned(f)

    def end(self) -> None:
        if self.flight is not None:
            self.engine._end(self.flight)


def _announce(fut: asyncio.Future[str], task_id: str) -> None:
    if not fut.done():
        fut.set_result(task_id)


def _raise_in_thread(ident: int, exc: type[BaseException]) -> None:
    """CPython's ``PyThreadState_SetAsyncExc``: ``exc`` is raised in thread ``ident`` at its next Python
    instruction (the one way to interrupt a plain function running on another thread)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc))


def _clear_async_exc(ident: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
