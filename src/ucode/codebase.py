"""The codebase: the one Python API over a store, which the CLI (and later the HTTP API) adapt.

Rule: a facade. Each public method opens one transaction (or a task's sequence of them) and delegates to
the package that owns the concept; it adds no rules of its own:

==================  ==================================================================================
:mod:`ucode.store`      the tables, in LMDB or in memory (the only package that imports lmdb)
:mod:`ucode.namespace`  versions and bindings as a fold of the namespace log
:mod:`ucode.resolver`   what names stand for; snapshots for the runtime; the read queries
:mod:`ucode.edits`      bind, unbind, alias, move, versions, undo, settings
:mod:`ucode.ingest`     add and verify (the only package that imports ``ucode.normalize``, lazily)
:mod:`ucode.runtime`    stored modules imported and run as their files would be
:mod:`ucode.tasks`      runs as recorded tasks: plan, execute, persist; replay, resume, queries
:mod:`ucode.routing`    routes (primary, shadow, percent, per-task), dispatchers, shadow runs, reports
==================  ==================================================================================

Read paths (view, find, ls, names, history, run, ...) never import libcst: only ``add`` and ``verify`` do.
The read queries (:mod:`ucode.resolver._queries`) are imported by the methods that use them: they build
``ucode.model`` results, which ``ucode run`` (on a start-up budget) never needs.
The layers and the path of one ``add`` and one ``run`` through them: ``docs/architecture.md``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ucode.errors import NotANameError, StoreError, UntrustedStoreError
from ucode.namespace import StoredNamespace
from ucode.records import EVENT_FIELDS
from ucode.refs import parse_ref
from ucode.resolver import Resolver, known_version, resolve, resolve_name
from ucode.store import SCHEMA_VERSION, Store
from ucode.store import settings as stored_settings
from ucode.store import state as stored_state
from ucode.store import tasks as stored_tasks

if TYPE_CHECKING:
    from ucode.model import (
        AddResult,
        Binding,
        DefinitionView,
        DiffEntry,
        Event,
        FileStatus,
        Matches,
        UndoResult,
        VerifyResult,
        VersionInfo,
    )
    from ucode.routing import LazyRouter, RouteChange, RouteView
    from ucode.runtime import Entry, Runtime
    from ucode.tasks import Committer, GroupCommit, OnStart, TaskReplay, TaskRun, TaskView

__all__ = ["EVENT_FIELDS", "SCHEMA_VERSION", "STORE_DIR", "Codebase", "find_store", "open_codebase"]
# also ``DURABILITY`` and ``SETTINGS`` (module ``__getattr__``, below)

STORE_DIR = ".ucode"
_RUNTIME_LOCK = threading.Lock()  # a codebase's runtime is made once, whichever thread asks first


def __getattr__(name: str) -> Any:
    # DURABILITY and SETTINGS are the tasks package's, imported on first use: start-up counts, and the
    # read commands never import tasks, effects or replay.
    if name in ("DURABILITY", "SETTINGS"):
        from ucode import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module 'ucode.codebase' has no attribute {name!r}")
ProgressFn = Callable[[int, int, str], None]


def find_store(store: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> tuple[Path, bool]:
    """Where the store is: ``store``, else ``$UCODE_STORE``, else the nearest ``.ucode/`` upward from
    ``cwd`` (as git finds ``.git``). Returns (path, exists); a new store goes in ``cwd/.ucode``. A store
    found by walking up that another user owns is refused (:class:`UntrustedStoreError`) unless trusted."""
    if store is None:
        store = os.environ.get("UCODE_STORE") or None
    if store is not None:
        p = Path(store)
        return p, (p / "data.mdb").exists()
    here = (cwd or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / STORE_DIR
        if (candidate / "data.mdb").exists():
            _check_owner(candidate)
            return candidate, True
    return here / STORE_DIR, False


def _trusted() -> list[str]:
    """Stores the user trusts although another user owns them: ``$UCODE_SAFE_STORES`` (paths separated
    by ``os.pathsep``, or ``*``) and the lines of ``~/.config/ucode/safe-stores``."""
    out = [p for p in os.environ.get("UCODE_SAFE_STORES", "").split(os.pathsep) if p]
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "ucode" / "safe-stores"
    with contextlib.suppress(OSError):
        out += [line.strip() for line in config.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    return out


def _check_owner(store: Path) -> None:
    """Refuse a store found by walking up that another user owns (git's ``safe.directory``): its code would
    run as this user. A store named explicitly (``--store``, ``$UCODE_STORE``) is the user's choice."""
    if not hasattr(os, "geteuid"):
        return
    me, owner = os.geteuid(), store.stat().st_uid
    if owner == me:
        return
    trusted = _trusted()
    if "*" in trusted or any(os.path.realpath(t) == os.path.realpath(store) for t in trusted):
        return
    raise UntrustedStoreError(str(store), owner, me)


def open_codebase(store: str | os.PathLike[str] | None = None, *, create: bool = True) -> Codebase:
    """Open (or, with ``create``, create) the codebase store. See :func:`find_store` for where."""
    path, exists = find_store(store)
    if not exists and not create:
        raise StoreError(
            f"no ucode store found (looked for {STORE_DIR}/ here and in every parent directory)",
            hint="`ucode add FILE` creates one here; or pass --store PATH / set UCODE_STORE",
        )
    return Codebase(path)


class Codebase:
    """A ucode store. Use :func:`ucode.open` to get one; close it (or use ``with``) when done.
    :meth:`in_memory` gives one that lives in memory (tests, experiments)."""

    def __init__(self, path: str | os.PathLike[str] | Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = path if isinstance(path, Store) else Store.open(Path(path), clock=clock)
        self.path = self.store.path or Path(":memory:")
        self._runtime: Runtime | None = None
        self._router: LazyRouter | None = None
        self._commit: Committer | None = None  # where tasks' writes go (None: one transaction each)
        self._closed = False

    @classmethod
    def in_memory(cls, *, clock: Callable[[], float] = time.time) -> Codebase:
        """A new, empty codebase in memory: everything works but nothing is written to disk."""
        return cls(Store.memory(clock=clock))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._router is not None:
                self._router.close()  # queued shadow runs finish (up to 30 s), counters are written
            if self._runtime is not None:
                self._runtime.close()
            close = getattr(self._commit, "close", None)
            if close is not None:
                close()  # what was submitted is committed
            self.store.close()

    def __enter__(self) -> Codebase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Codebase({str(self.path)!r})"

    # -------------------------------------------------------------------------------- writing

    def add(self, paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], *, version: str | None = None,
            namespace: str | None = None, strict: bool = False, progress: ProgressFn | None = None) -> AddResult:
        """Store every module in ``paths`` (files or directories) as a program, and bind each module and
        each name it defines in ``version`` (created from the default version when new). ``namespace``
        puts the modules under a package name; ``strict`` refuses definitions with hidden effects;
        ``progress(done, total, path)`` is called per file. See :mod:`ucode.ingest`."""
        from ucode import ingest

        return ingest.add(self.store, paths, version=version, namespace=namespace, strict=strict, progress=progress)

    def bind(self, name: str, target: str, *, version: str | None = None, new: bool = False,
             create: bool = False) -> list[Event]:
        """Bind ``name`` (an existing name or suffix) to ``target`` (``#hash`` or a name) in ``version``.
        Returns the events written. A name that is not bound there is an error (:class:`NewNameError`,
        with "did you mean") unless ``new=True``; a version that does not exist is an error
        (:class:`UnknownVersionError`) unless ``create=True`` (created from the default version)."""
        from ucode import edits

        return edits.bind(self.store, name, target, version, new=new, create=create)

    def unbind(self, name: str, *, version: str | None = None) -> list[Event]:
        """Remove ``name`` from ``version`` (its parent's binding is hidden too)."""
        from ucode import edits

        return edits.unbind(self.store, name, version)

    def alias(self, existing: str, new_name: str, *, version: str | None = None) -> list[Event]:
        """Bind ``new_name`` to the hash ``existing`` has: a second name for the same definition."""
        from ucode import edits

        return edits.alias(self.store, existing, new_name, version)

    def move(self, old_name: str, new_name: str, *, version: str | None = None) -> list[Event]:
        """Rename: bind ``new_name`` to ``old_name``'s hash and unbind ``old_name``, in one step (free:
        nothing is re-hashed; dependents that call the old name keep their hash and see it unbound)."""
        from ucode import edits

        return edits.move(self.store, old_name, new_name, version)

    def undo(self) -> UndoResult:
        """Undo the newest command that changed names (and is not undone yet), by appending its inverse
        events. Nothing is erased: ``history`` shows both; repeated ``undo`` goes further back."""
        from ucode import edits

        return edits.undo(self.store)

    def create_version(self, version: str, *, parent: str | None = None) -> list[Event]:
        """Create ``version`` from ``parent`` (default: the default version)."""
        from ucode import edits

        return edits.new_version(self.store, version, parent)

    def delete_version(self, version: str) -> list[Event]:
        """Remove ``version`` and its own bindings (one op; ``undo`` restores them). Not the default
        version, nor one other versions are made from."""
        from ucode import edits

        return edits.delete_version(self.store, version)

    def rename_version(self, old: str, new: str) -> list[Event]:
        """Rename version ``old`` to ``new``, bindings, parent and default status included (one op;
        ``undo`` reverses it). Not a version other versions are made from."""
        from ucode import edits

        return edits.rename_version(self.store, old, new)

    def use_version(self, version: str) -> list[Event]:
        """Make ``version`` the default one (what commands use without ``--version``)."""
        from ucode import edits

        return edits.use(self.store, version)

    # -------------------------------------------------------------------------------- reading

    def resolve(self, ref: str, *, version: str | None = None) -> str:
        """The full hash that ``ref`` (``NAME``, ``NAME@V`` or ``#HASH``) refers to."""
        with self.store.read() as txn:
            ns = StoredNamespace(txn)
            return resolve(ns, txn, ref, version, ns.default())[1]

    def resolve_name(self, ref: str, *, version: str | None = None) -> str:
        """The full name a (suffix) reference refers to."""
        r = parse_ref(ref)
        if r.name is None:
            raise NotANameError("resolve", ref)
        with self.store.read() as txn:
            ns = StoredNamespace(txn)
            return resolve_name(ns, txn, r.name, known_version(ns, txn, r.version or version, ns.default()))[0]

    def view(self, ref: str, *, version: str | None = None) -> DefinitionView:
        """Everything about a name or hash: source, hash, dependencies (as bound now), warnings."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.view(txn, ref, version)

    def find(self, query: str, *, version: str | None = None, limit: int | None = 50) -> Matches:
        """Names in ``version`` containing ``query`` (case-insensitive), best matches first: at most
        ``limit`` (None: all); ``.total`` is how many matched."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.find(txn, query, version, limit)

    def ls(self, prefix: str | None = None, *, version: str | None = None) -> list[Binding]:
        """Names in ``version``, optionally only those under namespace ``prefix``."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.ls(txn, prefix, version)

    def names(self, ref: str) -> list[Binding]:
        """Every (version, name) bound to the hash ``ref`` refers to."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.names_of(txn, ref)

    def deps(self, ref: str, *, version: str | None = None) -> list[Binding]:
        """The names ``ref``'s definition depends on, and what each is bound to in ``version``."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.dependencies(txn, ref, version)

    def dependents(self, ref: str, *, version: str | None = None) -> list[Binding]:
        """Names in ``version`` whose definitions call (depend on) ``ref`` or any alias of it."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.dependents(txn, ref, version)

    def history(self, name: str | None = None, *, version: str | None = None, limit: int | None = None) -> list[Event]:
        """The namespace log, newest first; only events about ``name`` (a full name or suffix) if given."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.history(txn, name, version, limit)

    def log_position(self) -> int:
        """The seq of the newest namespace event: pass it as ``at=`` to see the names as they are now."""
        return self.resolver.log_position()

    def bindings(self, version: str | None = None, *, at: int | None = None) -> dict[str, str]:
        """Every name -> hash in ``version``; as of log position ``at`` (rebuilt from the log) if given."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.bindings(txn, version, at)

    def diff(self, v1: str, v2: str) -> list[DiffEntry]:
        """Names whose hash differs between two versions, with a unified diff of their sources."""
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.diff(txn, v1, v2)

    def versions(self) -> list[VersionInfo]:
        from ucode.resolver import _queries as queries

        with self.store.read() as txn:
            return queries.versions(txn)

    def default_version(self) -> str:
        from ucode import edits

        return edits.default_version(self.store)

    def stats(self) -> dict[str, Any]:
        """Store facts: path, size on disk, schema, counts, and the backend's last transaction id (it only
        moves when something was written)."""
        with self.store.read() as txn:
            counts = {t: txn.count(t) for t in ("defs", "bind", "log", "versions", "modules", "programs")}
        return {"path": str(self.path), **self.store.info(), "schema": SCHEMA_VERSION, **counts}

    def verify(self, *, repair: bool = False) -> VerifyResult:
        """Re-hash every stored program and definition from its text, rebuild the names from the log, check
        every cached code object and every task, event and state record; report every difference. With
        ``repair``, drop the damaged cache entries (compiled again on the next run). See
        :func:`ucode.ingest.verify`."""
        from ucode import ingest

        return ingest.verify(self.store, repair=repair)

    def status(self, *, changed_only: bool = False) -> list[FileStatus]:
        """Which added files changed on disk since they were added (``modified``, ``missing``; or
        ``unchanged``), each with the names its last add bound. Reads the files; parses nothing."""
        from ucode import ingest

        return ingest.status(self.store, changed_only=changed_only)

    # ------------------------------------------------------------------------------- settings

    def config(self) -> dict[str, Any]:
        """The store's settings (:data:`SETTINGS`): what is set, else the default."""
        from ucode import edits, tasks

        return edits.config(self.store, tasks.SETTINGS)

    def set_config(self, key: str, value: str | None) -> dict[str, Any]:
        """Set one setting (``None``: back to its default); returns all of them."""
        from ucode import edits, tasks

        return edits.set_config(self.store, tasks.SETTINGS, key, value)

    # ---------------------------------------------------------------------------- world state

    def state_get(self, key: str) -> Any:
        """The value of world-state ``key`` (wire form; None if unset)."""
        from ucode import tasks

        return tasks.StoreState(self.store).state_get(key)

    def state_write(self, key: str, value: Any, *, task: str | None = None, delete: bool = False) -> None:
        """Set (or delete) world-state ``key``: the write is appended to the state log, in one transaction."""
        from ucode import tasks

        tasks.StoreState(self.store).state_write(key, value, task=task, delete=delete)

    def state_at(self, seq: int | None = None) -> dict[str, Any]:
        """World state as of state-log position ``seq`` (now if None), rebuilt by folding the log."""
        with self.store.read() as txn:
            return stored_state.state_at(txn, seq)

    # -------------------------------------------------------------------------------- running

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.store)

    @property
    def runtime(self) -> Runtime:
        """This codebase's runtime: snapshots of its names and the module instances they share (one, made
        on first use: threads that ask at once get the same one)."""
        if self._runtime is None:
            with _RUNTIME_LOCK:
                if self._runtime is None:
                    from ucode.routing import LazyRouter
                    from ucode.runtime import Runtime

                    router = LazyRouter(self.store)
                    runtime = Runtime(self.resolver, router)
                    router.runtime = runtime
                    self._router, self._runtime = router, runtime
        return self._runtime

    def function(self, ref: str, *, version: str | None = None, at: int | None = None) -> Any:
        """The stored object ``ref`` names, as an ordinary Python object: its module imported from the
        store (its program run as its file would run), and the attribute taken from it.

        Names resolve through the bindings of ``version`` as they are now (or at log position ``at``); call
        ``function`` again to pick up rebindings (it is cheap when nothing changed).
        """
        return self.runtime.load(ref, version=version, at=at)[0]

    def closure_hash(self, ref: str, *, version: str | None = None) -> str:
        """What would run for ``ref`` in ``version``, as a hash: its module's program with everything
        rebound in it, and the modules it imports, the same way. It changes exactly when what would run
        changes (nothing is run to compute it)."""
        return self.runtime.closure_of(ref, version=version)

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
        from ucode import tasks

        mode = tasks.durability(self.store, durability)
        return tasks.run_task(self.store, self.runtime, ref, list(args), kwargs, version=version, durability=mode,
                              commit=self._commit)

    def load(self, ref: str, *, version: str | None = None, known: int | None = None) -> tuple[Any, Entry]:
        """The object ``ref`` names in the newest snapshot of ``version``, and what was resolved (the entry
        point and its snapshot): pass both to :meth:`execute` to run exactly that. ``known``: the log
        position the caller knows is the newest (it watches it), so that it is not read again."""
        return self.runtime.load(ref, version=version, known=known)

    def group_commit(self) -> GroupCommit:
        """From now on, the writes of tasks that run at the same time share transactions (one fsync for
        many tasks: what a long-running engine wants); each task's outcome is still committed before it is
        returned. Closing the codebase commits what is pending."""
        from ucode.tasks import GroupCommit

        if self._commit is None:
            self._commit = GroupCommit(self.store)
        assert isinstance(self._commit, GroupCommit)
        return self._commit

    def execute(self, ref: str, args: list[Any], kwargs: dict[str, Any], *, version: str | None = None,
                durability: str | None = None, on_start: OnStart | None = None,
                loaded: tuple[Any, Entry] | None = None, defer_commit: bool = False) -> TaskRun:
        """:meth:`run_task` with the arguments as a list and a dict (no name can clash with ours), ``loaded``
        (what :meth:`load` gave: run exactly that snapshot), ``on_start(record, entry)``, called once the
        task is recorded, before it runs, and ``defer_commit``: return before the outcome is committed,
        with ``TaskRun.committed`` to wait for (see :func:`ucode.tasks.run_task`)."""
        from ucode import tasks

        mode = tasks.durability(self.store, durability)
        return tasks.run_task(self.store, self.runtime, ref, args, kwargs, version=version, durability=mode,
                              commit=self._commit, on_start=on_start, loaded=loaded, defer_commit=defer_commit)

    async def execute_async(self, ref: str, args: list[Any], kwargs: dict[str, Any], *,
                            version: str | None = None, durability: str | None = None,
                            on_start: OnStart | None = None, loaded: tuple[Any, Entry] | None = None) -> TaskRun:
        """:meth:`execute` of a coroutine function, awaited on the running event loop."""
        from ucode import tasks

        mode = tasks.durability(self.store, durability)
        return await tasks.run_task_async(self.store, self.runtime, ref, args, kwargs, version=version,
                                          durability=mode, commit=self._commit, on_start=on_start, loaded=loaded)

    def resume(self, task_id: str) -> TaskRun:
        """Finish an interrupted task: its recorded effects are served from the log (not performed
        again), the rest run live and are recorded. ``last``: the newest interrupted task."""
        from ucode import tasks
        from ucode.tasks import TaskRun

        return TaskRun(*tasks.resume_task(self.store, self.runtime, task_id))

    def replay(self, task_id: str, *, use: dict[str, str] | None = None) -> TaskReplay:
        """Replay a recorded task exactly (every effect served from its log); ``use`` swaps names
        (name -> version label or ``#hash``) for this replay only."""
        from ucode import tasks

        return tasks.replay_task(self.store, self.runtime, task_id, use)

    def replay_all(self, *, name: str | None = None, use: dict[str, str] | None = None) -> list[TaskReplay]:
        """Replay every finished, replayable task (of entry point ``name``), each with ``use`` swapped:
        a regression test from recorded traffic. Each result says how it changed (``TaskReplay.change``)."""
        from ucode import tasks

        return tasks.replay_all(self.store, self.runtime, name, use)

    # ---------------------------------------------------------------------------------- tasks

    def task(self, task_id: str) -> dict[str, Any]:
        """A task's record (``records.TaskRecord`` as stored); a unique prefix of its id works too, and
        ``last`` is the newest task."""
        from ucode import tasks

        return tasks.find_task(self.store, task_id).to_stored()

    def unfinished_tasks(self) -> list[dict[str, Any]]:
        """Summaries of the tasks recorded as running: running now, or interrupted (their process is gone),
        oldest first; read from their index, not from every task."""
        from ucode import tasks

        with self.store.read() as txn:
            recs = [stored_tasks.load_task(txn, tid) for tid in stored_tasks.unfinished_ids(txn)]
        return sorted((tasks.summary(r) for r in recs if r is not None), key=lambda r: r["started"] or 0)

    def task_summary(self, task_id: str) -> dict[str, Any]:
        """What ``task list`` shows of one task (its status as a person should see it)."""
        from ucode import tasks

        return tasks.summary(tasks.find_task(self.store, task_id))

    def task_view(self, task_id: str) -> TaskView:
        """Everything ``task show`` shows of a task: record, status, decoded arguments and result, effects."""
        from ucode import tasks

        return tasks.task_view(self.store, task_id)

    def task_events(self, task_id: str) -> list[dict[str, Any]]:
        """A task's recorded effects, in order, as maps (field names: :data:`EVENT_FIELDS`). A record
        that cannot be decoded is reported in place (``{"seq": ..., "corrupt": message}``)."""
        from ucode import tasks

        return tasks.event_maps(self.store, task_id)

    def task_event_rows(self, task_id: str) -> list[list[Any] | dict[str, Any]]:
        """A task's recorded effects as rows (lists in :data:`EVENT_FIELDS` order), as stored."""
        with self.store.read() as txn:
            return stored_tasks.event_rows(txn, task_id)

    def tasks(self) -> list[dict[str, Any]]:
        """Every task record, newest first."""
        from ucode import tasks

        return [r.to_stored() for r in tasks.tasks(self.store)]

    def task_list(self, *, failed: bool = False, name: str | None = None, since: float | None = None,
                  status: Sequence[str] | str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Task summaries (id, name, status, version, times, hashes), newest first: only failed or
        interrupted ones with ``failed``, only those of entry point ``name`` (a full name or a suffix),
        only those started at or after the timestamp ``since``, only those whose ``status`` is the one (or
        one of those) given (``running``, ``succeeded``, ``failed``, ``interrupted``), at most ``limit``."""
        from ucode import tasks

        statuses = [status] if isinstance(status, str) else status
        return tasks.task_list(self.store, failed=failed, name=name, since=since, statuses=statuses, limit=limit)

    def log_lines(self, *, task: str | None = None, name: str | None = None, since: float | None = None,
                  grep: str | None = None) -> list[dict[str, Any]]:
        """The log lines (``effects.log``) of recorded tasks, oldest first, as ``{task, name, seq, started,
        line}``: of one ``task``, of the tasks of entry point ``name``, of tasks started at or after
        ``since``, lines containing ``grep``."""
        from ucode import tasks

        return tasks.log_lines(self.store, task=task, name=name, since=since, grep=grep)

    def task_prune(self, older_than: float) -> int:
        """Delete finished tasks that started before ``older_than`` (a timestamp), with their events."""
        from ucode import tasks

        return tasks.prune(self.store, older_than)

    def route_task(self, task_id: str, name: str, target: str) -> tuple[str, str, str]:
        """Make ``name`` resolve to ``target`` (a version label or ``#hash``) in every later replay of the
        task (``route set``): returns (task id, full name, hash)."""
        from ucode import tasks

        return tasks.route_task(self.store, task_id, name, target)

    def task_routes(self, task_id: str) -> tuple[str, dict[str, str]]:
        """The per-task routes of a task (id, prefix or ``last``): (task id, full name -> hash)
        (``route list --task``)."""
        from ucode import tasks

        return tasks.task_routes(self.store, task_id)

    def unroute_task(self, task_id: str, name: str) -> tuple[str, str, bool]:
        """Remove ``name``'s per-task route from a task's replays (``route unset``): (task id, full name,
        whether there was one)."""
        from ucode import tasks

        return tasks.unroute_task(self.store, task_id, name)

    def task_override(self, task_id: str, name: str, target: str | None) -> None:
        """Make the full name ``name`` resolve to hash ``target`` in this task's replays; None removes it."""
        from ucode import tasks

        tasks.set_task_route(self.store, task_id, name, target)

    # --------------------------------------------------------------------------------- routes

    def route_shadow(self, name: str, candidate: str, *, primary: str | None = None, ignore: Sequence[str] = (),
                     reads: str = "perform") -> RouteChange:
        """Shadow ``name``: the primary (``primary``, else the caller's own binding) answers; ``candidate``
        (a version or ``#hash``) runs on the same arguments in a sandbox, off the caller's path, and is
        compared (``route shadow``)."""
        from ucode.routing import Policy, set_policy

        return set_policy(self.store, name, Policy("shadow", primary, candidate, reads=reads, ignore=tuple(ignore)))

    def route_percent(self, name: str, candidate: str, percent: float, *, key: str | None = None,
                      primary: str | None = None, salt: str | None = None) -> RouteChange:
        """Send a sticky ``percent`` of ``name``'s calls to ``candidate``, by the bucket of ``key`` (an
        argument or a path into one; default: the task id) hashed with the route's salt (kept while the
        route exists; ``salt`` sets it) (``route percent``)."""
        from ucode.routing import Policy, set_policy

        return set_policy(self.store, name, Policy("percent", primary, candidate, percent, key, salt=salt or ""))

    def route_primary(self, name: str, target: str) -> RouteChange:
        """Every call of ``name`` runs ``target`` (a version or ``#hash``), whatever version the caller runs
        in (``route set NAME --version V``)."""
        from ucode.routing import Policy, set_policy

        return set_policy(self.store, name, Policy("primary", target))

    def route_apply(self, path: str | os.PathLike[str], *, prune: bool = False) -> RouteChange:
        """Apply a routing file (the memo's YAML format): every route checked first, all written as one
        undoable step; ``prune`` also removes routes the file does not name (``route apply``)."""
        from ucode.routing import apply_file

        return apply_file(self.store, Path(path), prune=prune)

    def route_clear(self, name: str) -> RouteChange:
        """Remove ``name``'s route (``route clear``)."""
        from ucode.routing import clear_route

        return clear_route(self.store, name)

    def route_promote(self, name: str, *, version: str | None = None) -> RouteChange:
        """Bind ``name`` to its route's candidate and remove the route, as one undoable step (``route
        promote``)."""
        from ucode.routing import promote_route

        return promote_route(self.store, name, version)

    def routes(self) -> list[RouteView]:
        """Every route in force (``route list``)."""
        from ucode.routing import list_routes

        return list_routes(self.store)

    def route(self, name: str) -> RouteView:
        """One route (``route show``)."""
        from ucode.routing import route_view

        return route_view(self.store, name)

    def route_report(self, name: str, *, limit: int = 5) -> dict[str, Any]:
        """What ``name``'s route did: calls, shadowed, matched, diverged, candidate errors, slower/faster, and
        the latest divergences (``route report``)."""
        from ucode.routing import report

        return report(self.store, self._router.router if self._router is not None else None, name, limit=limit)

    def divergence(self, divergence_id: str) -> dict[str, Any]:
        """One divergence a shadow run recorded (``divergence show``)."""
        from ucode.routing import divergence

        return divergence(self.store, divergence_id)

    def drain_shadows(self, timeout: float | None = 30.0) -> int:
        """Wait for queued shadow runs (up to ``timeout`` s) and write the routes' counters; returns how many
        were still queued. ``ucode run`` does this before it exits, ``close`` too."""
        return self._router.drain(timeout) if self._router is not None else 0

    # --------------------------------------------------------------------------------- engine

    def engine_token(self, *, create: bool = True) -> str | None:
        """The token the engine (``ucode serve``) asks of clients that change things: ``engine.token`` in
        the store directory (0600, made on first use) or ``$UCODE_ENGINE_TOKEN``; None for a store in memory
        (``ucode engine token``)."""
        from ucode.store.secrets import load_token

        return load_token(self.store.path, create=create)

    def engine_record(self) -> dict[str, Any] | None:
        """The engine that serves (or last served) this store: pid, url, start and stop times."""
        with self.store.read() as txn:
            return stored_settings.load_engine(txn)

    def set_engine_record(self, record: dict[str, Any]) -> None:
        with self.store.write() as txn:
            stored_settings.save_engine(txn, record)

    def claim_engine(self, record: Callable[[dict[str, Any] | None], dict[str, Any]],
                     serving: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """Record a new engine in one transaction, unless ``serving(current record)`` says another one
        serves the store: then nothing is written and that record is returned (two engines started at
        once: one claims the store). ``record(previous)`` makes the new record from the previous one."""
        with self.store.write() as txn:
            previous = stored_settings.load_engine(txn)
            if previous is not None and serving(previous):
                return previous
            stored_settings.save_engine(txn, record(previous))
        return None

    def flush_route_counters(self) -> None:
        """Write the routes' counters gathered so far (a long-running engine does this every second; a CLI
        run when it closes)."""
        if self._router is not None and self._router.router is not None:
            self._router.router.flush()

    def task_overrides(self, task_id: str) -> dict[str, str]:
        with self.store.read() as txn:
            return stored_tasks.overrides(txn, task_id)
