"""Versions as a chain of parents: one implementation of "what does version V bind", over any source of
each version's own entries.

Rule: a version stores only what differs from its parent (copy-on-write); a name or module it has no
entry for falls back to the parent, *live*; an entry ``""`` hides the parent's. Both the materialized
tables (:class:`StoredNamespace`) and the fold of the log at any position
(:class:`ucode.namespace.NamespaceState`) are a :class:`VersionChain`: the walk is written once, here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ucode.store import Txn
from ucode.store import names as stored
from ucode.store import routes as stored_routes

__all__ = ["StoredNamespace", "VersionChain"]


class VersionChain(ABC):
    """Lookups through a version's chain of parents; subclasses say what each version holds itself."""

    def __init__(self) -> None:
        self._chains: dict[str, list[str]] = {}

    @abstractmethod
    def parent(self, version: str) -> str | None: ...

    @abstractmethod
    def exists(self, version: str) -> bool: ...

    @abstractmethod
    def own(self, version: str, name: str) -> str | None:
        """The version's own entry for a name: a hash, "" (unbound here) or None (inherits)."""

    @abstractmethod
    def own_all(self, version: str, prefix: str = "") -> dict[str, str]: ...

    @abstractmethod
    def own_module(self, version: str, module: str) -> str | None: ...

    @abstractmethod
    def own_modules(self, version: str) -> dict[str, str]: ...

    @abstractmethod
    def own_move(self, version: str, name: str) -> str | None:
        """Where the version itself says ``name`` was moved to: a name, "" (not moved here) or None."""

    @abstractmethod
    def own_moves(self, version: str) -> dict[str, str]: ...

    @abstractmethod
    def routes(self, scope: str = "") -> dict[str, str]:
        """The routes of ``scope`` (``""``: every call; ``task:ID``: one task's replays): name -> value.
        Routes belong to no version: a route applies whatever version the caller runs in."""

    def chain(self, version: str) -> list[str]:
        """``version``, its parent, its parent's parent, ... (a cycle is cut)."""
        found = self._chains.get(version)
        if found is None:
            found = []
            v: str | None = version
            while v is not None and v not in found:
                found.append(v)
                v = self.parent(v)
            self._chains[version] = found
        return found

    def lookup(self, version: str, name: str) -> str | None:
        """The hash ``name`` is bound to in ``version`` (None: not bound)."""
        for v in self.chain(version):
            h = self.own(v, name)
            if h is not None:
                return h or None
        return None

    def bindings(self, version: str, prefix: str = "") -> dict[str, str]:
        """Every name (starting with ``prefix``) bound in ``version`` -> its hash."""
        merged: dict[str, str] = {}
        for v in reversed(self.chain(version)):
            merged.update(self.own_all(v, prefix))
        return {n: h for n, h in merged.items() if h}

    def moved_to(self, version: str, name: str) -> str | None:
        """The name ``name`` was moved to in ``version`` (followed through later moves, while the name
        it leads to is itself unbound), or None when it was not moved. Code that calls ``name`` runs
        what that name is bound to: a move carries its callers, as a rename does in Unison."""
        seen = {name}
        target = None
        current = name
        while True:
            nxt = None
            for v in self.chain(version):
                m = self.own_move(v, current)
                if m is not None:
                    nxt = m or None
                    break
            if nxt is None or nxt in seen:
                return target
            target = current = nxt
            seen.add(nxt)
            if self.lookup(version, current) is not None:
                return target

    def moves(self, version: str) -> dict[str, str]:
        """Every name moved in ``version`` -> the name it was moved to (one step)."""
        merged: dict[str, str] = {}
        for v in reversed(self.chain(version)):
            merged.update(self.own_moves(v))
        return {n: t for n, t in merged.items() if t}

    def module(self, version: str, module: str) -> str | None:
        """The program ``module`` is bound to in ``version`` (None: not a module of it)."""
        for v in self.chain(version):
            h = self.own_module(v, module)
            if h is not None:
                return h or None
        return None

    def module_bindings(self, version: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for v in reversed(self.chain(version)):
            merged.update(self.own_modules(v))
        return {m: h for m, h in merged.items() if h}


class StoredNamespace(VersionChain):
    """The namespace as the materialized tables hold it now, read in transaction ``txn``."""

    def __init__(self, txn: Txn) -> None:
        super().__init__()
        self.txn = txn

    def parent(self, version: str) -> str | None:
        rec = stored.load_version(self.txn, version)
        return rec.parent if rec else None

    def exists(self, version: str) -> bool:
        return stored.load_version(self.txn, version) is not None

    def own(self, version: str, name: str) -> str | None:
        return stored.own_binding(self.txn, version, name)

    def own_all(self, version: str, prefix: str = "") -> dict[str, str]:
        return stored.own_bindings(self.txn, version, prefix)

    def own_module(self, version: str, module: str) -> str | None:
        return stored.own_module(self.txn, version, module)

    def own_modules(self, version: str) -> dict[str, str]:
        return stored.own_modules(self.txn, version)

    def own_move(self, version: str, name: str) -> str | None:
        return stored.own_move(self.txn, version, name)

    def own_moves(self, version: str) -> dict[str, str]:
        return stored.own_moves(self.txn, version)

    def routes(self, scope: str = "") -> dict[str, str]:
        return stored_routes.routes(self.txn, scope)

    def default(self) -> str:
        return stored.load_default(self.txn)
