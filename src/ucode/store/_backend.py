"""What a backend is: named tables of bytes keys and bytes values, read and written in transactions.

Rule: a backend knows keys and values as bytes and nothing of what they mean; the table modules
(:mod:`.definitions`, :mod:`.names`, ...) know what they mean and nothing of the backend. A read
transaction sees one consistent state of every table; a write transaction lands whole or not at all (an
exception inside it aborts it). Keys iterate in byte order.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from typing import Any, Protocol

import msgpack

from ucode.errors import StoreCorruptError

__all__ = ["SEP", "Backend", "Txn", "key", "load_map", "pack", "seq_key", "seq_of", "unpack"]

SEP = "\0"


class Txn(Protocol):
    """One transaction over the tables."""

    write: bool

    def get(self, table: str, key: bytes) -> bytes | None: ...

    def put(self, table: str, key: bytes, value: bytes) -> None: ...

    def delete(self, table: str, key: bytes) -> bool: ...

    def items(self, table: str, prefix: bytes = b"", *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of the keys starting with ``prefix``, in byte order (``reverse``: descending)."""

    def last(self, table: str) -> tuple[bytes, bytes] | None:
        """The (key, value) with the greatest key, or None for an empty table."""

    def count(self, table: str) -> int: ...


class Backend(Protocol):
    """Where the tables live: an LMDB environment (:mod:`._lmdb`) or memory (:mod:`._memory`)."""

    def read(self) -> contextlib.AbstractContextManager[Txn]: ...

    def write(self) -> contextlib.AbstractContextManager[Txn]: ...

    def close(self) -> None: ...

    def info(self) -> dict[str, Any]:
        """``bytes`` (size on disk, 0 in memory) and ``last_txnid`` (moves only when something was
        written)."""


def key(*parts: str) -> bytes:
    """A key made of parts (``version \\0 name``)."""
    return SEP.join(parts).encode("utf-8")


def seq_key(seq: int) -> bytes:
    """A sequence number as a key that sorts numerically (8-byte big-endian)."""
    return struct.pack(">Q", seq)


def seq_of(raw: bytes) -> int:
    return int(struct.unpack(">Q", raw[-8:])[0])


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(raw: bytes, table: str, k: bytes | str) -> Any:
    """Decode a stored value; a value that does not decode is a :class:`StoreCorruptError` naming where."""
    try:
        return msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except Exception:  # msgpack raises several unrelated types on bad data
        shown = k.decode("utf-8", "replace") if isinstance(k, bytes) else k
        raise StoreCorruptError(
            f"corrupt record in table {table!r} at key {shown!r}",
            hint="`ucode verify` lists damaged records; restore the store from a backup",
        ) from None


def load_map(txn: Txn, table: str, k: str) -> dict[str, Any] | None:
    """The stored map at ``k`` in ``table``, decoded (None: no such key)."""
    raw = txn.get(table, k.encode())
    if raw is None:
        return None
    rec = unpack(raw, table, k)
    return rec if isinstance(rec, dict) else None
