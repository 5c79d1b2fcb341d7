"""The namespace as a fold of its event log.

State = fold(events). The store keeps the folded state materialized (so reads are cheap) and appends
the events in the same transaction; this module is the *definition* of what the state is, used to
rebuild the namespace as of any log position and by ``verify`` to check the materialized tables.

Events (msgpack maps in the ``log`` table), by ``kind``:

==========  =====================================================================================
``bind``    in ``version``, ``name`` goes from ``old`` to ``new``. A hash, ``""`` (explicitly unbound:
            hides the parent's binding) or ``None`` (no entry of its own: inherits from the parent).
``version`` version ``name`` is created with parent ``old`` (``None`` for the root).
``use``     the default version goes from ``old`` to ``new``.
``module``  in ``version``, module ``name`` goes from program ``old`` to program ``new`` (hash, ``""`` or
            ``None``, as for ``bind``): which program runs when the module is imported.
==========  =====================================================================================

Every event has ``seq`` (its key), ``time``, ``op`` (the id of the command that wrote it; an ``undo``
appends the inverse events of one op with ``undoes`` set) and ``cause`` (what the user did).

Lookups walk the version chain: a version stores only what differs from its parent (copy-on-write), so
``lookup(v2, n)`` is v2's own entry if it has one, else ``lookup(parent(v2), n)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NamespaceState", "fold", "inverse"]


@dataclass
class NamespaceState:
    own: dict[str, dict[str, str]] = field(default_factory=dict)  # version -> name -> hash | ""
    parents: dict[str, str | None] = field(default_factory=dict)
    default: str | None = None
    modules: dict[str, dict[str, str]] = field(default_factory=dict)  # version -> module -> program | ""

    def chain(self, version: str) -> list[str]:
        out: list[str] = []
        v: str | None = version
        while v is not None and v not in out:
            out.append(v)
            v = self.parents.get(v)
        return out

    def lookup(self, version: str, name: str) -> str | None:
        for v in self.chain(version):
            h = self.own.get(v, {}).get(name)
            if h is not None:
                return h or None
        return None

    def bindings(self, version: str) -> dict[str, str]:
        return _merged(self.own, self.chain(version))

    def module(self, version: str, module: str) -> str | None:
        for v in self.chain(version):
            h = self.modules.get(v, {}).get(module)
            if h is not None:
                return h or None
        return None

    def module_bindings(self, version: str) -> dict[str, str]:
        """Every module -> the program it is bound to in ``version``."""
        return _merged(self.modules, self.chain(version))


def _merged(tables: dict[str, dict[str, str]], chain: list[str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for v in reversed(chain):
        merged.update(tables.get(v, {}))
    return {n: h for n, h in sorted(merged.items()) if h}


def apply(state: NamespaceState, ev: Mapping[str, Any]) -> None:
    kind = ev["kind"]
    if kind in ("bind", "module"):
        table = (state.own if kind == "bind" else state.modules).setdefault(ev["version"], {})
        if ev["new"] is None:
            table.pop(ev["name"], None)
        else:
            table[ev["name"]] = ev["new"]
    elif kind == "version":
        state.parents[ev["name"]] = ev["old"]
        state.own.setdefault(ev["name"], {})
        if state.default is None:
            state.default = ev["name"]
    elif kind == "use":
        state.default = ev["new"]


def fold(events: Iterable[Mapping[str, Any]], *, at: int | None = None) -> NamespaceState:
    """The namespace after every event with ``seq <= at`` (all of them when ``at`` is None)."""
    state = NamespaceState()
    for ev in events:
        if at is not None and ev["seq"] > at:
            break
        apply(state, ev)
    return state


def inverse(ev: Mapping[str, Any]) -> dict[str, Any] | None:
    """The event that undoes ``ev``, or None when it cannot be undone (versions are never removed)."""
    if ev["kind"] in ("bind", "use", "module"):
        return {**ev, "old": ev["new"], "new": ev["old"]}
    return None
