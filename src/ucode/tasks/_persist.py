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
from ucode.records import TaskRecord
from ucode.replay import EffectEvent
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

    def finish(self, outcome: Outcome, *, resumed: bool = False) -> None:
        """The outcome, and the events still buffered, in one transaction."""
        update: dict[str, Any] = {"finished": time.time(), "resumed": resumed}
        if outcome.error is not None:
            update.update(status="failed", error=outcome.error_record, traceback=outcome.traceback)
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
