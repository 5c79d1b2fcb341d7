"""Keyed world state (``effects.state``): values kept in the store, each write an event of its state log,
and each call, inside a task, a recorded effect (so a replay sees what the run saw and writes nothing).

Rule: the state lives behind :class:`StateStore` (a ``Codebase``): this module never imports the store.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from ucode.effects._mechanism import effect

__all__ = ["StateStore", "current_task", "running_as", "state", "using_store"]

class StateStore(Protocol):
    """Where world state lives (a ``Codebase`` is one): values in wire form, each write an event."""

    def state_get(self, key: str) -> Any: ...

    def state_write(self, key: str, value: Any, *, task: str | None = None, delete: bool = False) -> None: ...


_store: contextvars.ContextVar[StateStore | None] = contextvars.ContextVar("ucode_state_store", default=None)
_task: contextvars.ContextVar[str | None] = contextvars.ContextVar("ucode_task_id", default=None)


@contextmanager
def using_store(codebase: StateStore, task: str | None = None) -> Iterator[None]:
    """Keyed world state (``effects.state``) reads and writes this codebase's store in the block (a task
    run does this for you)."""
    t1, t2 = _store.set(codebase), _task.set(task)
    try:
        yield
    finally:
        _store.reset(t1)
        _task.reset(t2)


@contextmanager
def running_as(task: str | None) -> Iterator[None]:
    """The block runs as task ``task`` (``current_task()`` answers it) without a state store: a replay,
    whose state effects are served from the log."""
    token = _task.set(task)
    try:
        yield
    finally:
        _task.reset(token)


def current_task() -> str | None:
    """The id of the task running here (None outside tasks)."""
    return _task.get()


def _codebase() -> StateStore:
    cb = _store.get()
    if cb is None:
        from ucode.errors import NoStateStoreError

        raise NoStateStoreError()
    return cb


class _State:
    """Keyed world state kept in the store: ``state.get(key)``, ``state.put(key, value)``,
    ``state.delete(key)``. Each write is an event of the store's state log (state = fold of those events,
    ``Codebase.state_at``); inside a task each call is also a recorded effect, so a replay sees the values
    the run saw and writes nothing."""

    @staticmethod
    @effect(name="state.get")
    def get(key: str, default: Any = None) -> Any:
        from ucode import codec

        raw = _codebase().state_get(key)
        return default if raw is None else codec.from_wire(raw)

    @staticmethod
    @effect(name="state.put", writes=True)
    def put(key: str, value: Any) -> None:
        from ucode import codec

        _codebase().state_write(key, codec.to_wire(value, where=f"the value of state {key!r}"), task=_task.get())

    @staticmethod
    @effect(name="state.delete", writes=True)
    def delete(key: str) -> None:
        _codebase().state_write(key, None, task=_task.get(), delete=True)


state = _State()
