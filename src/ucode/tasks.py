"""Tasks: every run is a task whose effects are recorded in the store, so it can be inspected and replayed.

A task record holds what is needed to run it again exactly: the entry name and hash, the closure hash of
the entry point, the version and the namespace log position it resolved its names at, its arguments, and
its outcome. Its effects go to the store's ``events`` table as they happen, per the durability mode:

==========  =========================================================================================
``durable`` each effect's record is committed (LMDB, fsync) before its result is returned to the code:
            after a crash the log holds every effect the task saw.
``batched`` (default) events are buffered and committed with the task's outcome (group commit) or every
            256 events: a crash loses the events of the unfinished batch, never a finished task's.
``off``     no events are recorded; the task record still is. Such a task cannot be replayed.
==========  =========================================================================================

Replay (:func:`replay_task`) rebuilds the names as of the task's log position (with per-task overrides
and ``--use`` swaps), serves every effect from the log, and reports the first divergence. Log lines are
not part of the comparison: a debug version may log more (those lines are the point of replay + swap),
or less.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ucode import codec, effects
from ucode.codebase import DURABILITY
from ucode.errors import StoreCorruptError, TaskNotReplayableError, UcodeError
from ucode.replay import Divergence, EffectEvent, Recorder, Recording, Replayer, ReplayResult, replay
from ucode.runtime import call, check_arguments

if TYPE_CHECKING:
    from ucode.codebase import Codebase

__all__ = ["DURABILITY", "TaskReplay", "TaskRun", "new_task_id", "replay_all", "replay_task", "resume_task",
           "run_task", "task_status", "task_summary"]

_BATCH = 256


def new_task_id() -> str:
    """A short, readable, random id: ``t`` + 8 base32 characters (40 bits)."""
    return "t" + base64.b32encode(os.urandom(5)).decode("ascii").lower()


@dataclass(frozen=True)
class TaskRun:
    id: str
    result: Any
    error: BaseException | None


def _error(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__qualname__, "module": type(exc).__module__, "message": str(exc)}


def _wire_result(value: Any) -> tuple[Any, str | None]:
    try:
        return codec.to_wire(value, where="the result"), None
    except codec.SerializationError as exc:
        return repr(value), exc.message


def _wire_arguments(args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments in recorded form; arguments that cannot be recorded (a callback passed through the
    API) are kept as their repr, and the task is then not replayable (said in ``args_note``)."""
    try:
        return {"args": codec.to_wire(args, where="an argument"), "kwargs": codec.to_wire(kwargs, where="an argument")}
    except codec.SerializationError as exc:
        return {"args": [repr(a) for a in args], "kwargs": {k: repr(v) for k, v in kwargs.items()},
                "args_note": exc.message}


def run_task(cb: Codebase, ref: str, args: list[Any], kwargs: dict[str, Any], *, version: str | None = None,
             durability: str | None = None, on_start: Callable[[str], None] | None = None) -> TaskRun:
    """Run ``ref`` as a task: resolve it now, record the task, run it with its effects recorded
    (``durability``: the store's setting when None)."""
    if durability is None:
        durability = str(cb.config()["durability"])
    if durability not in DURABILITY:
        raise UcodeError(f"unknown durability {durability!r}", hint="choose durable, batched or off")
    obj, entry = cb.runtime.load(ref, version=version)
    check_arguments(ref, obj, args, kwargs)
    tid = new_task_id()
    cb.task_start({
        "id": tid, "entry": entry.name or ref, "hash": entry.hash, "closure": entry.closure,
        "version": entry.version, "position": entry.position,
        **_wire_arguments(args, kwargs), "status": "running", "started": time.time(), "durability": durability,
        "pid": os.getpid(), "modules": entry.modules,
        "hashes": {**({entry.name: entry.hash} if entry.name and entry.hash else {}), **entry.rebound},
    })
    if on_start is not None:
        on_start(tid)
    buffer: list[EffectEvent] = []

    def on_event(ev: EffectEvent) -> None:
        if durability == "durable":
            cb.task_events_append(tid, [ev])
        else:
            buffer.append(ev)
            if len(buffer) >= _BATCH:
                cb.task_events_append(tid, buffer)
                buffer.clear()

    # `off`: no handler at all, so effects cost what they cost outside a task (nothing is recorded)
    recorder = None if durability == "off" else Recorder(on_event=on_event)
    with effects.using(recorder), effects.using_store(cb, tid):
        try:
            result = call(obj, args, kwargs)
        except Exception as exc:
            import traceback

            cb.task_finish(tid, {"status": "failed", "finished": time.time(), "error": _error(exc),
                                 "traceback": "".join(traceback.format_exception(exc))}, buffer)
            return TaskRun(tid, None, exc)
    wire, note = _wire_result(result)
    cb.task_finish(tid, {"status": "succeeded", "finished": time.time(), "result": wire,
                         "result_note": note}, buffer)
    return TaskRun(tid, result, None)


def task_summary(rec: dict[str, Any]) -> dict[str, Any]:
    """What ``task list`` shows of a task record."""
    return {"id": rec["id"], "name": rec["entry"], "status": task_status(rec), "version": rec["version"],
            "started": rec.get("started"), "finished": rec.get("finished"), "hash": rec["hash"],
            "closure": rec.get("closure"), "position": rec.get("position"), "durability": rec.get("durability")}


def task_status(rec: dict[str, Any]) -> str:
    """``running`` only while its process is alive; a task whose process died is ``interrupted``."""
    status = str(rec.get("status", "?"))
    if status != "running":
        return status
    pid = rec.get("pid")
    try:
        if isinstance(pid, int):
            os.kill(pid, 0)
            return "running"
    except ProcessLookupError:
        return "interrupted"
    except PermissionError:
        return "running"
    return "interrupted"


@dataclass(frozen=True)
class TaskReplay:
    """One replay of a recorded task. ``change`` sums it up for a person or a script: ``identical``,
    ``now succeeds`` (the recording failed, the replay did not: what a fix looks like), ``now fails``,
    ``different result`` (same effects), or ``different effects`` (it asked for other effects)."""

    task: str
    result: ReplayResult
    logs: list[str]
    swapped: dict[str, str]
    likely_causes: list[str]
    change: str = "identical"
    recorded_error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = self.result.to_dict()
        out.update({"task": self.task, "logs": self.logs, "swapped": self.swapped,
                    "likely_causes": self.likely_causes, "change": self.change,
                    "recorded_error": self.recorded_error})
        return out


def _change(outcome: ReplayResult, recorded_error: dict[str, str] | None) -> str:
    if outcome.identical:
        return "identical"
    if outcome.divergence is None or outcome.divergence.kind != "result":
        return "different effects"
    if recorded_error and not outcome.error:
        return "now succeeds"
    if outcome.error and not recorded_error:
        return "now fails"
    return "different result"


def replay_all(cb: Codebase, name: str | None = None, use: dict[str, str] | None = None) -> list[TaskReplay]:
    """Replay every finished, replayable task (of entry point ``name``: a full name or a suffix), newest
    first, with ``use`` swapped in each: a regression test built from recorded traffic."""
    recs = [r for r in cb.task_list(name=name)
            if r["durability"] != "off" and r["status"] in ("succeeded", "failed")]
    return [replay_task(cb, r["id"], use) for r in recs]


def replay_task(cb: Codebase, task_id: str, use: dict[str, str] | None = None) -> TaskReplay:
    """Replay a recorded task against the names as of its start (plus its stored overrides and ``use``:
    name -> version label or ``#hash``), serving every effect from its log."""
    rec = cb.task(task_id)
    tid = rec["id"]
    if rec.get("durability") == "off":
        raise TaskNotReplayableError(
            tid, "it ran with --durability off: its effects were not recorded",
            hint="run it again with --durability batched (the default) to be able to replay it")
    if rec.get("args_note"):
        raise TaskNotReplayableError(
            tid, rec["args_note"], hint="tasks replay when their arguments are plain data (as `ucode run` passes them)")
    raw = cb.task_event_rows(tid)
    corrupt = [e for e in raw if isinstance(e, dict)]
    if corrupt:
        raise TaskNotReplayableError(
            tid, f"it has an unreadable event at seq {corrupt[0]['seq']}: {corrupt[0]['corrupt']}",
            hint="the other events are intact (ucode task show)")
    events: list[Any] = raw  # rows: the Replayer reads them as they are stored
    swapped = dict(cb.task_overrides(tid))
    for name, target in (use or {}).items():
        full = cb.resolve_name(name, version=rec["version"])
        swapped[full] = cb.resolve(target if target.startswith("#") else f"{full}@{target}")
    try:
        obj, entry = cb.runtime.load(rec["entry"], version=rec["version"], at=rec["position"], overrides=swapped)
    except StoreCorruptError as exc:  # a definition it ran is gone (a damaged or partly copied store)
        raise TaskNotReplayableError(
            tid, f"the code it ran is not in this store ({exc.message})",
            hint="add the source it ran again (the same source gives the same hashes: ucode task show lists "
                 "them), or replay it in the store it ran in") from None
    except UcodeError as exc:
        if "modules" in rec:
            raise
        raise TaskNotReplayableError(  # recorded before modules were programs: its code cannot be rebuilt
            tid, f"it was recorded by an older ucode, before modules were stored as programs ({exc.message})",
            hint="run it again to record a task that can be replayed") from None
    args = codec.from_wire(rec["args"])
    kwargs = codec.from_wire(rec["kwargs"])
    error = rec.get("error")
    recording = Recording(events, codec.from_wire(rec.get("result")) if not error else None, error,
                          rec.get("result") if not error else None)
    handler = Replayer(events, logs_as_output=True)
    with cb.runtime.running(entry):
        outcome = replay(lambda: call(obj, list(args), dict(kwargs)), recording, handler=handler)
    causes = []
    if not outcome.identical:
        for where, w in cb.runtime.warnings(entry):
            causes.append(f"{where}: {w} (a hidden effect: not recorded, so not replayed)")
    return TaskReplay(tid, outcome, handler.logs, swapped, causes, _change(outcome, error), error)


class _ResumeHandler(Replayer):
    """Serve the recorded effects of an interrupted task, then continue live, recording the rest."""

    def __init__(self, events: list[EffectEvent], recorder: Recorder) -> None:
        super().__init__(events)
        self.recorder = recorder

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        if self.position < len(self.events):
            return super().handle(spec, args, kwargs, perform)
        return self.recorder.handle(spec, args, kwargs, perform)


def resume_task(cb: Codebase, task_id: str) -> TaskRun:
    """Finish an interrupted task: replay its recorded effects (performing none of them again), then
    continue live from the first effect that was not recorded, appending to the same task's log."""
    rec = cb.task(task_id)
    tid = rec["id"]
    status = task_status(rec)
    if status != "interrupted":
        raise UcodeError(f"task {tid} is {status}, not interrupted: there is nothing to resume",
                         hint="`ucode task replay` re-runs a finished task from its log")
    if rec.get("durability") == "off" or rec.get("args_note"):
        raise UcodeError(f"task {tid} cannot be resumed: its effects or arguments were not recorded",
                         hint="tasks run with --durability durable (or batched) can be resumed")
    events = [EffectEvent._make(e) for e in cb.task_event_rows(tid) if isinstance(e, list)]
    obj, entry = cb.runtime.load(rec["entry"], version=rec["version"], at=rec["position"],
                                 overrides=cb.task_overrides(tid) or None)
    durability = str(rec.get("durability", "batched"))
    buffer: list[EffectEvent] = []

    def on_event(ev: EffectEvent) -> None:
        ev = ev._replace(seq=len(events) + ev.seq)
        if durability == "durable":
            cb.task_events_append(tid, [ev])
        else:
            buffer.append(ev)

    handler = _ResumeHandler(events, Recorder(on_event=on_event))
    with cb.runtime.running(entry), effects.using(handler), effects.using_store(cb, tid):
        try:
            result = call(obj, list(codec.from_wire(rec["args"])), dict(codec.from_wire(rec["kwargs"])))
        except Exception as exc:
            import traceback

            cb.task_finish(tid, {"status": "failed", "finished": time.time(), "error": _error(exc), "resumed": True,
                                 "traceback": "".join(traceback.format_exception(exc))}, buffer)
            return TaskRun(tid, None, exc)
    wire, note = _wire_result(result)
    cb.task_finish(tid, {"status": "succeeded", "finished": time.time(), "result": wire, "result_note": note,
                         "resumed": True}, buffer)
    return TaskRun(tid, result, None)


__all__ += ["Divergence", "TaskReplay"]
