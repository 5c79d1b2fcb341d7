"""The store through the Python API: add, names, versions, the namespace log, undo, verify, faults."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import lmdb
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ucode
from ucode import errors, hashing
from ucode.codebase import SCHEMA_VERSION, Codebase, find_store

from .conftest import EXAMPLES, FakeClock

Write = Callable[[str, str], Path]


def test_add_binds_every_top_level_definition(cb: Codebase) -> None:
    result = cb.add([EXAMPLES / "app.py"])
    got = {n.name: n.status for n in result.names}
    assert got == {
        "app.ITEMS": "added", "app.USERS": "added", "app.User": "added", "app.handleRequest": "added",
        "app.listItems": "added", "app.lookupUser": "added", "app.renderPage": "added",
    }
    assert result.wrote and result.version == "v1"
    kinds = {n.name: n.kind for n in result.names}
    assert kinds["app.User"] == "class" and kinds["app.USERS"] == "value" and kinds["app.lookupUser"] == "function"
    assert all(len(n.hash) == hashing.FULL_LENGTH for n in result.names)


def test_readd_unchanged_writes_nothing(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    before = cb.stats()["last_txnid"]
    result = cb.add([EXAMPLES / "app.py"])
    after = cb.stats()["last_txnid"]
    assert not result.wrote
    assert before == after, "an unchanged re-add must not open a write transaction"
    assert {n.status for n in result.names} == {"unchanged"}


def test_comment_only_edit_keeps_hash_and_updates_source(cb: Codebase, write: Write) -> None:
    path = write("m.py", "def f(x):\n    return x + 1\n")
    h1 = cb.add([path]).names[0].hash
    path.write_text("def f(x):\n    # add one\n    return x + 1  # really\n")
    r = cb.add([path])
    assert r.names[0].hash == h1
    assert r.names[0].status == "reformatted"
    assert "# add one" in cb.view("m.f").source


def test_update_rebinds_and_dependents_need_no_readd(cb: Codebase, write: Write) -> None:
    path = write("svc.py", """
        def lookup(uid):
            return {"id": uid}

        def handle(uid):
            return lookup(uid)
    """)
    first = {n.name: n.hash for n in cb.add([path]).names}
    path.write_text(path.read_text().replace('{"id": uid}', '{"id": uid, "v": 2}'))
    r = {n.name: n for n in cb.add([path]).names}
    assert r["svc.lookup"].status == "updated" and r["svc.lookup"].old_hash == first["svc.lookup"]
    # handle calls lookup by name: its hash does not change when lookup does (late binding)
    assert r["svc.handle"].status == "unchanged" and r["svc.handle"].hash == first["svc.handle"]
    # but its closure hash does: it identifies what would run
    assert cb.view("handle").deps == {"svc.lookup": r["svc.lookup"].hash}


def test_closure_hash_tracks_what_would_run(cb: Codebase, write: Write) -> None:
    path = write("svc.py", "def lookup(uid):\n    return uid\n\ndef handle(uid):\n    return lookup(uid)\n")
    cb.add([path])
    c1 = cb.closure_hash("handle")
    cb.add([write("alt.py", "def lookup2(uid):\n    return uid * 2\n")])
    cb.bind("svc.lookup", "alt.lookup2")
    c2 = cb.closure_hash("handle")
    assert c1 != c2
    cb.undo()
    assert cb.closure_hash("handle") == c1


def test_closure_hash_of_mutual_recursion(cb: Codebase, write: Write) -> None:
    path = write("rec.py", """
        def is_even(n):
            return True if n == 0 else is_odd(n - 1)

        def is_odd(n):
            return False if n == 0 else is_even(n - 1)
    """)
    cb.add([path])
    a, b = cb.closure_hash("is_even"), cb.closure_hash("is_odd")
    assert a != b and a == cb.closure_hash("is_even")


def test_names_are_qualified_and_suffixes_resolve(cb: Codebase, write: Write) -> None:
    cb.add([write("a.py", "def f():\n    return 1\n"),
            write("b.py", "def f():\n    return 2\n\ndef g():\n    return 3\n")])
    assert cb.resolve_name("g") == "b.g"
    with pytest.raises(errors.AmbiguousNameError) as exc:
        cb.resolve("f")
    assert exc.value.candidates == ["a.f", "b.f"]
    assert cb.resolve("a.f") != cb.resolve("b.f")
    with pytest.raises(errors.NameNotFoundError):
        cb.resolve("nope")


def test_hash_prefix_references(cb: Codebase, write: Write) -> None:
    cb.add([write("a.py", "def f():\n    return 1\n")])
    h = cb.resolve("f")
    assert cb.resolve("#" + h[:3]) == h
    assert cb.resolve("#" + h[:10].upper()) == h
    with pytest.raises(errors.HashNotFoundError):
        cb.resolve("#" + ("a" if h[0] != "a" else "b") * 12)
    with pytest.raises(errors.InvalidNameError):
        cb.resolve("#ab")


def test_ambiguous_hash_prefix_lists_candidates(cb: Codebase, write: Write) -> None:
    src = "\n".join(f"def f{i}():\n    return {i}\n" for i in range(600))
    cb.add([write("many.py", src)])
    hashes = [b.hash for b in cb.ls()]
    first = {}
    for h in hashes:
        first.setdefault(h[:3], []).append(h)
    shared = next((v for v in first.values() if len(v) > 1), None)
    if shared is None:  # pragma: no cover - 600 hashes over 32**3 prefixes: collision is very likely
        pytest.skip("no shared 3-char prefix")
    with pytest.raises(errors.AmbiguousNameError) as exc:
        cb.resolve("#" + shared[0][:3])
    assert set(exc.value.candidates) == {hashing.short(h) for h in shared}


def test_namespace_option_and_packages(cb: Codebase, write: Write) -> None:
    write("shop/__init__.py", 'from .helpers import slugify\nfrom .models import *\n__all__ = ["slugify"]\n')
    write("shop/helpers.py", "def slugify(s):\n    return s.lower().replace(' ', '-')\n")
    write("shop/models.py", "class Item:\n    pass\n\ndef _private():\n    pass\n")
    root = cb.path.parent / "src" / "shop"
    r = cb.add([root], namespace="vendor")
    by_name = {n.name: n for n in r.names}
    assert sorted(by_name) == ["vendor.shop.__all__", "vendor.shop.helpers.slugify", "vendor.shop.models.Item",
                               "vendor.shop.models._private"]
    # a re-export is what the package's import binds when it runs, not a second name: it resolves to the
    # name of the module that defines it
    assert cb.resolve_name("vendor.shop.slugify") == "vendor.shop.helpers.slugify"
    assert cb.resolve("vendor.shop.Item") == by_name["vendor.shop.models.Item"].hash  # through `import *`
    assert cb.view("vendor.shop.slugify").names == ["vendor.shop.helpers.slugify"]


def test_cross_module_dependency_is_by_qualified_name(cb: Codebase, write: Write) -> None:
    write("lib/__init__.py", "")
    write("lib/helpers.py", "def slugify(s):\n    return s.lower()\n")
    write("lib/views.py", "from .helpers import slugify\nfrom lib import helpers\n\n"
          "def page(t):\n    return slugify(t) + helpers.slugify(t)\n")
    cb.add([cb.path.parent / "src" / "lib"])
    assert cb.view("page").deps == {"lib.helpers.slugify": cb.resolve("lib.helpers.slugify")}
    assert [b.name for b in cb.dependents("slugify")] == ["lib.views.page"]


def test_module_code_is_stored_not_skipped(cb: Codebase, write: Write) -> None:
    source = "import os\nprint('hi')\n\ndef f():\n    return 1\n\nif __name__ == '__main__':\n    f()\n"
    r = cb.add([write("m.py", source)])
    assert r.skipped == [] and [n.name for n in r.names] == ["m.f"]
    assert [m.status for m in r.modules] == ["added"]
    assert cb.stats()["programs"] == 1


def test_names_the_source_no_longer_defines_are_unbound_and_undo_brings_them_back(cb: Codebase, write: Write) -> None:
    path = write("m.py", "def f():\n    return 1\n\ndef g():\n    return 2\n")
    cb.add([path])
    path.write_text("def f():\n    return 1\n")
    r = cb.add([path])
    assert r.stale == ["m.g"] and [(n.name, n.status) for n in r.names] == [("m.f", "unchanged"), ("m.g", "removed")]
    with pytest.raises(errors.NameNotFoundError):
        cb.resolve("m.g")  # the module runs as its file: a name left bound would be put back into it
    cb.undo()
    assert cb.resolve("m.g") and cb.function("m.f")() == 1


def test_a_definition_renamed_in_source_is_reported_as_renamed(cb: Codebase, write: Write) -> None:
    path = write("m.py", "def tax_rate(x):\n    return x * 2\n\ndef other():\n    return tax_rate(1)\n")
    cb.add([path])
    path.write_text("def rate_for(x):\n    return x * 2\n\ndef other():\n    return rate_for(1)\n")
    r = cb.add([path])
    by_name = {n.name: n for n in r.names}
    assert by_name["m.rate_for"].status == "renamed" and by_name["m.rate_for"].renamed_from == "m.tax_rate"
    assert by_name["m.rate_for"].to_dict()["from"] == "m.tax_rate"
    assert by_name["m.tax_rate"].status == "removed"
    assert cb.function("m.other")() == 2


def test_strict_refuses_hidden_effects_and_stores_nothing(cb: Codebase, write: Write) -> None:
    path = write("m.py", "import time\n\ndef now():\n    return time.time()\n\ndef pure():\n    return 1\n")
    with pytest.raises(errors.StrictModeError) as exc:
        cb.add([path], strict=True)
    assert "time.time" in exc.value.message
    assert cb.ls() == []
    r = cb.add([path])
    assert [w.code for w in r.names[0].warnings] == ["clock"]
    assert [w.code for w in cb.view("now").warnings] == ["clock"]


def test_syntax_error_names_file_line_column_and_stores_nothing(cb: Codebase, write: Write) -> None:
    good = write("good.py", "def f():\n    return 1\n")
    bad = write("bad.py", "def g(:\n    pass\n")
    with pytest.raises(errors.SourceError) as exc:
        cb.add([good, bad])
    assert exc.value.path == str(bad) and exc.value.line == 1 and exc.value.column is not None
    assert cb.ls() == []


def test_bad_paths_are_clear_errors(cb: Codebase, tmp_path: Path) -> None:
    with pytest.raises(errors.SourceError, match="no such file"):
        cb.add([tmp_path / "missing.py"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(errors.SourceError, match="not a Python file"):
        cb.add([tmp_path / "notes.txt"])
    (tmp_path / "my-app.py").write_text("x = 1\n")
    with pytest.raises(errors.SourceError, match="not a valid module name"):
        cb.add([tmp_path / "my-app.py"])
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9'\n")
    with pytest.raises(errors.SourceError, match="UTF-8"):
        cb.add([tmp_path / "latin.py"])


def test_versions_are_copy_on_write(cb: Codebase, write: Write) -> None:
    cb.add([EXAMPLES / "app.py"])
    r = cb.add([EXAMPLES / "app_v2.py"], version="v2")
    assert r.created_version
    v2 = {v.name: v for v in cb.versions()}["v2"]
    assert v2.parent == "v1" and v2.own_bindings == 1
    # v2 sees v1's names through its parent
    assert cb.resolve("handleRequest@v2") == cb.resolve("handleRequest@v1")
    cb.bind("lookupUser@v2", "lookupUserV2@v2")
    assert cb.resolve("lookupUser@v2") == cb.resolve("lookupUserV2@v2")
    assert cb.resolve("lookupUser@v1") != cb.resolve("lookupUser@v2")
    # a later change in v1 shows through in v2 where v2 has no binding of its own
    cb.add([write("extra.py", "def newfn():\n    return 1\n")])
    assert cb.resolve("newfn@v2") == cb.resolve("newfn@v1")
    diff = cb.diff("v1", "v2")
    assert [d.name for d in diff] == ["app.lookupUser", "app_v2.lookupUserV2"]
    assert "+    print(f\"lookupUserV2 called" in diff[0].diff


def test_default_version_and_unknown_version(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.create_version("v2")
    cb.use_version("v2")
    assert cb.default_version() == "v2"
    assert cb.ls()[0].version == "v2"
    with pytest.raises(errors.VersionError, match="no version 'v9'"):
        cb.view("handleRequest@v9")
    with pytest.raises(errors.VersionError, match="already exists"):
        cb.create_version("v2")


def test_unbind_in_child_version_hides_parent_binding(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.create_version("slim")
    cb.unbind("listItems@slim")
    with pytest.raises(errors.NameNotFoundError):
        cb.resolve("listItems@slim")
    assert cb.resolve("listItems@v1")
    cb.undo()
    assert cb.resolve("listItems@slim") == cb.resolve("listItems@v1")


def test_alias_and_move_are_free(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def f():\n    return 1\n")])
    h = cb.resolve("m.f")
    n_defs = cb.verify().checked
    cb.alias("m.f", "m.g")
    assert cb.resolve("m.g") == h
    cb.move("m.g", "other.h")
    assert cb.resolve("other.h") == h
    with pytest.raises(errors.NameNotFoundError):
        cb.resolve("m.g")
    assert cb.verify().checked == n_defs  # nothing new was hashed or stored
    assert sorted(b.name for b in cb.names("#" + h)) == ["m.f", "other.h"]


def test_renaming_locals_keeps_the_hash_and_move_keeps_it_for_a_new_name(cb: Codebase, write: Write) -> None:
    cb.add([write("a.py", "def total(xs):\n    acc = 0\n    for x in xs:\n        acc += x\n    return acc\n")])
    h = cb.resolve("a.total")
    res = cb.add([write("a.py", "def total(xs):\n    s = 0\n    for item in xs:\n        s += item\n    return s\n")])
    assert cb.resolve("a.total") == h and [n.status for n in res.names] == ["reformatted"]
    cb.move("a.total", "a.sum_all")  # a new name for the same definition: no new hash
    assert cb.resolve("a.sum_all") == h
    # the same code in another module is another definition (another function object in Python)
    cb.add([write("b.py", "def total(xs):\n    acc = 0\n    for x in xs:\n        acc += x\n    return acc\n")])
    assert cb.resolve("b.total") != h


def test_history_and_undo_append_inverse_events(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def f():\n    return 1\n")])
    h1 = cb.resolve("m.f")
    cb.add([write("m.py", "def f():\n    return 2\n")])
    h2 = cb.resolve("m.f")
    hist = cb.history("f")
    assert [(e.old, e.new) for e in hist] == [(h1, h2), (None, h1)]
    undo = cb.undo()
    assert cb.resolve("m.f") == h1
    assert undo.events[0].undoes == undo.undone_op
    hist = cb.history("f")
    assert [(e.old, e.new) for e in hist] == [(h2, h1), (h1, h2), (None, h1)]
    cb.undo()
    with pytest.raises(errors.NameNotFoundError):
        cb.resolve("m.f")
    with pytest.raises(errors.NothingToUndoError):
        cb.undo()
    assert len(cb.history("m.f")) == 4  # nothing erased


def test_bindings_as_of_any_log_position(cb: Codebase, write: Write) -> None:
    path = write("m.py", "def f():\n    return 1\n")
    cb.add([path])
    at1 = cb.log_position()
    snap1 = cb.bindings()
    path.write_text("def f():\n    return 2\n\ndef g():\n    return 3\n")
    cb.add([path])
    assert cb.bindings(at=at1) == snap1
    assert cb.bindings(at=cb.log_position()) == cb.bindings()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["bind", "unbind", "undo", "alias", "version"]),
                          st.integers(0, 3), st.integers(0, 3)), max_size=12))
def test_state_is_the_fold_of_the_log(tmp_path_factory: pytest.TempPathFactory,
                                      ops: list[tuple[str, int, int]]) -> None:
    """Whatever sequence of binds, unbinds, aliases, versions and undos: the materialized names equal
    the fold of the log, in every version and at every earlier position."""
    root = tmp_path_factory.mktemp("fold")
    src = root / "m.py"
    src.write_text("".join(f"def f{i}():\n    return {i}\n\n" for i in range(4)))
    with Codebase(root / "store", clock=FakeClock()) as cb:
        cb.add([src])
        hashes = [cb.resolve(f"m.f{i}") for i in range(4)]
        positions: list[tuple[int, dict[str, dict[str, str]]]] = []
        for op, a, b in ops:
            versions = [v.name for v in cb.versions()]
            v = versions[b % len(versions)]
            try:
                if op == "bind":
                    cb.bind(f"m.n{a}@{v}", "#" + hashes[b])
                elif op == "unbind":
                    cb.unbind(f"m.f{a}@{v}")
                elif op == "undo":
                    cb.undo()
                elif op == "alias":
                    cb.alias(f"m.f{a}@{v}", f"m.alias{b}")
                else:
                    cb.create_version(f"x{a}{b}", parent=v)
            except errors.UcodeError:
                pass
            positions.append((cb.log_position(), {v.name: cb.bindings(v.name) for v in cb.versions()}))
        assert cb.verify().ok
        for at, snapshot in positions:
            for vname, binds in snapshot.items():
                assert cb.bindings(vname, at=at) == binds


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


def test_corrupt_record_is_a_clear_error_and_others_stay_readable(cb: Codebase, store: Path) -> None:
    cb.add([EXAMPLES / "app.py"])
    h = cb.resolve("listItems")
    cb.close()
    env = lmdb.open(str(store), max_dbs=20)
    defs = env.open_db(b"defs")
    with env.begin(write=True) as txn:
        txn.put(h.encode(), b"\xc1\xc1 not msgpack", db=defs)
    env.close()
    with Codebase(store) as again:
        with pytest.raises(errors.StoreCorruptError, match="corrupt record in table 'defs'"):
            again.view("listItems")
        assert again.view("renderPage").name == "app.renderPage"
        problems = again.verify().problems
        assert any(p["hash"] == h for p in problems)


def test_newer_schema_is_refused(store: Path) -> None:
    Codebase(store).close()
    env = lmdb.open(str(store), max_dbs=20)
    meta = env.open_db(b"meta")
    with env.begin(write=True) as txn:
        txn.put(b"schema", msgpack.packb(SCHEMA_VERSION + 1), db=meta)
    env.close()
    with pytest.raises(errors.StoreVersionError, match="upgrade ucode"):
        Codebase(store)


def test_find_store_walks_up_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Codebase(tmp_path / ".ucode").close()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_store(cwd=deep) == (tmp_path / ".ucode", True)
    monkeypatch.setenv("UCODE_STORE", str(tmp_path / "elsewhere"))
    assert find_store(cwd=deep) == (tmp_path / "elsewhere", False)
    with pytest.raises(errors.StoreError, match="no ucode store found"):
        ucode.open(create=False)


def test_read_paths_never_import_libcst(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with Codebase(store) as cb:
        cb.add([EXAMPLES / "app.py"])
    code = textwrap.dedent(f"""
        import sys, ucode
        cb = ucode.open({str(store)!r}, create=False)
        cb.view("handleRequest"); cb.find("user"); cb.ls(); cb.names("#" + cb.resolve("handleRequest"))
        cb.history(); cb.deps("handleRequest"); cb.dependents("lookupUser"); cb.closure_hash("handleRequest")
        cb.diff("v1", "v1"); cb.versions()
        assert "libcst" not in sys.modules, "a read path imported libcst"
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def _big_tree(root: Path, files: int = 40, defs: int = 60) -> Path:
    pkg = root / "big"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for i in range(files):
        body = "\n".join(f"def f{j}(x):\n    return x + {i * 1000 + j}\n" for j in range(defs))
        (pkg / f"m{i}.py").write_text(body)
    return pkg


@pytest.mark.parametrize("crash_after", [1, 50, 2000])
def test_crash_mid_add_leaves_store_consistent(tmp_path: Path, crash_after: int) -> None:
    """A process killed in the middle of a large add: the add is either all there or not there."""
    store = tmp_path / "s"
    with Codebase(store) as cb:
        cb.add([EXAMPLES / "app.py"])
        before = cb.bindings()
    pkg = _big_tree(tmp_path)
    env = {**os.environ, "UCODE_CRASH_AFTER_WRITES": str(crash_after)}
    code = f"import ucode; ucode.open({str(store)!r}).add([{str(pkg)!r}])"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=False)
    assert proc.returncode == 86, proc.stderr  # it really crashed mid-write
    with Codebase(store) as cb:
        assert cb.bindings() == before
        assert cb.verify().ok
        r = cb.add([pkg])  # and the store is usable afterwards
        assert len(r.names) == 40 * 60 and cb.verify().ok


def test_sigkill_mid_add_leaves_store_consistent(tmp_path: Path) -> None:
    store = tmp_path / "s"
    Codebase(store).close()
    pkg = _big_tree(tmp_path, files=60)
    code = f"import ucode; ucode.open({str(store)!r}).add([{str(pkg)!r}]); print('done', flush=True)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        proc.wait(timeout=0.8)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with Codebase(store) as cb:
        n = len(cb.bindings())
        assert n in (0, 60 * 60), n  # all or nothing
        assert cb.verify().ok


def test_the_same_store_opened_twice_in_one_process(store: Path) -> None:
    a = Codebase(store)
    b = ucode.open(store)
    a.add([EXAMPLES / "app.py"])
    a.close()
    assert b.resolve("handleRequest")  # closing one handle leaves the other usable
    b.close()
    with Codebase(store) as c:
        assert c.resolve("handleRequest")


def test_history_of_name_at_version_is_that_version_only(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.add([EXAMPLES / "app_v2.py"], version="v2")
    cb.bind("lookupUser@v2", "lookupUserV2@v2")
    assert [e.version for e in cb.history("lookupUser@v2")] == ["v2"]
    assert [e.version for e in cb.history("lookupUser")] == ["v2", "v1"]
    assert [b.hash for b in cb.deps("lookupUserV2@v2")] == [cb.resolve("User"), cb.resolve("lookupUser@v1")]


def test_unchanged_readd_skips_parsing_and_never_imports_libcst(tmp_path: Path) -> None:
    store = tmp_path / "s"
    src = tmp_path / "m.py"
    src.write_text("import time\n\ndef now():\n    return time.time()\n\nprint('side effect')\n")
    with Codebase(store) as cb:
        first = cb.add([src])
    code = textwrap.dedent(f"""
        import sys, ucode
        r = ucode.open({str(store)!r}).add([{str(src)!r}])
        assert "libcst" not in sys.modules, "an unchanged re-add parsed the file"
        print(r.wrote, [(n.name, n.status, [w.code for w in n.warnings]) for n in r.names], len(r.skipped))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "False [('m.now', 'unchanged', ['clock'])] 0", out.stderr
    assert first.names[0].hash == ucode.open(store).resolve("m.now")


def test_readd_after_a_rebinding_reports_the_change(cb: Codebase, write: Write) -> None:
    path = write("m.py", "def f():\n    return 1\n")
    h = cb.add([path]).names[0].hash
    cb.add([write("other.py", "def g():\n    return 2\n")])
    cb.bind("m.f", "other.g")
    r = cb.add([path])
    assert (r.names[0].status, r.names[0].hash) == ("updated", h)


def test_readd_after_a_module_joins_the_codebase_reclassifies_imports(cb: Codebase, write: Write) -> None:
    user = write("user.py", "from helpers import slugify\n\ndef page(t):\n    return slugify(t)\n")
    before = cb.add([user]).names[0]
    assert cb.view("page").imports == ["from helpers import slugify"]
    cb.add([write("helpers.py", "def slugify(s):\n    return s.lower()\n")])
    after = cb.add([user]).names[0]  # same file, but `helpers` is now a stored module: a dependency
    assert after.status == "updated" and after.hash != before.hash
    assert cb.view("page").deps == {"helpers.slugify": cb.resolve("helpers.slugify")}


def test_find_ranks_and_respects_versions(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def user():\n    pass\n\ndef get_user():\n    pass\n\ndef Überuser():\n    pass\n")])
    assert [m.name for m in cb.find("user")] == ["m.user", "m.get_user", "m.Überuser"]
    assert [m.name for m in cb.find("ÜBER")] == ["m.Überuser"]
    cb.create_version("v2")
    cb.unbind("m.user@v2")
    assert [m.name for m in cb.find("user", version="v2")] == ["m.get_user", "m.Überuser"]


def test_a_new_normalization_version_normalizes_unchanged_files_again(cb: Codebase, write: Write,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from ucode import hashing

    path = write("m.py", "def f():\n    return 1\n")
    cb.add([path])
    assert cb.add([path]).wrote is False  # answered from the `files` table
    monkeypatch.setattr(hashing, "NORMALIZATION", hashing.NORMALIZATION + 1)
    again = cb.add([path])
    assert again.wrote is True and [n.status for n in again.names] == ["unchanged"]  # normalized again
    assert cb.add([path]).wrote is False


def test_verify_passes_over_definitions_of_an_older_hash_scheme(cb: Codebase, write: Write) -> None:
    import msgpack

    cb.add([write("m.py", "def f():\n    return 1\n\ndef g():\n    return 2\n")])
    h = cb.resolve("m.f")
    env = cb._env  # as a store written by ucode 0.1 would hold it: a definition in no program
    with env.begin(write=True) as txn:
        defs, src = env.open_db(b"defs", txn=txn), env.open_db(b"src", txn=txn)
        rec = msgpack.unpackb(txn.get(h.encode(), db=defs), raw=False)
        txn.put(b"old" + h.encode()[3:], msgpack.packb({**rec, "scheme": "ucode/def/1"}), db=defs)
        txn.put(b"old" + h.encode()[3:], txn.get(h.encode(), db=src), db=src)
    result = cb.verify()
    assert result.ok and result.older == 1 and result.checked == 3
