"""Replaying tasks: the same code (the names as of the task's start, plus its per-task overrides and any
swaps), every effect served from its log, the first divergence reported.

Rule: a replay is the live path with another source of effects: the runtime loads the task's snapshot,
:func:`~ucode.tasks._execute.execute` calls it, a ``Replayer`` answers the effects. Log lines are not
compared: a debug version may log more (those lines are the point of replay + swap), or less. Secret
effects are performed again and checked against their digests, with the store's key.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ucode import codec, effects
from ucode.errors import NoSuchRouteError, StoreCorruptError, TaskNotReplayableError, UcodeError
from ucode.namespace import StoredNamespace, commit, set_route
from ucode.records import TaskRecord, Trace
from ucode.replay import Recording, Replayer, ReplayResult, replay
from ucode.resolver import resolve, resolve_name
from ucode.routing._dispatch import not_live
from ucode.runtime import Entry, Runtime, call
from ucode.store import Store
from ucode.store import tasks as stored
from ucode.store.routes import task_scope
from ucode.tasks._query import find_task, task_list, trace_dict

__all__ = ["TaskReplay", "load_task_code", "replay_all", "replay_task", "route_task", "set_task_route", "swaps",
           "task_routes", "unroute_task"]


class TaskReplay(NamedTuple):
    """One replay of a recorded task. ``change`` sums it up for a person or a script: ``identical``,
    ``now succeeds`` (the recording failed, the replay did not: what a fix looks like), ``now fails``,
    ``different result`` (same effects), ``different effects`` (it asked for other effects), or ``secret
    changed`` (a secret effect, performed again, gave another value than the one recorded)."""

    task: str
    result: ReplayResult
    logs: list[str]
    swapped: dict[str, str]
    likely_causes: list[str]
    change: str = "identical"
    recorded_error: dict[str, str] | None = None
    trace: Trace | None = None  # where the replay raised (the user's frames), when it did

    def to_dict(self) -> dict[str, Any]:
        out = self.result.to_dict()
        out.update({"task": self.task, "logs": self.logs, "swapped": self.swapped,
                    "likely_causes": self.likely_causes, "change": self.change,
                    "recorded_error": self.recorded_error, **trace_dict(self.trace)})
        return out


def _change(outcome: ReplayResult, recorded_error: dict[str, str] | None) -> str:
    if outcome.identical:
        return "identical"
    if outcome.divergence is not None and outcome.divergence.kind == "secret":
        return "secret changed"
    if outcome.divergence is None or outcome.divergence.kind != "result":
        return "different effects"
    if recorded_error and not outcome.error:
        return "now succeeds"
    if outcome.error and not recorded_error:
        return "now fails"
    return "different result"


def swaps(store: Store, rec: TaskRecord, use: dict[str, str] | None) -> dict[str, str]:
    """A task's per-task overrides, then ``use`` (name -> version label or ``#hash``): full name -> hash."""
    with store.read() as txn:
        out = stored.overrides(txn, rec.id)
        if use:
            ns = StoredNamespace(txn)
            for name, target in use.items():
                full = resolve_name(ns, txn, name, rec.version)[0]
                out[full] = resolve(ns, txn, target if target.startswith("#") else f"{full}@{target}", None,
                                    ns.default())[1]
    return out


def load_task_code(runtime: Runtime, rec: TaskRecord, overrides: dict[str, str] | None) -> tuple[Any, Entry]:
    """The task's entry point in its snapshot (plus overrides), or why it cannot be rebuilt."""
    try:
        return runtime.load(rec.entry, version=rec.version, at=rec.position, overrides=overrides or None)
    except StoreCorruptError as exc:  # what it ran is gone (a damaged or partly copied store)
        raise TaskNotReplayableError(
            rec.id, f"the code it ran is not in this store ({exc.message})",
            hint="add the source it ran again (the same source gives the same hashes: ucode task show lists "
                 "them), or replay it in the store it ran in") from None
    except UcodeError as exc:
        if rec.modules is not None:
            raise
        raise TaskNotReplayableError(  # recorded before modules were programs: its code cannot be rebuilt
            rec.id, f"it was recorded by an older ucode, before modules were stored as programs ({exc.message})",
            hint="run it again to record a task that can be replayed") from None


def replay_task(store: Store, runtime: Runtime, task_id: str, use: dict[str, str] | None = None) -> TaskReplay:
    """Replay a recorded task against the names as of its start (plus its stored overrides and ``use``),
    serving every effect from its log."""
    rec = find_task(store, task_id)
    if rec.durability == "off":
        raise TaskNotReplayableError(
            rec.id, "it ran with --durability off: its effects were not recorded",
            hint="run it again with --durability batched (the default) to be able to replay it")
    if rec.args_note:
        raise TaskNotReplayableError(
            rec.id, rec.args_note, hint="tasks replay when their arguments are plain data (as `ucode run` passes them)")
    with store.read() as txn:
        raw = stored.event_rows(txn, rec.id)
    corrupt = [e for e in raw if isinstance(e, dict)]
    if corrupt:
        raise TaskNotReplayableError(
            rec.id, f"it has an unreadable event at seq {corrupt[0]['seq']}: {corrupt[0]['corrupt']}",
            hint="the other events are intact (ucode task show)")
    events: list[Any] = raw  # rows: the Replayer reads them as they are stored
    swapped = swaps(store, rec, use)
    obj, entry = load_task_code(runtime, rec, swapped)
    args, kwargs = codec.from_wire(rec.args), codec.from_wire(rec.kwargs)
    error = dict(rec.error) if rec.error else None
    recording = Recording(events, codec.from_wire(rec.result) if not error else None, error,
                          rec.result if not error else None)
    handler = Replayer(events, logs_as_output=True, secret_key=store.secret_key)
    raised: list[BaseException] = []

    def run() -> Any:
        try:
            return call(obj, list(args), dict(kwargs))
        except Exception as exc:  # where it raised, for the trace; replay() judges the error
            raised.append(exc)
            raise

    # a replay reproduces the run: as the same task (current_task()), no shadow runs, not counted
    with runtime.running(entry), not_live(), effects.running_as(rec.id):
        outcome = replay(run, recording, handler=handler)
    causes = []
    if not outcome.identical:
        for where, w in runtime.warnings(entry):
            causes.append(f"{where}: {w} (a hidden effect: not recorded, so not replayed)")
    tb = None
    if outcome.error is not None and raised:
        from ucode.tasks._trace import trace

        tb = trace(runtime, entry, raised[-1])
    return TaskReplay(rec.id, outcome, handler.logs, swapped, causes, _change(outcome, error), error, tb)


def replay_all(store: Store, runtime: Runtime, name: str | None = None,
               use: dict[str, str] | None = None) -> list[TaskReplay]:
    """Replay every finished, replayable task (of entry point ``name``: a full name or a suffix), newest
    first, with ``use`` swapped in each: a regression test built from recorded traffic."""
    recs = [r for r in task_list(store, name=name)
            if r["durability"] != "off" and r["status"] in ("succeeded", "failed")]
    return [replay_task(store, runtime, r["id"], use) for r in recs]


def task_routes(store: Store, task_id: str) -> tuple[str, dict[str, str]]:
    """The per-task routes of one task (``route list --task``): (task id, full name -> hash)."""
    rec = find_task(store, task_id)
    with store.read() as txn:
        return rec.id, stored.overrides(txn, rec.id)


def set_task_route(store: Store, task_id: str, name: str, target: str | None) -> None:
    """Make the full name ``name`` resolve to hash ``target`` in the replays of one task (None: remove it),
    as a route event of the namespace log (scope ``task:ID``)."""
    rec = find_task(store, task_id)
    with store.write() as txn:
        ev = set_route(txn, task_scope(rec.id), name, target)
        commit(txn, [ev], cause=f"route {'set' if target else 'unset'} {name} --task {rec.id}", now=store.clock())


def unroute_task(store: Store, task_id: str, name: str) -> tuple[str, str, bool]:
    """Remove the route of ``name`` (a full name or a unique suffix of a routed one) from one task's
    replays (``route unset``): (task id, full name, whether a route was removed). A name of the task's
    version that has no route changes nothing; a name that is neither is an error ("did you mean")."""
    rec = find_task(store, task_id)
    with store.write() as txn:
        routes = stored.overrides(txn, rec.id)
        found = [n for n in routes if n == name or n.endswith("." + name)]
        if len(found) > 1:
            raise NoSuchRouteError(rec.id, name, sorted(routes))
        if not found:
            return rec.id, resolve_name(StoredNamespace(txn), txn, name, rec.version)[0], False
        commit(txn, [set_route(txn, task_scope(rec.id), found[0], None)],
               cause=f"route unset {found[0]} --task {rec.id}", now=store.clock())
    return rec.id, found[0], True


def route_task(store: Store, task_id: str, name: str, target: str) -> tuple[str, str, str]:
    """Make ``name`` resolve to ``target`` (a version label or ``#hash``) in every later replay of one
    task (stored with the task, ``route set``): (task id, full name, hash)."""
    rec = find_task(store, task_id)
    with store.write() as txn:
        ns = StoredNamespace(txn)
        full = resolve_name(ns, txn, name, rec.version)[0]
        h = resolve(ns, txn, target if target.startswith("#") else f"{full}@{target}", None, ns.default())[1]
        commit(txn, [set_route(txn, task_scope(rec.id), full, h)],
               cause=f"route set {full} --task {rec.id} --version {target}", now=store.clock())
    return rec.id, full, h
