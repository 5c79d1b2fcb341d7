"""Executing a task: the entry point called with its arguments, every effect going through a handler.

Rule: execution is pure of storage: a runtime object, arguments and a handler in, an outcome out (the
handler's ``on_event`` is where the caller persists events). So a worker in another process or machine
can execute a task and hand its events and outcome back.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple

from ucode import effects
from ucode.records import error_of
from ucode.runtime import call

__all__ = ["Outcome", "execute", "execute_async"]


class Outcome(NamedTuple):
    """How a call ended: its result, or the exception it raised (with its traceback as text)."""

    result: Any
    error: BaseException | None
    traceback: str | None

    @property
    def error_record(self) -> dict[str, str] | None:
        return None if self.error is None else error_of(self.error)


def execute(obj: Any, args: list[Any], kwargs: dict[str, Any], handler: effects.Handler | None, *,
            state: effects.StateStore | None = None, task: str | None = None,
            context: AbstractContextManager[Any] | None = None) -> Outcome:
    """Call ``obj`` as ``ucode run`` does (coroutines run, generators collected) with ``handler`` handling
    its effects, world state read and written through ``state``, inside ``context`` (a snapshot in use)."""
    store_ctx: AbstractContextManager[Any] = effects.using_store(state, task) if state is not None else nullcontext()
    with context or nullcontext(), effects.using(handler), store_ctx:
        try:
            return Outcome(call(obj, args, kwargs), None, None)
        except Exception as exc:
            import traceback  # only when the code raised (traceback imports textwrap: start-up counts)

            return Outcome(None, exc, "".join(traceback.format_exception(exc)))


async def execute_async(obj: Any, args: list[Any], kwargs: dict[str, Any], handler: effects.Handler | None, *,
                        state: effects.StateStore | None = None, task: str | None = None) -> Outcome:
    """:func:`execute` for a coroutine (or async generator) function, awaited on the running loop."""
    import inspect

    store_ctx: AbstractContextManager[Any] = effects.using_store(state, task) if state is not None else nullcontext()
    with effects.using(handler), store_ctx:
        try:
            result = obj(*args, **kwargs)
            if inspect.isasyncgen(result):
                result = [x async for x in result]
            elif inspect.isawaitable(result):
                result = await result
            elif inspect.isgenerator(result):
                result = list(result)
            return Outcome(result, None, None)
        except Exception as exc:
            import traceback

            return Outcome(None, exc, "".join(traceback.format_exception(exc)))
        except BaseException as exc:  # cancelled: by an engine's purge (its error is the message) it is an outcome
            import asyncio

            cause = exc.args[0] if isinstance(exc, asyncio.CancelledError) and exc.args else None
            if not isinstance(cause, Exception):
                raise
            return Outcome(None, cause, f"{type(cause).__name__}: {cause}")
