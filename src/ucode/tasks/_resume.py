"""Resuming an interrupted task: its recorded effects served from its log (none performed again, except
secret effects, performed and checked against their digests), then live from the first effect that was
not recorded, appending to the same task's log.

Rule: the resuming process claims the task first (its PID, start time and boot replace the dead one's, in
one transaction, only if it is still interrupted): a second resume of it refuses. When the code no longer
does what was recorded (a divergence, a secret that changed), nothing is written and the task stays
interrupted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ucode import codec, effects
from ucode.errors import DivergenceError, NoInterruptedTaskError, TaskNotResumableError
from ucode.records import Trace
from ucode.replay import Divergence, EffectEvent, Recorder, Replayer
from ucode.runtime import Runtime
from ucode.store import Store
from ucode.store import tasks as stored
from ucode.tasks._execute import execute
from ucode.tasks._persist import StoreState, TaskLog
from ucode.tasks._process import identity
from ucode.tasks._query import find_task, status, tasks
from ucode.tasks._replay import load_task_code

__all__ = ["resume_task"]


class _ResumeHandler(Replayer):
    """Serve the recorded effects of an interrupted task, then continue live, recording the rest."""

    def __init__(self, events: list[EffectEvent], recorder: Recorder) -> None:
        super().__init__(events, secret_key=recorder.secret_key)
        self.recorder = recorder

    def handle(self, spec: effects.EffectSpec, args: tuple[Any, ...], kwargs: dict[str, Any],
               perform: Callable[[], Any]) -> Any:
        if self.divergence is not None:  # diverged (and the code caught it): nothing more runs, live or not
            raise DivergenceError(self.divergence)
        if self.position < len(self.events):
            return super().handle(spec, args, kwargs, perform)
        return self.recorder.handle(spec, args, kwargs, perform)


def resume_task(store: Store, runtime: Runtime, task_id: str) -> tuple[str, Any, BaseException | None,
                                                                     Trace | None]:
    """Finish an interrupted task: (task id, result, error, the user's frames of the error). ``last`` is
    the newest task, or when that one is not interrupted, the newest interrupted one."""
    rec = find_task(store, task_id)
    now = status(rec)
    if now != "interrupted" and task_id == "last":
        interrupted = [r for r in tasks(store) if status(r) == "interrupted"]
        if not interrupted:
            raise NoInterruptedTaskError()
        rec, now = interrupted[0], "interrupted"
    if now != "interrupted":
        raise TaskNotResumableError(rec.id, f"it is {now}, not interrupted: there is nothing to resume",
                                    hint="`ucode task replay` re-runs a finished task from its log")
    if rec.durability == "off" or rec.args_note:
        raise TaskNotResumableError(rec.id, "its effects or arguments were not recorded",
                                    hint="tasks run with --durability durable (or batched) can be resumed")
    with store.read() as txn:
        events = [EffectEvent._make(e) for e in stored.event_rows(txn, rec.id) if isinstance(e, list)]
        overrides = stored.overrides(txn, rec.id)
    obj, entry = load_task_code(runtime, rec, overrides)
    log = TaskLog(store, rec.id, rec.durability, first_seq=len(events))
    if log.claim(lambda r: status(r) == "interrupted", *identity()) is None:
        raise TaskNotResumableError(rec.id, "another process resumed it meanwhile",
                                    hint="`ucode task show` says how it is doing")
    handler = _ResumeHandler(events, Recorder(on_event=log.on_event(), secret_key=store.secret_key))
    outcome = execute(obj, list(codec.from_wire(rec.args)), dict(codec.from_wire(rec.kwargs)), handler,
                      state=StoreState(store), task=rec.id, context=runtime.running(entry))
    if handler.fatal is not None:  # no usable secret key: nothing was written
        log.release(rec)
        raise handler.fatal
    if handler.divergence is not None:
        log.release(rec)
        raise _diverged(rec.id, handler.divergence)
    tb = None
    if outcome.error is not None:
        from ucode.tasks._trace import trace

        tb = trace(runtime, entry, outcome.error)
    log.finish(outcome, resumed=True, secret_errors=[*handler.secret_errors, *handler.recorder.secret_errors],
               trace=tb)
    return rec.id, outcome.result, outcome.error, tb


def _diverged(task: str, d: Divergence) -> TaskNotResumableError:
    """Why a resume stopped: its code asked for other effects than recorded, or a secret changed."""
    first = str(d).splitlines()[0]
    if d.kind == "secret":
        return TaskNotResumableError(
            task, f"{first}; nothing was performed live and it stays interrupted",
            hint="resume it with the secret (and key) it ran with; or run it again as a new task")
    return TaskNotResumableError(
        task, f"its code no longer asks for the effects it recorded ({first}); nothing was performed live "
              "and it stays interrupted",
        hint="`ucode task replay` shows the divergence; run it again as a new task")
