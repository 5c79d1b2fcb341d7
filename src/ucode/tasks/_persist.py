"""Persisting a task: its record when it starts, its events as they happen (per durability), its outcome
when it ends, and the world state its effects read and write.

Rule: every write of a task goes through here, through a committer: :class:`Direct` (one transaction
each, the default) or :class:`GroupCommit` (a long-running engine: the writes of concurrent tasks that
arrive together share one transaction and one fsync). Either way the record is committed before the task
runs (with ``GroupCommit``, before the task's outcome is: a crash before that loses a task that never
answered); ``durable`` commits each event before its result reaches the code; ``batched`` commits every
256 events and with the outcome; ``off`` records none; a task's outcome is committed before it is returned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from ucode.errors import TaskNotFoundError
from ucode.records import TaskRecord, Trace
from ucode.replay import EffectEvent, hide_secrets
from ucode.store import Store, Txn
from ucode.store import state as stored_state
from ucode.store import tasks as stored
from ucode.tasks._execute import Outcome
from ucode.tasks._plan import wire_result

__all__ = ["BATCH", "Committer", "Direct", "GroupCommit", "StoreState", "TaskLog"]

BATCH = 256

Write = Callable[[Txn], None]


class Committer(Protocol):
    """Where a task's writes go: ``submit(write)`` runs ``write`` in a write transaction; the future is
    done once that transaction is committed (or holds the error that aborted it)."""

    def submit(self, write: Write) -> Future[None]: ...


class Direct:
    """Each write in its own transaction, at once (a CLI run: one task per process)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def submit(self, write: Write) -> Future[None]:
        with self.store.write() as txn:
            write(txn)
        done: Future[None] = Future()
        done.set_result(None)
        return done


class GroupCommit:
    """Group commit: writes submitted while a transaction is being committed wait for the next one, which
    takes all of them (at most ``limit``), so N concurrent tasks cost one fsync, not N. A write that raises
    aborts its group: the group is then written again one write per transaction, so one bad write fails
    only its own future. Closing commits what was submitted, then stops the thread."""

    def __init__(self, store: Store, *, limit: int = 512) -> None:
        self.store = store
        self.limit = limit
        self.commits = 0  # transactions committed (the engine reports it)
        self.writes = 0
        self._queue: list[tuple[Write, Future[None]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="ucode-group-commit", daemon=True)
        self._thread.start()

    def submit(self, write: Write) -> Future[None]:
        fut: Future[None] = Future()
        with self._cond:
            if self._closed:  # after close (a late task): written directly, still committed before returning
                return Direct(self.store).submit(write)
            self._queue.append((write, fut))
            self._cond.notify()
        return fut

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                group, self._queue = self._queue[:self.limit], self._queue[self.limit:]
            self._commit(group)

    def _commit(self, group: list[tuple[Write, Future[None]]]) -> None:
        try:
            with self.store.write() as txn:
                for write, _ in group:
                    write(txn)
        except BaseException as exc:
            if len(group) == 1:
                group[0][1].set_exception(exc)
                return
            for item in group:  # find the write that failed: each of the others lands on its own
                self._commit([item])
            return
        self.commits += 1
        self.writes += len(group)
        for _, fut in group:
            fut.set_result(None)


class StoreState:
    """World state (``effects.state``) in a store: each write one transaction, appended to its log."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def state_get(self, key: str) -> Any:
        with self.store.read() as txn:
            return stored_state.load_state(txn, key)

    def state_write(self, key: str, value: Any, *, task: str | None = None, delete: bool = False) -> None:
        with self.store.write() as txn:
            stored_state.write_state(txn, key, value, task=task, delete=delete, now=self.store.clock())


class TaskLog:
    """One task's writes."""

    def __init__(self, store: Store, task_id: str, durability: str, *, first_seq: int = 0,
                 commit: Committer | None = None) -> None:
        self.store = store
        self.commit = commit or Direct(store)
        self.task_id = task_id
        self.durability = durability
        self.first_seq = first_seq  # a resumed task appends after the events it had
        self.buffer: list[EffectEvent] = []

    def start(self, rec: TaskRecord) -> None:
        """The record, committed before the task runs (with a group committer: a durable task waits for it,
        a batched one does not; its outcome is committed after it in any case)."""
        done = self.commit.submit(lambda txn: stored.save_task(txn, rec))
        if self.durability == "durable" or isinstance(self.commit, Direct):
            done.result()

    def claim(self, free: Callable[[TaskRecord], bool], pid: int, pid_start: int | None,
              boot: str | None) -> TaskRecord | None:
        """Make this process the task's (a resume), in one transaction, if ``free(record)`` still holds
        there (two resumes of one task: one claims it, the other gets None)."""
        with self.store.write() as txn:
            rec = stored.load_task(txn, self.task_id)
            if rec is None:
                raise TaskNotFoundError(self.task_id)
            if not free(rec):
                return None
            rec = rec._replace(pid=pid, pid_start=pid_start, boot=boot)
            stored.save_task(txn, rec)
        return rec

    def release(self, before: TaskRecord) -> None:
        """Give a claimed task back as it was (interrupted: the process of ``before`` is gone)."""
        with self.store.write() as txn:
            rec = stored.load_task(txn, self.task_id)
            if rec is None:
                raise TaskNotFoundError(self.task_id)
            stored.save_task(txn, rec._replace(pid=before.pid, pid_start=before.pid_start, boot=before.boot))

    def append(self, events: Sequence[EffectEvent]) -> None:
        batch = list(events)
        self.commit.submit(lambda txn: stored.append_events(txn, self.task_id, batch)).result()

    def on_event(self) -> Callable[[EffectEvent], None]:
        """What the recorder calls with each event."""

        def sink(ev: EffectEvent) -> None:
            if self.first_seq:
                ev = ev._replace(seq=self.first_seq + ev.seq)
            if self.durability == "durable":
                self.append([ev])
            else:
                self.buffer.append(ev)
                if len(self.buffer) >= BATCH:
                    self.append(self.buffer)
                    self.buffer.clear()

        return sink

    def finish(self, outcome: Outcome, *, resumed: bool = False,
               secret_errors: Sequence[BaseException] = (), trace: Trace | None = None) -> None:
        """The outcome, and the events still buffered, in one transaction (see :meth:`finish_write`);
        returns once it is committed."""
        self.commit.submit(self.finish_write(outcome, resumed=resumed, secret_errors=secret_errors,
                                             trace=trace)).result()

    def finish_write(self, outcome: Outcome, *, resumed: bool = False,
                     secret_errors: Sequence[BaseException] = (), trace: Trace | None = None) -> Write:
        """The write of the outcome, and of the events still buffered. ``secret_errors``: exceptions
        raised by secret effects (their messages are sealed in the events): where the task's own error or
        traceback repeats one's message, it is recorded as ``<secret>``. ``trace``: the user's frames of a
        failure (:mod:`._trace`; no values, only where)."""
        update: dict[str, Any] = {"finished": time.time(), "resumed": resumed}
        if outcome.error is not None:
            error, tb = outcome.error_record, outcome.traceback
            if secret_errors and error is not None:
                error = {k: hide_secrets(v, secret_errors) for k, v in error.items()}
                tb = hide_secrets(tb, secret_errors) if tb else tb
            update.update(status="failed", error=error, traceback=tb, trace=trace)
        else:
            wire, note = wire_result(outcome.result)
            update.update(status="succeeded", result=wire, result_note=note)
        buffered, self.buffer = self.buffer, []

        def write(txn: Txn) -> None:
            rec = stored.load_task(txn, self.task_id)
            if rec is None:
                raise TaskNotFoundError(self.task_id)
            stored.append_events(txn, self.task_id, buffered)
            stored.save_task(txn, rec._replace(**update))

        return write
