"""The codebase: definitions by hash, names per version, and the namespace log, in one LMDB environment.

This is the only module that touches LMDB. Every public method is one transaction: a read sees one
consistent snapshot, a write lands whole or not at all (a process killed mid-``add`` leaves the store as
it was before the ``add``). Values are msgpack.

Tables (LMDB named databases; keys are UTF-8, ``\\0`` separates key parts):

==============  ====================================================================================
``meta``        ``schema`` (int), ``default`` (the default version), ``config`` (settings that differ
                from their defaults: ``SETTINGS``)
``defs``        hash -> immutable record: kind, imports, deps, codebase modules, written_against
``src``         hash -> the source as last added (text, path, line, module, names, docstring, refs,
                warnings). Metadata: a comment-only edit keeps the hash and replaces this.
``dependents``  ``dep-name \\0 hash`` -> "" (reverse dependency index)
``bind``        ``version \\0 name`` -> hash, or "" for "explicitly unbound in this version"
``byhash``      ``hash \\0 version \\0 name`` -> "" (reverse of ``bind``)
``leaf``        ``last-name-part \\0 name`` -> "" (every name ever bound: suffix lookup)
``log``         ``seq`` (8-byte big-endian) -> event (see :mod:`ucode.namespace`)
``versions``    version -> {parent, created}
``modules``     module -> {path, package, imports, program}: every module ever added (the latest add)
``programs``    program hash -> a module's program: its statements in file order (hash, text digest,
                line, names, kind), which statement each name is bound to (``slots``), the modules it
                imports, path, package, ``from __future__`` features. Immutable.
``texts``       text digest -> the exact text of a statement (what runs). Immutable.
``modbind``     ``version \\0 module`` -> program hash, or "" (explicitly unbound): which program runs
                when the module is imported in that version (events of kind ``module`` in the log)
``code``        ``program \\0 python-cache-tag`` -> the module's compiled code; ``hash \\0 tag`` -> a
                definition compiled on its own (a definition bound in from elsewhere): compiled once, so
                ``run`` neither parses source nor imports libcst
``tasks``       task id -> {entry, hash, closure, version, position, args, status, result|error, times}
``events``      ``task id \\0 seq`` (8-byte big-endian seq) -> a recorded effect as a row (a list in
                ``EVENT_FIELDS`` order), or a batch of rows keyed by its first seq
``overrides``   ``task id \\0 name`` -> hash: per-task rebindings used by its replays (``route set``)
``state``       key -> value: world state (``effects.state``), the fold of ``statelog``, materialized
``statelog``    seq -> {key, old, new, task, time}: every state write, in order
``files``       module -> digests of its source and of the modules it was normalized against, and what
                its last add produced: an unchanged re-add is answered from here, without parsing
==============  ====================================================================================

Read paths (view, find, ls, names, history, ...) never import libcst: only ``add`` and ``verify`` do.
"""

from __future__ import annotations

import contextlib
import gc
import os
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import blake3
import lmdb
import msgpack

from ucode import hashing
from ucode.errors import (
    AmbiguousNameError,
    HashNotFoundError,
    NameNotFoundError,
    NothingToUndoError,
    StoreCorruptError,
    StoreError,
    StoreVersionError,
    StrictModeError,
    UcodeError,
    VersionError,
)
from ucode.names import parse_ref, suffix_matches, validate_name, validate_version

if TYPE_CHECKING:
    from ucode.model import (
        AddedName,
        AddResult,
        Binding,
        DefinitionView,
        DiffEntry,
        Event,
        Match,
        UndoResult,
        VerifyResult,
        VersionInfo,
    )
    from ucode.namespace import NamespaceState
    from ucode.normalize import ParsedModule
    from ucode.records import Definition, Program
    from ucode.runtime import Runtime, SnapshotFactory
    from ucode.tasks import TaskReplay, TaskRun

__all__ = [
    "DURABILITY", "EVENT_FIELDS", "SCHEMA_VERSION", "SETTINGS", "STORE_DIR", "Codebase", "find_store",
    "open_codebase",
]

SCHEMA_VERSION = 3
"""History: 1 = the first store; 2 = events are rows (lists) and batches of rows instead of maps; 3 =
modules are programs (``programs``, ``texts``, ``modbind``). A store of an older schema is upgraded when
it is opened, rewriting nothing (schema 1 -> 2: readers accept both event forms; 2 -> 3: the new tables
are created empty; a module added before has no program until it is added again, and ``run`` says so);
a newer one is refused and left untouched."""
STORE_DIR = ".ucode"
DURABILITY = ("durable", "batched", "off")
"""How a task's effects are recorded: see :mod:`ucode.tasks`."""
SETTINGS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "durability": ("batched", DURABILITY, "how a run records its effects when it does not say (--durability)"),
}
"""Store-wide settings (``ucode config``): key -> (default, allowed values, what it does). Kept in ``meta``
under ``config``; only what differs from the default is stored."""
_TABLES = (
    "meta", "defs", "src", "dependents", "bind", "byhash", "leaf", "log", "versions", "modules", "code", "files",
    "tasks", "events", "overrides", "state", "statelog", "programs", "texts", "modbind",
)
_SEP = "\0"
_MAP_SIZE = 1 << 36  # address space, not disk: LMDB files grow as needed
ProgressFn = Callable[[int, int, str], None]


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def _k(*parts: str) -> bytes:
    return _SEP.join(parts).encode("utf-8")


EVENT_FIELDS: tuple[str, ...] = ("seq", "name", "args", "kwargs", "result", "error", "writes", "duration")
"""The fields of a recorded effect, in the order a stored event row holds them (ucode.replay.EffectEvent)."""
_EVENT_DEFAULTS: dict[str, Any] = {"result": None, "error": None, "writes": False, "duration": 0.0}


def _event_row(event: Sequence[Any] | dict[str, Any]) -> list[Any]:
    if isinstance(event, dict):
        return [event[f] if f in event else _EVENT_DEFAULTS[f] for f in EVENT_FIELDS]
    return list(event)


def _dep_rule(bound: str | None, h: str, rec: dict[str, Any], dep: str) -> str | None:
    """The hash dependency name ``dep`` of definition ``h`` (record ``rec``) runs as, given what the name
    is ``bound`` to in the version being run (None: not bound there).

    - Bound: that binding (late binding: rebinding a name changes what its callers run) ...
    - ... except that a definition never late-binds to *itself* through another name: ``lookupUserV2``
      bound as ``lookupUser`` calls the ``lookupUser`` it was written against.
    - Not bound in this version (never, or unbound): the hash the name had when ``h`` was added
      (``written_against``). A definition bound into a version where its helpers do not exist (a fix
      added in ``fix`` and bound in ``v1``) runs with the helpers it was added with, as content
      addressing promises: removing or never having a name does not break code that used it.
    - None when the name had no binding when ``h`` was added either (``add`` warned): using it is a clear
      error at run time.
    """
    if bound is None or bound == h:
        return rec.get("wa", {}).get(dep)  # type: ignore[no-any-return]
    return bound


def _seq_key(seq: int) -> bytes:
    return struct.pack(">Q", seq)


def find_store(store: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> tuple[Path, bool]:
    """Where the store is: ``store``, else ``$UCODE_STORE``, else the nearest ``.ucode/`` upward from
    ``cwd`` (as git finds ``.git``). Returns (path, exists); a new store goes in ``cwd/.ucode``."""
    if store is None:
        store = os.environ.get("UCODE_STORE") or None
    if store is not None:
        p = Path(store)
        return p, (p / "data.mdb").exists()
    here = (cwd or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / STORE_DIR
        if (candidate / "data.mdb").exists():
            return candidate, True
    return here / STORE_DIR, False


def open_codebase(store: str | os.PathLike[str] | None = None, *, create: bool = True) -> Codebase:
    """Open (or, with ``create``, create) the codebase store. See :func:`find_store` for where."""
    path, exists = find_store(store)
    if not exists and not create:
        raise StoreError(
            f"no ucode store found (looked for {STORE_DIR}/ here and in every parent directory)",
            hint="`ucode add FILE` creates one here; or pass --store PATH / set UCODE_STORE",
        )
    return Codebase(path)


_CACHE_TAG = sys.implementation.cache_tag or "python"

# LMDB allows one environment handle per file per process: Codebase objects on the same store share it.
_ENVS: dict[str, list[Any]] = {}  # real path -> [environment, open count]
_ENVS_LOCK = threading.Lock()


def _acquire_env(path: Path) -> lmdb.Environment:
    key = os.path.realpath(path)
    with _ENVS_LOCK:
        entry = _ENVS.get(key)
        if entry is None:
            env = lmdb.open(key, map_size=_MAP_SIZE, max_dbs=len(_TABLES) + 2, subdir=True, readahead=False)
            entry = _ENVS[key] = [env, 0]
        entry[1] += 1
        return cast("lmdb.Environment", entry[0])


def _release_env(path: Path) -> None:
    key = os.path.realpath(path)
    with _ENVS_LOCK:
        entry = _ENVS.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _ENVS[key]
            entry[0].close()


def _compile_program(h: str, prec: dict[str, Any], sources: list[str]) -> tuple[str, bytes] | None:
    """A program's compiled code as the runtime will look it up (so the first run does not compile)."""
    from ucode.runtime import precompiled

    return precompiled(h, prec["path"], [(s[2], text) for s, text in zip(prec["statements"], sources, strict=True)])


def _source_digest(source: str) -> str:
    # hex, not the base32 of hashes: this is compared, never shown, and runs once per loaded definition
    return blake3.blake3(source.encode("utf-8")).hexdigest()[:16]


class _Pending:
    """What one ``add`` will write, computed in a read snapshot before any write begins. (A plain class:
    a dataclass defined at import would cost every command ~2 ms.)"""

    def __init__(self) -> None:
        self.new_defs: dict[str, dict[str, Any]] = {}
        self.src_updates: dict[str, dict[str, Any]] = {}
        self.binds: list[tuple[str, str | None]] = []  # (name, hash); None: unbind
        self.modules: dict[str, dict[str, Any]] = {}
        self.texts: dict[str, str] = {}  # digest -> text
        self.programs: dict[str, tuple[dict[str, Any], tuple[str, bytes] | None]] = {}
        """program hash -> (record, (code cache key, compiled code))"""
        self.module_binds: list[tuple[str, str]] = []  # (module, program)


class _StoreSnapshot:
    """One snapshot of the names, read from the store on demand (the runtime's ``SnapshotSource``).

    While the log is still at the snapshot's position, reads come from the materialized tables (one short
    read transaction each); once anything was written since, from the fold of the log at that position,
    computed once: a snapshot never sees a later rebinding."""

    def __init__(self, cb: Codebase, version: str, position: int, overrides: dict[str, str],
                 state: NamespaceState | None) -> None:
        self._cb = cb
        self.version = version
        self.position = position
        self.overrides = overrides
        self._state = state
        self._under: dict[str, dict[str, str]] = {}
        self._modules: dict[str, str] | None = None  # module -> program, read once (a snapshot never changes)

    def __repr__(self) -> str:
        return f"<snapshot of {self._cb.path} {self.version}@{self.position}>"

    @contextlib.contextmanager
    def _txn(self) -> Iterator[lmdb.Transaction]:
        cb = self._cb
        with cb._env.begin() as txn:
            if self._state is None and cb._last_seq(txn) != self.position:
                from ucode import namespace

                self._state = namespace.fold(cb._events(txn), at=self.position)
            yield txn

    def _module_map(self) -> dict[str, str]:
        if self._modules is None:
            with self._txn() as txn:
                if self._state is not None:
                    self._modules = self._state.module_bindings(self.version)
                else:
                    self._modules = self._cb._module_bindings(txn, self.version)
        return self._modules

    def module(self, name: str) -> str | None:
        return self._module_map().get(name)

    def modules(self) -> frozenset[str]:
        return frozenset(self._module_map())

    def program(self, h: str) -> Program:
        from ucode.records import Program

        with self._txn() as txn:
            rec = self._cb._get(txn, "programs", h.encode())
        if not isinstance(rec, dict):
            raise StoreCorruptError(f"program {hashing.short(h)} is bound but not stored",
                                    hint="add the module again (ucode add PATH), or run ucode verify")
        return Program.from_stored(h, rec)

    def names_under(self, module: str) -> dict[str, str]:
        found = self._under.get(module)
        if found is not None:
            return found
        prefix = module + "."
        with self._txn() as txn:
            if self._state is not None:
                bound = {n: h for n, h in self._state.bindings(self.version).items() if n.startswith(prefix)}
            else:
                bound = self._cb._bindings(txn, self.version, prefix)
        bound.update({n: h for n, h in self.overrides.items() if n.startswith(prefix)})
        found = self._under[module] = {n[len(prefix):]: h for n, h in bound.items() if "." not in n[len(prefix):]}
        return found

    def lookup(self, name: str) -> str | None:
        if name in self.overrides:
            return self.overrides[name]
        with self._txn() as txn:
            if self._state is not None:
                return self._state.lookup(self.version, name)
            return self._cb._lookup(txn, self.version, name)

    def definition(self, h: str) -> Definition:
        from ucode.records import Definition

        with self._txn() as txn:
            rec = self._cb._get(txn, "defs", h.encode())
            src = self._cb._get(txn, "src", h.encode())
        if not isinstance(rec, dict) or not isinstance(src, dict):
            raise StoreCorruptError(f"definition {hashing.short(h)} is bound but not stored",
                                    hint="rebind the name to a stored hash (ucode bind) or add it again")
        return Definition.from_stored(h, rec, src)

    def text(self, digest: str) -> str:
        with self._txn() as txn:
            raw = cast("bytes | None", txn.get(digest.encode(), db=self._cb._db["texts"]))
        if raw is None:
            raise StoreCorruptError(f"the text {digest[:10]} of a stored statement is missing",
                                    hint="add the module again (ucode add PATH), or run ucode verify")
        return raw.decode("utf-8")

    def code(self, key: str) -> bytes | None:
        with self._txn() as txn:
            return cast("bytes | None", txn.get(key.encode(), db=self._cb._db["code"]))

    def resolve(self, ref: str) -> tuple[str | None, str | None]:
        r = parse_ref(ref)
        with self._txn() as txn:
            if r.hash_prefix is not None:
                return None, self._cb._resolve_hash(txn, r.hash_prefix, ref)
            assert r.name is not None
            if r.name in self.overrides:
                return r.name, self.overrides[r.name]
            if self._state is not None:
                h = self._state.lookup(self.version, r.name)
                if h is None:
                    if self._state.module(self.version, r.name) is not None or self._state.module(
                            self.version, r.name.rpartition(".")[0]) is not None:
                        return r.name, None
                    raise NameNotFoundError(r.name, f"{self.version} at log position {self.position}")
                return r.name, h
            try:
                name, h = self._cb._resolve_name(txn, r.name, self.version)
            except NameNotFoundError:
                if self._cb._module_lookup(txn, self.version, r.name) is not None:
                    return r.name, None  # a module itself
                # A name a stored module defines that no definition is bound to (``globals()[n] = ...``):
                # it is what importing the module gives.
                module = r.name.rpartition(".")[0]
                if module and self._cb._module_lookup(txn, self.version, module) is not None:
                    return r.name, None
                raise
            return name, self.overrides.get(name, h)


class Codebase:
    """A ucode store. Use :func:`ucode.open` to get one; close it (or use ``with``) when done."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        crash = os.environ.get("UCODE_CRASH_AFTER_WRITES")
        self._crash_after = int(crash) if crash else None  # fault injection for crash-safety tests
        self._writes = 0
        self._closed = False
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._env = _acquire_env(self.path)
        except (OSError, lmdb.Error) as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}",
                             hint="check the path and its permissions") from None
        try:
            # Opening named tables needs a (short) write transaction in LMDB: it also creates them, and
            # initializes a new store, atomically.
            # An exception inside aborts the transaction: a refused store is left exactly as it was.
            with self._env.begin(write=True) as txn:
                meta = self._env.open_db(b"meta", txn=txn)
                raw = txn.get(b"schema", db=meta)
                if raw is not None:
                    found = self._unpack(raw, "meta", "schema")
                    if not isinstance(found, int):
                        raise StoreCorruptError(f"the store at {self.path} has an unreadable schema record",
                                                hint="restore it from a backup")
                    if found > SCHEMA_VERSION:
                        raise StoreVersionError(str(self.path), found, SCHEMA_VERSION)
                    if found < SCHEMA_VERSION:
                        txn.put(b"schema", _pack(SCHEMA_VERSION), db=meta)
                self._db = {name: self._env.open_db(name.encode(), txn=txn) for name in _TABLES}
                if raw is None:
                    self._init_store(txn)
        except lmdb.Error as exc:
            _release_env(self.path)
            raise StoreCorruptError(f"the store at {self.path} cannot be read: {exc}",
                                    hint="restore it from a backup; ucode verify reports damaged records") from None
        except UcodeError:
            _release_env(self.path)
            raise

    # ------------------------------------------------------------------------------ plumbing

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            rt = self.__dict__.get("_runtime")
            if rt is not None:
                rt.close()
            _release_env(self.path)

    def __enter__(self) -> Codebase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Codebase({str(self.path)!r})"

    def _unpack(self, raw: bytes, table: str, key: str | bytes) -> Any:
        try:
            return msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except Exception:  # msgpack raises several unrelated types on bad data
            shown = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
            raise StoreCorruptError(
                f"corrupt record in table {table!r} at key {shown!r}",
                hint="`ucode verify` lists damaged records; restore the store from a backup",
            ) from None

    def _put(self, txn: lmdb.Transaction, table: str, key: bytes, value: bytes) -> None:
        txn.put(key, value, db=self._db[table])
        self._writes += 1
        if self._crash_after is not None and self._writes >= self._crash_after:
            os._exit(86)  # simulate a crash in the middle of a write transaction

    def _init_store(self, txn: lmdb.Transaction) -> None:
        self._put(txn, "meta", b"schema", _pack(SCHEMA_VERSION))
        self._put(txn, "meta", b"default", _pack("v1"))
        self._put(txn, "versions", b"v1", _pack({"parent": None, "created": self._clock()}))
        self._append(txn, [{"kind": "version", "version": "v1", "name": "v1", "old": None, "new": None}],
                     cause="create store")

    def _get(self, txn: lmdb.Transaction, table: str, key: bytes) -> Any:
        raw = cast("bytes | None", txn.get(key, db=self._db[table]))
        return None if raw is None else self._unpack(raw, table, key)

    def _prefix(self, txn: lmdb.Transaction, table: str, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        # Values are bytes, never memoryviews: ucode does not open cursors with buffers=True.
        cur = txn.cursor(db=self._db[table])
        if not cur.set_range(prefix):
            return
        for key, value in cast("Iterator[tuple[bytes, bytes]]", cur):
            if not key.startswith(prefix):
                return
            yield key, value

    # ------------------------------------------------------------------------- versions/names

    def _default(self, txn: lmdb.Transaction) -> str:
        return str(self._get(txn, "meta", b"default"))

    def _version_record(self, txn: lmdb.Transaction, version: str) -> dict[str, Any] | None:
        rec = self._get(txn, "versions", version.encode())
        return rec if isinstance(rec, dict) else None

    def _version(self, txn: lmdb.Transaction, version: str | None) -> str:
        v = version or self._default(txn)
        if self._version_record(txn, v) is None:
            known = [k.decode() for k, _ in self._prefix(txn, "versions", b"")]
            raise VersionError(f"no version {v!r}", hint="known versions: " + ", ".join(known))
        return v

    def _chain(self, txn: lmdb.Transaction, version: str) -> list[str]:
        out: list[str] = []
        v: str | None = version
        while v is not None and v not in out:
            out.append(v)
            rec = self._version_record(txn, v)
            v = rec.get("parent") if rec else None
        return out

    def _lookup(self, txn: lmdb.Transaction, version: str, name: str, chain: Sequence[str] | None = None) -> str | None:
        for v in chain or self._chain(txn, version):
            raw = cast("bytes | None", txn.get(_k(v, name), db=self._db["bind"]))
            if raw is not None:
                return raw.decode() or None
        return None

    def _bindings(self, txn: lmdb.Transaction, version: str, prefix: str = "") -> dict[str, str]:
        merged: dict[str, str] = {}
        for v in reversed(self._chain(txn, version)):
            start = _k(v, prefix)
            cut = len(v) + 1
            for key, value in self._prefix(txn, "bind", start):
                merged[key[cut:].decode()] = value.decode()
        return {n: h for n, h in merged.items() if h}

    def _resolve_name(self, txn: lmdb.Transaction, name: str, version: str) -> tuple[str, str]:
        """(full name, hash) that ``name`` (a full name or a unique suffix) is bound to in ``version``."""
        chain = self._chain(txn, version)
        h = self._lookup(txn, version, name, chain)
        if h is not None:
            return name, h
        followed = self._follow_import(txn, version, name, chain)  # a re-export: the name it leads to
        if followed is not None:
            return followed
        leaf = name.rpartition(".")[2]
        cands = [k.decode().partition(_SEP)[2] for k, _ in self._prefix(txn, "leaf", _k(leaf, ""))]
        bound = {c: hh for c in suffix_matches(name, cands) if (hh := self._lookup(txn, version, c, chain))}
        if len(bound) == 1:
            return next(iter(bound.items()))
        if len(bound) > 1:
            raise AmbiguousNameError(name, sorted(bound))
        suggestions = [c for c in cands if self._lookup(txn, version, c, chain) is None]
        if suggestions:
            raise NameNotFoundError(name, version, suggestions=[f"{s} (in another version)" for s in suggestions])
        raise NameNotFoundError(name, version, suggestions=self._similar(txn, name, version))

    def _follow_import(self, txn: lmdb.Transaction, version: str, name: str,
                       chain: Sequence[str] | None = None) -> tuple[str, str] | None:
        """What a name a module imports stands for (``pkg.f`` where ``pkg/__init__.py`` does ``from .a
        import f``, or ``from .a import *``): (the bound name it leads to, its hash), followed through the
        modules' programs; None when it leads nowhere in the store."""
        seen = {name}
        todo = [name]
        while todo and len(seen) < 64:
            name = todo.pop(0)
            h = self._lookup(txn, version, name, chain)
            if h is not None:
                return name, h
            module, _, leaf = name.rpartition(".")
            ph = self._module_lookup(txn, version, module, chain) if module else None
            rec = self._get(txn, "programs", ph.encode()) if ph else None
            if not isinstance(rec, dict):
                continue
            nxt = [rec.get("from_imports", {}).get(leaf)] + [f"{star}.{leaf}" for star in rec.get("stars", ())]
            for n in nxt:
                if n is not None and n not in seen:
                    seen.add(n)
                    todo.append(n)
        return None

    def _similar(self, txn: lmdb.Transaction, name: str, version: str) -> list[str]:
        import difflib

        leaf = name.rpartition(".")[2].lower()
        leaves = {k.decode().partition(_SEP)[0] for k, _ in self._prefix(txn, "leaf", b"")}
        close = difflib.get_close_matches(leaf, [x.lower() for x in leaves], n=3, cutoff=0.7)
        return sorted(x for x in leaves if x.lower() in close)

    def _dep_hash(self, txn: lmdb.Transaction, version: str, chain: Sequence[str], h: str,
                  rec: dict[str, Any], dep: str) -> str | None:
        """What dependency name ``dep`` of definition ``h`` runs as in ``version``: see :func:`_dep_rule`."""
        return _dep_rule(self._lookup(txn, version, dep, chain), h, rec, dep)

    def _resolve_hash(self, txn: lmdb.Transaction, prefix: str, shown: str) -> str:
        found = [k.decode() for k, _ in self._prefix(txn, "defs", prefix.encode())][:9]
        if not found:
            raise HashNotFoundError(shown)
        if len(found) > 1:
            raise AmbiguousNameError(shown, [hashing.short(f) for f in found])
        return found[0]

    def _resolve(self, txn: lmdb.Transaction, ref: str, version: str | None) -> tuple[str | None, str, str]:
        """(name or None, hash, version) for ``NAME``, ``NAME@V``, ``#HASH``."""
        r = parse_ref(ref)
        v = self._version(txn, r.version or version)
        if r.hash_prefix is not None:
            return None, self._resolve_hash(txn, r.hash_prefix, ref), v
        assert r.name is not None
        name, h = self._resolve_name(txn, r.name, v)
        return name, h, v

    # ------------------------------------------------------------------------------- the log

    def _last_seq(self, txn: lmdb.Transaction) -> int:
        cur = txn.cursor(db=self._db["log"])
        return cast(int, struct.unpack(">Q", cur.key())[0]) if cur.last() else 0

    def _append(self, txn: lmdb.Transaction, events: list[dict[str, Any]], *, cause: str,
                undoes: int | None = None) -> list[Event]:
        from ucode.model import Event

        seq = self._last_seq(txn)
        op = seq + 1
        now = self._clock()
        out = []
        for ev in events:
            seq += 1
            rec = {"seq": seq, "time": now, "op": op, "kind": ev["kind"], "version": ev["version"],
                   "name": ev["name"], "old": ev["old"], "new": ev["new"], "cause": cause, "undoes": undoes}
            self._put(txn, "log", _seq_key(seq), _pack(rec))
            out.append(Event(**rec))
        return out

    def _events(self, txn: lmdb.Transaction, *, reverse: bool = False) -> Iterator[dict[str, Any]]:
        cur = txn.cursor(db=self._db["log"])
        it = cur.iterprev() if reverse and cur.last() else (cur.iternext() if not reverse else iter(()))
        for key, raw in cast("Iterator[tuple[bytes, bytes]]", it):
            ev = self._unpack(raw, "log", key)
            if isinstance(ev, dict):
                yield ev

    def _set_binding(self, txn: lmdb.Transaction, version: str, name: str, new: str | None) -> dict[str, Any] | None:
        """Set ``name``'s own entry in ``version`` (hash, "" = unbound, None = inherit); the event, or None."""
        key = _k(version, name)
        raw = cast("bytes | None", txn.get(key, db=self._db["bind"]))
        old = None if raw is None else raw.decode()
        if old == new:
            return None
        if old:
            txn.delete(_k(old, version, name), db=self._db["byhash"])
        if new is None:
            txn.delete(key, db=self._db["bind"])
        else:
            self._put(txn, "bind", key, new.encode())
            if new:
                self._put(txn, "byhash", _k(new, version, name), b"")
                self._put(txn, "leaf", _k(name.rpartition(".")[2], name), b"")
        return {"kind": "bind", "version": version, "name": name, "old": old, "new": new}

    def _remove_binding(self, txn: lmdb.Transaction, version: str, name: str) -> dict[str, Any] | None:
        """Unbind ``name`` in ``version``: drop its own entry, or hide the parent's binding with ``""``."""
        rec = self._version_record(txn, version) or {}
        parent = rec.get("parent")
        inherited = parent is not None and self._lookup(txn, parent, name) is not None
        return self._set_binding(txn, version, name, "" if inherited else None)

    def _module_lookup(self, txn: lmdb.Transaction, version: str, module: str,
                       chain: Sequence[str] | None = None) -> str | None:
        """The program ``module`` is bound to in ``version`` (None: not a module of that version)."""
        for v in chain or self._chain(txn, version):
            raw = cast("bytes | None", txn.get(_k(v, module), db=self._db["modbind"]))
            if raw is not None:
                return raw.decode() or None
        return None

    def _module_bindings(self, txn: lmdb.Transaction, version: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for v in reversed(self._chain(txn, version)):
            cut = len(v.encode()) + 1
            for key, value in self._prefix(txn, "modbind", _k(v, "")):
                merged[key[cut:].decode()] = value.decode()
        return {m: h for m, h in merged.items() if h}

    def _set_module(self, txn: lmdb.Transaction, version: str, module: str, new: str | None) -> dict[str, Any] | None:
        """Set ``module``'s own program in ``version`` (hash, "" = unbound, None = inherit); the event."""
        key = _k(version, module)
        raw = cast("bytes | None", txn.get(key, db=self._db["modbind"]))
        old = None if raw is None else raw.decode()
        if old == new:
            return None
        if new is None:
            txn.delete(key, db=self._db["modbind"])
        else:
            self._put(txn, "modbind", key, new.encode())
        return {"kind": "module", "version": version, "name": module, "old": old, "new": new}

    def _ensure_version(self, txn: lmdb.Transaction, version: str, events: list[dict[str, Any]]) -> bool:
        if self._version_record(txn, version) is not None:
            return False
        validate_version(version)
        parent = self._default(txn)
        self._put(txn, "versions", version.encode(), _pack({"parent": parent, "created": self._clock()}))
        events.append({"kind": "version", "version": version, "name": version, "old": parent, "new": None})
        return True

    # ----------------------------------------------------------------------------------- add

    def add(
        self,
        paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        *,
        version: str | None = None,
        namespace: str | None = None,
        strict: bool = False,
        progress: ProgressFn | None = None,
    ) -> AddResult:
        """Store the program of every module in ``paths`` (every top-level statement, normalized and
        hashed), bind each module to its program and each name it defines to its definition, in
        ``version``. Names the module defined before and no longer does are unbound (and reported).

        One write transaction: everything lands or nothing does. Re-adding unchanged code writes nothing.
        """
        from ucode import sources
        from ucode.model import AddResult, SkippedStatement

        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if namespace is not None:
            validate_name(namespace)
        if version is not None:
            validate_version(version)
        passed_over: list[tuple[Path, str]] = []
        files = sources.collect(list(paths), namespace, passed_over)
        texts = [(f, sources.read_source(f.path)) for f in files]
        fast = self._unchanged_add(texts, version)
        if fast is not None:
            fast.skipped.extend(SkippedStatement(str(p), 1, reason, "") for p, reason in passed_over)
            return fast

        from ucode import normalize  # the write path is the only one that needs libcst

        # Parsing builds millions of short-lived objects and no cycles worth collecting: the cyclic
        # collector would otherwise run hundreds of times during a large add (measured: 0.6-0.8x of a
        # bare libcst parse). Everything is freed by reference counting when the add returns.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            parsed = [(f, text, normalize.parse_source(text, path=str(f.path))) for f, text in texts]
            with self._env.begin() as txn:
                target = version or self._default(txn)
                version_exists = self._version_record(txn, target) is not None
                chain = self._chain(txn, target) if version_exists else self._chain(txn, self._default(txn))
                batch_modules: set[str] = set()
                batch_names: set[str] = set()
                for f, _text, _mod in parsed:
                    parts = f.module.split(".")
                    batch_modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
                store_modules = {k.decode() for k, _ in self._prefix(txn, "modules", b"")}
                batch_imports: dict[str, dict[str, str]] = {}
                for f, _text, mod in parsed:
                    batch_names.update(f"{f.module}.{n}" for n in normalize.top_level_names(
                        mod, module=f.module, is_package=f.is_package, modules=batch_modules | store_modules))
                    batch_imports[f.module] = normalize.import_map(mod, f.module, f.is_package)

                def is_name(fqn: str) -> bool:
                    return fqn in batch_names or self._lookup(txn, target, fqn, chain) is not None

                def follow(fqn: str) -> str:
                    seen = {fqn}
                    while not is_name(fqn):
                        module, _, leaf = fqn.rpartition(".")
                        imports = batch_imports.get(module)
                        if imports is None:
                            rec = self._get(txn, "modules", module.encode())
                            imports = rec.get("imports", {}) if isinstance(rec, dict) else {}
                        nxt = imports.get(leaf)
                        if nxt is None or nxt in seen:
                            break
                        seen.add(nxt)
                        fqn = nxt
                    return fqn

                all_modules = frozenset(batch_modules | store_modules)
                ctx = normalize.Context(all_modules, is_name, follow)
                modules: list[tuple[Any, ParsedModule]] = []
                for i, (f, _text, mod) in enumerate(parsed):
                    if progress is not None:
                        progress(i, len(parsed), str(f.path))
                    pm = normalize.normalize_module(mod, path=str(f.path), module=f.module,
                                                    is_package=f.is_package, ctx=ctx,
                                                    origin=os.path.abspath(f.path))
                    modules.append((f, pm))
                if progress is not None:
                    progress(len(parsed), len(parsed), "")

                if strict:
                    offenders = [
                        (f"{pm.name}.{d.names[0]}" if d.names else f"{pm.name} (module code)",
                         f"{w.message} (line {w.line})")
                        for _f, pm in modules for d in pm.statements for w in d.warnings if w.code != "unresolved"
                    ]
                    if offenders:
                        raise StrictModeError(offenders)

                result, pending = self._plan_add(txn, target, chain, modules)
                file_recs = self._file_records(txn, texts, modules, result, all_modules)
        finally:
            if gc_was_enabled:
                gc.enable()

        wrote = False
        created = False
        if (pending.new_defs or pending.src_updates or pending.binds or pending.modules or pending.programs
                or pending.module_binds or file_recs or not version_exists):
            with self._env.begin(write=True) as txn:
                events: list[dict[str, Any]] = []
                created = self._ensure_version(txn, target, events)
                for h, rec in pending.new_defs.items():
                    self._put(txn, "defs", h.encode(), _pack(rec))
                    for dep in rec["deps"]:
                        self._put(txn, "dependents", _k(dep, h), b"")
                for h, rec in pending.src_updates.items():
                    self._put(txn, "src", h.encode(), _pack(rec))
                for digest, text in pending.texts.items():
                    if txn.get(digest.encode(), db=self._db["texts"]) is None:
                        self._put(txn, "texts", digest.encode(), text.encode("utf-8"))
                for ph, (prec, code) in pending.programs.items():
                    self._put(txn, "programs", ph.encode(), _pack(prec))
                    if code is not None:
                        self._put(txn, "code", code[0].encode(), code[1])
                for name, bh in pending.binds:
                    ev = (self._set_binding(txn, target, name, bh) if bh is not None
                          else self._remove_binding(txn, target, name))
                    if ev is not None:
                        events.append(ev)
                for mname, ph in pending.module_binds:
                    ev = self._set_module(txn, target, mname, ph)
                    if ev is not None:
                        events.append(ev)
                for mname, mrec in pending.modules.items():
                    self._put(txn, "modules", mname.encode(), _pack(mrec))
                for key, frec in file_recs.items():
                    self._put(txn, "files", key, _pack(frec))
                if events:
                    shown = " ".join(str(p) for p in paths)
                    self._append(txn, events, cause=f"add {shown}" + (f" --version {target}" if version else ""))
            wrote = True
        skipped = [SkippedStatement(str(p), 1, reason, "") for p, reason in passed_over]
        return AddResult(
            version=target, names=result["names"], skipped=skipped, stale=result["stale"],
            files=len(files), wrote=wrote, created_version=created, modules=result["modules"],
        )

    # The `files` table lets an unchanged re-add skip parsing entirely (and never import libcst): per
    # module, the digest of its source, of the set of stored modules it was normalized against (what an
    # import means depends on it), the program it gave and the names -> hashes and warnings it produced.

    def _file_records(self, txn: lmdb.Transaction, texts: list[tuple[Any, str]],
                      modules: list[tuple[Any, ParsedModule]], result: dict[str, Any],
                      all_modules: frozenset[str]) -> dict[bytes, dict[str, Any]]:
        ctx_digest = _source_digest("\n".join(sorted(all_modules)))
        by_module: dict[str, list[AddedName]] = {}
        for n in result["names"]:
            if n.status != "removed":
                by_module.setdefault(n.name.rpartition(".")[0], []).append(n)
        out: dict[bytes, dict[str, Any]] = {}
        for (f, text), (_f, pm) in zip(texts, modules, strict=True):
            rec = {
                "digest": _source_digest(text), "path": str(f.path), "package": f.is_package, "ctx": ctx_digest,
                "normalization": hashing.NORMALIZATION, "program": pm.hash,
                # star imports from stored modules depend on what those modules hold: never skip those
                "volatile": bool(pm.star_reexports),
                "names": [[n.name, n.hash, n.kind, n.line, [[w.code, w.message, w.line] for w in n.warnings]]
                          for n in by_module.get(pm.name, []) if n.path == pm.path],
            }
            key = f.module.encode()
            if self._get(txn, "files", key) != rec:
                out[key] = rec
        return out

    def _unchanged_add(self, texts: list[tuple[Any, str]], version: str | None) -> AddResult | None:
        """The result of re-adding files that have not changed since they were added, or None."""
        from ucode.model import AddedModule, AddedName, AddResult, Warning

        with self._env.begin() as txn:
            target = version or self._default(txn)
            if self._version_record(txn, target) is None or not texts:
                return None
            chain = self._chain(txn, target)
            modules = {k.decode() for k, _ in self._prefix(txn, "modules", b"")}
            for f, _text in texts:
                parts = f.module.split(".")
                modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            ctx_digest = _source_digest("\n".join(sorted(modules)))
            names: list[AddedName] = []
            added_modules: list[AddedModule] = []
            for f, text in texts:
                rec = self._get(txn, "files", f.module.encode())
                if (not isinstance(rec, dict) or rec.get("volatile") or rec.get("digest") != _source_digest(text)
                        or rec.get("normalization") != hashing.NORMALIZATION
                        or rec.get("ctx") != ctx_digest or rec.get("path") != str(f.path)
                        or rec.get("package") != f.is_package
                        or self._module_lookup(txn, target, f.module, chain) != rec.get("program")):
                    return None
                for name, h, kind, line, warnings in rec["names"]:
                    if self._lookup(txn, target, name, chain) != h:
                        return None  # rebound since: let the full add say what changed
                    names.append(AddedName(name, h, "unchanged", kind, h, str(f.path), line,
                                           [Warning(c, m, str(f.path), ln) for c, m, ln in warnings]))
                added_modules.append(AddedModule(f.module, rec["program"], "unchanged", rec["program"], str(f.path)))
        names.sort(key=lambda n: n.name)
        return AddResult(version=target, names=names, skipped=[], stale=[], files=len(texts),
                         wrote=False, created_version=False, modules=added_modules)

    def _plan_add(
        self, txn: lmdb.Transaction, target: str, chain: list[str], modules: list[tuple[Any, ParsedModule]]
    ) -> tuple[dict[str, Any], _Pending]:
        from ucode.model import AddedModule, AddedName, Warning

        def current(name: str) -> str | None:
            return self._lookup(txn, target, name, chain)

        new_hash: dict[str, str] = {}
        for _f, pm in modules:
            new_hash.update({f"{pm.name}.{n}": h for n, h in pm.bindings().items()})

        pending = _Pending()
        names: list[AddedName] = []
        added_modules: list[AddedModule] = []
        stale: list[str] = []
        for _f, pm in modules:
            prefix = pm.name + "."
            old_program = self._module_lookup(txn, target, pm.name, chain)
            old_rec = self._get(txn, "programs", old_program.encode()) if old_program else None
            if isinstance(old_rec, dict):
                before = [prefix + n for n in old_rec.get("slots", {})]
            else:  # a module added by an older ucode (no program): the names directly under it
                before = [n for n in self._bindings(txn, target, prefix) if "." not in n[len(prefix):]]
            # Names the module defined and no longer does are unbound: the module runs as its file does, and
            # a name left bound would be put back into it. A definition renamed in the source is reported
            # as `renamed`, from its old name (same code under a new name: the same body hash).
            removed = [n for n in before if n not in new_hash and current(n) is not None]
            removed_body: dict[str, str] = {}
            for n in removed:
                rec = self._get(txn, "defs", (current(n) or "").encode())
                if isinstance(rec, dict) and rec.get("body"):
                    removed_body.setdefault(rec["body"], n)
            src_seen: set[str] = set()
            statements = []
            for d in pm.statements:
                digest = hashing.text_digest(d.source)
                pending.texts[digest] = d.source
                statements.append([d.hash, digest, d.line, d.names, d.kind])
                src = {"source": d.source, "path": pm.path, "line": d.line, "module": pm.name, "names": d.names,
                       "doc": d.docstring, "refs": d.refs,
                       "warnings": [[w.code, w.message, w.line] for w in d.warnings]}
                if d.futures:
                    src["futures"] = d.futures
                stored = self._get(txn, "defs", d.hash.encode())
                if stored is None and d.hash not in pending.new_defs:
                    written_against = {}
                    for dep in d.deps:
                        dh = new_hash.get(dep) or current(dep)
                        if dh is not None:
                            written_against[dep] = dh
                    pending.new_defs[d.hash] = {
                        "scheme": hashing.STMT_SCHEME if d.kind == "code" else hashing.DEF_SCHEME, "kind": d.kind,
                        "imports": d.imports, "deps": d.deps, "cbm": d.codebase_modules, "wa": written_against,
                        "renamed": d.renamed_locals, "body": d.body, "program": pm.hash}
                    pending.src_updates[d.hash] = src
                elif d.hash not in src_seen and d.hash not in pending.new_defs:
                    old_src = self._get(txn, "src", d.hash.encode())
                    if old_src != src:
                        pending.src_updates[d.hash] = src
                src_seen.add(d.hash)
            for n, i in sorted(pm.slots.items()):
                d = pm.statements[i]
                name = prefix + n
                old = current(name)
                warnings = [Warning(w.code, w.message, pm.path, w.line) for w in d.warnings]
                old_src = self._get(txn, "src", d.hash.encode()) if old == d.hash else None
                frm = None
                if old is None:
                    frm = removed_body.pop(d.body, None) if d.body else None
                    status = "renamed" if frm else "added"
                elif old != d.hash:
                    status = "updated"
                elif isinstance(old_src, dict) and old_src.get("source") != d.source:
                    status = "reformatted"
                else:
                    status = "unchanged"
                names.append(AddedName(name, d.hash, status, d.kind, old, pm.path, d.line, warnings, frm))
                if old != d.hash:
                    pending.binds.append((name, d.hash))
            for n in sorted(removed):
                names.append(AddedName(n, current(n) or "", "removed", "", current(n), pm.path, 0, []))
                pending.binds.append((n, None))
                stale.append(n)
            if self._get(txn, "programs", pm.hash.encode()) is None and pm.hash not in pending.programs:
                prec = {"scheme": hashing.MODULE_SCHEME, "module": pm.name, "package": pm.is_package,
                        "path": pm.origin, "futures": pm.futures, "statements": statements,
                        "slots": pm.slots, "imports": pm.modules_imported, "used": pm.modules_used,
                        "annotations": pm.annotations, "doc": pm.docstring, "from_imports": pm.imports,
                        "stars": pm.star_reexports}
                pending.programs[pm.hash] = (prec, _compile_program(pm.hash, prec, [d.source for d in pm.statements]))
            status = "added" if old_program is None else ("unchanged" if old_program == pm.hash else "updated")
            added_modules.append(AddedModule(pm.name, pm.hash, status, old_program, pm.path))
            if old_program != pm.hash:
                pending.module_binds.append((pm.name, pm.hash))
            rec = {"path": pm.origin, "package": pm.is_package, "imports": pm.imports, "program": pm.hash}
            if self._get(txn, "modules", pm.name.encode()) != rec:
                pending.modules[pm.name] = rec
        names.sort(key=lambda n: n.name)
        result = {"names": names, "skipped": [], "stale": sorted(stale), "modules": added_modules}
        return result, pending

    # ------------------------------------------------------------------------------ binding

    def bind(self, name: str, target: str, *, version: str | None = None) -> list[Event]:
        """Bind ``name`` (an existing name or suffix, or a new full name) to ``target`` (``#hash`` or a
        name) in ``version`` (created from the default version if new). Returns the events written."""
        ref = parse_ref(name)
        if ref.name is None:
            raise UcodeError(f"cannot bind a hash ({name}) to something",
                             hint="write the name first: ucode bind NAME #HASH")
        with self._env.begin(write=True) as txn:
            events: list[dict[str, Any]] = []
            v = ref.version or version or self._default(txn)
            self._ensure_version(txn, v, events)
            _tname, h, _tv = self._resolve(txn, target, v)
            full = self._name_for_write(txn, ref.name, v)
            ev = self._set_binding(txn, v, full, h)
            if ev is not None:
                events.append(ev)
            if not events:
                return []
            return self._append(txn, events, cause=f"bind {full}@{v} {hashing.short(h)}")

    def _name_for_write(self, txn: lmdb.Transaction, name: str, version: str) -> str:
        """The full name a write refers to: an existing name it uniquely suffixes, else itself."""
        try:
            return self._resolve_name(txn, name, version)[0]
        except NameNotFoundError:
            return validate_name(name)

    def unbind(self, name: str, *, version: str | None = None) -> list[Event]:
        """Remove ``name`` from ``version`` (its parent's binding is hidden too)."""
        ref = parse_ref(name)
        if ref.name is None:
            raise UcodeError("unbind takes a name, not a hash", hint="ucode names #HASH lists its names")
        with self._env.begin(write=True) as txn:
            v = self._version(txn, ref.version or version)
            full, _h = self._resolve_name(txn, ref.name, v)
            rec = self._version_record(txn, v) or {}
            parent = rec.get("parent")
            inherited = parent is not None and self._lookup(txn, parent, full) is not None
            ev = self._set_binding(txn, v, full, "" if inherited else None)
            return self._append(txn, [ev] if ev else [], cause=f"unbind {full}@{v}")

    def alias(self, existing: str, new_name: str, *, version: str | None = None) -> list[Event]:
        """Bind ``new_name`` to the hash ``existing`` has: a second name for the same definition."""
        validate_name(new_name)
        with self._env.begin(write=True) as txn:
            name, h, v = self._resolve(txn, existing, version)
            ev = self._set_binding(txn, v, new_name, h)
            return self._append(txn, [ev] if ev else [], cause=f"alias {name or existing} {new_name}@{v}")

    def move(self, old_name: str, new_name: str, *, version: str | None = None) -> list[Event]:
        """Rename: bind ``new_name`` to ``old_name``'s hash and unbind ``old_name``, in one step (free:
        nothing is re-hashed; dependents that call the old name keep their hash and see it unbound)."""
        validate_name(new_name)
        with self._env.begin(write=True) as txn:
            ref = parse_ref(old_name)
            if ref.name is None:
                raise UcodeError("move takes a name, not a hash", hint="use ucode alias #HASH NEW")
            v = self._version(txn, ref.version or version)
            full, h = self._resolve_name(txn, ref.name, v)
            if full == new_name:
                return []
            rec = self._version_record(txn, v) or {}
            parent = rec.get("parent")
            inherited = parent is not None and self._lookup(txn, parent, full) is not None
            evs = [self._set_binding(txn, v, new_name, h), self._set_binding(txn, v, full, "" if inherited else None)]
            return self._append(txn, [e for e in evs if e], cause=f"move {full} {new_name}@{v}")

    # ------------------------------------------------------------------------------ reading

    def resolve(self, ref: str, *, version: str | None = None) -> str:
        """The full hash that ``ref`` (``NAME``, ``NAME@V`` or ``#HASH``) refers to."""
        with self._env.begin() as txn:
            return self._resolve(txn, ref, version)[1]

    def resolve_name(self, ref: str, *, version: str | None = None) -> str:
        """The full name a (suffix) reference refers to."""
        with self._env.begin() as txn:
            r = parse_ref(ref)
            if r.name is None:
                raise UcodeError(f"{ref} is a hash, not a name", hint="ucode names #HASH lists its names")
            return self._resolve_name(txn, r.name, self._version(txn, r.version or version))[0]

    def view(self, ref: str, *, version: str | None = None) -> DefinitionView:
        """Everything about a name or hash: source, hash, dependencies (as bound now), warnings."""
        from ucode.model import DefinitionView, Warning

        with self._env.begin() as txn:
            name, h, v = self._resolve(txn, ref, version)
            rec = self._get(txn, "defs", h.encode())
            if rec is None:
                raise StoreCorruptError(f"{name} is bound to {hashing.short(h)}, which is not stored",
                                        hint="rebind the name (ucode bind) or run ucode verify")
            src = self._get(txn, "src", h.encode()) or {}
            chain = self._chain(txn, v)
            deps = {d: self._dep_hash(txn, v, chain, h, rec, d) for d in rec["deps"]}
            names = sorted({k.decode().split(_SEP)[2] for k, _ in self._prefix(txn, "byhash", _k(h, ""))})
            return DefinitionView(
                name=name, names=names, hash=h, kind=rec["kind"], version=v, source=src.get("source", ""),
                docstring=src.get("doc"), path=src.get("path", ""), line=src.get("line", 0),
                module=src.get("module", ""), deps=deps, written_against=dict(rec.get("wa", {})),
                imports=list(rec["imports"]),
                warnings=[Warning(c, m, src.get("path", ""), ln) for c, m, ln in src.get("warnings", [])],
            )

    def find(self, query: str, *, version: str | None = None, limit: int = 50) -> list[Match]:
        """Names in ``version`` containing ``query`` (case-insensitive), best matches first."""
        from ucode.model import Match

        q = query.lower()
        with self._env.begin() as txn:
            v = self._version(txn, version)
            chain = self._chain(txn, v)
            # Match on the raw keys of every version in the chain (no decoding of the names that do
            # not match), then resolve the few candidates through the chain (overrides, unbinds).
            qb = q.encode("utf-8")
            candidates: set[bytes] = set()
            for ver in chain:
                cut = len(ver.encode()) + 1
                for key, _ in self._prefix(txn, "bind", _k(ver, "")):
                    raw = key[cut:]
                    # bytes.lower() folds ASCII only: decode the (rare) non-ASCII names to compare
                    if qb in (raw.lower() if raw.isascii() else raw.decode().lower().encode()):
                        candidates.add(raw)
            scored = []
            for raw_name in candidates:
                name = raw_name.decode()
                h = self._lookup(txn, v, name, chain)
                if h is None:
                    continue
                low = name.lower()
                leaf = low.rpartition(".")[2]
                rank = 0 if leaf == q else 1 if leaf.startswith(q) else 2 if q in leaf else 3
                scored.append((rank, len(name), name, h))
            scored.sort()
            out = []
            for _r, _l, name, h in scored[:limit]:
                rec = self._get(txn, "defs", h.encode()) or {}
                src = self._get(txn, "src", h.encode()) or {}
                doc = (src.get("doc") or "").strip().splitlines()
                out.append(Match(name, h, rec.get("kind", "?"), doc[0] if doc else ""))
            return out

    def ls(self, prefix: str | None = None, *, version: str | None = None) -> list[Binding]:
        """Names in ``version``, optionally only those under namespace ``prefix``."""
        from ucode.model import Binding

        with self._env.begin() as txn:
            v = self._version(txn, version)
            p = "" if not prefix else prefix.rstrip(".") + "."
            binds = self._bindings(txn, v, p)
            if prefix and not binds:
                exact = self._lookup(txn, v, prefix)
                if exact:
                    return [Binding(prefix, exact, v)]
            return [Binding(n, h, v) for n, h in sorted(binds.items())]

    def names(self, ref: str) -> list[Binding]:
        """Every (version, name) bound to the hash ``ref`` refers to."""
        from ucode.model import Binding

        with self._env.begin() as txn:
            _n, h, _v = self._resolve(txn, ref, None)
            out = []
            for k, _ in self._prefix(txn, "byhash", _k(h, "")):
                _hh, ver, name = k.decode().split(_SEP)
                out.append(Binding(name, h, ver))
            return sorted(out, key=lambda b: (b.version, b.name))

    def deps(self, ref: str, *, version: str | None = None) -> list[Binding]:
        """The names ``ref``'s definition depends on, and what each is bound to in ``version``."""
        from ucode.model import Binding

        with self._env.begin() as txn:
            _n, h, v = self._resolve(txn, ref, version)
            rec = self._get(txn, "defs", h.encode()) or {"deps": []}
            chain = self._chain(txn, v)
            return [Binding(d, self._dep_hash(txn, v, chain, h, rec, d), v) for d in rec["deps"]]

    def dependents(self, ref: str, *, version: str | None = None) -> list[Binding]:
        """Names in ``version`` whose definitions call (depend on) ``ref`` or any alias of it."""
        from ucode.model import Binding

        with self._env.begin() as txn:
            name, h, v = self._resolve(txn, ref, version)
            chain = self._chain(txn, v)
            targets = {k.decode().split(_SEP)[2] for k, _ in self._prefix(txn, "byhash", _k(h, ""))}
            if name:
                targets.add(name)
            users: set[str] = set()
            for t in targets:
                users.update(k.decode().split(_SEP)[1] for k, _ in self._prefix(txn, "dependents", _k(t, "")))
            out = []
            for uh in users:
                for k, _ in self._prefix(txn, "byhash", _k(uh, "")):
                    _x, ver, uname = k.decode().split(_SEP)
                    if ver in chain and self._lookup(txn, v, uname, chain) == uh:
                        out.append(Binding(uname, uh, v))
            return sorted(set(out), key=lambda b: b.name)

    def history(self, name: str | None = None, *, version: str | None = None, limit: int | None = None) -> list[Event]:
        """The namespace log, newest first; only events about ``name`` (a full name or suffix) if given."""
        from ucode.model import Event

        with self._env.begin() as txn:
            full = None
            if name is not None:
                r = parse_ref(name)
                if r.name is None:
                    raise UcodeError("history takes a name", hint="ucode names #HASH lists a hash's names")
                v = self._version(txn, r.version or version)
                version = r.version or version
                try:
                    full = self._resolve_name(txn, r.name, v)[0]
                except NameNotFoundError:
                    full = r.name  # it may have been unbound: its history is still there
            out = []
            for ev in self._events(txn, reverse=True):
                if full is not None and not (ev["kind"] == "bind" and ev["name"] == full):
                    continue
                if version is not None and ev["version"] != version:
                    continue
                out.append(Event(**ev))
                if limit is not None and len(out) >= limit:
                    break
            return out

    def log_position(self) -> int:
        """The seq of the newest namespace event: pass it as ``at=`` to see the names as they are now."""
        with self._env.begin() as txn:
            return self._last_seq(txn)

    def bindings(self, version: str | None = None, *, at: int | None = None) -> dict[str, str]:
        """Every name -> hash in ``version``; as of log position ``at`` (rebuilt from the log) if given."""
        with self._env.begin() as txn:
            if at is None:
                return dict(sorted(self._bindings(txn, self._version(txn, version)).items()))
            from ucode import namespace  # only for a past log position (start-up counts)

            state = namespace.fold(self._events(txn), at=at)
            v = version or state.default or "v1"
            if v not in state.parents:
                raise VersionError(f"version {v!r} did not exist at log position {at}")
            return state.bindings(v)

    def undo(self) -> UndoResult:
        """Undo the newest command that changed names (and is not undone yet), by appending its
        inverse events. Nothing is erased: ``history`` shows both; repeated ``undo`` goes further back."""
        from ucode import namespace
        from ucode.model import UndoResult

        with self._env.begin(write=True) as txn:
            undone: set[int] = set()
            target: list[dict[str, Any]] = []
            for ev in self._events(txn, reverse=True):
                if ev.get("undoes") is not None:
                    undone.add(ev["undoes"])
                    continue
                if target and ev["op"] != target[0]["op"]:
                    break
                if ev["op"] in undone:
                    continue
                if namespace.inverse(ev) is None and not target:
                    continue  # version creation alone: nothing to undo there
                target.append(ev)
            inverses = [inv for ev in target if (inv := namespace.inverse(ev)) is not None]
            if not inverses:
                raise NothingToUndoError("nothing to undo", hint="`ucode history` shows the namespace log")
            op = target[0]["op"]
            for inv in inverses:  # target is newest first: undo in reverse order
                if inv["kind"] == "bind":
                    self._set_binding(txn, inv["version"], inv["name"], inv["new"])
                elif inv["kind"] == "module":
                    self._set_module(txn, inv["version"], inv["name"], inv["new"])
                else:
                    self._put(txn, "meta", b"default", _pack(inv["new"]))
            cause = target[0]["cause"]
            events = self._append(txn, inverses, cause=f"undo: {cause}", undoes=op)
            return UndoResult(op, cause, events)

    def diff(self, v1: str, v2: str) -> list[DiffEntry]:
        """Names whose hash differs between two versions, with a unified diff of their sources."""
        import difflib

        from ucode.model import DiffEntry

        with self._env.begin() as txn:
            a_v, b_v = self._version(txn, v1), self._version(txn, v2)
            a, b = self._bindings(txn, a_v), self._bindings(txn, b_v)
            out = []
            for name in sorted(set(a) | set(b)):
                ha, hb = a.get(name), b.get(name)
                if ha == hb:
                    continue
                sa = (self._get(txn, "src", ha.encode()) or {}).get("source", "") if ha else ""
                sb = (self._get(txn, "src", hb.encode()) or {}).get("source", "") if hb else ""
                text = "".join(difflib.unified_diff(
                    sa.splitlines(keepends=True), sb.splitlines(keepends=True),
                    fromfile=f"{name}@{a_v}", tofile=f"{name}@{b_v}"))
                out.append(DiffEntry(name, ha, hb, text))
            return out

    def versions(self) -> list[VersionInfo]:
        from ucode.model import VersionInfo

        with self._env.begin() as txn:
            default = self._default(txn)
            out = []
            for key, raw in self._prefix(txn, "versions", b""):
                rec = self._unpack(raw, "versions", key)
                name = key.decode()
                own = sum(1 for _ in self._prefix(txn, "bind", _k(name, "")))
                out.append(VersionInfo(name, rec.get("parent"), name == default, own, rec.get("created", 0.0)))
            return out

    def create_version(self, version: str, *, parent: str | None = None) -> list[Event]:
        """Create ``version`` from ``parent`` (default: the default version)."""
        validate_version(version)
        with self._env.begin(write=True) as txn:
            if self._version_record(txn, version) is not None:
                raise VersionError(f"version {version!r} already exists", hint="ucode versions lists them")
            p = self._version(txn, parent)
            self._put(txn, "versions", version.encode(), _pack({"parent": p, "created": self._clock()}))
            return self._append(txn, [{"kind": "version", "version": version, "name": version, "old": p,
                                       "new": None}], cause=f"version create {version}")

    def use_version(self, version: str) -> list[Event]:
        """Make ``version`` the default one (what commands use without ``--version``)."""
        with self._env.begin(write=True) as txn:
            v = self._version(txn, version)
            old = self._default(txn)
            if old == v:
                return []
            self._put(txn, "meta", b"default", _pack(v))
            return self._append(txn, [{"kind": "use", "version": v, "name": "", "old": old, "new": v}],
                                 cause=f"version use {v}")

    # --------------------------------------------------------------------------------- state

    def state_get(self, key: str) -> Any:
        """The value of world-state ``key`` (wire form; None if unset)."""
        with self._env.begin() as txn:
            return self._get(txn, "state", key.encode())

    def state_write(self, key: str, value: Any, *, task: str | None = None, delete: bool = False) -> None:
        """Set (or delete) world-state ``key``: appends the write to ``statelog`` and updates ``state``, in
        one transaction."""
        with self._env.begin(write=True) as txn:
            old = self._get(txn, "state", key.encode())
            cur = txn.cursor(db=self._db["statelog"])
            seq = (struct.unpack(">Q", cur.key())[0] if cur.last() else 0) + 1
            self._put(txn, "statelog", _seq_key(seq), _pack({"seq": seq, "key": key, "old": old,
                                                             "new": None if delete else value,
                                                             "delete": delete, "task": task,
                                                             "time": self._clock()}))
            if delete:
                txn.delete(key.encode(), db=self._db["state"])
            else:
                self._put(txn, "state", key.encode(), _pack(value))

    def state_at(self, seq: int | None = None) -> dict[str, Any]:
        """World state as of state-log position ``seq`` (now if None), rebuilt by folding the log."""
        out: dict[str, Any] = {}
        with self._env.begin() as txn:
            for key, raw in self._prefix(txn, "statelog", b""):
                ev = self._unpack(raw, "statelog", key)
                if seq is not None and ev["seq"] > seq:
                    break
                if ev["delete"]:
                    out.pop(ev["key"], None)
                else:
                    out[ev["key"]] = ev["new"]
        return out

    # --------------------------------------------------------------------------------- tasks

    def task_start(self, record: dict[str, Any]) -> None:
        """Store a new task's record (its id is ``record["id"]``): committed before the task runs."""
        with self._env.begin(write=True) as txn:
            self._put(txn, "tasks", record["id"].encode(), _pack(record))

    def task_events_append(self, task_id: str, events: Sequence[Sequence[Any] | dict[str, Any]]) -> None:
        """Append recorded effects to a task's log, in one transaction (as one record: see
        :meth:`task_event_rows`)."""
        if not events:
            return
        with self._env.begin(write=True) as txn:
            self._put_events(txn, task_id, events)

    def _put_events(self, txn: lmdb.Transaction, task_id: str,
                    events: Sequence[Sequence[Any] | dict[str, Any]]) -> None:
        # One event is one row (a list in _EVENT_FIELDS order); a batch is one record holding its rows,
        # keyed by its first seq: a replay decodes 256 events with one msgpack call and one cursor step.
        rows = [_event_row(e) for e in events]
        self._put(txn, "events", task_id.encode() + b"\0" + _seq_key(rows[0][0]),
                  _pack(rows[0] if len(rows) == 1 else rows))

    def task_finish(self, task_id: str, update: dict[str, Any],
                    events: Sequence[Sequence[Any] | dict[str, Any]] = ()) -> None:
        """Record a task's outcome (and its last buffered events) in one transaction."""
        with self._env.begin(write=True) as txn:
            rec = self._get(txn, "tasks", task_id.encode())
            if not isinstance(rec, dict):
                raise UcodeError(f"no task {task_id}", hint="ucode task list shows the tasks")
            if events:
                self._put_events(txn, task_id, events)
            rec.update(update)
            self._put(txn, "tasks", task_id.encode(), _pack(rec))

    def task(self, task_id: str) -> dict[str, Any]:
        """A task's record; a unique prefix of its id works too, and ``last`` is the newest task."""
        if task_id == "last":
            newest = self.tasks()
            if not newest:
                raise UcodeError("no tasks yet", hint="every `ucode run` records one")
            return newest[0]
        with self._env.begin() as txn:
            key = task_id.encode()
            rec = self._get(txn, "tasks", key)
            if rec is None:
                found = [k for k, _ in self._prefix(txn, "tasks", key)][:5]
                if len(found) == 1:
                    rec = self._get(txn, "tasks", found[0])
                elif len(found) > 1:
                    raise AmbiguousNameError(task_id, [f.decode() for f in found])
            if not isinstance(rec, dict):
                raise UcodeError(f"no task {task_id!r}", hint="`ucode task list` shows the tasks")
            return rec

    def task_events(self, task_id: str) -> list[dict[str, Any]]:
        """A task's recorded effects, in order, as maps (field names: :data:`EVENT_FIELDS`). A record
        that cannot be decoded is reported in place (``{"seq": ..., "corrupt": message}``); the others
        stay readable."""
        return [dict(zip(EVENT_FIELDS, r, strict=True)) if isinstance(r, list) else r
                for r in self.task_event_rows(task_id)]

    def task_event_rows(self, task_id: str) -> list[list[Any] | dict[str, Any]]:
        """A task's recorded effects, in order, as rows (lists in :data:`EVENT_FIELDS` order: the form a
        replay loads fastest). A damaged record is a map ``{"seq": first seq, "corrupt": message}``."""
        out: list[list[Any] | dict[str, Any]] = []
        with self._env.begin() as txn:
            for key, raw in self._prefix(txn, "events", task_id.encode() + b"\0"):
                try:
                    rec = self._unpack(raw, "events", key)
                    if isinstance(rec, dict):  # stores written before events were rows
                        out.append(_event_row(rec))
                    elif isinstance(rec, list) and rec and isinstance(rec[0], list):
                        out.extend(rec)  # a batch
                    elif isinstance(rec, list) and len(rec) == len(EVENT_FIELDS):
                        out.append(rec)
                    else:
                        raise TypeError(type(rec))
                except (StoreCorruptError, TypeError, KeyError):
                    seq = struct.unpack(">Q", key[-8:])[0]
                    out.append({"seq": seq, "corrupt": f"the record of event {seq} of task {task_id} "
                                                       "(and of the events committed with it) is damaged"})
        return out

    def tasks(self) -> list[dict[str, Any]]:
        """Every task record, newest first."""
        with self._env.begin() as txn:
            recs = [self._unpack(raw, "tasks", key) for key, raw in self._prefix(txn, "tasks", b"")]
        return sorted(recs, key=lambda r: (r.get("started", 0), r["id"]), reverse=True)

    def log_lines(self, *, task: str | None = None, name: str | None = None, since: float | None = None,
                  grep: str | None = None) -> list[dict[str, Any]]:
        """The log lines (``effects.log``) of recorded tasks, oldest first, as ``{task, name, seq, time,
        line}``: of one ``task``, of the tasks of entry point ``name``, of tasks started at or after
        ``since``, lines containing ``grep``."""
        from ucode import codec

        recs = [self.task(task)] if task else list(reversed(self.task_list(name=name, since=since)))
        out: list[dict[str, Any]] = []
        for rec in recs:
            for e in self.task_event_rows(rec["id"]):
                if isinstance(e, dict) or e[1] != "log":
                    continue
                args = codec.from_wire(e[2])
                fields = " ".join(f"{k}={v!r}" for k, v in codec.from_wire(e[3]).items())
                text = f"{args[0] if args else ''} {fields}".rstrip()
                if grep is None or grep in text:
                    out.append({"task": rec["id"], "name": rec.get("entry", rec.get("name")), "seq": e[0],
                                "started": rec.get("started"), "line": text})
        return out

    def task_list(self, *, failed: bool = False, name: str | None = None,
                  since: float | None = None) -> list[dict[str, Any]]:
        """Task summaries (id, name, status, version, times, hashes), newest first: only failed or
        interrupted ones with ``failed``, only those of entry point ``name`` (a full name or a suffix),
        only those started at or after the timestamp ``since``."""
        from ucode.tasks import task_summary

        rows = [task_summary(r) for r in self.tasks()]
        if failed:
            rows = [r for r in rows if r["status"] in ("failed", "interrupted")]
        if name:
            rows = [r for r in rows if r["name"] == name or r["name"].endswith("." + name)]
        if since is not None:
            rows = [r for r in rows if (r["started"] or 0) >= since]
        return rows

    def task_prune(self, older_than: float) -> int:
        """Delete finished tasks that started before ``older_than`` (a timestamp), with their events."""
        dropped = 0
        with self._env.begin(write=True) as txn:
            doomed = [key for key, raw in self._prefix(txn, "tasks", b"")
                      if (r := self._unpack(raw, "tasks", key)).get("started", 0) < older_than
                      and r.get("status") != "running"]
            for key in doomed:
                for ekey, _ in list(self._prefix(txn, "events", key + b"\0")):
                    txn.delete(ekey, db=self._db["events"])
                for okey, _ in list(self._prefix(txn, "overrides", key + b"\0")):
                    txn.delete(okey, db=self._db["overrides"])
                txn.delete(key, db=self._db["tasks"])
                dropped += 1
        return dropped

    def task_override(self, task_id: str, name: str, target: str | None) -> None:
        """Make ``name`` resolve to ``target`` (a hash) in this task's replays; None removes it."""
        tid = self.task(task_id)["id"]
        with self._env.begin(write=True) as txn:
            key = _k(tid, name)
            if target is None:
                txn.delete(key, db=self._db["overrides"])
            else:
                self._put(txn, "overrides", key, target.encode())

    def task_overrides(self, task_id: str) -> dict[str, str]:
        with self._env.begin() as txn:
            prefix = _k(task_id, "")
            return {k[len(prefix):].decode(): v.decode() for k, v in self._prefix(txn, "overrides", prefix)}

    def stats(self) -> dict[str, Any]:
        """Store facts: path, size on disk, counts, and LMDB's last transaction id (it only moves when
        something was written)."""
        with self._env.begin() as txn:
            counts = {t: txn.stat(self._db[t])["entries"]
                      for t in ("defs", "bind", "log", "versions", "modules", "programs")}
        data = self.path / "data.mdb"
        return {"path": str(self.path), "bytes": data.stat().st_size if data.exists() else 0,
                "last_txnid": self._env.info()["last_txnid"], "schema": SCHEMA_VERSION, **counts}

    def default_version(self) -> str:
        with self._env.begin() as txn:
            return self._default(txn)

    # ------------------------------------------------------------------------------ settings

    def config(self) -> dict[str, Any]:
        """The store's settings (:data:`SETTINGS`): what is set, else the default."""
        with self._env.begin() as txn:
            stored = self._get(txn, "meta", b"config") or {}
        return {key: stored.get(key, spec[0]) for key, spec in SETTINGS.items()}

    def set_config(self, key: str, value: str | None) -> dict[str, Any]:
        """Set one setting (``None``: back to its default); returns all of them."""
        if key not in SETTINGS:
            raise UcodeError(f"unknown setting {key!r}", hint="settings: " + ", ".join(sorted(SETTINGS)))
        default, allowed, _doc = SETTINGS[key]
        if value is not None and value not in allowed:
            raise UcodeError(f"{key} cannot be {value!r}",
                             hint=f"choose one of {', '.join(allowed)} (the default is {default})")
        with self._env.begin(write=True) as txn:
            stored = dict(self._get(txn, "meta", b"config") or {})
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = value
            self._put(txn, "meta", b"config", _pack(stored))
        return self.config()

    # ------------------------------------------------------------------------------ running

    def snapshot_source(self, version: str | None, at: int | None,
                        overrides: Mapping[str, str] | None) -> _StoreSnapshot:
        """The names of ``version`` as of log position ``at`` (now if None), with ``overrides`` (full name
        -> hash) in place of bindings: what the runtime reads a snapshot from (``runtime.SnapshotSource``)."""
        with self._env.begin() as txn:
            last = self._last_seq(txn)
            if at is None or at == last:
                return _StoreSnapshot(self, self._version(txn, version), last, dict(overrides or {}), None)
            from ucode import namespace  # only for a past log position (start-up counts)

            state = namespace.fold(self._events(txn), at=at)
            v = version or state.default or "v1"
            if v not in state.parents:
                raise VersionError(f"version {v!r} did not exist at log position {at}",
                                   hint="`ucode history` shows the log positions")
            return _StoreSnapshot(self, v, at, dict(overrides or {}), state)

    def has_module_record(self, module: str) -> bool:
        """Whether ``module`` was ever added to this store (whatever the version)."""
        with self._env.begin() as txn:
            return txn.get(module.encode(), db=self._db["modules"]) is not None

    def save_code(self, items: dict[str, bytes]) -> None:
        """Cache compiled code (key from ``runtime.code_key`` -> marshalled code): compiled once per Python."""
        if not items:
            return
        try:
            with self._env.begin(write=True) as txn:
                for key, blob in items.items():
                    self._put(txn, "code", key.encode(), blob)
        except lmdb.Error as exc:
            raise StoreError(f"cannot cache compiled code in {self.path}: {exc}") from None

    @property
    def runtime(self) -> Runtime:
        """This codebase's runtime: snapshots of its names and the module instances they share."""
        rt = self.__dict__.get("_runtime")
        if rt is None:
            from ucode.runtime import Runtime

            rt = self.__dict__["_runtime"] = Runtime(cast("SnapshotFactory", self))
        return rt

    def function(self, ref: str, *, version: str | None = None, at: int | None = None) -> Any:
        """The stored object ``ref`` names, as an ordinary Python object: its module imported from the
        store (its program run as its file would run), and the attribute taken from it.

        Names resolve through the bindings of ``version`` as they are now (or at log position ``at``); call
        ``function`` again to pick up rebindings (it is cheap when nothing changed).
        """
        return self.runtime.load(ref, version=version, at=at)[0]

    def run(self, ref: str, *args: Any, version: str | None = None, durability: str | None = None,
            **kwargs: Any) -> Any:
        """Run a stored function as a task, as ``ucode run`` does (async and generators included), and
        return its result (or raise its exception). :meth:`run_task` also gives the task id."""
        run = self.run_task(ref, *args, version=version, durability=durability, **kwargs)
        if run.error is not None:
            raise run.error
        return run.result

    def run_task(self, ref: str, *args: Any, version: str | None = None, durability: str | None = None,
                 **kwargs: Any) -> TaskRun:
        """Run a stored function as a recorded task; see :mod:`ucode.tasks`. ``durability`` (durable,
        batched or off) defaults to the store's setting (``ucode config durability``), else batched."""
        from ucode.tasks import run_task

        return run_task(self, ref, list(args), kwargs, version=version, durability=durability)

    def resume(self, task_id: str) -> TaskRun:
        """Finish an interrupted task: its recorded effects are served from the log (not performed
        again), the rest run live and are recorded."""
        from ucode.tasks import resume_task

        return resume_task(self, task_id)

    def replay(self, task_id: str, *, use: dict[str, str] | None = None) -> TaskReplay:
        """Replay a recorded task exactly (every effect served from its log); ``use`` swaps names
        (name -> version label or ``#hash``) for this replay only."""
        from ucode.tasks import replay_task

        return replay_task(self, task_id, use)

    def replay_all(self, *, name: str | None = None, use: dict[str, str] | None = None) -> list[TaskReplay]:
        """Replay every finished, replayable task (of entry point ``name``), each with ``use`` swapped:
        a regression test from recorded traffic. Each result says how it changed (``TaskReplay.change``)."""
        from ucode.tasks import replay_all

        return replay_all(self, name, use)

    def closure_hash(self, ref: str, *, version: str | None = None) -> str:
        """What would run for ``ref`` in ``version``, as a hash: its module's program with everything
        rebound in it, and the modules it imports, the same way. It changes exactly when what would run
        changes (nothing is run to compute it)."""
        return self.runtime.closure_of(ref, version=version)

    # ------------------------------------------------------------------------------- verify

    def verify(self) -> VerifyResult:
        """Re-hash every stored program and definition from its text, and rebuild the names from the log.

        Reports programs and definitions whose text no longer hashes to their key, texts that are missing,
        records that cannot be decoded, names and modules bound to hashes that are not stored, and any
        difference between the materialized bindings and the fold of the namespace log.
        """
        from ucode import namespace, normalize
        from ucode.model import VerifyResult

        problems: list[dict[str, str]] = []
        checked = 0
        older = 0
        with self._env.begin() as txn:
            defs: dict[str, dict[str, Any]] = {}
            for key, raw in self._prefix(txn, "defs", b""):
                h = key.decode()
                checked += 1
                try:
                    rec = self._unpack(raw, "defs", key)
                    src = self._get(txn, "src", key)
                except StoreCorruptError as exc:
                    problems.append({"hash": h, "problem": exc.message})
                    continue
                if src is None:
                    problems.append({"hash": h, "problem": "no source stored"})
                    continue
                defs[h] = {**rec, "_refs": {k: v[1] for k, v in src.get("refs", {}).items() if v[0] != "import"}}
            verified: dict[str, set[str]] = {}  # statement hash -> digests of its texts in programs
            for key, raw in self._prefix(txn, "programs", b""):
                ph = key.decode()
                try:
                    prec = self._unpack(raw, "programs", key)
                    found = _rehash_program(normalize, txn, self._db["texts"], ph, prec, defs)
                except StoreCorruptError as exc:
                    problems.append({"hash": ph, "problem": exc.message})
                    continue
                except UcodeError as exc:
                    problems.append({"hash": ph, "problem": f"program of {prec.get('module')} does not parse: "
                                     f"{exc.message}"})
                    continue
                problems.extend(found)
                for st in prec["statements"]:
                    verified.setdefault(st[0], set()).add(st[1])
            for h, rec in defs.items():
                if h in verified:
                    # the source `view` shows is the text of one of the programs it was added with
                    shown = (self._get(txn, "src", h.encode()) or {}).get("source", "")
                    if hashing.text_digest(shown) not in verified[h]:
                        problems.append({"hash": h, "problem": "the source stored for it is not the text of any "
                                                               "program it is in (edited in the store?)"})
                    continue
                if rec.get("scheme", hashing.DEF_SCHEME) != hashing.DEF_SCHEME or rec["kind"] == "block":
                    older += 1  # hashed by an older ucode (a per-name block, a chain): not reproducible here
                    continue
                try:
                    got = _rehash(normalize, rec, self._get(txn, "src", h.encode()))
                except UcodeError as exc:
                    problems.append({"hash": h, "problem": f"source does not parse: {exc.message}"})
                    continue
                if got != h:
                    problems.append({"hash": h, "problem": f"source hashes to {hashing.short(got)}"})
            try:
                state = namespace.fold(self._events(txn))
            except StoreCorruptError as exc:
                problems.append({"hash": "", "problem": exc.message})
                state = None
            for key, _ in self._prefix(txn, "versions", b""):
                v = key.decode()
                actual = self._bindings(txn, v)
                for name, h in actual.items():
                    if txn.get(h.encode(), db=self._db["defs"]) is None:
                        problems.append({"hash": h, "problem": f"{name}@{v} is bound to a hash that is not stored"})
                if state is not None and state.bindings(v) != actual:
                    diff = set(state.bindings(v).items()) ^ set(actual.items())
                    problems.append({"hash": "", "problem": f"names in {v} differ from the fold of the log: "
                                     + ", ".join(sorted(n for n, _ in diff)[:5])})
                mods = self._module_bindings(txn, v)
                for m, ph in mods.items():
                    if txn.get(ph.encode(), db=self._db["programs"]) is None:
                        problems.append({"hash": ph, "problem": f"module {m}@{v} is bound to a program that is not "
                                                               "stored"})
                if state is not None and state.module_bindings(v) != mods:
                    diff = set(state.module_bindings(v).items()) ^ set(mods.items())
                    problems.append({"hash": "", "problem": f"modules in {v} differ from the fold of the log: "
                                     + ", ".join(sorted(n for n, _ in diff)[:5])})
        return VerifyResult(checked, problems, older)


def _rehash_program(normalize: Any, txn: lmdb.Transaction, texts_db: Any, ph: str, prec: dict[str, Any],
                    defs: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Normalize a stored program's text again, in the context it was added in (which names were
    definitions of the codebase and where its imports led, as its statements' records say), and compare
    the program's hash and each statement's."""
    from ucode.runtime import program_text

    texts: list[tuple[int, str]] = []
    for h, digest, line, *_rest in prec["statements"]:
        raw = cast("bytes | None", txn.get(digest.encode(), db=texts_db))
        if raw is None:
            raise StoreCorruptError(f"the text of a statement of {prec['module']} ({hashing.short(h)}) is missing")
        texts.append((int(line), raw.decode("utf-8")))
    module = prec["module"]
    modules: set[str] = {module}
    names: set[str] = {f"{module}.{n}" for n in prec.get("slots", {})}
    follows: dict[str, str] = {}
    for h, *_rest in prec["statements"]:
        rec = defs.get(h, {})
        modules.update(rec.get("cbm", ()))
        names.update(rec.get("deps", ()))
    for local, written in prec.get("from_imports", {}).items():
        for h, *_rest in prec["statements"]:
            ref = (defs.get(h, {}).get("_refs") or {}).get(local)
            if ref:
                follows[written] = ref
    closed: set[str] = set()
    for m in modules:
        parts = m.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    ctx = normalize.Context(frozenset(closed), lambda fqn: fqn in names, lambda fqn: follows.get(fqn, fqn))
    pm = normalize.normalize_module(program_text(texts), path=prec["path"], module=module,
                                    is_package=prec["package"], ctx=ctx, origin=prec["path"])
    out: list[dict[str, str]] = []
    for (h, *_rest), got in zip(prec["statements"], pm.statements, strict=False):
        if got.hash != h:
            out.append({"hash": h, "problem": f"a statement of {module} (line {got.line}) hashes to "
                                              f"{hashing.short(got.hash)}"})
    if len(pm.statements) != len(prec["statements"]):
        out.append({"hash": ph, "problem": f"the program of {module} has {len(pm.statements)} statements, "
                                           f"its record {len(prec['statements'])}"})
    elif pm.hash != ph and not out:
        out.append({"hash": ph, "problem": f"the program of {module} hashes to {hashing.short(pm.hash)}"})
    return out


def _rehash(normalize: Any, rec: dict[str, Any], src: dict[str, Any]) -> str:
    """Hash a stored definition again from its source, in the context it was added in."""
    module = src["module"]
    prelude: list[str] = []
    modules: set[str] = set(rec.get("cbm", []))
    for local, (kind, target) in src.get("refs", {}).items():
        if kind == "import":
            words = target.split(" ")
            if words[0] == "from":
                prelude.append(f"from {words[1]} import {words[3]} as {local}")
            elif "." in words[1] and local == words[1].split(".")[0]:
                prelude.append(f"import {words[1]}")
            else:
                prelude.append(f"import {words[1]} as {local}")
        elif kind == "dep":
            mod, _, leaf = target.rpartition(".")
            if mod == module:
                prelude.append(f"{local} = None")
            else:
                modules.add(mod)
                prelude.append(f"from {mod} import {leaf} as {local}")
        elif kind == "module":
            modules.add(target)
            prelude.append(f"import {target} as {local}" if local != target else f"import {target}")
    modules.add(module)
    closed: set[str] = set()
    for m in modules:
        parts = m.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    deps = set(rec["deps"])
    ctx = normalize.Context(frozenset(closed), lambda fqn: fqn in deps)
    futures = "".join(f"from __future__ import {f}\n" for f in src.get("futures", []))
    text = futures + "\n".join(prelude) + "\n" + src["source"]
    pm = normalize.normalize_module(text, path=src.get("path", "<store>"), module=module, ctx=ctx)
    want = src["names"][0]
    for d in pm.definitions:
        if want in d.names:
            return str(d.hash)
    raise UcodeError(f"{want} not found in its stored source")

