"""Persisting a task: its record when it starts, its events as they happen (per durability), its outcome
when it ends, and the world state its effects read and write.

Rule: every write of a task goes through here, in one transaction each: the record is committed before
the task runs; ``durable`` commits each event before its result reaches the code; ``batched`` commits
every 256 events and with the outcome; ``off`` records none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ucode.errors import TaskNotFoundError
from ucode.records import TaskRecord, Trace
from ucode.replay import EffectEvent, hide_secrets
from ucode.store import Store
from ucode.store import state as stored_state
from ucode.store import tasks as stored
from ucode.tasks._execute import Outcome
from ucode.tasks._plan import wire_result

__all__ = ["BATCH", "StoreState", "TaskLog"]

BATCH = 256


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

    def __init__(self, store: Store, task_id: str, durability: str, *, first_seq: int = 0) -> None:
        self.store = store
        self.task_id = task_id
        self.durability = durability
        self.first_seq = first_seq  # a resumed task appends after the events it had
        self.buffer: list[EffectEvent] = []

    def start(self, rec: TaskRecord) -> None:
        with self.store.write() as txn:
            stored.save_task(txn, rec)

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
        with self.store.write() as txn:
            stored.append_events(txn, self.task_id, events)

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
        """The outcome, and the events still buffered, in one transaction. ``secret_errors``: exceptions
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
        with self.store.write() as txn:
            rec = stored.load_task(txn, self.task_id)
            if rec is None:
                raise TaskNotFoundError(self.task_id)
            stored.append_events(txn, self.task_id, self.buffer)
            stored.save_task(txn, rec._replace(**update))
        self.buffer.clear()
