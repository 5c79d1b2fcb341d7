"""The in-memory backend: the same tables and transactions as LMDB, in dicts (for tests, and for stores
that need no disk).

Rule: committed tables are never changed in place. A write transaction works on copies of the tables it
touches and publishes them whole when it commits, so a read transaction keeps seeing the state it began
with (as LMDB's MVCC does) and an aborted write leaves nothing behind.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["MemoryBackend"]


class _Table:
    """An immutable-once-committed table: a dict, with its keys sorted on first ordered read."""

    __slots__ = ("_sorted", "data")

    def __init__(self, data: dict[bytes, bytes]) -> None:
        self.data = data
        self._sorted: list[bytes] | None = None

    def keys_sorted(self) -> list[bytes]:
        if self._sorted is None:
            self._sorted = sorted(self.data)
        return self._sorted


class _MemoryTxn:
    def __init__(self, backend: MemoryBackend, tables: dict[str, _Table], write: bool) -> None:
        self._backend = backend
        self._tables = tables
        self._copies: dict[str, dict[bytes, bytes]] = {}
        self.write = write

    def _read(self, table: str) -> _Table:
        if table in self._copies:
            return _Table(self._copies[table])
        return self._tables[table]

    def _writable(self, table: str) -> dict[bytes, bytes]:
        if not self.write:
            raise RuntimeError("a read transaction cannot write")
        found = self._copies.get(table)
        if found is None:
            found = self._copies[table] = dict(self._tables[table].data)
        return found

    def get(self, table: str, key: bytes) -> bytes | None:
        if table in self._copies:
            return self._copies[table].get(key)
        return self._tables[table].data.get(key)

    def put(self, table: str, key: bytes, value: bytes) -> None:
        self._writable(table)[bytes(key)] = bytes(value)
        self._backend.wrote()

    def delete(self, table: str, key: bytes) -> bool:
        data = self._writable(table)
        return data.pop(key, None) is not None

    def items(self, table: str, prefix: bytes = b"", *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        t = self._read(table)
        keys = t.keys_sorted()
        lo = bisect.bisect_left(keys, prefix)
        hi = len(keys)
        if prefix:
            hi = lo
            while hi < len(keys) and keys[hi].startswith(prefix):
                hi += 1
        chosen = keys[lo:hi]
        for k in reversed(chosen) if reverse else chosen:
            yield k, t.data[k]

    def last(self, table: str) -> tuple[bytes, bytes] | None:
        t = self._read(table)
        keys = t.keys_sorted()
        return (keys[-1], t.data[keys[-1]]) if keys else None

    def count(self, table: str) -> int:
        return len(self._read(table).data)

    def committed(self) -> dict[str, _Table]:
        return {**self._tables, **{t: _Table(d) for t, d in self._copies.items()}}


class MemoryBackend:
    """Tables in memory, one lock for writers, snapshot reads."""

    def __init__(self, tables: tuple[str, ...]) -> None:
        self._tables: dict[str, _Table] = {t: _Table({}) for t in tables}
        self._lock = threading.RLock()
        self._txnid = 0
        self._crash_after: int | None = None
        self._writes = 0

    def wrote(self) -> None:
        self._writes += 1
        if self._crash_after is not None and self._writes >= self._crash_after:
            raise _SimulatedCrash(self._writes)

    @contextlib.contextmanager
    def read(self) -> Iterator[_MemoryTxn]:
        yield _MemoryTxn(self, self._tables, False)

    @contextlib.contextmanager
    def write(self) -> Iterator[_MemoryTxn]:
        with self._lock:
            txn = _MemoryTxn(self, self._tables, True)
            yield txn  # an exception here aborts: the copies are dropped
            self._tables = txn.committed()
            self._txnid += 1

    def close(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return {"bytes": 0, "last_txnid": self._txnid}


class _SimulatedCrash(BaseException):
    """Fault injection for the contract tests: a write that never finishes (BaseException: nothing
    catches it on the way out)."""
