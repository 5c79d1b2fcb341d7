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
    about = [p for p in problems if p["hash"] == h]
    assert len(about) == 1 and any(w in about[0]["problem"] for w in ("hashes to", "not the text", "digest"))
    # the only other problem, when the text that runs was altered: the module's cached code, whose
    # source no longer checks out
    assert all(p["hash"].startswith("program ") for p in problems if p["hash"] != h)
    assert len(problems) == (2 if table == "texts" else 1)


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


def test_a_name_imported_through_a_stored_module_verifies(cb: Codebase, write: Write) -> None:
    """``from io import StringIO`` where ``io`` is stored and itself imports ``StringIO`` from ``_io``: the
    statement's record names ``_io`` (where the import led), and verify must still see that ``io`` was a
    module of the codebase when it was added (the standard library gave 49 false problems)."""
    cb.add([write("reexport.py", "from json import JSONDecoder\n")])
    cb.add([write("user.py", "import json\nfrom reexport import JSONDecoder\n\n"
                             "class Parser:\n    decoder = JSONDecoder\n    module = json\n")])
    # the class's record names json (where the import led), which is not in the codebase: its own
    # ``import json`` must still be read as an import of an installed module
    assert cb.verify().ok
    assert cb.function("user.Parser").decoder.__name__ == "JSONDecoder"
