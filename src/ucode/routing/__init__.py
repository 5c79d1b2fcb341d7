"""Routing: per function name, which version answers a call, as event-sourced data in the store.

Rule: a route is namespace state (route events of the namespace log: ``history`` shows them, ``undo``
takes them back, a snapshot at a log position has the routes of that position), and only routed names pay
for it: a routed function is a dispatcher in its module (:mod:`._dispatch`), everything else is a plain
call. The policies are :mod:`._policy`'s (``primary``, ``shadow``, ``percent``; a per-task route is a route
of the scope ``task:ID``); stickiness is :mod:`._bucket`'s; a shadow run's sandbox is :mod:`._sandbox`'s and
its queue and comparison :mod:`._shadow`'s; changes are checked and written by :mod:`._ops` and from a file
by :mod:`._config`; :mod:`._report` reads what routes did. docs/routing.md is the user's guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ucode.routing._bucket import BUCKETS, bucket, in_share, key_text
    from ucode.routing._config import apply_file, read_file
    from ucode.routing._dispatch import ROUTE_EFFECT, Router, not_live
    from ucode.routing._ops import (
        RouteChange,
        RouteView,
        clear_route,
        list_routes,
        promote_route,
        route_view,
        set_policy,
        write_policies,
    )
    from ucode.routing._policy import MODES, READS, Policy
    from ucode.routing._report import COUNTERS, divergence, report

# Imported on first use: a run imports the dispatcher only (start-up), `route apply` the file reader.
_LAZY = {
    **dict.fromkeys(("BUCKETS", "bucket", "in_share", "key_text"), "ucode.routing._bucket"),
    **dict.fromkeys(("apply_file", "read_file"), "ucode.routing._config"),
    **dict.fromkeys(("ROUTE_EFFECT", "Router", "not_live"), "ucode.routing._dispatch"),
    **dict.fromkeys(("RouteChange", "RouteView", "clear_route", "list_routes", "promote_route", "route_view",
                     "set_policy", "write_policies"), "ucode.routing._ops"),
    **dict.fromkeys(("MODES", "READS", "Policy"), "ucode.routing._policy"),
    **dict.fromkeys(("COUNTERS", "divergence", "report"), "ucode.routing._report"),
}


class LazyRouter:
    """The runtime's route hook for one codebase: makes the :class:`Router` when a module with routed names
    first runs, so code without routes never imports the dispatcher (``ucode run`` counts its start-up)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.runtime: Any = None
        self.router: Router | None = None

    def get(self) -> Router:
        if self.router is None:
            from ucode.routing._dispatch import Router

            self.router = Router(self.store)
            self.router.runtime = self.runtime
        return self.router

    def install(self, snap: Any, module: Any, routes: Any) -> None:
        self.get().install(snap, module, routes)

    def content(self, snap: Any, module: str, routes: Any) -> list[Any]:
        from ucode.routing._policy import Policy

        router = self.get()
        out: list[Any] = []
        for attr, text in sorted(routes.items()):
            policy = Policy.from_text(text)
            labels = [policy.primary, policy.candidate]
            out.append([attr, text, [router.target_hash(snap, f"{module}.{attr}", x) if x else "" for x in labels]])
        return out

    def drain(self, timeout: float | None = 30.0) -> int:
        return self.router.drain(timeout) if self.router is not None else 0

    def close(self) -> None:
        if self.router is not None:
            self.router.close()


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ucode.routing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BUCKETS", "COUNTERS", "MODES", "READS", "ROUTE_EFFECT", "LazyRouter", "Policy", "RouteChange", "RouteView",
    "Router", "apply_file", "bucket", "clear_route", "divergence", "in_share", "key_text", "list_routes",
    "not_live", "promote_route", "read_file", "report", "route_view", "set_policy", "write_policies",
]
