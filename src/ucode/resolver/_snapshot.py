"""Snapshots of the store's names for the runtime: a version's bindings as of one log position, plus
overrides (replay swaps, per-task routes).

Rule: a snapshot never sees a later change. While the log is still at the snapshot's position, it reads
the materialized tables (one short read transaction each); once anything was written since, it reads the
fold of the log at its position, computed once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from ucode import hashing
from ucode.errors import NameNotFoundError, StoreError, StoreIntegrityError, VersionError
from ucode.namespace import NamespaceState, StoredNamespace, VersionChain, fold
from ucode.records import Definition, Program
from ucode.refs import parse_ref
from ucode.resolver._names import known_version, resolve_hash, resolve_name
from ucode.store import Store, Txn, definitions, modules
from ucode.store import names as stored

__all__ = ["Resolver", "StoreSnapshot"]


class StoreSnapshot:
    """One snapshot of the names, read from the store on demand (a ``SnapshotSource``)."""

    def __init__(self, store: Store, version: str, position: int, overrides: dict[str, str],
                 state: NamespaceState | None) -> None:
        self._store = store
        self.version = version
        self.position = position
        self.overrides = overrides
        self._state = state
        self._under: dict[str, dict[str, str]] = {}
        self._moved: dict[str, dict[str, str]] = {}
        self._modules: dict[str, str] | None = None  # module -> program, read once (a snapshot never changes)
        self._routes: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"<snapshot of {self._store.path or 'memory'} {self.version}@{self.position}>"

    @contextlib.contextmanager
    def _read(self) -> Iterator[tuple[Txn, VersionChain]]:
        with self._store.read() as txn:
            if self._state is None and stored.last_seq(txn) != self.position:
                self._state = fold(stored.events(txn), at=self.position)
            yield txn, (self._state if self._state is not None else StoredNamespace(txn))

    def _module_map(self) -> dict[str, str]:
        if self._modules is None:
            with self._read() as (_txn, ns):
                self._modules = ns.module_bindings(self.version)
        return self._modules

    def module(self, name: str) -> str | None:
        return self._module_map().get(name)

    def modules(self) -> frozenset[str]:
        return frozenset(self._module_map())

    def program(self, h: str) -> Program:
        with self._store.read() as txn:
            return modules.expect_program(txn, h)

    def names_under(self, module: str) -> dict[str, str]:
        found = self._under.get(module)
        if found is None:
            prefix = module + "."
            with self._read() as (_txn, ns):
                bound = ns.bindings(self.version, prefix)
            bound.update({n: h for n, h in self.overrides.items() if n.startswith(prefix)})
            found = self._under[module] = {n[len(prefix):]: h for n, h in bound.items()
                                           if "." not in n[len(prefix):]}
        return found

    def moved_under(self, module: str) -> dict[str, str]:
        found = self._moved.get(module)
        if found is None:
            prefix = module + "."
            targets: dict[str, str] = {}
            with self._read() as (_txn, ns):
                for old in ns.moves(self.version):
                    if old.startswith(prefix) and "." not in old[len(prefix):]:
                        target = ns.moved_to(self.version, old)
                        if target is not None:
                            targets[old] = target
            found = {old[len(prefix):]: h for old, target in targets.items()
                     if self.lookup(old) is None and (h := self.lookup(target)) is not None}
            self._moved[module] = found
        return found

    def routes(self) -> dict[str, str]:
        if self._routes is None:
            with self._read() as (_txn, ns):
                self._routes = ns.routes("")
        return self._routes

    def lookup(self, name: str) -> str | None:
        if name in self.overrides:
            return self.overrides[name]
        with self._read() as (_txn, ns):
            return ns.lookup(self.version, name)

    def definition(self, h: str) -> Definition:
        """The definition with hash ``h``, whose source is the text of one of its statements in a stored
        program (texts are checked against their digests): a ``src`` record edited in the store is not
        what runs."""
        with self._read() as (txn, ns):
            rec = definitions.expect_definition(txn, h)
            src = definitions.expect_source(txn, h)
            d = Definition.of(h, rec, src)
            digest = hashing.text_digest(src.source)
            candidates = [p for p in (ns.module(self.version, src.module), rec.program) if p]
            for ph in candidates:
                prog = modules.load_program(txn, ph)
                for st in prog.statements if prog is not None else ():
                    if st.hash == h and st.digest == digest:
                        return d  # the source as last added is the text of this statement
            for ph in candidates:  # else: the text it was added with, from its first program
                prog = modules.load_program(txn, ph)
                for st in prog.statements if prog is not None else ():
                    if st.hash == h:
                        return d._replace(source=definitions.expect_text(txn, st.digest), line=st.line)
        if not candidates:
            return d  # stored before modules were programs: it cannot run (the runtime says so)
        raise StoreIntegrityError(f"the source of {src.module}.{src.names[0] if src.names else '(module code)'}",
                                  f"src/{hashing.short(h)}", hint="add its file again (ucode add PATH)")

    def text(self, digest: str) -> str:
        with self._store.read() as txn:
            return definitions.expect_text(txn, digest)

    def code(self, key: str) -> bytes | None:
        with self._store.read() as txn:
            return definitions.load_code(txn, key)

    def resolve(self, ref: str) -> tuple[str | None, str | None]:
        r = parse_ref(ref)
        with self._read() as (txn, ns):
            if r.hash_prefix is not None:
                return None, resolve_hash(txn, r.hash_prefix, ref)
            assert r.name is not None
            if r.name in self.overrides:
                return r.name, self.overrides[r.name]
            try:
                name, h = resolve_name(ns, txn, r.name, self.version)
            except NameNotFoundError:
                if ns.module(self.version, r.name) is not None:
                    return r.name, None  # a module itself
                # A name a stored module defines that no definition is bound to (``globals()[n] = ...``):
                # it is what importing the module gives.
                module = r.name.rpartition(".")[0]
                if module and ns.module(self.version, module) is not None:
                    return r.name, None
                if self._state is not None:
                    raise NameNotFoundError(r.name, f"{self.version} at log position {self.position}") from None
                raise
            return name, self.overrides.get(name, h)


class Resolver:
    """Snapshots of one store (the runtime's ``SnapshotFactory``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def snapshot_source(self, version: str | None, at: int | None,
                        overrides: Mapping[str, str] | None) -> StoreSnapshot:
        with self.store.read() as txn:
            last = stored.last_seq(txn)
            if at is None or at == last:
                ns = StoredNamespace(txn)
                return StoreSnapshot(self.store, known_version(ns, txn, version, ns.default()), last,
                                     dict(overrides or {}), None)
            state = fold(stored.events(txn), at=at)
        v = version or state.default or "v1"
        if not state.exists(v):
            raise VersionError(f"version {v!r} did not exist at log position {at}",
                               hint="`ucode history` shows the log positions")
        return StoreSnapshot(self.store, v, at, dict(overrides or {}), state)

    def log_position(self) -> int:
        with self.store.read() as txn:
            return stored.last_seq(txn)

    def save_code(self, items: dict[str, bytes]) -> None:
        if not items:
            return
        try:
            with self.store.write() as txn:
                for k, blob in items.items():
                    definitions.save_code(txn, k, blob)
        except Exception as exc:  # a read-only or full store: the runtime compiles again next time
            raise StoreError(f"cannot cache compiled code in {self.store.path}: {exc}") from None

    def has_module_record(self, module: str) -> bool:
        with self.store.read() as txn:
            return modules.load_module(txn, module) is not None
