"""Nothing runs that is not what its hash says: a text, a program record or a cached code object altered in
the store is refused at load (a clean error naming it and the fix), ``verify`` finds it, and ``verify
--repair`` drops damaged cache entries, which are compiled again from their verified source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lmdb
import msgpack
import pytest
from typer.testing import CliRunner

from tests.conftest import Write
from ucode import errors
from ucode.cli import app
from ucode.codebase import SCHEMA_VERSION, Codebase


def _alter(store: Path, table: str, change: Callable[[bytes, bytes], bytes | None]) -> int:
    """Rewrite the values of ``table`` (``change(key, value)`` -> new value, None: leave it); how many."""
    env = lmdb.open(str(store), max_dbs=30)
    db = env.open_db(table.encode())
    n = 0
    with env.begin(write=True) as txn:
        for k, v in list(txn.cursor(db=db)):
            new = change(k, v)
            if new is not None:
                txn.put(k, new, db=db)
                n += 1
    env.close()
    return n


def _flip(_k: bytes, v: bytes) -> bytes:
    b = bytearray(v)
    b[len(b) // 2] ^= 0x01
    return bytes(b)


@pytest.fixture
def ran(store: Path, write: Write) -> Path:
    with Codebase(store) as cb:
        cb.add([write("m.py", "def f():\n    return 'original'\n")])
        assert cb.run("f") == "original"  # compiles and caches the program's code
    return store


def test_a_flipped_bit_in_cached_code_is_refused_and_repaired(ran: Path) -> None:
    assert _alter(ran, "code", _flip) == 1
    with Codebase(ran) as cb, pytest.raises(errors.StoreIntegrityError, match=r"cached compiled code \(program"):
        cb.run("f")
    with Codebase(ran) as cb:
        found = cb.verify()
        assert not found.ok and "cached compiled code" in found.problems[0]["problem"]
        fixed = cb.verify(repair=True)
        assert fixed.ok and len(fixed.repaired) == 1
        assert cb.run("f") == "original"  # compiled again from the verified text
        assert cb.verify().ok


def test_cached_code_replaced_with_other_code_is_refused(ran: Path, write: Write, store: Path) -> None:
    """An entry moved from another key (valid code, a valid digest for *its* key) is refused: the digest
    covers the key."""
    with Codebase(store) as cb:
        cb.add([write("evil.py", "def f():\n    return 'planted'\n")])
        assert cb.run("evil.f") == "planted"
        with cb.store.read() as txn:
            from ucode.namespace import StoredNamespace

            mine = StoredNamespace(txn).module("v1", "m")
    assert mine is not None
    env = lmdb.open(str(store), max_dbs=30)
    db = env.open_db(b"code")
    with env.begin(write=True) as txn:
        entries = dict(txn.cursor(db=db))
        target = next(k for k in entries if k.split(b" ")[:2] == [b"program", mine.encode()])
        other = next(k for k in entries if k.startswith(b"program") and k != target)
        txn.put(target, entries[other], db=db)
    env.close()
    with Codebase(store) as cb:
        with pytest.raises(errors.StoreIntegrityError):
            cb.run("m.f")
        assert not cb.verify().ok


def test_cached_code_that_matches_its_digest_but_not_its_source_is_found_by_verify(ran: Path) -> None:
    """Someone who rewrites an entry *and* its digest makes code that loads: verify compiles the source
    again and finds it (run does not recompile on every load: that is what the cache saves)."""
    import marshal

    from ucode.store import definitions

    def plant(k: bytes, _v: bytes) -> bytes:
        code = compile("def f():\n    return 'planted'\n", marshal.loads(_v[36:]).co_filename, "exec")
        blob = marshal.dumps(code)
        return b"ucc1" + definitions._code_digest(k.decode(), blob) + blob

    assert _alter(ran, "code", plant) == 1
    with Codebase(ran) as cb:
        found = cb.verify()
        assert [p["problem"] for p in found.problems] == [
            "cached code that is not what its source compiles to (altered in the store?)"]
        assert cb.verify(repair=True).ok
        assert cb.run("f") == "original"


def test_an_edited_text_is_refused(ran: Path) -> None:
    def edit(k: bytes, v: bytes) -> bytes | None:
        return v.replace(b"original", b"tampered") if b"original" in v else None

    _alter(ran, "code", lambda k, v: b"")  # no cached code: the text itself would be compiled
    assert _alter(ran, "texts", edit) == 1
    with Codebase(ran) as cb:
        with pytest.raises(errors.StoreIntegrityError, match=r"the text .* of a stored statement"):
            cb.run("f")
        assert not cb.verify().ok


def _edit_sealed(change: Callable[[list[Any]], None]) -> Callable[[bytes, bytes], bytes]:
    def edit(_k: bytes, v: bytes) -> bytes:
        rec = msgpack.unpackb(v, raw=False)
        fields = msgpack.unpackb(rec["sealed"], raw=False)  # [scheme, module, package, path, futures, rows]
        change(fields)
        rec["sealed"] = msgpack.packb(fields, use_bin_type=True)
        return msgpack.packb(rec, use_bin_type=True)  # type: ignore[no-any-return]

    return edit


@pytest.mark.parametrize("change", [
    lambda f: f.__setitem__(3, f[3] + ".elsewhere"),  # the path it runs as
    lambda f: f[5][0].__setitem__(2, 7),  # the line a statement starts at
    lambda f: f[5][0].__setitem__(1, "x" * 52),  # the text a statement runs
], ids=["path", "line", "text digest"])
def test_an_edited_program_record_is_refused(ran: Path, change: Callable[[list[Any]], None]) -> None:
    assert _alter(ran, "programs", _edit_sealed(change)) == 1
    with Codebase(ran) as cb:
        with pytest.raises(errors.StoreIntegrityError, match="the program of module m does not match") as info:
            cb.run("f")
        assert "ucode add" in (info.value.hint or "")
        assert not cb.verify().ok


def test_a_program_record_that_is_not_a_program_is_refused(ran: Path) -> None:
    assert _alter(ran, "programs", lambda _k, v: msgpack.packb({"sealed": b"\x93\x01\x02\x03", "meta": []})) == 1
    with Codebase(ran) as cb, pytest.raises(errors.StoreIntegrityError, match="the program of module"):
        cb.run("f")


def _unseal(k: bytes, v: bytes) -> bytes:
    """The record as schema 3 wrote it (every field in the map, nothing sealed)."""
    rec = msgpack.unpackb(v, raw=False)
    _scheme, module, package, path, futures, rows = msgpack.unpackb(rec.pop("sealed"), raw=False)
    meta = rec.pop("meta")
    rec.update(module=module, package=package, path=path, futures=futures,
               statements=[[*r, m[0], m[1]] for r, m in zip(rows, meta, strict=True)])
    return msgpack.packb(rec, use_bin_type=True)  # type: ignore[no-any-return]


def _set_schema(store: Path, version: int) -> None:
    _alter(store, "meta", lambda k, v: msgpack.packb(version) if k == b"schema" else None)


def test_schema_3_programs_are_sealed_on_upgrade_and_a_tampered_one_stays_refused(ran: Path, write: Write) -> None:
    with Codebase(ran) as cb:
        cb.add([write("other.py", "def g():\n    return 'other'\n")])
    assert _alter(ran, "programs", _unseal) == 2
    _set_schema(ran, 3)

    def tamper(k: bytes, v: bytes) -> bytes | None:
        return v.replace(b"m.py", b"x.py") if b"m.py" in v else None

    assert _alter(ran, "programs", tamper) == 1
    with Codebase(ran) as cb:
        assert cb.stats()["schema"] == SCHEMA_VERSION
        assert cb.run("other.g") == "other"
        with pytest.raises(errors.StoreIntegrityError, match="the program of module m"):
            cb.run("m.f")
    sealed = _alter(ran, "programs", lambda k, v: v if "sealed" in msgpack.unpackb(v, raw=False) else None)
    assert sealed == 1, "only the program that matched its hash was sealed"


def test_an_edited_source_record_does_not_run(store: Path, write: Write) -> None:
    """``view`` shows the ``src`` record; what runs on its own (a definition bound from another module)
    is the text of one of its stored statements, whatever ``src`` says."""
    with Codebase(store) as cb:
        cb.add([write("a.py", "def f():\n    return 'from a'\n")])
        cb.add([write("b.py", "def f():\n    return 'from b'\n\ndef g():\n    return f()\n")])
        cb.bind("b.f", "#" + cb.resolve("a.f"))
        assert cb.run("b.g") == "from a"
        h = cb.resolve("a.f")

    def edit(k: bytes, v: bytes) -> bytes | None:
        if k.decode() != h:
            return None
        rec = msgpack.unpackb(v, raw=False)
        rec["source"] = rec["source"].replace("from a", "tampered")
        return msgpack.packb(rec, use_bin_type=True)

    assert _alter(store, "src", edit) == 1
    _alter(store, "code", lambda k, v: b"")
    with Codebase(store) as cb:
        assert cb.run("b.g") == "from a"
        assert not cb.verify().ok  # and verify says the source was edited


def test_verify_decodes_tasks_events_and_state(ran: Path) -> None:
    with Codebase(ran) as cb:
        assert cb.verify().records >= 1
    _alter(ran, "tasks", lambda k, v: b"\xc1 damaged")
    with Codebase(ran) as cb:
        found = cb.verify()
        assert any("tasks record that cannot be decoded" in p["problem"] for p in found.problems)


def test_the_cli_says_what_to_do(ran: Path) -> None:
    _alter(ran, "code", _flip)
    runner = CliRunner()
    res = runner.invoke(app, ["--store", str(ran), "run", "f"])
    assert res.exit_code == 2 and "does not match its hash" in res.stderr and "ucode verify --repair" in res.stderr
    res = runner.invoke(app, ["--store", str(ran), "verify", "--repair"])
    assert res.exit_code == 0 and "repaired:" in res.stdout
    res = runner.invoke(app, ["--store", str(ran), "run", "f"])
    assert res.exit_code == 0 and "original" in res.stdout
