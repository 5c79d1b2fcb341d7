"""A snapshot: the modules of one version, as the names were at one log position (plus overrides).

Rule: a snapshot decides *which* program each module runs and *what* is rebound in it, never how it runs
(that is :mod:`ucode.runtime._exec`). Two snapshots in which a module would run the same program, with
the same rebindings, importing the same module instances, share one instance of it: its *key* says so.

A module instance's key is the hash of its program, of the names rebound in it (a name bound to another
hash than the one its own program gives it, and names bound under the module that its program does not
define), and of the keys of the modules it imports at module level and of the modules whose definitions
it is rebound to. Import cycles are hashed as one component, as closure hashes are. So after a rebinding,
exactly the module it is in and the modules that import from it (directly or not) get new instances;
everything else keeps its identity (its classes are the same class objects).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ucode import hashing

if TYPE_CHECKING:
    from ucode.records import Definition, Program
    from ucode.resolver import SnapshotSource
    from ucode.runtime._runtime import Runtime

__all__ = ["Snapshot"]


class Snapshot:
    """The modules of one snapshot: which program each runs, what is rebound, the instances imported."""

    def __init__(self, runtime: Runtime, source: SnapshotSource) -> None:
        self.runtime = runtime
        self.source = source
        self.version = source.version
        self.position = source.position
        self.overrides: dict[str, str] = dict(source.overrides)
        self.registry: dict[str, types.ModuleType] = {}  # module -> instance, as imported in this snapshot
        self.complete: set[str] = set()  # modules whose program has run to its end here
        self.reached: set[str] = set()  # stored modules the served ones may import (a mount serves them)
        self._keys: dict[str, str] = {}
        self._rebound: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
        # Modules this version does not bind but whose definitions are bound in it (a fix added to version
        # `fix` and bound in `v1`): they run as the program the definition was added with.
        self._extra_modules: dict[str, str] = {}
        self._shadowed: dict[tuple[tuple[str, ...], int], set[str]] = {}  # Runtime._shadowed's
        self._waiting: dict[str, list[Callable[[], None]]] = {}
        self._modules: frozenset[str] | None = None
        self._contents: dict[str, list[Any]] = {}
        self._prefixes: set[str] | None = None
        self._routes: dict[str, dict[str, str]] | None = None

    def routes_under(self, name: str) -> dict[str, str]:
        """The routes of names defined directly in module ``name``: attribute -> policy text (read once)."""
        if self._routes is None:
            self._routes = {}
            for full, value in self.source.routes().items():
                module, _, attr = full.rpartition(".")
                self._routes.setdefault(module, {})[attr] = value
        return self._routes.get(name, {})

    def __repr__(self) -> str:
        extra = f" +{len(self.overrides)} overrides" if self.overrides else ""
        return f"<Snapshot {self.version}@{self.position}{extra}: {len(self.registry)} modules>"

    # ------------------------------------------------------------------------------ what runs

    def module(self, name: str) -> str | None:
        return self._extra_modules.get(name) or self.source.module(name)

    def modules(self) -> frozenset[str]:
        if self._modules is None:
            self._modules = self.source.modules()
        return self._modules | frozenset(self._extra_modules)

    def is_package_prefix(self, name: str) -> bool:
        """Whether stored modules live below ``name`` (a namespace package: no program of its own)."""
        if self._prefixes is None:
            self._prefixes = {".".join(m.split(".")[:k]) for m in self.modules() for k in range(1, m.count(".") + 1)}
        return name in self._prefixes

    def program(self, name: str) -> Program | None:
        h = self.module(name)
        return None if h is None else self.runtime.program(self.source, h)

    def home(self, h: str) -> Definition:
        """The definition with hash ``h``: its module and names are where it was written."""
        return self.runtime.definition(self.source, h)

    def rebound(self, name: str) -> tuple[dict[str, str], dict[str, str]]:
        """What is rebound in module ``name``: (names its program defines that are bound to another hash,
        names bound under it that its program does not define), each name -> hash."""
        found = self._rebound.get(name)
        if found is not None:
            return found
        prog = self.program(name)
        over: dict[str, str] = {}
        extras: dict[str, str] = {}
        if prog is not None:
            for n, h in self.source.names_under(name).items():
                own = prog.slot_hash(n)
                if own is None:
                    extras[n] = h
                elif own != h:
                    over[n] = h
            # a name moved away (`ucode move`) and not bound: its statement runs what the name it moved
            # to is bound to, so that code calling the old name follows the move (and later binds)
            for n, h in self.source.moved_under(name).items():
                own = prog.slot_hash(n)
                if own is not None and own != h:
                    over[n] = h
            for h in [*over.values(), *extras.values()]:
                home = self.home(h)
                if home.module != name and self.module(home.module) is None and home.program:
                    self._extra_modules[home.module] = home.program
                    self._modules = self._prefixes = None
        self._rebound[name] = (over, extras)
        return over, extras

    # ------------------------------------------------------------------------------ keys

    def _edges(self, name: str) -> list[str | None]:
        prog = self.program(name)
        if prog is None:
            return []
        out: set[str]
        over, extras = self.rebound(name)
        out = {m for m in prog.imports if m != name and self.module(m) is not None}
        out.update(self.home(h).module for h in [*over.values(), *extras.values()])
        out.discard(name)
        return list(sorted(out))

    def _content(self, name: str) -> list[Any]:
        found = self._contents.get(name)
        if found is None:
            over, extras = self.rebound(name)
            found = self._contents[name] = [name, self.module(name) or "", sorted(over.items()),
                                            sorted(extras.items())]
            routed = self.routes_under(name)
            if routed:  # a routed name is a dispatcher in the module: another instance, per what it runs
                router = self.runtime.router
                found.append(router.content(self, name, routed) if router is not None else sorted(routed.items()))
        return found

    def key(self, name: str) -> str:
        """The key of module ``name``'s instance in this snapshot (see the module docstring)."""
        found = self._keys.get(name)
        if found is None:
            self._keys.update(hashing.closure_hashes([name], self._edges, content_of=self._content))
            found = self._keys[name]
        return found

    def closure(self, name: str) -> dict[str, str]:
        """The stored modules importing ``name`` runs at module level (``name`` included): module ->
        program. What a task records as the code it ran."""
        out: dict[str, str] = {}
        todo = [name]
        while todo:
            m = todo.pop()
            if m in out:
                continue
            out[m] = self.module(m) or ""
            todo.extend(e for e in self._edges(m) if e is not None)
        return dict(sorted(out.items()))

    # ------------------------------------------------------------------------------ completion

    def when_complete(self, name: str, fn: Callable[[], None]) -> None:
        """Call ``fn`` once module ``name`` has run to its end in this snapshot (now, if it has)."""
        if name in self.complete:
            fn()
        else:
            self._waiting.setdefault(name, []).append(fn)

    def completed(self, name: str) -> None:
        self.complete.add(name)
        for fn in self._waiting.pop(name, []):
            fn()
