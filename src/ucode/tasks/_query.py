"""Reading tasks back: one by id (a unique prefix, or ``last``), lists with filters, their log lines, the
status a person should see, and pruning old ones.

Rule: ``running`` is only shown while the task's process is alive (the same PID, start time and boot:
:mod:`._process`); a task whose process died is ``interrupted`` (its log holds what was committed). A
secret effect's result is ``<secret>`` in every view (``codec.SECRET_TEXT``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ucode import codec
from ucode.effects import format_log_line
from ucode.errors import AmbiguousNameError, NoTasksError, TaskNotFoundError, UsageError
from ucode.records import EVENT_FIELDS, TaskRecord, Trace
from ucode.replay import EffectEvent
from ucode.store import Store
from ucode.store import tasks as stored
from ucode.tasks._process import alive

__all__ = ["STATUSES", "TaskView", "check_statuses", "event_dict", "event_maps", "find_task", "log_lines", "prune",
           "status", "summary", "task_list", "task_view", "tasks", "trace_dict"]


STATUSES = ("running", "succeeded", "failed", "interrupted")
"""What a task is: running (its process is alive), succeeded, failed (the code raised), interrupted (its
process ended before it finished: ``task resume``)."""


def status(rec: TaskRecord) -> str:
    """The status a person should see: the recorded one, except that a task recorded as ``running`` whose
    process is gone (or whose PID another process now has) is ``interrupted``."""
    if rec.status != "running":
        return rec.status
    return "running" if alive(rec.pid, rec.pid_start, rec.boot) else "interrupted"


def summary(rec: TaskRecord) -> dict[str, Any]:
    """What ``task list`` shows of a task."""
    return {"id": rec.id, "name": rec.entry, "status": status(rec), "version": rec.version, "started": rec.started,
            "finished": rec.finished, "hash": rec.hash, "closure": rec.closure, "position": rec.position,
            "durability": rec.durability}


def tasks(store: Store) -> list[TaskRecord]:
    """Every task, newest first."""
    with store.read() as txn:
        recs = list(stored.iter_tasks(txn))
    return sorted(recs, key=lambda r: (r.started or 0, r.id), reverse=True)


def find_task(store: Store, task_id: str) -> TaskRecord:
    """A task by id, a unique prefix of its id, or ``last`` (the newest)."""
    if task_id == "last":
        newest = tasks(store)
        if not newest:
            raise NoTasksError()
        return newest[0]
    with store.read() as txn:
        rec = stored.load_task(txn, task_id)
        if rec is None:
            found = stored.tasks_with_prefix(txn, task_id)
            if len(found) > 1:
                raise AmbiguousNameError(task_id, found)
            if found:
                rec = stored.load_task(txn, found[0])
    if rec is None:
        raise TaskNotFoundError(task_id)
    return rec


def check_statuses(statuses: Sequence[str]) -> list[str]:
    """``statuses`` if each is one of :data:`STATUSES`, else an error with a "did you mean"."""
    for s in statuses:
        if s not in STATUSES:
            import difflib

            close = difflib.get_close_matches(s, STATUSES, n=1, cutoff=0.5)
            raise UsageError("task list", f"unknown task status {s!r}",
                             hint=(f"did you mean {close[0]}? " if close else "")
                             + f"a task is {', '.join(STATUSES[:-1])} or {STATUSES[-1]}")
    return list(statuses)


def task_list(store: Store, *, failed: bool = False, name: str | None = None, since: float | None = None,
              statuses: Sequence[str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Summaries, newest first: only failed or interrupted ones with ``failed``, only those of entry point
    ``name`` (a full name or a suffix), only those started at or after the timestamp ``since``, only those
    whose status is one of ``statuses`` (:data:`STATUSES`), at most ``limit`` (the newest)."""
    wanted = check_statuses(statuses) if statuses else None
    rows = [summary(r) for r in tasks(store)]
    if failed:
        rows = [r for r in rows if r["status"] in ("failed", "interrupted")]
    if wanted:
        rows = [r for r in rows if r["status"] in wanted]
    if name:
        rows = [r for r in rows if r["name"] == name or r["name"].endswith("." + name)]
    if since is not None:
        rows = [r for r in rows if (r["started"] or 0) >= since]
    return rows if limit is None else rows[:max(limit, 0)]


def log_lines(store: Store, *, task: str | None = None, name: str | None = None, since: float | None = None,
              grep: str | None = None) -> list[dict[str, Any]]:
    """The log lines (``effects.log``) of recorded tasks, oldest first, as ``{task, name, seq, started,
    line}``."""
    recs = [find_task(store, task)] if task else [r for r in tasks(store) if _listed(r, name, since)][::-1]
    out: list[dict[str, Any]] = []
    for rec in recs:
        with store.read() as txn:
            rows = stored.event_rows(txn, rec.id)
        for e in rows:
            if isinstance(e, dict) or e[1] != "log":
                continue
            args = codec.from_wire(e[2])
            text = format_log_line(str(args[0]) if args else "", codec.from_wire(e[3]))
            if grep is None or grep in text:
                out.append({"task": rec.id, "name": rec.entry, "seq": e[0], "started": rec.started, "line": text})
    return out


def _listed(rec: TaskRecord, name: str | None, since: float | None) -> bool:
    if name and not (rec.entry == name or rec.entry.endswith("." + name)):
        return False
    return since is None or (rec.started or 0) >= since


def prune(store: Store, older_than: float) -> int:
    """Delete finished tasks that started before ``older_than`` (a timestamp), with their events."""
    from ucode.namespace import commit, set_route
    from ucode.store import routes as stored_routes

    with store.write() as txn:
        doomed = [r.id for r in stored.iter_tasks(txn) if (r.started or 0) < older_than and r.status != "running"]
        events = []
        for tid in doomed:
            stored.delete_task(txn, tid)
            scope = stored_routes.task_scope(tid)
            events += [set_route(txn, scope, n, None) for n in stored_routes.routes(txn, scope)]
        commit(txn, events, cause=f"task prune ({len(doomed)} tasks)", now=store.clock())
    return len(doomed)


def event_maps(store: Store, task_id: str) -> list[dict[str, Any]]:
    """A task's recorded effects as maps (keys: ``records.EVENT_FIELDS``); a damaged record is
    ``{"seq": ..., "corrupt": message}`` in its place."""
    with store.read() as txn:
        rows = stored.event_rows(txn, task_id)
    return [dict(zip(EVENT_FIELDS, r, strict=True)) if isinstance(r, list) else r for r in rows]


def event_dict(event: EffectEvent | dict[str, Any]) -> dict[str, Any]:
    """A recorded effect as the API shows it: its arguments and result decoded (``codec.from_wire``), and
    ``secret``: whether it is a secret effect's, whose result (or exception message) is ``<secret>``. A
    damaged record stays ``{"seq", "corrupt"}``."""
    if isinstance(event, dict):
        return event
    error = dict(event.error) if event.error else None
    secret = codec.is_sealed(event.result) or (error is not None and "secret" in error)
    if error is not None and secret:
        error.pop("secret")  # the sealed message: no use to a reader
    return {"seq": event.seq, "name": event.name, "args": codec.from_wire(event.args),
            "kwargs": codec.from_wire(event.kwargs),
            "result": codec.SECRET_TEXT if secret and error is None else codec.from_wire(event.result),
            "error": error, "writes": event.writes, "duration": event.duration, "secret": secret}


def trace_dict(trace: Trace | None) -> dict[str, Any]:
    """A failure's traceback as ``--json`` shows it: ``traceback``, a list of frames (``name``, ``hash``,
    ``path``, ``line``, ``text``; most recent call last; None when no traceback was recorded: the task did
    not fail, or was recorded by an older ucode), and ``traceback_hidden``, how many frames of ucode's own
    machinery were left out."""
    if trace is None:
        return {"traceback": None, "traceback_hidden": 0}
    return {"traceback": [f.to_dict() for f in trace.frames], "traceback_hidden": trace.hidden}


class TaskView(NamedTuple):
    """Everything ``task show`` shows: the record, its status, its arguments and result decoded, every
    recorded effect (an :class:`~ucode.replay.EffectEvent`, or ``{"seq", "corrupt"}`` for a damaged one;
    a secret effect's result is sealed, and reads back as ``<secret>``)."""

    record: TaskRecord
    status: str
    args: Any
    kwargs: Any
    result: Any
    events: list[EffectEvent | dict[str, Any]]
    routes: dict[str, str] = {}  # noqa: RUF012 - a NamedTuple default, never mutated: the task's routes

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form (and the HTTP API's): the summary, then arguments, names and hashes that ran,
        outcome (a failure's ``traceback``: :func:`trace_dict`), events (:func:`event_dict`: decoded
        values, secrets as ``<secret>``)."""
        rec = self.record
        return {**summary(rec), "args": self.args, "kwargs": self.kwargs, "hashes": dict(rec.hashes or {}),
                "result": self.result, "error": dict(rec.error) if rec.error else None,
                **trace_dict(rec.trace), "routes": dict(self.routes), "events": [event_dict(e) for e in self.events]}


def task_view(store: Store, task_id: str) -> TaskView:
    rec = find_task(store, task_id)
    events: list[EffectEvent | dict[str, Any]] = [
        e if "corrupt" in e else EffectEvent(**e) for e in event_maps(store, rec.id)]
    with store.read() as txn:
        routes = stored.overrides(txn, rec.id)
    return TaskView(rec, status(rec), codec.from_wire(rec.args), codec.from_wire(rec.kwargs),
                    codec.from_wire(rec.result), events, routes)
