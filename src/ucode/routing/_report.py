"""What routes did: counters per route and the divergences shadow runs recorded.

Rule: read only. The counters are the store's (written by shadow runs and by ``flush``) plus those this
process gathered and has not written yet, of the route as it is now: its revision and the hash its
candidate runs (``counter_key``), so a fixed candidate starts from zero. Replays are not counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ucode import codec
from ucode.errors import DivergenceNotFoundError
from ucode.routing._ops import _routed, _view
from ucode.store import Store
from ucode.store import routes as stored

if TYPE_CHECKING:
    from ucode.routing._dispatch import Router

__all__ = ["COUNTERS", "divergence", "report"]

COUNTERS = ("calls", "primary", "candidate", "no_key", "shadowed", "matched", "diverged", "candidate_errors",
            "primary_errors", "candidate_slower", "candidate_faster", "dropped", "unshadowable")


def _summary(rec: dict[str, Any]) -> dict[str, Any]:
    return {"id": rec["id"], "task": rec.get("task"), "time": rec.get("time"), "kinds": rec.get("kinds", []),
            "revision": rec.get("revision"), "args": codec.from_wire(rec.get("args", [])),
            "kwargs": codec.from_wire(rec.get("kwargs", {}))}


def report(store: Store, router: Router | None, name: str, *, limit: int = 5) -> dict[str, Any]:
    """The report of ``name``'s route (``route report``): its counters and its latest divergences."""
    from ucode.routing._dispatch import counter_key

    with store.read() as txn:
        full, policy = _routed(txn, name)
        view = _view(txn, full, policy)
        key = counter_key(policy, view.targets.get("candidate" if policy.candidate else "primary"))
        counts: dict[str, Any] = dict(stored.load_stats(txn, full, key))
        latest: list[dict[str, Any]] = []
        total = 0
        for rec in stored.divergences(txn):
            if rec.get("route") == full and rec.get("revision") == key:
                total += 1
                if len(latest) < limit:
                    latest.append(_summary(rec))
    if router is not None:
        for k, n in router.pending(full).get(key, {}).items():
            counts[k] = counts.get(k, 0) + n
    out: dict[str, Any] = {"name": full, "route": view.to_dict(), "counters": key}
    out.update({k: int(counts.get(k, 0)) for k in COUNTERS})
    out["primary"] = out["calls"] - out["candidate"]  # every call the candidate did not answer
    shadowed = out["shadowed"]
    out["primary_mean_ms"] = round(1000 * counts.get("primary_time", 0.0) / shadowed, 3) if shadowed else None
    out["candidate_mean_ms"] = round(1000 * counts.get("candidate_time", 0.0) / shadowed, 3) if shadowed else None
    out["divergences"] = latest
    out["divergences_total"] = total
    return out


def divergence(store: Store, divergence_id: str) -> dict[str, Any]:
    """One divergence, whole (``divergence show``): its arguments and results decoded."""
    text = divergence_id.lstrip("#")
    n = int(text[1:]) if text[:1] == "d" and text[1:].isdigit() else (int(text) if text.isdigit() else 0)
    with store.read() as txn:
        rec = stored.load_divergence(txn, n) if n else None
    if rec is None:
        raise DivergenceNotFoundError(divergence_id)
    out = dict(rec)
    out["args"] = codec.from_wire(rec.get("args", []))
    out["kwargs"] = codec.from_wire(rec.get("kwargs", {}))
    for side in ("primary", "candidate"):
        s = dict(rec.get(side, {}))
        s["result"] = codec.from_wire(s.get("result"))
        out[side] = s
    return out
