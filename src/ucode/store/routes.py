"""Routes, the counters of their calls and shadow runs, and the divergences shadow runs found.

Rule: a route's *value* is opaque text here (a policy, or a hash for a per-task route: ``ucode.routing``
knows what it means); the namespace log records every change of it (:mod:`ucode.namespace`), this table
is the fold of those events, materialized.

================  ==============================================================================
``routes``        ``scope \\0 name`` -> value. Scope ``""``: every call of the name (a policy, JSON);
                  scope ``task:ID``: the replays of one task (a hash)
``routestats``    ``name \\0 revision`` -> counters of one revision of a route (a map)
``divergences``   ``seq`` (8-byte big-endian) -> one divergence found by a shadow run (a map)
================  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ucode.store._backend import Txn, key, pack, seq_key, seq_of, unpack

__all__ = ["add_counts", "delete_scope", "divergences", "load_divergence", "load_stats", "own_route",
           "route_scopes", "routes", "save_divergence", "set_own_route", "task_scope"]


def task_scope(task_id: str) -> str:
    """The scope of one task's routes (what ``route set --task`` writes)."""
    return f"task:{task_id}"


def own_route(txn: Txn, scope: str, name: str) -> str | None:
    raw = txn.get("routes", key(scope, name))
    return None if raw is None else raw.decode()


def set_own_route(txn: Txn, scope: str, name: str, value: str | None) -> str | None:
    """Set (or, with None, remove) the route of ``name`` in ``scope``; returns the old value."""
    k = key(scope, name)
    raw = txn.get("routes", k)
    old = None if raw is None else raw.decode()
    if old != value:
        if value is None:
            txn.delete("routes", k)
        else:
            txn.put("routes", k, value.encode())
    return old


def routes(txn: Txn, scope: str = "") -> dict[str, str]:
    """The routes of one scope: name -> value."""
    prefix = key(scope, "")
    return {k[len(prefix):].decode(): v.decode() for k, v in txn.items("routes", prefix)}


def route_scopes(txn: Txn) -> dict[str, dict[str, str]]:
    """Every route: scope -> name -> value."""
    out: dict[str, dict[str, str]] = {}
    for k, v in txn.items("routes"):
        scope, _, name = k.decode().partition("\0")
        out.setdefault(scope, {})[name] = v.decode()
    return out


def delete_scope(txn: Txn, scope: str) -> dict[str, str]:
    """Remove every route of ``scope`` (a pruned task's); returns what was there."""
    found = routes(txn, scope)
    for name in found:
        txn.delete("routes", key(scope, name))
    return found


# ------------------------------------------------------------------------------------ counters


def load_stats(txn: Txn, name: str, revision: str) -> dict[str, Any]:
    raw = txn.get("routestats", key(name, revision))
    rec = unpack(raw, "routestats", f"{name} {revision}") if raw is not None else {}
    return rec if isinstance(rec, dict) else {}


def add_counts(txn: Txn, name: str, revision: str, counts: Mapping[str, float]) -> dict[str, Any]:
    """Add ``counts`` to the counters of one revision of a route (read, add, write: one transaction)."""
    rec = load_stats(txn, name, revision)
    for k, n in counts.items():
        if n:
            rec[k] = rec.get(k, 0) + n
    txn.put("routestats", key(name, revision), pack(rec))
    return rec


# ------------------------------------------------------------------------------------ divergences


def save_divergence(txn: Txn, record: dict[str, Any]) -> int:
    """Append a divergence; returns its number (``d`` + number is its id)."""
    last = txn.last("divergences")
    n = seq_of(last[0]) + 1 if last is not None else 1
    txn.put("divergences", seq_key(n), pack({**record, "id": f"d{n}"}))
    return n


def load_divergence(txn: Txn, n: int) -> dict[str, Any] | None:
    raw = txn.get("divergences", seq_key(n))
    if raw is None:
        return None
    rec = unpack(raw, "divergences", f"d{n}")
    return rec if isinstance(rec, dict) else None


def divergences(txn: Txn, *, reverse: bool = True) -> Iterator[dict[str, Any]]:
    """Every divergence, newest first (``reverse=False``: oldest first)."""
    for k, raw in txn.items("divergences", reverse=reverse):
        rec = unpack(raw, "divergences", k)
        if isinstance(rec, dict):
            yield rec
