"""``add`` on unusual and hostile input: CPython is the oracle. A file is stored exactly when ``compile()``
accepts it (and then runs as importing it would); otherwise a clean :class:`SourceError` names the file,
line and fix, and nothing is written. Entries of a directory that ``import`` could not load are passed over
with a note."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import Write
from ucode import errors
from ucode.codebase import Codebase
from ucode.normalize import _program, _source


def _nothing_written(cb: Codebase, before: int) -> bool:
    return bool(cb.stats()["last_txnid"] == before)


def _refused(cb: Codebase, path: Path) -> errors.SourceError:
    before = cb.stats()["last_txnid"]
    with pytest.raises(errors.SourceError) as info:
        cb.add([path])
    assert _nothing_written(cb, before), "a refused add must not write"
    assert info.value.path == str(path)
    return info.value


# ---------------------------------------------------------------------------- refused as compile() refuses


@pytest.mark.parametrize(("text", "what"), [
    ("x = 1\nreturn x\n", "'return' outside function"),
    ("yield 1\n", "'yield' outside function"),
    ("def f():\n\tif 1:\n        return 1\n", "inconsistent use of tabs"),
    ("x = 1\0\n", "null"),
    ("s = 'a\0b'\n", "null"),
    ('def f():\n    """doc\0"""\n', "null"),
    ("def f(:\n    pass\n", "syntax error"),
])
def test_what_compile_refuses_is_refused_cleanly(cb: Codebase, write: Write, text: str, what: str) -> None:
    path = write("bad.py", "")
    path.write_text(text)  # not dedented: tabs and NULs as written
    with pytest.raises((SyntaxError, ValueError)):
        compile(text, str(path), "exec", dont_inherit=True)
    err = _refused(cb, path)
    assert what in str(err).lower() or what in str(err)
    assert err.line is not None and err.hint


def test_a_nul_byte_is_located(cb: Codebase, write: Write) -> None:
    path = write("nul.py", "")
    path.write_bytes(b"a = 1\nb = 'x\x00y'\n")
    err = _refused(cb, path)
    assert (err.line, err.column) == (2, 7)  # 1-based, as SyntaxError.offset


# ---------------------------------------------------------------------------- accepted as compile() accepts


def test_tab_and_space_indentation_cpython_accepts_is_stored_and_runs(cb: Codebase, write: Write) -> None:
    # libcst's tokenizer refuses this mix (LibCST#829); CPython measures columns and accepts it.
    text = "def f(x):\n if x:\n\t y = 2\n\t return y\n return 0\n"
    compile(text, "t.py", "exec", dont_inherit=True)
    path = write("tabs.py", "")
    path.write_text(text)
    cb.add([path])
    assert cb.function("tabs.f")(1) == 2 and cb.function("tabs.f")(0) == 0
    assert cb.view("tabs.f").source == text, "the statement's text is the file's, tabs and all"


def test_reindented_is_the_same_program_or_none() -> None:
    text = "if 1:\n if 1:\n\t y = 2\n"
    again = _source.reindented(text)
    assert again == "if 1:\n if 1:\n         y = 2\n"
    assert _source.reindented("x = 1\n") is None
    assert _source.reindented('s = """\n\tkept\n"""\n') is None, "a string's tabs are not indentation"


def test_latin1_coding_declaration_is_decoded_as_import_does(cb: Codebase, write: Write) -> None:
    path = write("latin.py", "")
    path.write_bytes("# -*- coding: latin-1 -*-\nNAME = 'caf\u00e9'\n".encode("latin-1"))
    cb.add([path])
    assert cb.function("latin.NAME") == "caf\u00e9"
    assert "caf\u00e9" in cb.view("latin.NAME").source


def test_bytes_that_are_not_the_declared_encoding_are_refused(cb: Codebase, write: Write) -> None:
    path = write("bad_utf8.py", "")
    path.write_bytes(b"x = 1\ny = '\xff'\n")
    err = _refused(cb, path)
    assert "UTF-8" in str(err) and err.line == 2


def test_an_unknown_coding_declaration_is_refused(cb: Codebase, write: Write) -> None:
    path = write("cookie.py", "")
    path.write_bytes(b"# coding: klingon\nx = 1\n")
    err = _refused(cb, path)
    assert "coding" in str(err)


def test_a_sum_of_a_thousand_terms_is_stored_and_runs(cb: Codebase, write: Write) -> None:
    expr = " + ".join(["1"] * 1000)
    path = write("deep.py", f"def total():\n    return {expr}\n")
    cb.add([path])
    assert cb.function("deep.total")() == 1000


def test_thousands_of_concatenated_strings_are_stored(cb: Codebase, write: Write) -> None:
    # pydoc_data/topics.py has such a literal: deeper than Python's default recursion limit in libcst.
    pieces = "\n".join(f'    "p{i} "' for i in range(3000))
    path = write("strings.py", f"def text():\n    return (\n{pieces}\n    )\n")
    cb.add([path])
    assert cb.function("strings.text")().startswith("p0 p1 ") and sys.getrecursionlimit() < 10_000


def test_a_boolean_chain_past_the_parser_bound_is_refused_not_a_crash(
        cb: Codebase, write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real bound is 50,000 (libcst's parser recurses on the C stack); lowered here to keep it fast.
    monkeypatch.setattr(_program, "MAX_BOOL_CHAIN", 50)
    path = write("chain.py", "def f(a):\n    return " + " or ".join(["a"] * 60) + "\n")
    err = _refused(cb, path)
    assert "59 `and`/`or`" in str(err) and "split" in (err.hint or "")
    short = write("short.py", "def f(a):\n    return " + " or ".join(["a"] * 40) + "\n")
    cb.add([short])
    assert cb.function("short.f")(3) == 3


def test_call_deep_returns_and_raises_and_restores_the_limit() -> None:
    limit = sys.getrecursionlimit()

    def depth(n: int) -> int:
        return 0 if n == 0 else 1 + depth(n - 1)

    assert _source.call_deep(lambda: depth(20_000)) == 20_000
    with pytest.raises(KeyError):
        _source.call_deep(lambda: {}["missing"])
    assert sys.getrecursionlimit() == limit


# ---------------------------------------------------------------------------- entries passed over


def test_keyword_and_invalid_file_names_in_a_tree_are_passed_over(cb: Codebase, write: Write) -> None:
    good = write("pkg/__init__.py", "")
    write("pkg/mod.py", "X = 1\n")
    write("pkg/class.py", "Y = 2\n")
    write("pkg/my-mod.py", "Z = 3\n")
    r = cb.add([good.parent])
    assert [n.name for n in r.names] == ["pkg.mod.X"]
    reasons = {Path(s.path).name: s.reason for s in r.skipped}
    assert set(reasons) == {"class.py", "my-mod.py"}


def test_a_keyword_file_named_explicitly_is_refused(cb: Codebase, write: Write) -> None:
    path = write("import.py", "X = 1\n")
    err = _refused(cb, path)
    assert "keyword" in str(err) and "class_.py" in (err.hint or "")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_in_a_tree_is_passed_over_without_blocking(cb: Codebase, write: Write) -> None:
    write("tree/a.py", "A = 1\n")
    fifo = write("tree/b.py", "").parent / "fifo.py"
    (fifo.parent / "b.py").unlink()
    os.mkfifo(fifo)
    r = cb.add([fifo.parent])  # reading the FIFO would block forever
    assert [n.name for n in r.names] == ["a.A"]
    assert [(Path(s.path).name, "regular file" in s.reason) for s in r.skipped] == [("fifo.py", True)]
    err = _refused(cb, fifo)
    assert "regular file" in str(err)


def test_a_symlink_leading_outside_the_tree_is_passed_over(cb: Codebase, write: Write, tmp_path: Path) -> None:
    outside = tmp_path / "secret.py"
    outside.write_text("TOKEN = 'not yours'\n")
    write("tree/a.py", "A = 1\n")
    inside_target = write("tree/real.py", "R = 1\n")
    link_out = inside_target.parent / "leak.py"
    link_out.symlink_to(outside)
    (inside_target.parent / "alias.py").symlink_to(inside_target)
    r = cb.add([inside_target.parent])
    assert sorted(n.name for n in r.names) == ["a.A", "alias.R", "real.R"]
    assert [Path(s.path).name for s in r.skipped] == ["leak.py"]
    assert "outside" in r.skipped[0].reason


# ---------------------------------------------------------------------------- found by the fuzz tests


@pytest.mark.parametrize("text", ["pass\\\n\n", "pass\n\\\r\n", "X = 1\\\n\n\n", "def f():\n    return 1\\\n\n"],
                         ids=["statement-continued-into-eof", "lone-backslash-line", "value", "function"])
def test_a_line_continuation_at_the_end_of_the_file_is_stored_and_runs(cb: Codebase, write: Write,
                                                                        text: str) -> None:
    compile(text, "m.py", "exec", dont_inherit=True)
    path = write("cont.py", "")
    path.write_text(text)
    cb.add([path])
    assert cb.function("cont.__name__") == "cont"  # the module's program runs from its stored texts
    if "X" in text:
        assert cb.function("cont.X") == 1
    if "def f" in text:
        assert cb.function("cont.f")() == 1
