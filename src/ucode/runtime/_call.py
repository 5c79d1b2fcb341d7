"""Calling an entry point as ``ucode run`` does: arguments checked against the signature first;
coroutines run to completion and generators collected, so the result can be printed or recorded."""

from __future__ import annotations

import inspect
from typing import Any

from ucode.errors import BadArgumentsError, NotCallableError

__all__ = ["call", "check_arguments"]


def check_arguments(ref: str, obj: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Refuse a call whose arguments do not fit the signature, with a message naming it (instead of a
    TypeError from deep inside)."""
    if not callable(obj):
        return
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise BadArgumentsError(ref, str(sig), str(exc)) from None


def call(obj: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call a stored entry point as ``ucode run`` does: coroutines run to completion, generators are
    collected into lists (so the result can be printed or serialized)."""
    if not callable(obj):
        if args or kwargs:
            raise NotCallableError(repr(obj))
        return obj
    result = obj(*args, **kwargs)
    if inspect.iscoroutine(result) or inspect.isasyncgen(result):
        import asyncio  # only when needed: it costs ~40 ms to import
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    if inspect.isgenerator(result):
        result = list(result)
    elif inspect.isasyncgen(result):
        agen = result

        async def collect() -> list[Any]:
            return [x async for x in agen]

        result = asyncio.run(collect())
    return result
