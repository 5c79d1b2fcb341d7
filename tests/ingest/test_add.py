"""``add`` through the Python API: what it stores and binds, what it reports, what it refuses, and the
unchanged fast path."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ucode
from tests.conftest import EXAMPLES, Write
from ucode import errors, hashing
from ucode.codebase import Codebase


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


def test_add_takes_one_path_as_a_str_or_a_path_not_only_a_list() -> None:
    """``cb.add("app.py")`` adds that file (a str is not iterated as characters), as does a Path."""
    for one in (str(EXAMPLES / "app.py"), EXAMPLES / "app.py"):
        with ucode.Codebase.in_memory() as cb:
            result = cb.add(one)
            assert {n.name for n in result.names} >= {"app.handleRequest", "app.lookupUser"}
            assert {n.status for n in result.names} == {"added"}
            assert cb.run("handleRequest", {"user_id": 1})["user"] == "Ada"


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
    # the file is unchanged now (answered without parsing it): --strict still refuses what it stored
    with pytest.raises(errors.StrictModeError, match=r"m\.now has a hidden effect"):
        cb.add([path], strict=True)
    assert cb.add([path]).wrote is False


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
