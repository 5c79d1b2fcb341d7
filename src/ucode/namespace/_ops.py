"""Changing the namespace: each change writes the materialized tables and returns the event that says
so; :func:`commit` appends one command's events to the log as one ``op``.

Rule: nothing here decides *what* to change (that is the caller's: ``bind``, ``add``, ``undo``); every
change goes through these functions, so the tables and the log can never disagree.
"""

from __future__ import annotations

from typing import Any

from ucode.errors import NothingToUndoError, VersionError
from ucode.namespace._chain import StoredNamespace
from ucode.namespace._fold import inverse
from ucode.records import NamespaceEvent
from ucode.refs import validate_version
from ucode.store import Txn
from ucode.store import names as stored
from ucode.store import routes as stored_routes

__all__ = ["clear_move", "commit", "create_version", "drop_version", "ensure_version", "remove_binding",
           "set_binding", "set_module", "set_move", "set_route", "undo_last", "use_version", "version_children"]

Event = dict[str, Any]


def set_binding(txn: Txn, version: str, name: str, new: str | None) -> Event | None:
    """Set ``name``'s own entry in ``version`` (a hash, "" = unbound, None = inherit): the event, or None
    when nothing changes."""
    old = stored.own_binding(txn, version, name)
    if old == new:
        return None
    stored.set_own_binding(txn, version, name, new)
    return {"kind": "bind", "version": version, "name": name, "old": old, "new": new}


def remove_binding(ns: StoredNamespace, version: str, name: str) -> Event | None:
    """Unbind ``name`` in ``version``: drop its own entry, or hide the parent's binding with ``""``."""
    parent = ns.parent(version)
    inherited = parent is not None and ns.lookup(parent, name) is not None
    return set_binding(ns.txn, version, name, "" if inherited else None)


def set_module(txn: Txn, version: str, module: str, new: str | None) -> Event | None:
    """Set ``module``'s own program in ``version`` (hash, "" = unbound, None = inherit): the event."""
    old = stored.own_module(txn, version, module)
    if old == new:
        return None
    stored.set_own_module(txn, version, module, new)
    return {"kind": "module", "version": version, "name": module, "old": old, "new": new}


def set_move(txn: Txn, version: str, name: str, new: str | None) -> Event | None:
    """Set where ``name`` was moved to in ``version`` (a name, "" = not moved here, None = inherit)."""
    old = stored.own_move(txn, version, name)
    if old == new:
        return None
    stored.set_own_move(txn, version, name, new)
    return {"kind": "moved", "version": version, "name": name, "old": old, "new": new}


def clear_move(ns: StoredNamespace, version: str, name: str) -> Event | None:
    """``name`` is no longer moved in ``version`` (it is bound again, or moved back): drop its own entry, or
    hide a parent's move with ``""``."""
    if ns.moved_to(version, name) is None and ns.own_move(version, name) is None:
        return None
    parent = ns.parent(version)
    inherited = parent is not None and ns.moved_to(parent, name) is not None
    return set_move(ns.txn, version, name, "" if inherited else None)


def set_route(txn: Txn, scope: str, name: str, new: str | None) -> Event | None:
    """Set the route of ``name`` in ``scope`` (a value, None = no route): the event, or None when nothing
    changes."""
    old = stored_routes.set_own_route(txn, scope, name, new)
    if old == new:
        return None
    return {"kind": "route", "version": scope, "name": name, "old": old, "new": new}


def create_version(txn: Txn, version: str, parent: str, now: float) -> Event:
    validate_version(version)
    stored.save_version(txn, version, stored.VersionRecord(parent, now))
    return {"kind": "version", "version": version, "name": version, "old": parent, "new": None}


def ensure_version(ns: StoredNamespace, version: str, now: float) -> Event | None:
    """Create ``version`` from the default version when it is new: the event, or None."""
    if ns.exists(version):
        return None
    return create_version(ns.txn, version, ns.default(), now)


def drop_version(ns: StoredNamespace, version: str) -> list[Event | None]:
    """Remove ``version``: its own bindings of names and modules, then the version itself (a ``drop``
    event, which ``undo`` reverses). The caller checks that it is neither the default version nor the
    parent of another (:func:`version_children`)."""
    txn = ns.txn
    parent = ns.parent(version)
    events: list[Event | None] = [set_binding(txn, version, n, None) for n in sorted(ns.own_all(version))]
    events += [set_module(txn, version, m, None) for m in sorted(ns.own_modules(version))]
    events += [set_move(txn, version, n, None) for n in sorted(ns.own_moves(version))]
    stored.delete_version(txn, version)
    events.append({"kind": "drop", "version": version, "name": version, "old": parent, "new": None})
    return events


def version_children(txn: Txn, version: str) -> list[str]:
    """The versions whose parent is ``version``."""
    return sorted(v for v in stored.version_names(txn)
                  if (rec := stored.load_version(txn, v)) is not None and rec.parent == version)


def use_version(txn: Txn, version: str) -> Event | None:
    old = stored.load_default(txn)
    if old == version:
        return None
    stored.save_default(txn, version)
    return {"kind": "use", "version": version, "name": "", "old": old, "new": version}


def commit(txn: Txn, events: list[Event | None], *, cause: str, now: float,
           undoes: int | None = None) -> list[NamespaceEvent]:
    """Append the events of one command to the log (the ones that changed something)."""
    kept = [e for e in events if e is not None]
    if not kept:
        return []
    return stored.append_events(txn, kept, cause=cause, now=now, undoes=undoes)


def undo_last(txn: Txn, now: float) -> tuple[int, str, list[NamespaceEvent]]:
    """Undo the newest command that changed names, modules or routes (and is not undone yet) by appending its
    inverse events. Returns (the op undone, its cause, the events written)."""
    undone: set[int] = set()
    target: list[NamespaceEvent] = []
    for ev in stored.events(txn, reverse=True):
        if ev.undoes is not None:
            undone.add(ev.undoes)
            continue
        if target and ev.op != target[0].op:
            if not all(e.kind == "version" for e in target):
                break
            target = []  # a version created alone (`version create`): not undone; further back
        if ev.op in undone:
            continue
        if inverse(ev) is None and not target:
            continue
        target.append(ev)
    if all(e.kind == "version" for e in target):
        target = []
    inverses = [inv for ev in target if (inv := inverse(ev)) is not None]
    if not inverses:
        raise NothingToUndoError("nothing to undo", hint="`ucode history` shows the namespace log")
    for inv in inverses:  # target is newest first: undone in reverse order
        if inv["kind"] == "version":  # a dropped version comes back (its bindings follow)
            stored.save_version(txn, inv["name"], stored.VersionRecord(inv["old"], now))
        elif inv["kind"] == "drop":  # a version the op created goes (its bindings were undone first)
            stored.delete_version(txn, inv["name"])
        elif inv["kind"] == "bind":
            stored.set_own_binding(txn, inv["version"], inv["name"], inv["new"])
        elif inv["kind"] == "module":
            stored.set_own_module(txn, inv["version"], inv["name"], inv["new"])
        elif inv["kind"] == "moved":
            stored.set_own_move(txn, inv["version"], inv["name"], inv["new"])
        elif inv["kind"] == "route":
            stored_routes.set_own_route(txn, inv["version"], inv["name"], inv["new"])
        elif inv["kind"] == "use":
            if inv["new"] is None:
                raise VersionError("cannot undo: the log has no default version to go back to")
            stored.save_default(txn, inv["new"])
    cause = target[0].cause
    return target[0].op, cause, stored.append_events(txn, inverses, cause=f"undo: {cause}", now=now,
                                                      undoes=target[0].op)
