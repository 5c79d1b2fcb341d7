"""Calling an entry point as ``ucode run`` does: arguments checked against the signature first;
coroutines run to completion and generators collected, so the result can be printed or recorded."""

from __future__ import annotations

import contextlib
import inspect
import weakref
from typing import Any

from ucode.errors import BadArgumentsError, NotCallableError

__all__ = ["call", "check_arguments"]


_SIGNATURES: weakref.WeakKeyDictionary[Any, inspect.Signature | None] = weakref.WeakKeyDictionary()
"""Signatures of entry points already called (a long-running engine checks one on every task)."""


def _signature(obj: Any) -> inspect.Signature | None:
    try:
        return _SIGNATURES[obj]
    except (KeyError, TypeError):  # not seen yet; or not weakly referenceable: computed each time
        pass
    try:
        sig: inspect.Signature | None = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = None
    with contextlib.suppress(TypeError):
        _SIGNATURES[obj] = sig
    return sig


def check_arguments(ref: str, obj: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Refuse a call whose arguments do not fit the signature, with a message naming it (instead of a
    TypeError from deep inside)."""
    if not callable(obj):
        return
    sig = _signature(obj)
    if sig is None:
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
