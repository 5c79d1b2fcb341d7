"""One contract, every backend: what the store promises (tables of bytes in byte order, transactions that
land whole or not at all, reads that see one state) holds for LMDB on disk and for memory alike; and a
codebase behaves the same on either. (As dulwich runs one object-store test against every store.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES, FakeClock
from ucode.codebase import Codebase
from ucode.store import SCHEMA_VERSION, TABLES, Store
from ucode.store import names as stored_names
from ucode.store._backend import pack, unpack

BACKENDS = ["lmdb", "memory"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "s", clock=FakeClock()) if request.param == "lmdb" else Store.memory(clock=FakeClock())
    yield s
    s.close()


def test_a_new_store_is_initialized_in_the_transaction_that_opens_it(store: Store) -> None:
    with store.read() as txn:
        assert unpack(txn.get("meta", b"schema") or b"", "meta", "schema") == SCHEMA_VERSION
        assert stored_names.load_default(txn) == "v1"
        assert stored_names.version_names(txn) == ["v1"]
        assert [e.kind for e in stored_names.events(txn)] == ["version"]
        assert {t: txn.count(t) for t in TABLES if txn.count(t)} == {"meta": 2, "versions": 1, "log": 1}


def test_put_get_delete(store: Store) -> None:
    with store.write() as txn:
        txn.put("texts", b"a", b"1")
        txn.put("texts", b"b", b"2")
        assert txn.get("texts", b"a") == b"1"  # a write sees its own writes
        assert txn.delete("texts", b"b") is True
        assert txn.delete("texts", b"nope") is False
    with store.read() as txn:
        assert txn.get("texts", b"a") == b"1" and txn.get("texts", b"b") is None
        assert txn.count("texts") == 1 and txn.last("texts") == (b"a", b"1")
        assert txn.last("code") is None


def test_a_write_that_raises_leaves_nothing(store: Store) -> None:
    with store.write() as txn:
        txn.put("texts", b"kept", b"1")
    with pytest.raises(ZeroDivisionError), store.write() as txn:
        txn.put("texts", b"lost", b"2")
        txn.delete("texts", b"kept")
        raise ZeroDivisionError
    with store.read() as txn:
        assert list(txn.items("texts")) == [(b"kept", b"1")]


def test_a_read_keeps_seeing_the_state_it_began_with(store: Store) -> None:
    with store.write() as txn:
        txn.put("texts", b"k", b"old")
    with store.read() as before:
        with store.write() as txn:
            txn.put("texts", b"k", b"new")
            txn.put("texts", b"k2", b"x")
        assert before.get("texts", b"k") == b"old"
        assert list(before.items("texts")) == [(b"k", b"old")]
    with store.read() as after:
        assert after.get("texts", b"k") == b"new"


_KEY = st.binary(min_size=0, max_size=4).map(lambda b: bytes(x % 4 * 85 for x in b))  # bytes 0x00 0x55 0xaa 0xff


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.sets(_KEY, max_size=12), prefix=_KEY)
def test_items_are_the_keys_with_the_prefix_in_byte_order(store: Store, keys: set[bytes], prefix: bytes) -> None:
    with store.write() as txn:  # each example starts from an empty table
        for k, _ in list(txn.items("code")):
            txn.delete("code", k)
        for k in keys:
            if k:  # LMDB refuses empty keys
                txn.put("code", k, k[::-1])
    expected = sorted((k, k[::-1]) for k in keys if k and k.startswith(prefix))
    with store.read() as txn:
        assert list(txn.items("code", prefix)) == expected
        assert list(txn.items("code", prefix, reverse=True)) == expected[::-1]
        assert txn.last("code") == (max((k for k in keys if k), default=None) and
                                    (max(k for k in keys if k), max(k for k in keys if k)[::-1]))


def test_values_are_msgpack_and_a_damaged_one_names_its_table_and_key(store: Store) -> None:
    from ucode.errors import StoreCorruptError

    with store.write() as txn:
        txn.put("tasks", b"t1", pack({"id": "t1"}))
        txn.put("tasks", b"t2", b"\xc1 not msgpack")
    with store.read() as txn:
        assert unpack(txn.get("tasks", b"t1") or b"", "tasks", b"t1") == {"id": "t1"}
        with pytest.raises(StoreCorruptError, match="table 'tasks' at key 't2'"):
            unpack(txn.get("tasks", b"t2") or b"", "tasks", b"t2")


def _same_work(cb: Codebase) -> dict[str, object]:
    """Add, rebind, run and undo: everything a user sees, as data."""
    cb.add([EXAMPLES / "app.py"])
    cb.bind("lookupUser@v2", "#" + cb.resolve("lookupUser"), create=True)
    result = cb.run("handleRequest", {"user_id": 1})
    cb.undo()
    return {"names": cb.bindings(), "versions": [(v.name, v.parent) for v in cb.versions()],
            "history": [(e.kind, e.version, e.name, e.old, e.new, e.cause) for e in cb.history()],
            "result": result, "ok": cb.verify().ok, "tasks": [t["status"] for t in cb.task_list()],
            "at": cb.bindings(at=2)}


def test_a_codebase_behaves_the_same_on_either_backend(tmp_path: Path) -> None:
    on_disk = Codebase(tmp_path / "s", clock=FakeClock())
    in_memory = Codebase.in_memory(clock=FakeClock())
    try:
        assert _same_work(on_disk) == _same_work(in_memory)
    finally:
        on_disk.close()
        in_memory.close()


@pytest.mark.parametrize("crash_after", [1, 3])
def test_a_write_that_never_finishes_leaves_nothing_in_memory(crash_after: int) -> None:
    """The memory backend's fault injection (LMDB's is a killed process: tests/store/test_store.py)."""
    from ucode.store._memory import _SimulatedCrash

    store = Store.memory()
    backend: object = store.backend
    with store.read() as txn:
        before = {t: list(txn.items(t)) for t in TABLES}
    backend._crash_after = crash_after  # type: ignore[attr-defined]
    with contextlib.suppress(_SimulatedCrash), store.write() as txn:
        for i in range(5):
            txn.put("texts", f"k{i}".encode(), b"v")
    with store.read() as txn:
        assert {t: list(txn.items(t)) for t in TABLES} == before

