"""Definitions and what comes with them: their records, their sources as last added, the exact texts
programs run, compiled code, and the reverse dependency index.

Rule: ``load_*`` may find nothing (None); ``expect_*`` must find it (a :class:`StoreCorruptError` naming
what is missing: it is bound, or a program refers to it, so a store without it is damaged); ``save_*``
writes. Definitions and texts are immutable by hash: saving one that exists writes nothing.

==============  ================================================================================
``defs``        hash -> immutable record (``records.DefinitionRecord``)
``src``         hash -> the source as last added (``records.SourceRecord``): metadata, replaced by a
                later add of the same hash (a comment edit)
``texts``       text digest -> the exact text of a statement (what runs)
``code``        ``runtime.code_key(...)`` -> marshalled code: compiled once per Python
``dependents``  ``dep-name \\0 hash`` -> "" (reverse dependency index)
==============  ================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator

from ucode import hashing
from ucode.errors import StoreCorruptError, StoreIntegrityError
from ucode.records import DefinitionRecord, SourceRecord
from ucode.store._backend import SEP, Txn, key, load_map, pack

__all__ = [
    "dependents", "drop_code", "expect_definition", "expect_source", "expect_text", "has_definition",
    "hashes_with_prefix", "iter_code", "iter_definitions", "load_code", "load_definition", "load_source",
    "load_text", "save_code", "save_definition", "save_source", "save_text",
]


def load_definition(txn: Txn, h: str) -> DefinitionRecord | None:
    rec = load_map(txn, "defs", h)
    return None if rec is None else DefinitionRecord.from_stored(rec)


def expect_definition(txn: Txn, h: str) -> DefinitionRecord:
    found = load_definition(txn, h)
    if found is None:
        raise StoreCorruptError(f"definition {hashing.short(h)} is bound but not stored",
                                hint="rebind the name to a stored hash (ucode bind) or add its source again")
    return found


def has_definition(txn: Txn, h: str) -> bool:
    return txn.get("defs", h.encode()) is not None


def save_definition(txn: Txn, h: str, rec: DefinitionRecord) -> None:
    """Store a new definition and index its dependencies (``dependents``)."""
    txn.put("defs", h.encode(), pack(rec.to_stored()))
    for dep in rec.deps:
        txn.put("dependents", key(dep, h), b"")


def iter_definitions(txn: Txn) -> Iterator[tuple[str, bytes]]:
    """Every stored definition: (hash, its raw record), for ``verify`` to decode one by one."""
    for k, raw in txn.items("defs"):
        yield k.decode(), raw


def hashes_with_prefix(txn: Txn, prefix: str, limit: int = 9) -> list[str]:
    out = []
    for k, _ in txn.items("defs", prefix.encode()):
        out.append(k.decode())
        if len(out) >= limit:
            break
    return out


def dependents(txn: Txn, name: str) -> list[str]:
    """The hashes of the definitions that name ``name`` as a dependency."""
    return [k.decode().split(SEP)[1] for k, _ in txn.items("dependents", key(name, ""))]


def load_source(txn: Txn, h: str) -> SourceRecord | None:
    rec = load_map(txn, "src", h)
    return None if rec is None else SourceRecord.from_stored(rec)


def expect_source(txn: Txn, h: str) -> SourceRecord:
    found = load_source(txn, h)
    if found is None:
        raise StoreCorruptError(f"the source of definition {hashing.short(h)} is not stored",
                                hint="add its file again, or run ucode verify")
    return found


def save_source(txn: Txn, h: str, src: SourceRecord) -> None:
    txn.put("src", h.encode(), pack(src.to_stored()))


def load_text(txn: Txn, digest: str) -> str | None:
    raw = txn.get("texts", digest.encode())
    return None if raw is None else raw.decode("utf-8")


def expect_text(txn: Txn, digest: str) -> str:
    """The text with this digest, checked: a text that does not hash to its key is refused."""
    found = load_text(txn, digest)
    if found is None:
        raise StoreCorruptError(f"the text {digest[:10]} of a stored statement is missing",
                                hint="add the module again (ucode add PATH), or run ucode verify")
    if hashing.text_digest(found) != digest:
        raise StoreIntegrityError(f"the text {digest[:10]} of a stored statement", f"texts/{digest[:10]}",
                                  hint="add the module's file again (ucode add PATH): the text is stored anew")
    return found


def save_text(txn: Txn, digest: str, text: str) -> None:
    if txn.get("texts", digest.encode()) is None:
        txn.put("texts", digest.encode(), text.encode("utf-8"))


_CODE_MAGIC = b"ucc1"  # a cached code entry: magic, blake3(key NUL code) (32 bytes), the marshalled code


def _code_digest(code_key: str, blob: bytes) -> bytes:
    import blake3

    hasher = blake3.blake3(code_key.encode() + b"\0")
    hasher.update(blob)  # the blob is not copied into a concatenation first
    return hasher.digest()


def load_code(txn: Txn, code_key: str) -> bytes | None:
    """The marshalled code cached under ``code_key``, checked against the digest stored with it (which
    covers the key too: an entry moved from another key is refused). None when nothing is cached, or the
    entry was written before entries carried a digest (it is compiled again, and saved with one)."""
    raw = txn.get("code", code_key.encode())
    if raw is None or not raw.startswith(_CODE_MAGIC):
        return None
    blob = raw[len(_CODE_MAGIC) + 32:]
    if raw[len(_CODE_MAGIC):len(_CODE_MAGIC) + 32] != _code_digest(code_key, blob):
        raise StoreIntegrityError(f"cached compiled code ({code_key.split(' ')[0]} "
                                  f"{hashing.short(code_key.split(' ')[1])})", f"code/{code_key}",
                                  hint="`ucode verify --repair` drops damaged cache entries (the code is compiled "
                                       "again from its source on the next run)")
    return blob


def save_code(txn: Txn, code_key: str, blob: bytes) -> None:
    txn.put("code", code_key.encode(), _CODE_MAGIC + _code_digest(code_key, blob) + blob)


def iter_code(txn: Txn) -> Iterator[tuple[str, bytes]]:
    """Every cached code entry: (key, raw stored value), for ``verify``."""
    for k, raw in txn.items("code"):
        yield k.decode(), raw


def drop_code(txn: Txn, code_key: str) -> None:
    txn.delete("code", code_key.encode())
