"""Questions about the names, answered from one read transaction: ``view``, ``find``, ``ls``, ``names``,
``deps``, ``dependents``, ``history``, ``bindings``, ``diff``, ``versions``.

Rule: a query reads one consistent state (the caller's transaction) and returns ``ucode.model`` values;
it never writes and never imports libcst. Each one is what one CLI command shows.
"""

from __future__ import annotations

import difflib

from ucode.errors import NameNotFoundError, NotANameError, StoreCorruptError, VersionError
from ucode.model import Binding, DefinitionView, DiffEntry, Match, Matches, VersionInfo, Warning
from ucode.namespace import StoredNamespace, fold
from ucode.records import NamespaceEvent
from ucode.refs import parse_ref
from ucode.resolver._names import dependency, known_version, preferred, resolve, resolve_name
from ucode.store import Txn, definitions
from ucode.store import names as stored
from ucode.store._backend import key

__all__ = ["bindings", "dependencies", "dependents", "diff", "find", "history", "ls", "names_of", "versions",
           "view"]


def view(txn: Txn, ref: str, version: str | None) -> DefinitionView:
    """Everything about a name or hash: source, hash, dependencies (as bound in the version), warnings."""
    ns = StoredNamespace(txn)
    name, h, v = resolve(ns, txn, ref, version, ns.default())
    rec = definitions.load_definition(txn, h)
    if rec is None:
        raise StoreCorruptError(f"{name or ref} is bound to {h[:10]}, which is not stored",
                                hint="rebind the name (ucode bind) or run ucode verify")
    src = definitions.load_source(txn, h)
    deps = {d: dependency(ns.lookup(v, d), h, rec, d) for d in rec.deps}
    shown = sorted({n for _v, n in stored.names_of(txn, h)})
    path = src.path if src else ""
    return DefinitionView(
        name=name, names=shown, hash=h, kind=rec.kind, version=v, source=src.source if src else "",
        docstring=src.doc if src else None, path=path, line=src.line if src else 0,
        module=src.module if src else "", deps=deps, written_against=dict(rec.written_against),
        imports=list(rec.imports),
        warnings=[Warning(c, m, path, ln) for c, m, ln in (src.warnings if src else ())],
    )


def find(txn: Txn, query: str, version: str | None, limit: int | None) -> Matches:
    """Names in ``version`` containing ``query`` (case-insensitive), best matches first: the leaf equal to
    the query, then starting with it, then containing it, then the rest; shorter names first. At most
    ``limit`` of them (None: all); ``total`` says how many matched."""
    ns = StoredNamespace(txn)
    v = known_version(ns, txn, version, ns.default())
    q = query.lower()
    qb = q.encode("utf-8")
    # Match the raw keys of every version in the chain (the names that do not match are never decoded),
    # then resolve the few candidates through the chain (a child's rebinding or unbinding wins).
    candidates: set[bytes] = set()
    for ver in ns.chain(v):
        cut = len(ver.encode()) + 1
        for k, _ in txn.items("bind", key(ver, "")):
            raw = k[cut:]
            # bytes.lower() folds ASCII only: decode the (rare) non-ASCII names to compare
            if qb in (raw.lower() if raw.isascii() else raw.decode().lower().encode()):
                candidates.add(raw)
    scored = []
    for raw_name in candidates:
        name = raw_name.decode()
        h = ns.lookup(v, name)
        if h is None:
            continue
        leaf = name.lower().rpartition(".")[2]
        rank = 0 if leaf == q else 1 if leaf.startswith(q) else 2 if q in leaf else 3
        scored.append((rank, 0, len(name), name, h))
    # Names of one definition (an alias beside the name its module defines): the defining name first
    by_hash: dict[str, list[str]] = {}
    for _rank, _a, _len, name, h in scored:
        by_hash.setdefault(h, []).append(name)
    first = {h: preferred(ns, txn, v, group, h) for h, group in by_hash.items() if len(group) > 1}
    scored = [(rank, int(h in first and first[h] != name), n, name, h) for rank, _a, n, name, h in scored]
    scored.sort()
    out = []
    for _rank, _alias, _len, name, h in scored[:limit] if limit is not None else scored:
        rec = definitions.load_definition(txn, h)
        src = definitions.load_source(txn, h)
        doc = ((src.doc if src else None) or "").strip().splitlines()
        out.append(Match(name, h, rec.kind if rec else "?", doc[0] if doc else ""))
    return Matches(out, len(scored))


def ls(txn: Txn, prefix: str | None, version: str | None) -> list[Binding]:
    """Names in ``version``, only those under namespace ``prefix`` if given (or that name itself)."""
    ns = StoredNamespace(txn)
    v = known_version(ns, txn, version, ns.default())
    found = ns.bindings(v, "" if not prefix else prefix.rstrip(".") + ".")
    if prefix and not found:
        exact = ns.lookup(v, prefix)
        if exact:
            return [Binding(prefix, exact, v)]
    return [Binding(n, h, v) for n, h in sorted(found.items())]


def names_of(txn: Txn, ref: str) -> list[Binding]:
    """Every (version, name) bound to the hash ``ref`` refers to."""
    ns = StoredNamespace(txn)
    _name, h, _v = resolve(ns, txn, ref, None, ns.default())
    return sorted((Binding(n, h, v) for v, n in stored.names_of(txn, h)), key=lambda b: (b.version, b.name))


def dependencies(txn: Txn, ref: str, version: str | None) -> list[Binding]:
    """The names ``ref``'s definition depends on, and what each stands for in ``version``."""
    ns = StoredNamespace(txn)
    _name, h, v = resolve(ns, txn, ref, version, ns.default())
    rec = definitions.expect_definition(txn, h)
    out = []
    for d in rec.deps:
        bound = ns.lookup(v, d)
        moved = ns.moved_to(v, d) if bound is None else None
        if moved is not None:  # the code calls d, which moved: it runs what the new name is bound to
            out.append(Binding(moved, ns.lookup(v, moved), v))
        else:
            out.append(Binding(d, dependency(bound, h, rec, d), v))
    return out


def dependents(txn: Txn, ref: str, version: str | None) -> list[Binding]:
    """Names in ``version`` whose definitions depend on ``ref`` or on any other name of its hash."""
    ns = StoredNamespace(txn)
    name, h, v = resolve(ns, txn, ref, version, ns.default())
    chain = ns.chain(v)
    targets = {n for _v, n in stored.names_of(txn, h)}
    if name:
        targets.add(name)
    # code that calls a name since moved to one of these uses them (a move carries its callers)
    targets |= {old for old in ns.moves(v) if ns.lookup(v, old) is None and ns.moved_to(v, old) in targets}
    users = {u for t in targets for u in definitions.dependents(txn, t)}
    out = {Binding(uname, uh, v) for uh in users for ver, uname in stored.names_of(txn, uh)
           if ver in chain and ns.lookup(v, uname) == uh}
    return sorted(out, key=lambda b: b.name)


def history(txn: Txn, name: str | None, version: str | None, limit: int | None) -> list[NamespaceEvent]:
    """The namespace log, newest first; only the events about ``name`` (a full name or a suffix; a name
    unbound since keeps its history), only those of ``version``, at most ``limit``."""
    full = None
    if name is not None:
        r = parse_ref(name)
        if r.name is None:
            raise NotANameError("history", name)
        ns = StoredNamespace(txn)
        version = r.version or version
        v = known_version(ns, txn, version, ns.default())
        try:
            full = resolve_name(ns, txn, r.name, v)[0]
        except NameNotFoundError:
            full = r.name
    out = []
    for ev in stored.events(txn, reverse=True):
        if full is not None and not (ev.kind == "bind" and ev.name == full):
            continue
        if version is not None and ev.version != version:
            continue
        out.append(ev)
        if limit is not None and len(out) >= limit:
            break
    return out


def bindings(txn: Txn, version: str | None, at: int | None) -> dict[str, str]:
    """Every name -> hash in ``version``: now, or as of log position ``at`` (the fold of the log)."""
    if at is None:
        ns = StoredNamespace(txn)
        return dict(sorted(ns.bindings(known_version(ns, txn, version, ns.default())).items()))
    state = fold(stored.events(txn), at=at)
    v = version or state.default or "v1"
    if not state.exists(v):
        raise VersionError(f"version {v!r} did not exist at log position {at}",
                           hint="`ucode history` shows the log positions")
    return dict(sorted(state.bindings(v).items()))


def diff(txn: Txn, v1: str, v2: str) -> list[DiffEntry]:
    """Names whose hash differs between two versions, with a unified diff of their sources."""
    ns = StoredNamespace(txn)
    a_v = known_version(ns, txn, v1, ns.default())
    b_v = known_version(ns, txn, v2, ns.default())
    a, b = ns.bindings(a_v), ns.bindings(b_v)
    out = []
    for name in sorted(set(a) | set(b)):
        ha, hb = a.get(name), b.get(name)
        if ha == hb:
            continue
        text = "".join(difflib.unified_diff(
            _source(txn, ha).splitlines(keepends=True), _source(txn, hb).splitlines(keepends=True),
            fromfile=f"{name}@{a_v}", tofile=f"{name}@{b_v}"))
        out.append(DiffEntry(name, ha, hb, text))
    return out


def _source(txn: Txn, h: str | None) -> str:
    src = definitions.load_source(txn, h) if h else None
    return src.source if src else ""


def versions(txn: Txn) -> list[VersionInfo]:
    default = stored.load_default(txn)
    out = []
    for name in stored.version_names(txn):
        rec = stored.load_version(txn, name)
        out.append(VersionInfo(name, rec.parent if rec else None, name == default, stored.count_own(txn, name),
                               rec.created if rec else 0.0))
    return out
