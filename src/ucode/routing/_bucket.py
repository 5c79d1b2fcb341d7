"""Sticky percentages: a call's routing key, its bucket, and whether the bucket is in the candidate's share.

Rule: a key's bucket depends only on the route's salt and the key's text, through blake3 (never Python's
``hash()``, which changes per process): the same key lands in the same bucket on every machine, run and
Python. A call goes to the candidate when its bucket is below ``percent * 100`` (buckets are 0..9999), so
raising the percent only adds keys and lowering it only removes them (a monotonic ramp, as LaunchDarkly,
Unleash and flagd do it).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from blake3 import blake3

__all__ = ["BUCKETS", "MISSING", "bucket", "bucket_of", "in_share", "key_reader", "key_text", "threshold"]

BUCKETS = 10_000
MISSING = object()


def key_text(value: Any) -> str:
    """The text a key value is hashed as: a str as itself, an int or a float as its decimal form, anything
    else as its repr (tuples, UUIDs and enums have stable ones)."""
    t = type(value)
    if t is str:
        return value  # type: ignore[no-any-return]
    if t is int:
        return str(value)
    if t is bool:
        return "true" if value else "false"
    return repr(value)


def bucket(salt: str, key: str) -> int:
    """The bucket (0..9999) of ``key`` under ``salt``: the first 8 bytes of blake3(salt NUL key), as a
    big-endian fraction of 2**64, times 10,000."""
    return bucket_of(salt)(key)


def bucket_of(salt: str) -> Callable[[str], int]:
    """:func:`bucket` for one salt (its bytes made once: a dispatcher hashes a new key per call)."""
    prefix = salt.encode() + b"\0"
    from_bytes = int.from_bytes

    def of(key: str) -> int:
        return (from_bytes(blake3(prefix + key.encode()).digest(8), "big") * BUCKETS) >> 64

    return of


def threshold(percent: float) -> int:
    """The first bucket not in a ``percent`` share: a bucket below it goes to the candidate."""
    return round(percent * BUCKETS / 100)


def in_share(b: int, percent: float) -> bool:
    """Whether bucket ``b`` is in the first ``percent`` percent of buckets."""
    return b < threshold(percent)


def key_reader(fn: Callable[..., Any], path: list[str]) -> Callable[[tuple[Any, ...], dict[str, Any]], Any]:
    """A function reading the key at ``path`` from a call's arguments (``MISSING`` when the call has no
    such value). The argument is found by position or keyword, as the signature binds it, without binding
    the whole signature on every call (that would cost more than the rest of a routing decision)."""
    first, rest = path[0], path[1:]
    index: int | None = None
    default: Any = MISSING
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    for i, p in enumerate(params):
        if p.name == first:
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                index = i
            if p.default is not p.empty:
                default = p.default
            break

    def read(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # (the dispatcher reads ``read.index`` to take a positional key itself: one call less per call)
        value = args[index] if index is not None and index < len(args) else kwargs.get(first, default)
        for part in rest:
            if value is MISSING:
                return MISSING
            value = value.get(part, MISSING) if isinstance(value, dict) else getattr(value, part, MISSING)
        return value

    read.index = index if not rest else None  # type: ignore[attr-defined]
    return read
