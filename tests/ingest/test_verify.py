"""``verify``: re-hashing what is stored finds tampering; definitions of an older hash scheme are passed
over."""

from pathlib import Path

import lmdb
import msgpack
import pytest

from tests.conftest import EXAMPLES, Write
from ucode.codebase import Codebase


@pytest.mark.parametrize("table", ["texts", "src"])
def test_verify_detects_tampered_definition(cb: Codebase, store: Path, table: str) -> None:
    cb.add([EXAMPLES / "app.py"])
    assert cb.verify().ok and cb.verify().checked == 9  # the docstring, the import and 7 definitions
    h = cb.resolve("listItems")
    key = cb.view("listItems").source
    cb.close()
    env = lmdb.open(str(store), max_dbs=30)
    db = env.open_db(table.encode())
    with env.begin(write=True) as txn:
        if table == "src":  # what `view` shows
            rec = msgpack.unpackb(txn.get(h.encode(), db=db))
            rec["source"] = rec["source"].replace("[]", "['tampered']")
            txn.put(h.encode(), msgpack.packb(rec), db=db)
        else:  # what runs
            from ucode import hashing

            digest = hashing.text_digest(key).encode()
            txn.put(digest, txn.get(digest, db=db).replace(b"[]", b"['tampered']"), db=db)
    env.close()
    with Codebase(store) as again:
        problems = again.verify().problems
    assert [p["hash"] for p in problems] == [h]
    assert "hashes to" in problems[0]["problem"] or "not the text" in problems[0]["problem"]


def test_verify_passes_over_definitions_of_an_older_hash_scheme(cb: Codebase, write: Write) -> None:
    import msgpack

    cb.add([write("m.py", "def f():\n    return 1\n\ndef g():\n    return 2\n")])
    h = cb.resolve("m.f")
    with cb.store.write() as txn:  # as a store written by ucode 0.1 would hold it: a definition in no program
        rec = msgpack.unpackb(txn.get("defs", h.encode()), raw=False)
        txn.put("defs", b"old" + h.encode()[3:], msgpack.packb({**rec, "scheme": "ucode/def/1"}))
        txn.put("src", b"old" + h.encode()[3:], txn.get("src", h.encode()) or b"")
    result = cb.verify()
    assert result.ok and result.older == 1 and result.checked == 3
