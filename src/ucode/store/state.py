"""World state (``effects.state``): keyed values, and the log they are the fold of.

==============  ================================================================================
``state``       key -> value (wire form): the fold of ``statelog``, materialized
``statelog``    seq -> {seq, key, old, new, delete, task, time}: every write, in order
==============  ================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ucode.store._backend import Txn, pack, seq_key, seq_of, unpack

__all__ = ["load_state", "state_at", "state_log", "write_state"]


def load_state(txn: Txn, k: str) -> Any:
    raw = txn.get("state", k.encode())
    return None if raw is None else unpack(raw, "state", k)


def write_state(txn: Txn, k: str, value: Any, *, task: str | None, delete: bool, now: float) -> None:
    """Set (or delete) ``k``: append the write to the log, update the materialized state."""
    old = load_state(txn, k)
    found = txn.last("statelog")
    seq = (seq_of(found[0]) if found else 0) + 1
    txn.put("statelog", seq_key(seq), pack({"seq": seq, "key": k, "old": old, "new": None if delete else value,
                                            "delete": delete, "task": task, "time": now}))
    if delete:
        txn.delete("state", k.encode())
    else:
        txn.put("state", k.encode(), pack(value))


def state_log(txn: Txn) -> Iterator[dict[str, Any]]:
    for k, raw in txn.items("statelog"):
        rec = unpack(raw, "statelog", k)
        if isinstance(rec, dict):
            yield rec


def state_at(txn: Txn, seq: int | None) -> dict[str, Any]:
    """World state as of state-log position ``seq`` (all of it when None): the fold of ``statelog``."""
    out: dict[str, Any] = {}
    for ev in state_log(txn):
        if seq is not None and ev["seq"] > seq:
            break
        if ev["delete"]:
            out.pop(ev["key"], None)
        else:
            out[ev["key"]] = ev["new"]
    return out
