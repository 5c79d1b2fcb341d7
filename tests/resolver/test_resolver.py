"""Resolution: full names and suffixes, hash prefixes, ambiguity, cross-module dependencies, find, closure
hashes; read paths never import libcst."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Write
from ucode import errors, hashing
from ucode.codebase import Codebase


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


def test_cross_module_dependency_is_by_qualified_name(cb: Codebase, write: Write) -> None:
    write("lib/__init__.py", "")
    write("lib/helpers.py", "def slugify(s):\n    return s.lower()\n")
    write("lib/views.py", "from .helpers import slugify\nfrom lib import helpers\n\n"
          "def page(t):\n    return slugify(t) + helpers.slugify(t)\n")
    cb.add([cb.path.parent / "src" / "lib"])
    assert cb.view("page").deps == {"lib.helpers.slugify": cb.resolve("lib.helpers.slugify")}
    assert [b.name for b in cb.dependents("slugify")] == ["lib.views.page"]


def test_find_ranks_and_respects_versions(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def user():\n    pass\n\ndef get_user():\n    pass\n\ndef Überuser():\n    pass\n")])
    assert [m.name for m in cb.find("user")] == ["m.user", "m.get_user", "m.Überuser"]
    assert [m.name for m in cb.find("ÜBER")] == ["m.Überuser"]
    cb.create_version("v2")
    cb.unbind("m.user@v2")
    assert [m.name for m in cb.find("user", version="v2")] == ["m.get_user", "m.Überuser"]


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


def test_find_says_how_many_matched_and_takes_a_limit(cb: Codebase, write: Write) -> None:
    from typer.testing import CliRunner

    from ucode.cli import app

    cb.add([write("many.py", "".join(f"def user_{i}():\n    return {i}\n" for i in range(60)))])
    found = cb.find("user")
    assert len(found) == 50 and found.total == 60
    assert len(cb.find("user", limit=None)) == 60 and len(cb.find("user", limit=5)) == 5
    runner = CliRunner()
    res = runner.invoke(app, ["--store", str(cb.path), "find", "user"])
    lines = res.stdout.splitlines()  # piped: a header line, then one match per line
    assert res.exit_code == 0 and "50 of 60 matches shown" in res.stderr and len(lines) == 51
    assert lines[0] == "name\thash\tkind\tsummary"
    res = runner.invoke(app, ["--store", str(cb.path), "find", "user", "--limit", "0"])
    assert len(res.stdout.splitlines()) == 61 and "shown" not in res.stderr
    res = runner.invoke(app, ["--store", str(cb.path), "find", "user", "-n", "3", "--json"])
    import json

    assert len(json.loads(res.stdout)) == 3
