"""Resolving what people and code name: ``NAME`` (a full name or a unique suffix), ``NAME@VERSION``,
``#HASH`` (a unique prefix), a name a package re-exports; and the dependency rule ``view``/``deps`` show.

Rule: resolution reads a version chain (the materialized tables or the fold of the log: any
:class:`~ucode.namespace.VersionChain`) and the store's indexes; it never writes.
"""

from __future__ import annotations

from ucode.errors import AmbiguousNameError, HashNotFoundError, NameNotFoundError, UnknownVersionError
from ucode.namespace import VersionChain
from ucode.records import DefinitionRecord
from ucode.refs import parse_ref, suffix_matches
from ucode.store import Txn, definitions, modules
from ucode.store import names as stored

__all__ = ["defines", "dependency", "follow_import", "known_version", "preferred", "resolve", "resolve_hash",
           "resolve_name"]


def known_version(ns: VersionChain, txn: Txn, version: str | None, default: str) -> str:
    """``version`` (the default when None), which must exist."""
    v = version or default
    if not ns.exists(v):
        raise UnknownVersionError(v, list(stored.version_names(txn)))
    return v


def resolve_hash(txn: Txn, prefix: str, shown: str) -> str:
    """The one stored definition whose hash starts with ``prefix``."""
    found = definitions.hashes_with_prefix(txn, prefix)
    if not found:
        raise HashNotFoundError(shown)
    if len(found) > 1:
        from ucode import hashing

        raise AmbiguousNameError(shown, [hashing.short(f) for f in found])
    return found[0]


def follow_import(ns: VersionChain, txn: Txn, version: str, name: str) -> tuple[str, str] | None:
    """What a name a module imports stands for (``pkg.f`` where ``pkg/__init__.py`` does ``from .a import
    f``, or ``from .a import *``): (the bound name it leads to, its hash), followed through the modules'
    programs; None when it leads nowhere in the store."""
    seen = {name}
    todo = [name]
    while todo and len(seen) < 64:
        name = todo.pop(0)
        h = ns.lookup(version, name)
        if h is not None:
            return name, h
        module, _, leaf = name.rpartition(".")
        ph = ns.module(version, module) if module else None
        prog = modules.load_program(txn, ph) if ph else None
        if prog is None:
            continue
        for n in [prog.from_imports.get(leaf), *(f"{star}.{leaf}" for star in prog.stars)]:
            if n is not None and n not in seen:
                seen.add(n)
                todo.append(n)
    return None


def _similar(txn: Txn, name: str) -> list[str]:
    import difflib  # only for an error message: not on the path of every run

    leaf = name.rpartition(".")[2].lower()
    leaves = stored.all_leaves(txn)
    close = difflib.get_close_matches(leaf, [x.lower() for x in leaves], n=3, cutoff=0.7)
    return sorted(x for x in leaves if x.lower() in close)


def defines(ns: VersionChain, txn: Txn, version: str, name: str, h: str) -> int:
    """How much ``name`` is the defining name of ``h`` in ``version``: 2 when its module's own program
    defines it with that very statement (``shop.pricing.quote``, not the ``shop.quote`` an alias or a
    ``bind`` made), 1 when the program defines the name with another statement (it was rebound), else 0."""
    module, _, leaf = name.rpartition(".")
    ph = ns.module(version, module) if module else None
    prog = modules.load_program(txn, ph) if ph else None
    if prog is None or leaf not in prog.slots:
        return 0
    i = prog.slots[leaf]
    return 2 if 0 <= i < len(prog.statements) and prog.statements[i].hash == h else 1


def preferred(ns: VersionChain, txn: Txn, version: str, names: list[str], h: str) -> str:
    """The name to show for ``h`` among ``names`` (all bound to it): the defining module's name, else the
    shortest (then the first in order)."""
    return min(names, key=lambda n: (-defines(ns, txn, version, n, h), n.count("."), len(n), n))


def resolve_name(ns: VersionChain, txn: Txn, name: str, version: str) -> tuple[str, str]:
    """(full name, hash) that ``name`` stands for in ``version``: the name itself, a name a package
    re-exports (followed to the module that defines it), or a unique suffix at a dot boundary. Suffix
    matches that are all bound to one hash (``shop.pricing.quote`` and the ``shop.quote`` an alias made)
    are one definition, not an ambiguity: the defining module's name is the answer (:func:`preferred`)."""
    h = ns.lookup(version, name)
    if h is not None:
        return name, h
    followed = follow_import(ns, txn, version, name)
    if followed is not None:
        return followed
    cands = stored.leaf_names(txn, name.rpartition(".")[2])
    bound = {c: hh for c in suffix_matches(name, cands) if (hh := ns.lookup(version, c))}
    if len(bound) == 1:
        return next(iter(bound.items()))
    if len(set(bound.values())) == 1:
        h = next(iter(bound.values()))
        return preferred(ns, txn, version, sorted(bound), h), h
    if len(bound) > 1:
        raise AmbiguousNameError(name, sorted(bound))
    elsewhere = [c for c in cands if ns.lookup(version, c) is None]
    if elsewhere:
        raise NameNotFoundError(name, version, suggestions=[f"{s} (in another version)" for s in elsewhere])
    raise NameNotFoundError(name, version, suggestions=_similar(txn, name))


def resolve(ns: VersionChain, txn: Txn, ref: str, version: str | None, default: str) -> tuple[str | None, str, str]:
    """(name or None, hash, version) for ``NAME``, ``NAME@V``, ``#HASH``."""
    r = parse_ref(ref)
    v = known_version(ns, txn, r.version or version, default)
    if r.hash_prefix is not None:
        return None, resolve_hash(txn, r.hash_prefix, ref), v
    assert r.name is not None
    name, h = resolve_name(ns, txn, r.name, v)
    return name, h, v


def dependency(bound: str | None, h: str, rec: DefinitionRecord, dep: str) -> str | None:
    """What dependency name ``dep`` of definition ``h`` stands for, shown by ``view`` and ``deps``: what
    the name is bound to in the version (late binding), except a name bound to ``h`` itself or not bound
    there, which shows the hash it had when ``h`` was added (``written_against``)."""
    if bound is None or bound == h:
        return rec.written_against.get(dep)
    return bound
