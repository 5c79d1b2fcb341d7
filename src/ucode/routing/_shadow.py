"""Shadow runs: the candidate off the caller's path, compared with the primary, the outcome recorded.

Rule: the caller never waits for a shadow. A shadowed call queues a :class:`Job` on a bounded queue and
returns the primary's result; one background thread runs the jobs, each at least ``DEFER`` after it was
queued (so that the caller's own work after the call is not slowed by the candidate, which shares the
interpreter with it) (each in the caller's copied context,
with the sandbox as its effect handler) and records what it found. When the queue is full, the shadow is
dropped and counted, never waited for. A CLI run drains the queue before the process exits; so does
``Codebase.close`` (and an exit hook, for code that never closes).

A shadow run is not live traffic (:func:`~ucode.routing._dispatch.not_live`): routed calls inside it start
no shadow runs of their own and are not counted.

Compared (:func:`compare`): the results (equal recorded forms, with the route's ``ignore`` rules; both
raised the same type with the same message, as Scientist compares; one raised and the other did not is a
divergence), the writes each made or would have made, and the time each took.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import pprint
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ucode import codec, effects
from ucode.records import error_of
from ucode.replay import diff_text
from ucode.routing._policy import Policy
from ucode.routing._sandbox import Sandbox, Seen

if TYPE_CHECKING:
    from ucode.store import Store


class Host(Protocol):
    """What the worker needs of the router it serves (``_dispatch.Router``): the store, the counters
    gathered since the last write, and how to run a candidate."""

    store: Store

    def take_counts(self) -> dict[tuple[str, str], dict[str, int]]: ...

    def run_candidate(self, job: Job) -> Any: ...

    def drain(self, timeout: float | None = 30.0) -> int: ...

__all__ = ["BATCH", "FLUSH_AFTER", "Comparison", "Found", "Host", "Job", "ShadowWorker", "compare", "record"]


class Job(NamedTuple):
    """One shadow run to do: the call, what the primary did, and the context to run the candidate in."""

    name: str
    policy: Policy
    counter: str  # the key of the route's counters (``counter_key``)
    args: Any  # wire form
    kwargs: Any
    candidate: Any
    candidate_hash: str | None
    primary_hash: str | None
    seen: list[Seen]  # the primary's effects
    values: list[tuple[Any, BaseException | None]]
    result: Any  # the primary's result, wire form (None when it raised)
    error: dict[str, str] | None
    elapsed: float
    task: str | None
    context: contextvars.Context
    time: float


class Comparison(NamedTuple):
    """What one shadow run found. ``kinds``: what differed (``result``, ``writes``); empty: it matched."""

    kinds: list[str]
    diff: str
    effects_diff: str

    @property
    def matched(self) -> bool:
        return not self.kinds


def _outcome(result: Any, error: dict[str, str] | None, ignore: frozenset[str]) -> Any:
    if error is not None:
        return {"raised": error.get("type"), "message": error.get("message")}
    return codec.comparable(result, ignore)


def _write_list(writes: list[Seen], ignore: frozenset[str]) -> list[str]:
    return [f"{w.name}({', '.join(pprint.pformat(codec.comparable(a, ignore)) for a in w.args)}"
            + "".join(f", {k}={pprint.pformat(codec.comparable(v, ignore))}" for k, v in w.kwargs.items()) + ")"
            for w in writes]


def compare(job: Job, result: Any, error: dict[str, str] | None, sandbox: Sandbox) -> Comparison:
    ignore = frozenset(job.policy.ignore)
    kinds: list[str] = []
    a, b = _outcome(job.result, job.error, ignore), _outcome(result, error, ignore)
    diff = ""
    if a != b:
        kinds.append("result")
        diff = diff_text(pprint.pformat(a, width=88), pprint.pformat(b, width=88), "primary", "candidate")
    pw = _write_list([s for s in job.seen if s.writes], ignore)
    cw = _write_list(sandbox.writes(), ignore)
    effects_diff = ""
    if pw != cw:
        kinds.append("writes")
        effects_diff = diff_text("\n".join(pw) or "(no writes)", "\n".join(cw) or "(no writes)",
                                 "primary writes", "candidate writes")
    return Comparison(kinds, diff, effects_diff)


class ShadowWorker:
    """One background thread running shadow jobs from a bounded queue (see the module doc)."""

    def __init__(self, router: Host, capacity: int) -> None:
        self.router = router
        self.queue: queue.Queue[Any] = queue.Queue(capacity)  # Job, _FLUSH (write now) or None (stop)
        self.thread: threading.Thread | None = None
        self.failures = 0  # jobs that could not be recorded (a store that refused the write)
        self._start_lock = threading.Lock()

    def has_room(self) -> bool:
        return not self.queue.full()

    def submit(self, job: Job) -> bool:
        """Queue ``job``; False (dropped) when the queue is full."""
        if self.thread is None:
            with self._start_lock:
                if self.thread is None:
                    self.thread = threading.Thread(target=self._loop, name="ucode-shadows", daemon=True)
                    self.thread.start()
                    atexit.register(self.router.drain, 10.0)
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            return False
        return True

    def drain(self, timeout: float | None) -> int:
        """Wait until every queued job is done (up to ``timeout`` seconds); returns how many are left."""
        q = self.queue
        deadline = None if timeout is None else time.monotonic() + timeout
        if self.thread is not None and self.thread.is_alive():
            with contextlib.suppress(queue.Full):  # write what is done now (a full queue: it is busy anyway)
                q.put(_FLUSH, timeout=timeout)
        with q.all_tasks_done:
            while q.unfinished_tasks:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                q.all_tasks_done.wait(left)
            return int(q.unfinished_tasks)

    def stop(self) -> None:
        atexit.unregister(self.router.drain)  # closed: nothing is left to drain at exit
        if self.thread is not None and self.thread.is_alive():
            self.queue.put(None)
            self.thread.join(5)
        self.thread = None

    def _loop(self) -> None:
        # What shadow runs found is written in batches: once the runs of the last FLUSH_AFTER seconds are
        # done (or BATCH of them, or on drain), in one transaction. A transaction per run took the store's
        # write lock (and an fsync) between the caller's own commits and cost it more than the runs. A job
        # counts as done (``drain``) once what it found is written.
        batch: list[Found | None] = []
        first = 0.0
        while True:
            timeout = None if not batch else max(0.0, first + FLUSH_AFTER - time.monotonic())
            try:
                item = self.queue.get(timeout=timeout)
            except queue.Empty:
                item = _TIMEOUT
            if isinstance(item, Job):
                # Let the caller finish what it does after the call (its response, its task's commit)
                # before the candidate takes the interpreter from it: a shadow run is queued at most DEFER
                # seconds before it starts, and the jobs queued meanwhile run one after the other.
                wait = item.time + DEFER - time.time()
                if wait > 0:
                    time.sleep(wait)
                if not batch:
                    first = time.monotonic()
                try:
                    batch.append(item.context.run(self._run, item))
                except Exception:  # a shadow run must never take the process down: counted
                    self.failures += 1
                    batch.append(None)
            if item is None or item is _FLUSH or item is _TIMEOUT or len(batch) >= BATCH:
                try:
                    record(self.router, [f for f in batch if f is not None])
                except Exception:  # a store that refused the write: counted, the worker goes on
                    self.failures += 1
                for _ in batch:
                    self.queue.task_done()
                batch = []
            if item is None or item is _FLUSH:
                self.queue.task_done()
            if item is None:
                return

    def _run(self, job: Job) -> Found:
        sandbox = Sandbox(job.seen, job.values, job.policy.reads)
        result: Any = None
        error: dict[str, str] | None = None
        t0 = time.perf_counter()
        with effects.using(sandbox):
            try:
                value = self.router.run_candidate(job)
                result = codec.to_wire(value, where="the candidate's result")
            except Exception as exc:
                error = error_of(exc)
        elapsed = time.perf_counter() - t0
        return Found(job, compare(job, result, error, sandbox), result, error, elapsed, sandbox)


BATCH = 64
FLUSH_AFTER = 0.1
DEFER = 0.002
_FLUSH = object()
_TIMEOUT = object()


class Found(NamedTuple):
    """What one shadow run found, to be written."""

    job: Job
    comparison: Comparison
    result: Any
    error: dict[str, str] | None
    elapsed: float
    sandbox: Sandbox


def record(router: Host, found: list[Found]) -> None:
    """Write what shadow runs found: the routes' counters (with those gathered since the last write), and a
    divergence record for each that diverged. One transaction."""
    from ucode.store import routes as stored

    pending = router.take_counts()
    if not found and not pending:
        return
    with router.store.write() as txn:
        for (name, revision), c in pending.items():
            stored.add_counts(txn, name, revision, c)
        for f in found:
            job, cmp, error, elapsed = f.job, f.comparison, f.error, f.elapsed
            stored.add_counts(txn, job.name, job.counter, {
                "shadowed": 1, "matched": int(cmp.matched), "diverged": int(not cmp.matched),
                "candidate_errors": int(error is not None and job.error is None),
                "primary_errors": int(job.error is not None), "candidate_slower": int(elapsed > job.elapsed),
                "candidate_faster": int(elapsed < job.elapsed), "primary_time": job.elapsed,
                "candidate_time": elapsed})
            if cmp.matched:
                continue
            stored.save_divergence(txn, {
                "route": job.name, "revision": job.counter, "task": job.task, "time": job.time,
                "kinds": cmp.kinds, "args": job.args, "kwargs": job.kwargs,
                "primary": {"version": job.policy.primary, "hash": job.primary_hash, "result": job.result,
                            "error": job.error, "duration": job.elapsed,
                            "effects": [s.to_dict() for s in job.seen]},
                "candidate": {"version": job.policy.candidate, "hash": job.candidate_hash, "result": f.result,
                              "error": error, "duration": elapsed,
                              "effects": [s.to_dict() for s in f.sandbox.seen], "logs": f.sandbox.logs},
                "diff": cmp.diff, "effects_diff": cmp.effects_diff,
            })
