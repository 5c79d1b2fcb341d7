"""The LMDB backend: one environment per store directory, one named database per table.

Rule: this module (with :mod:`ucode.store` around it) is the only code that imports lmdb. LMDB gives the
guarantees the store promises: a write transaction is durable when it commits and absent when it does not
(a process killed mid-write leaves the store as it was), readers see one consistent snapshot and never
block writers. One environment handle per file per process (LMDB's rule): stores opened twice share it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import lmdb

from ucode.errors import (
    StoreCorruptError,
    StoreDamagedError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
    UcodeError,
)

__all__ = ["LmdbBackend"]

_MAP_SIZE = 1 << 36  # address space, not disk: LMDB files grow as needed
_ENVS: dict[str, list[Any]] = {}  # real path -> [environment, open count]
_ENVS_LOCK = threading.Lock()


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _damage(path: Path) -> str | None:
    """Why the data file of the store at ``path`` cannot be an LMDB environment, checked before LMDB maps
    it (a truncated file would kill the process with SIGBUS on the first read past its end), or None."""
    data = path / "data.mdb"
    if not data.exists() and not data.is_symlink():
        return None  # a new store
    if not data.is_file():
        return "data.mdb is not a regular file"
    size = data.stat().st_size
    if size < 2 * _PAGE:
        return f"data.mdb is {size} bytes, smaller than LMDB's two meta pages ({2 * _PAGE} bytes)"
    return None


def _truncated(env: lmdb.Environment, path: Path) -> str | None:
    """Whether the data file is shorter than the pages the meta page says are in use."""
    need = (int(env.info()["last_pgno"]) + 1) * int(env.stat()["psize"])
    size = (path / "data.mdb").stat().st_size
    if size < need:
        return f"data.mdb is {size} bytes but its pages need {need} (truncated?)"
    return None


def _denied(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, (lmdb.ReadonlyError, PermissionError)) or "Permission denied" in text or (
        "Read-only file system" in text)


def _acquire(path: Path, tables: int) -> tuple[lmdb.Environment, bool]:
    """The shared environment of the store at ``path`` and whether it is read-only: opened for writing,
    else (its files or its file system refuse writes) for reading only, without LMDB's lock file."""
    k = os.path.realpath(path)
    with _ENVS_LOCK:
        entry = _ENVS.get(k)
        if entry is None:
            damaged = _damage(path)
            if damaged is not None:
                raise StoreDamagedError(str(path), damaged)
            readonly = False
            try:
                env = lmdb.open(k, map_size=_MAP_SIZE, max_dbs=tables + 2, subdir=True, readahead=False,
                                mode=0o600)
            except lmdb.Error as exc:
                if not (_denied(exc) and (path / "data.mdb").exists()):
                    raise
                env = lmdb.open(k, map_size=_MAP_SIZE, max_dbs=tables + 2, subdir=True, readahead=False,
                                readonly=True, lock=False)
                readonly = True
            truncated = _truncated(env, path)
            if truncated is not None:
                env.close()
                raise StoreDamagedError(str(path), truncated)
            entry = _ENVS[k] = [env, 0, readonly]
        entry[1] += 1
        return cast("lmdb.Environment", entry[0]), bool(entry[2])


def _release(path: Path) -> None:
    k = os.path.realpath(path)
    with _ENVS_LOCK:
        entry = _ENVS.get(k)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _ENVS[k]
            entry[0].close()


def _after_prefix(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: there is none, the keys
    starting with an all-0xff prefix are the greatest)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _free(path: Path) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


class _LmdbTxn:
    __slots__ = ("_backend", "_dbs", "_txn", "write")

    def __init__(self, backend: LmdbBackend, txn: lmdb.Transaction, write: bool) -> None:
        self._backend = backend
        self._txn = txn
        self._dbs = backend.dbs
        self.write = write

    def get(self, table: str, key: bytes) -> bytes | None:
        return cast("bytes | None", self._txn.get(key, db=self._dbs[table]))

    def put(self, table: str, key: bytes, value: bytes) -> None:
        self._txn.put(key, value, db=self._dbs[table])
        self._backend.wrote()

    def delete(self, table: str, key: bytes) -> bool:
        return bool(self._txn.delete(key, db=self._dbs[table]))

    def items(self, table: str, prefix: bytes = b"", *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        # Values are bytes, never memoryviews: no cursor is opened with buffers=True.
        cur = self._txn.cursor(db=self._dbs[table])
        if reverse:
            if prefix:
                # the last key starting with prefix: step back from the first key after all of them
                upper = _after_prefix(prefix)
                positioned = cur.set_range(upper) if upper is not None else False
                if positioned:
                    if not cur.prev():
                        return
                elif not cur.last():
                    return
            elif not cur.last():
                return
            for k, v in cast("Iterator[tuple[bytes, bytes]]", cur.iterprev()):
                if not k.startswith(prefix):
                    return
                yield k, v
            return
        if not cur.set_range(prefix):
            return
        for k, v in cast("Iterator[tuple[bytes, bytes]]", cur):
            if not k.startswith(prefix):
                return
            yield k, v

    def last(self, table: str) -> tuple[bytes, bytes] | None:
        cur = self._txn.cursor(db=self._dbs[table])
        if not cur.last():
            return None
        return cast("bytes", cur.key()), cast("bytes", cur.value())

    def count(self, table: str) -> int:
        return int(self._txn.stat(self._dbs[table])["entries"])


class LmdbBackend:
    """A store directory's LMDB environment. ``prepare(txn)`` runs in the write transaction that opens
    the tables (checking and upgrading the schema, initializing a new store): if it raises, nothing of the
    opening is kept, and the store is left exactly as it was."""

    def __init__(self, path: Path, tables: tuple[str, ...], prepare: Callable[[Any], None]) -> None:
        self.path = path
        crash = os.environ.get("UCODE_CRASH_AFTER_WRITES")
        self._crash_after = int(crash) if crash else None  # fault injection for crash-safety tests
        full = os.environ.get("UCODE_DISK_FULL_AFTER_WRITES")
        self._full_after = int(full) if full else None  # fault injection: the disk fills up mid-write
        self._writes = 0
        new = not (path / "data.mdb").exists()
        try:
            if new:
                path.mkdir(parents=True, exist_ok=True, mode=0o700)  # the log holds user data: owner only
            elif not path.is_dir():
                raise StoreDamagedError(str(path), "it is not a directory")
            self._env, self.readonly = _acquire(path, len(tables))
        except UcodeError:
            raise
        except (OSError, lmdb.Error) as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}",
                             hint="check the path and its permissions") from None
        self.dbs: dict[str, Any] = {}
        try:
            if self.readonly:  # tables that exist can be opened without writing (each in a read txn)
                self.dbs = {name: self._env.open_db(name.encode(), create=False) for name in tables}
                with self._env.begin() as txn:
                    prepare(_LmdbTxn(self, txn, False))
            else:
                with self._env.begin(write=True) as txn:
                    self.dbs = {name: self._env.open_db(name.encode(), txn=txn) for name in tables}
                    prepare(_LmdbTxn(self, txn, True))
        except (lmdb.MapFullError, lmdb.DiskError) as exc:
            _release(path)
            raise StoreFullError(str(path), _free(path), str(exc).split(": ")[-1]) from None
        except lmdb.NotFoundError:
            _release(path)
            raise StoreReadOnlyError(str(path), "it was written by an older ucode and needs an upgrade, which "
                                                "writes") from None
        except lmdb.Error as exc:
            _release(path)
            raise StoreCorruptError(f"the store at {path} cannot be read: {exc}",
                                    hint="restore it from a backup; ucode verify reports damaged records") from None
        except (UcodeError, KeyError):
            _release(path)
            raise
        self._closed = False

    def wrote(self) -> None:
        self._writes += 1
        if self._crash_after is not None and self._writes >= self._crash_after:
            os._exit(86)  # simulate a crash in the middle of a write transaction
        if self._full_after is not None and self._writes >= self._full_after:
            raise lmdb.MapFullError("mdb_put: MDB_MAP_FULL: Environment mapsize limit reached (fault injection)")

    @contextlib.contextmanager
    def read(self) -> Iterator[_LmdbTxn]:
        with self._env.begin() as txn:
            yield _LmdbTxn(self, txn, False)

    @contextlib.contextmanager
    def write(self) -> Iterator[_LmdbTxn]:
        if self.readonly:
            raise StoreReadOnlyError(str(self.path))
        try:
            with self._env.begin(write=True) as txn:
                yield _LmdbTxn(self, txn, True)
        except (lmdb.MapFullError, lmdb.DiskError) as exc:  # the transaction was aborted: nothing landed
            raise StoreFullError(str(self.path), _free(self.path), str(exc).split(": ")[-1]) from None
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            raise StoreFullError(str(self.path), _free(self.path), exc.strerror or "no space left") from None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _release(self.path)

    def info(self) -> dict[str, Any]:
        data = self.path / "data.mdb"
        return {"bytes": data.stat().st_size if data.exists() else 0, "last_txnid": self._env.info()["last_txnid"]}
