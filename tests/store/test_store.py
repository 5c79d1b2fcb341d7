"""The store on disk: damaged and newer stores refused clearly, finding the store, crashes mid-write, one
store opened twice."""

import os
import subprocess
import sys
from pathlib import Path

import lmdb
import msgpack
import pytest

import ucode
from tests.conftest import EXAMPLES
from ucode import errors
from ucode.codebase import SCHEMA_VERSION, Codebase, find_store


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
