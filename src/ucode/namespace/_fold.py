"""The namespace as a fold of its event log: the *definition* of what the namespace is.

State = fold(events). The store keeps the folded state materialized (so reads are cheap) and appends the
events in the same transaction; this fold rebuilds the namespace as of any log position (a task's
replay), and ``verify`` checks the materialized tables against it.

Events (``records.NamespaceEvent``), by ``kind``:

==========  =====================================================================================
``bind``    in ``version``, ``name`` goes from ``old`` to ``new``. A hash, ``""`` (explicitly unbound:
            hides the parent's binding) or ``None`` (no entry of its own: inherits from the parent).
``module``  in ``version``, module ``name`` goes from program ``old`` to program ``new`` (as ``bind``).
``version`` version ``name`` is created with parent ``old`` (``None`` for the root).
``use``     the default version goes from ``old`` to ``new``.
``moved``   in ``version``, name ``name`` was moved to ``new`` (from ``old``; as ``bind``: a name, ``""`` or
            ``None``): code calling ``name`` runs what ``new`` is bound to.
``drop``    version ``name`` (whose parent was ``old``) is deleted; its own entries were unset before.
``route``   in scope ``version`` (``""``: every call of the name; ``task:ID``: one task's replays), the route
            of ``name`` goes from ``old`` to ``new`` (a policy as text, a hash for a task; None: no route).
==========  =====================================================================================

Every event has ``seq`` (its key), ``time``, ``op`` (the id of the command that wrote it; an ``undo``
appends the inverse events of one op with ``undoes`` set) and ``cause`` (what the user did).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ucode.namespace._chain import VersionChain
from ucode.records import NamespaceEvent

__all__ = ["NamespaceState", "fold", "inverse"]


class NamespaceState(VersionChain):
    """The namespace after some events: each version's own entries, parents and the default."""

    def __init__(self) -> None:
        super().__init__()
        self.own_names: dict[str, dict[str, str]] = {}  # version -> name -> hash | ""
        self.own_programs: dict[str, dict[str, str]] = {}  # version -> module -> program | ""
        self.own_moved: dict[str, dict[str, str]] = {}  # version -> old name -> new name | ""
        self.own_routes: dict[str, dict[str, str]] = {}  # scope -> name -> route value
        self.parents: dict[str, str | None] = {}
        self.default: str | None = None

    def parent(self, version: str) -> str | None:
        return self.parents.get(version)

    def exists(self, version: str) -> bool:
        return version in self.parents

    def own(self, version: str, name: str) -> str | None:
        return self.own_names.get(version, {}).get(name)

    def own_all(self, version: str, prefix: str = "") -> dict[str, str]:
        return {n: h for n, h in self.own_names.get(version, {}).items() if n.startswith(prefix)}

    def own_module(self, version: str, module: str) -> str | None:
        return self.own_programs.get(version, {}).get(module)

    def own_modules(self, version: str) -> dict[str, str]:
        return dict(self.own_programs.get(version, {}))

    def own_move(self, version: str, name: str) -> str | None:
        return self.own_moved.get(version, {}).get(name)

    def own_moves(self, version: str) -> dict[str, str]:
        return dict(self.own_moved.get(version, {}))

    def routes(self, scope: str = "") -> dict[str, str]:
        return dict(self.own_routes.get(scope, {}))

    def apply(self, ev: NamespaceEvent) -> None:
        if ev.kind in ("bind", "module", "moved", "route"):
            tables = {"bind": self.own_names, "module": self.own_programs, "moved": self.own_moved,
                      "route": self.own_routes}
            table = tables[ev.kind].setdefault(ev.version, {})
            if ev.new is None:
                table.pop(ev.name, None)
            else:
                table[ev.name] = ev.new
        elif ev.kind == "version":
            self.parents[ev.name] = ev.old
            self._chains.clear()
            self.own_names.setdefault(ev.name, {})
            if self.default is None:
                self.default = ev.name
        elif ev.kind == "drop":
            self.parents.pop(ev.name, None)
            self.own_names.pop(ev.name, None)
            self.own_programs.pop(ev.name, None)
            self.own_moved.pop(ev.name, None)
            self._chains.clear()
        elif ev.kind == "use":
            self.default = ev.new


def fold(events: Iterable[NamespaceEvent], *, at: int | None = None) -> NamespaceState:
    """The namespace after every event with ``seq <= at`` (all of them when ``at`` is None)."""
    state = NamespaceState()
    for ev in events:
        if at is not None and ev.seq > at:
            break
        state.apply(ev)
    return state


def inverse(ev: NamespaceEvent) -> dict[str, Any] | None:
    """The event that undoes ``ev``, or None when it cannot be undone. A version created alone by
    ``version create`` is not undone (``version delete`` removes it); one created by a command that also
    bound names in it (``add --version V``, ``bind NAME@V --create``, ``version rename``) is dropped with
    them. A dropped version (``version delete``) is created again, then its bindings restored."""
    if ev.kind in ("bind", "use", "module", "moved", "route"):
        return {"kind": ev.kind, "version": ev.version, "name": ev.name, "old": ev.new, "new": ev.old}
    if ev.kind == "version" and (ev.old is not None or ev.new is not None):  # not a store's first version
        return {"kind": "drop", "version": ev.version, "name": ev.name, "old": ev.old, "new": None}
    if ev.kind == "drop":
        return {"kind": "version", "version": ev.version, "name": ev.name, "old": ev.old, "new": None}
    return None
