"""Tasks: every run is a task whose effects are recorded in the store, so it can be inspected, replayed
and resumed.

A task goes plan -> execute -> persist: :mod:`._plan` makes its record (entry name and hash, closure
hash, version and log position, arguments), :mod:`._execute` runs it with a handler and returns its
outcome without touching the store, :mod:`._persist` writes its record, events and outcome, per
durability:

==========  =========================================================================================
``durable`` each effect's record is committed (LMDB, fsync) before its result is returned to the code:
            after a crash the log holds every effect the task saw.
``batched`` (default) events are buffered and committed with the task's outcome (group commit) or every
            256 events: a crash loses the events of the unfinished batch, never a finished task's.
``off``     no events are recorded; the task record still is. Such a task cannot be replayed.
==========  =========================================================================================

:mod:`._replay` replays (the same path, effects served from the log), :mod:`._resume` finishes an
interrupted task, :mod:`._query` reads tasks back. Rule: durability modes and task status live here.

A secret effect is recorded as a keyed digest of its result; the key is the store's
(``Store.secret_key``), given to the recorder and the replayer as a function, read when the first secret
effect comes (a run without secrets never reads it). A replay and a resume perform secret effects again and
check them against their digests.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, NamedTuple

from ucode.records import TaskRecord, Trace
from ucode.replay import Recorder
from ucode.runtime import Entry, Runtime, check_arguments
from ucode.store import Store, settings
from ucode.tasks._execute import Outcome, execute, execute_async
from ucode.tasks._persist import Committer, Direct, GroupCommit, StoreState, TaskLog
from ucode.tasks._plan import DURABILITY, SETTINGS, check_durability, new_task_id, plan
from ucode.tasks._process import alive, identity

if TYPE_CHECKING:
    from ucode.tasks._query import (
        STATUSES,
        TaskView,
        event_maps,
        find_task,
        log_lines,
        prune,
        status,
        summary,
        task_list,
        task_view,
        tasks,
    )
    from ucode.tasks._replay import (
        TaskReplay,
        replay_all,
        replay_task,
        route_task,
        set_task_route,
        task_routes,
        unroute_task,
    )
    from ucode.tasks._resume import resume_task

# Reading, replaying and resuming tasks are imported on first use: a run needs none of them (start-up).
_LAZY = {
    **dict.fromkeys(("STATUSES", "TaskView", "event_maps", "find_task", "log_lines", "prune", "status", "summary",
                     "task_list", "task_view", "tasks"), "ucode.tasks._query"),
    **dict.fromkeys(("TaskReplay", "replay_all", "replay_task", "route_task", "set_task_route", "task_routes",
                     "unroute_task"),
                    "ucode.tasks._replay"),
    "resume_task": "ucode.tasks._resume",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ucode.tasks' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "DURABILITY", "SETTINGS", "STATUSES", "Committer", "Direct", "GroupCommit", "OnStart", "Outcome", "StoreState",
    "TaskReplay", "TaskRun", "TaskView", "alive", "check_durability", "durability", "event_maps", "execute",
    "find_task", "identity", "is_async", "log_lines", "new_task_id", "prune", "replay_all", "replay_task",
    "resume_task", "route_task", "run_task", "run_task_async", "set_task_route", "status", "summary", "task_list",
    "task_routes", "task_view", "tasks", "unroute_task",
]


class TaskRun(NamedTuple):
    """A finished run: its task id, and its result or the exception it raised (with ``trace``, the
    frames of the user's code where it was raised, as recorded). ``committed``: with ``defer_commit``,
    done once its outcome is committed (the caller must wait for it before it answers anyone)."""

    id: str
    result: Any
    error: BaseException | None
    trace: Trace | None = None
    committed: Future[None] | None = None


def durability(store: Store, asked: str | None) -> str:
    """The durability of a run: ``asked``, else the store's setting (``ucode config durability``), else
    the default."""
    if asked is not None:
        return check_durability(asked)
    with store.read() as txn:
        found = settings.load_config(txn).get("durability")
    return check_durability(found if isinstance(found, str) else SETTINGS["durability"][0])


OnStart = Callable[[TaskRecord, Entry], Callable[[], None] | None]
"""Called with a task's record and what it resolved once it is recorded, before it runs; what it returns
(if anything) is called when the task's code has returned, before its outcome is written. The engine counts
tasks in flight per snapshot with them."""


class _Started(NamedTuple):
    obj: Any
    entry: Entry
    rec: TaskRecord
    log: TaskLog
    handler: Recorder | None
    on_return: Callable[[], None] | None


def _start(store: Store, runtime: Runtime, ref: str, args: list[Any], kwargs: dict[str, Any], *,
           version: str | None, durability: str, commit: Committer | None, on_start: OnStart | None,
           loaded: tuple[Any, Entry] | None = None) -> _Started:
    check_durability(durability)
    obj, entry = loaded or runtime.load(ref, version=version)
    check_arguments(ref, obj, args, kwargs)
    rec = plan(entry, ref, args, kwargs, durability)
    log = TaskLog(store, rec.id, durability, commit=commit)
    log.start(rec)
    on_return = on_start(rec, entry) if on_start is not None else None
    # `off`: no handler at all, so effects cost what they cost outside a task (nothing is recorded)
    handler = None if durability == "off" else Recorder(on_event=log.on_event(), secret_key=store.secret_key)
    return _Started(obj, entry, rec, log, handler, on_return)


def _ended(runtime: Runtime, started: _Started, outcome: Outcome) -> tuple[TaskRun, Any]:
    """The run, and the write of its outcome (to be committed before the run is returned)."""
    if started.on_return is not None:
        started.on_return()
    tb = None
    if outcome.error is not None:
        from ucode.tasks._trace import trace  # only when the code raised

        tb = trace(runtime, started.entry, outcome.error)
    handler = started.handler
    write = started.log.finish_write(outcome, secret_errors=handler.secret_errors if handler is not None else (),
                                     trace=tb)
    return TaskRun(started.rec.id, outcome.result, outcome.error, tb), write


def run_task(store: Store, runtime: Runtime, ref: str, args: list[Any], kwargs: dict[str, Any], *,
             version: str | None, durability: str, commit: Committer | None = None,
             on_start: OnStart | None = None, loaded: tuple[Any, Entry] | None = None,
             defer_commit: bool = False) -> TaskRun:
    """Run ``ref`` as a task: resolve it now (or take ``loaded``, what :meth:`Runtime.load` gave), record
    the task, run it with its effects recorded; its writes go through ``commit`` (default: one transaction
    each). The outcome is committed before this returns, or, with ``defer_commit``, once
    ``TaskRun.committed`` is done (an engine's worker thread is free for the next task meanwhile)."""
    s = _start(store, runtime, ref, args, kwargs, version=version, durability=durability, commit=commit,
               on_start=on_start, loaded=loaded)
    outcome = execute(s.obj, args, kwargs, s.handler, state=StoreState(store), task=s.rec.id)
    run, write = _ended(runtime, s, outcome)
    committed = s.log.commit.submit(write)
    if defer_commit:
        return run._replace(committed=committed)
    committed.result()
    return run


def is_async(obj: Any) -> bool:
    """Whether ``obj`` is a coroutine function (or an async generator function): what an engine runs on its
    event loop rather than on a worker thread."""
    import inspect

    return inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj)


async def run_task_async(store: Store, runtime: Runtime, ref: str, args: list[Any], kwargs: dict[str, Any], *,
                         version: str | None, durability: str, commit: Committer | None = None,
                         on_start: OnStart | None = None, loaded: tuple[Any, Entry] | None = None) -> TaskRun:
    """:func:`run_task` on the caller's event loop: a coroutine function is awaited there (not run on a
    loop of its own), and the outcome's commit is awaited without blocking the loop. The task's handler is
    a context variable of the asyncio task that awaits this, so concurrent tasks never see each other's."""
    import asyncio

    s = _start(store, runtime, ref, args, kwargs, version=version, durability=durability, commit=commit,
               on_start=on_start, loaded=loaded)
    outcome = await execute_async(s.obj, args, kwargs, s.handler, state=StoreState(store), task=s.rec.id)
    run, write = _ended(runtime, s, outcome)
    await asyncio.wrap_future(s.log.commit.submit(write))
    return run
