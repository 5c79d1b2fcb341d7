"""The runtime: snapshots of a codebase, the module instances they share, and which one ``import`` sees.

Rule: one snapshot at a time is *published*: its modules are in ``sys.modules``, as imported modules are,
so code that looks a module up there (``dataclasses``, ``pickle``, ``typing.get_type_hints``,
``importlib.import_module``, a ``def`` that imports at call time) finds it. A live run of the newest
names publishes its snapshot; a replay at an old log position, a ``--use`` swap or another version runs in
a snapshot that is *activated* for the duration (its modules are put in ``sys.modules`` in place of the
published ones, then put back). After a rebinding, the next live run publishes a new snapshot: modules
whose instance key changed are executed again, the others are shared (the same objects); code already
running keeps the objects it holds, as Erlang keeps old code for the processes running it, and a call-time
import in it gets the current module, as an Erlang fully qualified call does.
"""

from __future__ import annotations

import contextlib
import importlib
import marshal
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

from ucode import hashing
from ucode.errors import (
    DefinitionFailedError,
    MissingImportError,
    ModuleWithoutProgramError,
    NotDefinedError,
    NotInModuleError,
    UcodeError,
)
from ucode.records import Definition, Program
from ucode.resolver import SnapshotFactory, SnapshotSource
from ucode.runtime._compile import (
    code_filename,
    compile_definition,
    compile_program,
    compile_statements,
    register_source,
)
from ucode.runtime._exec import object_in
from ucode.runtime._loader import StoreLoader
from ucode.runtime._paths import PackageDirectory, path_hook
from ucode.runtime._snapshot import Snapshot

__all__ = ["CACHE_TAG", "Entry", "RouteHook", "Runtime", "code_key"]

CACHE_TAG = sys.implementation.cache_tag or "python"


def code_key(kind: str, h: str, extra: str = "") -> str:
    """The key compiled code is cached under in the store: what was compiled (``program``, its
    ``statements``, a ``definition`` with the digest of its source), and for which Python."""
    return f"{kind} {h}{' ' + extra if extra else ''} {CACHE_TAG}"


class Entry(NamedTuple):
    """What a load resolved: the entry point and the snapshot it came from (what a task records)."""

    ref: str
    name: str | None  # full name (None: asked for by hash)
    hash: str | None  # the definition the name is bound to (None: a name the module binds, not the store)
    module: str
    attr: str
    version: str
    position: int
    closure: str  # changes exactly when what would run changes: the module instance key and the name
    modules: dict[str, str]  # module -> program, of what importing it runs
    overrides: dict[str, str]
    rebound: dict[str, str]  # full name -> hash: what differs from the files


class RouteHook(Protocol):
    """What makes a routed name a dispatcher (``ucode.routing.Router``): called once a module whose names
    have routes has run, with those routes (attribute -> policy text)."""

    def install(self, snap: Snapshot, module: types.ModuleType, routes: Mapping[str, str]) -> None: ...

    def content(self, snap: Snapshot, module: str, routes: Mapping[str, str]) -> list[Any]:
        """What the routes of ``module`` add to its instance key: the policies and the hashes their
        versions run in this snapshot (a candidate bound to another hash is another instance)."""


class Runtime:
    """Snapshots and module instances of one codebase. One per open codebase (``Codebase.runtime``)."""

    def __init__(self, resolver: SnapshotFactory, router: RouteHook | None = None) -> None:
        self.resolver = resolver
        self.router = router
        self.loader = StoreLoader(self)
        self._lock = threading.RLock()
        self._instances: dict[str, types.ModuleType] = {}  # instance key -> module (shared by snapshots)
        self._objects: dict[str, dict[tuple[str, str], Any]] = {}  # key -> (hash, name) -> what it made
        self._programs: dict[str, Program] = {}
        self._definitions: dict[str, Definition] = {}
        self._texts: dict[str, str] = {}
        self._codes: dict[str, Any] = {}
        self._unsaved: dict[str, bytes] = {}
        self._live: dict[str | None, Snapshot] = {}  # version asked for -> its newest live snapshot
        self._published: Snapshot | None = None
        self._active: list[Snapshot] = []
        self._namespaces: set[str] = set()
        self._everything = False
        self._entries: dict[tuple[str, str | None], tuple[int, Any, Entry]] = {}
        self.package_dirs: dict[str, str] = {}  # directory of a stored package -> its name (_paths)
        self._path_hook = path_hook(self)

    # ---------------------------------------------------------------------------------------- API

    def snapshot(self, version: str | None = None, *, at: int | None = None,
                 overrides: Mapping[str, str] | None = None) -> Snapshot:
        """The snapshot of ``version`` as of log position ``at`` (now if None), with ``overrides`` (full
        name -> hash) in place of bindings."""
        if at is None and not overrides:
            pos = self.resolver.log_position()
            snap = self._live.get(version)
            if snap is None or snap.position != pos:
                snap = self._live[version] = Snapshot(self, self.resolver.snapshot_source(version, None, None))
            return snap
        return Snapshot(self, self.resolver.snapshot_source(version, at, overrides))

    def load(self, ref: str, *, version: str | None = None, at: int | None = None,
             overrides: Mapping[str, str] | None = None, known: int | None = None) -> tuple[Any, Entry]:
        """The object ``ref`` (``NAME``, ``#HASH``) names, imported from its snapshot, and what was
        resolved. Cheap when nothing changed since the last call: one read of the log position, or none
        when the caller ``known``s it (an engine watches it: what it last saw is the newest it runs)."""
        if "@" in ref:  # NAME@VERSION
            from ucode.refs import parse_ref

            r = parse_ref(ref)
            if r.version is not None and r.name is not None:
                ref, version = r.name, r.version
        live = at is None and not overrides
        if live:
            cached = self._entries.get((ref, version))
            if cached is not None and cached[0] == (known if known is not None else self.resolver.log_position()):
                self.publish(self._live[version], [cached[2].module])
                return cached[1], cached[2]
        snap = self.snapshot(version, at=at, overrides=overrides)
        self._everything = True
        name, h = snap.source.resolve(ref)
        module, attr = self._locate(snap, ref, name, h)
        with self._lock:
            ctx = contextlib.nullcontext() if live else self.activate(snap, [module])
            if live:
                self.publish(snap, [module])
            with ctx:
                obj = self._get(snap, module, attr, name, h)
        self._flush()
        modules = snap.closure(module)
        rebound: dict[str, str] = {}
        for m in modules:
            over, extras = snap.rebound(m)
            rebound.update({f"{m}.{n}": hh for n, hh in {**over, **extras}.items()})
        entry = Entry(ref, name, h, module, attr, snap.version, snap.position,
                      hashing.instance_key([snap.key(module), attr]), modules, dict(snap.overrides), rebound)
        if live:
            self._entries[(ref, version)] = (snap.position, obj, entry)
        return obj, entry

    def closure_of(self, ref: str, *, version: str | None = None) -> str:
        """``Entry.closure`` of ``ref``, without importing anything."""
        snap = self.snapshot(version)
        name, h = snap.source.resolve(ref)
        module, attr = self._locate(snap, ref, name, h)
        return hashing.instance_key([snap.key(module), attr])

    @contextlib.contextmanager
    def running(self, entry: Entry) -> Iterator[None]:
        """Run code of ``entry``'s snapshot with that snapshot in use for imports at call time (a replay,
        a ``--use`` swap): its modules are in ``sys.modules`` for the duration."""
        if not entry.overrides and self._published is not None and self._published.position == entry.position \
                and self._published.version == entry.version:
            yield
            return
        snap = self.snapshot(entry.version, at=entry.position, overrides=entry.overrides or None)
        with self.activate(snap, [entry.module]):
            yield

    def warnings(self, entry: Entry) -> list[tuple[str, str]]:
        """The hidden-effect warnings of the code ``entry`` ran: (where, warning)."""
        source = self.resolver.snapshot_source(entry.version, entry.position, entry.overrides or None)
        out: list[tuple[str, str]] = []
        hashes = {h for h in entry.rebound.values()}
        for ph in entry.modules.values():
            if ph:
                hashes.update(s.hash for s in self.program(source, ph).statements)
        for h in sorted(hashes):
            d = self.definition(source, h)
            where = f"{d.module}.{d.names[0]}" if d.names else f"{d.module} (line {d.line})"
            out.extend((where, w) for w in d.warnings)
        return out

    def current(self) -> Snapshot | None:
        """The snapshot ``import`` serves stored modules from now."""
        return self._active[-1] if self._active else self._published

    def covers(self, name: str, snap: Snapshot) -> bool:
        """Whether ``import name`` is served from the store (a mount serves its namespace and what the
        modules it served import; a run, every stored module)."""
        if self._everything or name in snap.reached:
            return True
        return any(name == ns or name.startswith(ns + ".") for ns in self._namespaces)

    def mount(self, namespace: str, version: str | None = None) -> Snapshot:
        """Serve ``import namespace`` (and below) from the newest snapshot of ``version``."""
        self._namespaces.add(namespace)
        snap = self.snapshot(version)
        self.publish(snap, [namespace])
        return snap

    def unmount(self, namespace: str) -> None:
        self._namespaces.discard(namespace)
        for snap in [self._published, *self._live.values()]:
            if snap is not None:
                snap.reached.clear()
        for name in [m for m, mod in list(sys.modules.items())
                     if (m == namespace or m.startswith(namespace + "."))
                     and getattr(getattr(mod, "__spec__", None), "loader", None) is self.loader]:
            del sys.modules[name]

    def close(self) -> None:
        """Stop serving imports: the hook leaves ``sys.meta_path`` and this runtime's modules leave
        ``sys.modules`` (objects already handed out keep working)."""
        with self._lock:
            if self.loader in sys.meta_path:
                sys.meta_path.remove(self.loader)
            if self._path_hook in sys.path_hooks:
                sys.path_hooks.remove(self._path_hook)
            for path, finder in list(sys.path_importer_cache.items()):
                if isinstance(finder, PackageDirectory) and finder.runtime is self:
                    del sys.path_importer_cache[path]
            for name, mod in list(sys.modules.items()):
                if getattr(getattr(mod, "__spec__", None), "loader", None) is self.loader:
                    del sys.modules[name]
            self._published = None
            self._live.clear()
            self._entries.clear()

    def collect(self) -> int:
        """Forget module instances no snapshot in use holds any more (old code); returns how many. Objects
        handed out keep working: their functions hold their module's namespace. Safe beside other threads
        (an engine collects while tasks import)."""
        with self._lock:
            return self._collect()

    def _collect(self) -> int:
        keep = {id(m) for m in list(sys.modules.values())}  # list(): one step, whatever other threads import
        for snap in [self._published, *self._live.values(), *self._active]:
            if snap is not None:
                keep.update(id(m) for m in snap.registry.values())
        dropped = 0
        for key, mod in list(self._instances.items()):
            if id(mod) not in keep:
                del self._instances[key]
                self._objects.pop(key, None)
                dropped += 1
        self._entries = {k: v for k, v in self._entries.items() if self._live.get(k[1]) is not None
                         and v[0] == self._live[k[1]].position}
        return dropped

    # -------------------------------------------------------------------- publishing, activating

    def _install(self) -> None:
        if self._path_hook not in sys.path_hooks:
            sys.path_hooks.insert(0, self._path_hook)
        if not sys.meta_path or sys.meta_path[0] is not self.loader:
            if self.loader in sys.meta_path:
                sys.meta_path.remove(self.loader)
            sys.meta_path.insert(0, self.loader)

    def _shadowed(self, snap: Snapshot, roots: list[str]) -> set[str]:
        """Stored modules of ``snap`` that importing ``roots`` may import (any import in them, function
        bodies too), with the modules of the namespaces ``roots`` names. Kept per snapshot and roots while
        the snapshot's modules stay the same (a long-running engine asks this on every task)."""
        key = (tuple(roots), len(snap._extra_modules))
        found = snap._shadowed.get(key)
        if found is None:
            found = snap._shadowed[key] = self._reach(snap, roots)
        return found

    def _reach(self, snap: Snapshot, roots: list[str]) -> set[str]:
        out: set[str] = set()
        todo: list[str] = []
        for r in roots:
            todo.append(r)
            prefix = r + "."
            todo.extend(m for m in snap.modules() if m.startswith(prefix))
        while todo:
            m = todo.pop()
            if m in out:
                continue
            out.add(m)
            prog = snap.program(m)
            if prog is not None:
                todo.extend(x for x in prog.used if x not in out and snap.module(x) is not None)
        return out

    def publish(self, snap: Snapshot, roots: list[str]) -> None:
        """Make ``snap`` the snapshot ``import`` serves (see the module docstring). Modules of it that
        ``sys.modules`` holds from elsewhere (the files, another store) are replaced on import."""
        with self._lock:
            self._install()
            if self._published is not snap:
                prev = self._published
                if prev is not None and not self._active:
                    for name, mod in prev.registry.items():
                        if sys.modules.get(name) is mod:
                            del sys.modules[name]
                self._published = snap
                if not self._active:
                    sys.modules.update(snap.registry)
            if not self._active:
                for name in self._shadowed(snap, roots):
                    held = sys.modules.get(name)
                    if held is not None and snap.registry.get(name) is not held:
                        del sys.modules[name]

    @contextlib.contextmanager
    def activate(self, snap: Snapshot, roots: list[str]) -> Iterator[None]:
        """Serve imports from ``snap`` for the duration (its modules in ``sys.modules``), then put back
        what was there."""
        with self._lock:
            prev = self.current()
            if prev is snap:
                yield
                return
            self._install()
            saved: dict[str, types.ModuleType] = {}
            for name in [*(prev.registry if prev is not None else ()), *self._shadowed(snap, roots)]:
                mod = sys.modules.get(name)
                if mod is not None and snap.registry.get(name) is not mod:
                    saved[name] = sys.modules.pop(name)
            sys.modules.update(snap.registry)
            self._active.append(snap)
            try:
                yield
            finally:
                self._active.pop()
                for name, mod in snap.registry.items():
                    if sys.modules.get(name) is mod:
                        del sys.modules[name]
                sys.modules.update(saved)

    # ------------------------------------------------------------------------------ resolving

    def _locate(self, snap: Snapshot, ref: str, name: str | None, h: str | None) -> tuple[str, str]:
        """(module, attribute) that gives what ``ref`` names in ``snap``."""
        if name is not None:
            if h is None and snap.module(name) is not None:
                return name, ""  # the module itself
            parts = name.split(".")
            for k in range(len(parts) - 1, 0, -1):
                module = ".".join(parts[:k])
                if snap.module(module) is not None:
                    return module, ".".join(parts[k:])
        if h is not None:
            home = snap.home(h)
            if snap.module(home.module) is None and home.program:
                snap._extra_modules[home.module] = home.program  # a module this version does not have
                snap._modules = snap._prefixes = None
            if snap.module(home.module) is not None:
                return home.module, home.names[0] if home.names else ""
        module = (name or ref).rpartition(".")[0]
        if name is not None and module and self.resolver.has_module_record(module):
            raise ModuleWithoutProgramError(module)
        raise NotInModuleError(name or ref, snap.version)

    def _get(self, snap: Snapshot, module: str, attr: str, name: str | None, h: str | None) -> Any:
        try:
            obj: Any = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and snap.module(exc.name) is None and not snap.is_package_prefix(exc.name):
                raise MissingImportError(_importer(exc) or module, f"import {exc.name}", exc) from exc
            raise DefinitionFailedError(module, exc) from exc
        except UcodeError:
            raise
        except Exception as exc:  # the module's own code raised while it was being imported
            raise DefinitionFailedError(module, exc) from exc
        if not attr:
            return obj
        mod = obj
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise NotDefinedError(module, attr) from None
        if name is None and h is not None:  # asked for by hash: that definition, whatever the name is now
            home = snap.home(h)
            want = home.names[0] if home.names else attr
            if self.objects(snap.key(module)).get((h, want)) is not obj:
                obj = object_in(self, snap, mod, snap.key(module), h, want)
        return obj

    # ------------------------------------------------------------------------------ caches

    def instance(self, key: str) -> types.ModuleType | None:
        return self._instances.get(key)

    def remember(self, key: str, module: types.ModuleType) -> None:
        self._instances[key] = module

    def forget(self, key: str, module: types.ModuleType) -> None:
        if self._instances.get(key) is module:
            del self._instances[key]
            self._objects.pop(key, None)

    def objects(self, key: str) -> dict[tuple[str, str], Any]:
        found = self._objects.get(key)
        if found is None:
            found = self._objects[key] = {}
        return found

    def program(self, source: SnapshotSource, h: str) -> Program:
        found = self._programs.get(h)
        if found is None:
            found = self._programs[h] = source.program(h)
        return found

    def definition(self, source: SnapshotSource, h: str) -> Definition:
        found = self._definitions.get(h)
        if found is None:
            found = self._definitions[h] = source.definition(h)
        return found

    def text(self, source: SnapshotSource, digest: str) -> str:
        found = self._texts.get(digest)
        if found is None:
            found = self._texts[digest] = source.text(digest)
        return found

    def _code(self, source: SnapshotSource, key: str, build: Any, check: Any) -> Any:
        found = self._codes.get(key)
        if found is not None:
            return found
        blob = source.code(key)
        if blob is not None:
            try:
                found = marshal.loads(blob)
                if not check(found):
                    found = None
            except (ValueError, EOFError, TypeError):
                found = None  # a damaged cache entry: compile again
        if found is None:
            found = build()
            self._unsaved[key] = marshal.dumps(found)
        self._codes[key] = found
        return found

    def _flush(self) -> None:
        if self._unsaved:
            items, self._unsaved = self._unsaved, {}
            with contextlib.suppress(UcodeError):  # a read-only store still runs, it only compiles again
                self.resolver.save_code(items)

    def program_code(self, source: SnapshotSource, prog: Program, text: Callable[[], str]) -> types.CodeType:
        code: types.CodeType = self._code(
            source, code_key("program", prog.hash), lambda: compile_program(text(), prog.path),
            lambda c: isinstance(c, types.CodeType) and c.co_filename == prog.path)
        return code

    def statement_codes(self, source: SnapshotSource, prog: Program,
                        text: Callable[[], str]) -> list[types.CodeType | None]:
        codes: list[types.CodeType | None] = self._code(
            source, code_key("statements", prog.hash),
            lambda: compile_statements(text(), prog.path, prog.futures, [s.line for s in prog.statements]),
            lambda c: isinstance(c, list) and len(c) == len(prog.statements))
        return codes

    def definition_code(self, source: SnapshotSource, h: str) -> types.CodeType:
        d = self.definition(source, h)
        filename = code_filename(d.module, d.names[0] if d.names else "<module code>", h)
        register_source(filename, d.source, d.line)
        code: types.CodeType = self._code(
            source, code_key("definition", h, hashing.text_digest(d.source)[:16]),
            lambda: compile_definition(d.source, d.line, filename, d.futures),
            lambda c: isinstance(c, types.CodeType) and c.co_filename == filename)
        return code


def _importer(exc: BaseException) -> str | None:
    """The stored module whose code raised ``exc`` (the innermost frame of stored code)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        g = tb.tb_frame.f_globals
        if type(getattr(g.get("__spec__"), "loader", None)) is StoreLoader:
            found = g.get("__name__")
        tb = tb.tb_next
    return found


def precompiled(prog_hash: str, path: str, statements: list[tuple[int, str]]) -> tuple[str, bytes] | None:
    """The compiled code of a program as ``add`` caches it (so the first run does not compile): (key,
    blob), or None when this Python cannot compile it (running it then says why)."""
    from ucode.runtime._compile import program_text

    try:
        code = compile_program(program_text(statements), path)
    except (SyntaxError, ValueError):
        return None
    return code_key("program", prog_hash), marshal.dumps(code)
