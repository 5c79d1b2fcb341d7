"""The store: every table ucode keeps, in one backend, read and written in transactions.

Rule: this is the only package that imports lmdb. Every other layer reads and writes through a
transaction (``with store.read() as txn`` / ``store.write()``) and the table modules' functions over it,
grouped by what they hold: :mod:`.definitions` (definitions, sources, texts, compiled code),
:mod:`.names` (versions, bindings of names and modules, the namespace log), :mod:`.modules` (programs,
modules, files), :mod:`.tasks` (tasks, their events, overrides), :mod:`.state` (world state) and
:mod:`.settings`. One naming convention: ``load_X`` (may be missing: None), ``expect_X`` (must exist: a
clear error), ``save_X``. The schema, and the numbered steps that upgrade an older store, are
:mod:`._schema`'s. Two backends: LMDB on disk (:mod:`._lmdb`) and memory (:mod:`._memory`), which one
contract test (``tests/store/test_contract.py``) runs against.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ucode.store._backend import Backend, Txn
from ucode.store._schema import SCHEMA_VERSION, TABLES

__all__ = ["SCHEMA_VERSION", "TABLES", "Store", "Txn"]


class Store:
    """A store's tables in a backend. Open one with :meth:`open` (a directory, LMDB) or :meth:`memory`."""

    def __init__(self, backend: Backend, path: Path | None, clock: Callable[[], float]) -> None:
        self.backend = backend
        self.path = path
        self.clock = clock
        self._secret_key: bytes | None = None

    @classmethod
    def open(cls, path: Path, *, clock: Callable[[], float] = time.time) -> Store:
        """The LMDB store in directory ``path`` (created, and initialized, when new); checked and upgraded
        to this ucode's schema when older, refused (untouched) when newer."""
        from ucode.store._lmdb import LmdbBackend
        from ucode.store._schema import prepare

        backend = LmdbBackend(path, TABLES, lambda txn: prepare(txn, str(path), clock))
        return cls(backend, path, clock)

    @classmethod
    def memory(cls, *, clock: Callable[[], float] = time.time) -> Store:
        """A new, empty store in memory."""
        from ucode.store._memory import MemoryBackend
        from ucode.store._schema import prepare

        backend = MemoryBackend(TABLES)
        with backend.write() as txn:
            prepare(txn, ":memory:", clock)
        return cls(backend, None, clock)

    def read(self) -> contextlib.AbstractContextManager[Txn]:
        """A read transaction: one consistent state of every table."""
        return self.backend.read()

    def write(self) -> contextlib.AbstractContextManager[Txn]:
        """A write transaction: everything in it lands, or (on an exception) nothing does."""
        return self.backend.write()

    def close(self) -> None:
        self.backend.close()

    def info(self) -> dict[str, Any]:
        return self.backend.info()

    def count(self, table: str) -> int:
        with self.read() as txn:
            return txn.count(table)

    def secret_key(self) -> bytes:
        """The key of secret effects' digests (:mod:`.secrets`): ``UCODE_SECRET_KEY``, else the store's key
        file (created on first use, 0600), else (in memory) a random one; read once."""
        if self._secret_key is None:
            from ucode.store.secrets import load_key

            self._secret_key = load_key(self.path)
        return self._secret_key
