"""The namespace's tables: versions, each version's own bindings of names and of modules, their reverse
indexes, and the log they are the fold of.

Rule: these functions read and write *one version's own entries*; walking a version's chain of parents
is :mod:`ucode.namespace`'s. A binding is a hash, ``""`` (explicitly unbound in that version: it hides the
parent's) or absent (inherits). Writing a name's binding keeps ``byhash`` and ``leaf`` in step.

==============  ================================================================================
``versions``    version -> {parent, created}
``meta``        ``default`` -> the default version
``bind``        ``version \\0 name`` -> hash, or "" for "explicitly unbound in this version"
``byhash``      ``hash \\0 version \\0 name`` -> "" (reverse of ``bind``)
``leaf``        ``last-name-part \\0 name`` -> "" (every name ever bound: suffix lookup)
``modbind``     ``version \\0 module`` -> program hash, or ""
``moved``       ``version \\0 old name`` -> the name it was moved to, or "" (hides the parent's move)
``log``         ``seq`` (8-byte big-endian) -> a namespace event (``records.NamespaceEvent``)
==============  ================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from ucode.records import NamespaceEvent
from ucode.store._backend import SEP, Txn, key, load_map, pack, seq_key, seq_of, unpack

__all__ = [
    "VersionRecord", "all_leaves", "append_events", "count_own", "delete_version", "events", "last_seq",
    "leaf_names", "load_default", "load_version", "names_of", "own_binding", "own_bindings", "own_module",
    "own_modules", "own_move", "own_moves", "save_default",
    "save_version", "set_own_binding", "set_own_module", "set_own_move", "version_names",
]


class VersionRecord(NamedTuple):
    parent: str | None
    created: float


# ------------------------------------------------------------------------------------ versions


def load_version(txn: Txn, version: str) -> VersionRecord | None:
    rec = load_map(txn, "versions", version)
    return None if rec is None else VersionRecord(rec.get("parent"), float(rec.get("created", 0.0)))


def save_version(txn: Txn, version: str, rec: VersionRecord) -> None:
    txn.put("versions", version.encode(), pack({"parent": rec.parent, "created": rec.created}))


def delete_version(txn: Txn, version: str) -> None:
    """Drop the version record (its own bindings must be gone already: :mod:`ucode.namespace` does both)."""
    txn.delete("versions", version.encode())


def version_names(txn: Txn) -> list[str]:
    return [k.decode() for k, _ in txn.items("versions")]


def load_default(txn: Txn) -> str:
    raw = txn.get("meta", b"default")
    return str(unpack(raw, "meta", "default")) if raw is not None else "v1"


def save_default(txn: Txn, version: str) -> None:
    txn.put("meta", b"default", pack(version))


# ------------------------------------------------------------------------------------ bindings


def own_binding(txn: Txn, version: str, name: str) -> str | None:
    """``name``'s own entry in ``version``: a hash, "" (unbound here) or None (inherits)."""
    raw = txn.get("bind", key(version, name))
    return None if raw is None else raw.decode()


def set_own_binding(txn: Txn, version: str, name: str, new: str | None) -> str | None:
    """Set ``name``'s own entry in ``version`` (hash, "" or None); returns the old one."""
    k = key(version, name)
    raw = txn.get("bind", k)
    old = None if raw is None else raw.decode()
    if old == new:
        return old
    if old:
        txn.delete("byhash", key(old, version, name))
    if new is None:
        txn.delete("bind", k)
    else:
        txn.put("bind", k, new.encode())
        if new:
            txn.put("byhash", key(new, version, name), b"")
            txn.put("leaf", key(name.rpartition(".")[2], name), b"")
    return old


def own_bindings(txn: Txn, version: str, prefix: str = "") -> dict[str, str]:
    """``version``'s own entries for the names starting with ``prefix`` ("" entries included)."""
    cut = len(version.encode()) + 1
    return {k[cut:].decode(): v.decode() for k, v in txn.items("bind", key(version, prefix))}


def count_own(txn: Txn, version: str) -> int:
    return sum(1 for _ in txn.items("bind", key(version, "")))


def names_of(txn: Txn, h: str) -> list[tuple[str, str]]:
    """Every (version, name) whose own entry is hash ``h``."""
    out = []
    for k, _ in txn.items("byhash", key(h, "")):
        _h, version, name = k.decode().split(SEP)
        out.append((version, name))
    return out


def leaf_names(txn: Txn, leaf: str) -> list[str]:
    """Every name ever bound whose last part is ``leaf``."""
    return [k.decode().partition(SEP)[2] for k, _ in txn.items("leaf", key(leaf, ""))]


def all_leaves(txn: Txn) -> set[str]:
    return {k.decode().partition(SEP)[0] for k, _ in txn.items("leaf")}


def own_module(txn: Txn, version: str, module: str) -> str | None:
    raw = txn.get("modbind", key(version, module))
    return None if raw is None else raw.decode()


def set_own_module(txn: Txn, version: str, module: str, new: str | None) -> str | None:
    k = key(version, module)
    raw = txn.get("modbind", k)
    old = None if raw is None else raw.decode()
    if old != new:
        if new is None:
            txn.delete("modbind", k)
        else:
            txn.put("modbind", k, new.encode())
    return old


def own_modules(txn: Txn, version: str) -> dict[str, str]:
    cut = len(version.encode()) + 1
    return {k[cut:].decode(): v.decode() for k, v in txn.items("modbind", key(version, ""))}


def own_move(txn: Txn, version: str, name: str) -> str | None:
    """Where ``name`` was moved to in ``version`` itself: a full name, "" (a parent's move undone here) or
    None (inherits)."""
    raw = txn.get("moved", key(version, name))
    return None if raw is None else raw.decode()


def set_own_move(txn: Txn, version: str, name: str, new: str | None) -> str | None:
    k = key(version, name)
    raw = txn.get("moved", k)
    old = None if raw is None else raw.decode()
    if old != new:
        if new is None:
            txn.delete("moved", k)
        else:
            txn.put("moved", k, new.encode())
    return old


def own_moves(txn: Txn, version: str) -> dict[str, str]:
    cut = len(version.encode()) + 1
    return {k[cut:].decode(): v.decode() for k, v in txn.items("moved", key(version, ""))}


# ----------------------------------------------------------------------------------------- log


def last_seq(txn: Txn) -> int:
    found = txn.last("log")
    return seq_of(found[0]) if found is not None else 0


def append_events(txn: Txn, events: Sequence[dict[str, Any]], *, cause: str, now: float,
                  undoes: int | None = None) -> list[NamespaceEvent]:
    """Append the events of one command (one ``op``) to the log; returns them as stored."""
    seq = last_seq(txn)
    op = seq + 1
    out = []
    for ev in events:
        seq += 1
        rec = NamespaceEvent(seq, now, op, ev["kind"], ev["version"], ev["name"], ev["old"], ev["new"], cause, undoes)
        txn.put("log", seq_key(seq), pack(rec.to_stored()))
        out.append(rec)
    return out


def events(txn: Txn, *, reverse: bool = False) -> Iterator[NamespaceEvent]:
    """The log, oldest first (``reverse``: newest first)."""
    for k, raw in txn.items("log", reverse=reverse):
        rec = unpack(raw, "log", k)
        if isinstance(rec, dict):
            yield NamespaceEvent.from_stored(rec)
