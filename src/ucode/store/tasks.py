"""Tasks: their records, their recorded effects, and the per-task overrides their replays use.

Rule as in :mod:`.definitions`. Events are rows (``records.EVENT_FIELDS`` order); a batch of events is one
record keyed by its first seq, so a replay decodes many events with one call; a record that cannot be
decoded is reported in place, the others stay readable.

==============  ================================================================================
``tasks``       task id -> ``records.TaskRecord``
``events``      ``task id \\0 seq`` (8-byte big-endian seq) -> a recorded effect as a row, or a batch
                of rows keyed by its first seq
``overrides``   (schema 5 and before) per-task routes; since schema 6 they are routes (:mod:`.routes`)
==============  ================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ucode.errors import StoreCorruptError
from ucode.records import EVENT_FIELDS, TaskRecord, event_row
from ucode.store._backend import Txn, load_map, pack, seq_key, seq_of, unpack

__all__ = ["append_events", "delete_task", "event_rows", "iter_tasks", "load_task", "overrides", "save_task",
           "tasks_with_prefix", "unfinished_ids"]

_UNFINISHED = b"unfinished\0"
"""``meta`` keys ``unfinished NUL ID``: the tasks recorded as running (running, or interrupted: their process
died), kept with their record in the same transaction, so that finding them reads these keys, not every
task (an engine looks for the tasks earlier engines left interrupted when it starts)."""


def load_task(txn: Txn, task_id: str) -> TaskRecord | None:
    rec = load_map(txn, "tasks", task_id)
    return None if rec is None else TaskRecord.from_stored(rec)


def save_task(txn: Txn, rec: TaskRecord) -> None:
    txn.put("tasks", rec.id.encode(), pack(rec.to_stored()))
    if rec.status == "running":
        txn.put("meta", _UNFINISHED + rec.id.encode(), b"")
    else:
        txn.delete("meta", _UNFINISHED + rec.id.encode())


def unfinished_ids(txn: Txn) -> list[str]:
    """The ids of the tasks recorded as running (their process may be gone: interrupted)."""
    return [k[len(_UNFINISHED):].decode() for k, _ in txn.items("meta", _UNFINISHED)]


def tasks_with_prefix(txn: Txn, prefix: str, limit: int = 5) -> list[str]:
    out = []
    for k, _ in txn.items("tasks", prefix.encode()):
        out.append(k.decode())
        if len(out) >= limit:
            break
    return out


def iter_tasks(txn: Txn) -> Iterator[TaskRecord]:
    for k, raw in txn.items("tasks"):
        rec = unpack(raw, "tasks", k)
        if isinstance(rec, dict):
            yield TaskRecord.from_stored(rec)


def append_events(txn: Txn, task_id: str, events: Sequence[Sequence[Any] | Mapping[str, Any]]) -> None:
    """Store recorded effects of a task as one record (a row, or a batch of rows)."""
    if not events:
        return
    rows = [event_row(e) for e in events]
    txn.put("events", task_id.encode() + b"\0" + seq_key(rows[0][0]), pack(rows[0] if len(rows) == 1 else rows))


def event_rows(txn: Txn, task_id: str) -> list[list[Any] | dict[str, Any]]:
    """A task's recorded effects, in order, as rows; a damaged record is a map ``{"seq": first seq,
    "corrupt": message}`` in its place."""
    out: list[list[Any] | dict[str, Any]] = []
    for k, raw in txn.items("events", task_id.encode() + b"\0"):
        try:
            rec = unpack(raw, "events", k)
            if isinstance(rec, dict):  # stores written before events were rows
                out.append(event_row(rec))
            elif isinstance(rec, list) and rec and isinstance(rec[0], list):
                out.extend(rec)  # a batch
            elif isinstance(rec, list) and len(rec) == len(EVENT_FIELDS):
                out.append(rec)
            else:
                raise TypeError(type(rec))
        except (StoreCorruptError, TypeError, KeyError):
            seq = seq_of(k)
            out.append({"seq": seq, "corrupt": f"the record of event {seq} of task {task_id} "
                                               "(and of the events committed with it) is damaged"})
    return out


def delete_task(txn: Txn, task_id: str) -> None:
    """A task and its events (its per-task routes are namespace state: the caller clears them with
    events)."""
    prefix = task_id.encode() + b"\0"
    for table in ("events",):
        for k, _ in list(txn.items(table, prefix)):
            txn.delete(table, k)
    txn.delete("tasks", task_id.encode())
    txn.delete("meta", _UNFINISHED + task_id.encode())


def overrides(txn: Txn, task_id: str) -> dict[str, str]:
    """The per-task routes of a task (``route set --task``): full name -> hash. They are routes of the
    scope ``task:ID`` (:mod:`.routes`), changed through the namespace log like every route."""
    from ucode.store.routes import routes, task_scope

    return routes(txn, task_scope(task_id))
