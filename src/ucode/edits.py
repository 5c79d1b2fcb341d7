"""Changing names by hand: ``bind``, ``unbind``, ``alias``, ``move``, versions, ``undo``, settings.

Rule: each edit is one write transaction that resolves what the user named (:mod:`ucode.resolver`),
changes the namespace through :mod:`ucode.namespace`'s operations (so the tables and the log cannot
disagree) and commits the events as one op, with a ``cause`` that says what the user did. An edit that
changes nothing writes nothing and returns no events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ucode import hashing
from ucode.errors import (
    InvalidSettingError,
    NameNotFoundError,
    NewNameError,
    NotANameError,
    UnknownSettingError,
    UnknownVersionError,
    VersionExistsError,
    VersionInUseError,
)
from ucode.namespace import (
    StoredNamespace,
    clear_move,
    commit,
    create_version,
    drop_version,
    ensure_version,
    remove_binding,
    set_binding,
    set_module,
    set_move,
    undo_last,
    use_version,
    version_children,
)
from ucode.records import NamespaceEvent
from ucode.refs import parse_ref, validate_name, validate_version
from ucode.resolver import known_version, resolve, resolve_name
from ucode.store import Store, settings
from ucode.store import names as stored

if TYPE_CHECKING:
    from ucode.model import UndoResult

__all__ = ["alias", "bind", "config", "delete_version", "move", "new_version", "rename_version", "set_config",
           "unbind", "undo", "use"]

Events = list[NamespaceEvent]


def _name_for_write(ns: StoredNamespace, name: str, version: str, *, new: bool) -> str:
    """The full name a write refers to: an existing name it uniquely suffixes; else itself when ``new`` or
    when that full name was bound before (in any version); otherwise an error that suggests the names it
    may be a typo of."""
    try:
        return resolve_name(ns, ns.txn, name, version)[0]
    except NameNotFoundError as exc:
        # a name bound before (in another version, or unbound since) is no typo: only a never-seen one
        known = name in stored.leaf_names(ns.txn, name.rsplit(".", 1)[-1])
        if not new and not known:
            raise NewNameError(name, version, suggestions=exc.suggestions) from None
        return validate_name(name)


def bind(store: Store, name: str, target: str, version: str | None, *, new: bool = False,
         create: bool = False) -> Events:
    """Bind ``name`` (an existing name or suffix) to ``target`` (``#hash`` or a name) in ``version``.

    A typo must not create things: a name that is not bound in the version is an error ("did you mean")
    unless ``new`` (then it is bound as a new full name), and a version that does not exist is an error
    unless ``create`` (then it is created from the default version)."""
    ref = parse_ref(name)
    if ref.name is None:
        raise NotANameError("bind", name)
    with store.write() as txn:
        ns = StoredNamespace(txn)
        v = ref.version or version or ns.default()
        if not ns.exists(v) and not create:
            raise UnknownVersionError(v, stored.version_names(txn),
                                      create=f"pass --create: ucode bind --create {name} {target}")
        created = ensure_version(ns, v, store.clock())
        _tname, h, _tv = resolve(ns, txn, target, v, ns.default())
        full = _name_for_write(ns, ref.name, v, new=new)
        # binding a moved name again ends the move: its callers run what it is bound to now
        return commit(txn, [created, set_binding(txn, v, full, h), clear_move(ns, v, full)],
                      cause=f"bind {full}@{v} {hashing.short(h)}", now=store.clock())


def unbind(store: Store, name: str, version: str | None) -> Events:
    """Remove ``name`` from ``version`` (a binding it inherits from its parent is hidden)."""
    ref = parse_ref(name)
    if ref.name is None:
        raise NotANameError("unbind", name)
    with store.write() as txn:
        ns = StoredNamespace(txn)
        v = known_version(ns, txn, ref.version or version, ns.default())
        full, _h = resolve_name(ns, txn, ref.name, v)
        return commit(txn, [remove_binding(ns, v, full)], cause=f"unbind {full}@{v}", now=store.clock())


def alias(store: Store, existing: str, new_name: str, version: str | None) -> Events:
    """Bind ``new_name`` to the hash ``existing`` has: a second name for the same definition."""
    validate_name(new_name)
    with store.write() as txn:
        ns = StoredNamespace(txn)
        name, h, v = resolve(ns, txn, existing, version, ns.default())
        return commit(txn, [set_binding(txn, v, new_name, h)], cause=f"alias {name or existing} {new_name}@{v}",
                      now=store.clock())


def move(store: Store, old_name: str, new_name: str, version: str | None) -> Events:
    """Rename: bind ``new_name`` to ``old_name``'s hash, unbind ``old_name`` and record that it moved, as
    one op. Nothing is re-hashed, and the move carries the callers, as a rename does in Unison (where
    references are by hash): stored code that calls ``old_name`` keeps its text and its hash, and runs
    what ``new_name`` is bound to, now and after later binds of ``new_name``. ``deps`` and
    ``dependents`` follow the move too. Binding ``old_name`` again (or moving ``new_name`` back) ends it."""
    validate_name(new_name)
    ref = parse_ref(old_name)
    if ref.name is None:
        raise NotANameError("move", old_name)
    with store.write() as txn:
        ns = StoredNamespace(txn)
        v = known_version(ns, txn, ref.version or version, ns.default())
        full, h = resolve_name(ns, txn, ref.name, v)
        if full == new_name:
            return []
        events = [set_binding(txn, v, new_name, h), remove_binding(ns, v, full), clear_move(ns, v, new_name),
                  set_move(txn, v, full, new_name)]
        return commit(txn, events, cause=f"move {full} {new_name}@{v}", now=store.clock())


def new_version(store: Store, version: str, parent: str | None) -> Events:
    """Create ``version`` from ``parent`` (the default version when None)."""
    validate_version(version)
    with store.write() as txn:
        ns = StoredNamespace(txn)
        if ns.exists(version):
            raise VersionExistsError(version)
        p = known_version(ns, txn, parent, ns.default())
        return commit(txn, [create_version(txn, version, p, store.clock())], cause=f"version create {version}",
                      now=store.clock())


def delete_version(store: Store, version: str) -> Events:
    """Remove ``version`` and its own bindings, as one op that ``undo`` reverses. The default version and
    a version other versions are made from cannot be deleted (say which, and what to do first)."""
    with store.write() as txn:
        ns = StoredNamespace(txn)
        v = _existing_version(ns, version)
        _check_removable(ns, v, "delete")
        return commit(txn, drop_version(ns, v), cause=f"version delete {v}", now=store.clock())


def rename_version(store: Store, old: str, new: str) -> Events:
    """Rename a version: ``new`` is created from ``old``'s parent with ``old``'s own bindings, and ``old``
    is dropped (the default moves with it), as one op that ``undo`` reverses. A version other versions
    are made from cannot be renamed (their parent would change)."""
    validate_version(new)
    with store.write() as txn:
        ns = StoredNamespace(txn)
        v = _existing_version(ns, old)
        if ns.exists(new):
            raise VersionExistsError(new)
        _check_removable(ns, v, "rename", default_ok=True)
        parent = ns.parent(v)
        now = store.clock()
        events: list[dict[str, Any] | None] = [create_version(txn, new, parent, now) if parent is not None
                                               else _root_version(txn, new, now)]
        events += [set_binding(txn, new, n, h) for n, h in sorted(ns.own_all(v).items())]
        events += [set_module(txn, new, m, h) for m, h in sorted(ns.own_modules(v).items())]
        events += [set_move(txn, new, n, t) for n, t in sorted(ns.own_moves(v).items())]
        if ns.default() == v:
            events.append(use_version(txn, new))
        events += drop_version(ns, v)
        return commit(txn, events, cause=f"version rename {v} {new}", now=now)


def _root_version(txn: Any, version: str, now: float) -> dict[str, Any]:
    """A version without a parent (renaming the store's first version). ``new`` marks the event as made by
    a rename (a store's own first version, ``new`` None, is never undone)."""
    stored.save_version(txn, version, stored.VersionRecord(None, now))
    return {"kind": "version", "version": version, "name": version, "old": None, "new": "rename"}


def _existing_version(ns: StoredNamespace, version: str) -> str:
    if not ns.exists(version):
        raise UnknownVersionError(version, stored.version_names(ns.txn))
    return version


def _check_removable(ns: StoredNamespace, version: str, what: str, *, default_ok: bool = False) -> None:
    children = version_children(ns.txn, version)
    if children:
        raise VersionInUseError(version, f"{', '.join(children)} {'is' if len(children) == 1 else 'are'} made "
                                f"from it (copy-on-write: {'it' if len(children) == 1 else 'they'} read its bindings)",
                                hint=f"{what} {', '.join(children)} first, or bind what they need in them")
    from ucode.routing._policy import Policy

    routed = sorted(n for n, text in ns.routes("").items() if version in (
        (p := Policy.from_text(text)).primary, p.candidate))
    if routed:
        raise VersionInUseError(version, f"the route{'s' if len(routed) > 1 else ''} of {', '.join(routed)} "
                                f"run{'' if len(routed) > 1 else 's'} it",
                                hint=f"clear or change {'them' if len(routed) > 1 else 'it'} first: ucode route "
                                     f"clear {routed[0]}")
    if not default_ok and ns.default() == version:
        others = [x for x in stored.version_names(ns.txn) if x != version]
        raise VersionInUseError(version, "it is the default version",
                                hint=f"make another the default first: ucode version use {others[0]}" if others
                                else "a store keeps at least one version")


def use(store: Store, version: str) -> Events:
    """Make ``version`` the default one (what commands use without ``--version``)."""
    with store.write() as txn:
        ns = StoredNamespace(txn)
        v = known_version(ns, txn, version, ns.default())
        return commit(txn, [use_version(txn, v)], cause=f"version use {v}", now=store.clock())


def undo(store: Store) -> UndoResult:
    """Undo the newest command that changed names or modules (and is not undone yet), by appending its
    inverse events. Nothing is erased: ``history`` shows both; repeated ``undo`` goes further back."""
    from ucode.model import UndoResult

    with store.write() as txn:
        op, cause, events = undo_last(txn, store.clock())
    return UndoResult(op, cause, events)


def config(store: Store, known: dict[str, tuple[str, tuple[str, ...], str]]) -> dict[str, Any]:
    """The settings in ``known`` (key -> (default, allowed, doc)): what is set, else the default."""
    with store.read() as txn:
        found = settings.load_config(txn)
    return {k: found.get(k, spec[0]) for k, spec in known.items()}


def set_config(store: Store, known: dict[str, tuple[str, tuple[str, ...], str]], key: str,
               value: str | None) -> dict[str, Any]:
    """Set one setting (None: back to its default); returns all of them."""
    if key not in known:
        raise UnknownSettingError(key, list(known))
    default, allowed, _doc = known[key]
    if value is not None and value not in allowed:
        raise InvalidSettingError(key, value, allowed, default)
    with store.write() as txn:
        found = settings.load_config(txn)
        if value is None:
            found.pop(key, None)
        else:
            found[key] = value
        settings.save_config(txn, found)
    return config(store, known)


def default_version(store: Store) -> str:
    with store.read() as txn:
        return stored.load_default(txn)
