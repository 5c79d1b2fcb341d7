"""Fuzzing ``add`` with generated Python (hypothesmith, from the language's grammar and from libcst's node
types) and with mutated standard-library code: CPython is the oracle. A generated file is stored exactly
when ``compile()`` accepts it, never crashes ucode, keeps every top-level statement, and hashes the same
every time. See docs/fuzzing.md for longer runs (``UCODE_FUZZ_EXAMPLES``) and the figures measured."""

from __future__ import annotations

import ast
import os
import sysconfig
import tempfile
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ucode import errors
from ucode.codebase import Codebase
from ucode.ingest._sources import read_source
from ucode.normalize import normalize_module

# Generated code is often odd on purpose (`1.0()`, `"\d"`): CPython's compile-time warnings are expected.
pytestmark = [pytest.mark.filterwarnings("ignore::SyntaxWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # `"\d"` in mutated code, as compile() warns

_EXAMPLES = int(os.environ.get("UCODE_FUZZ_EXAMPLES", "50"))  # x4 for mutated stdlib code: 300 in all
_SETTINGS = settings(max_examples=_EXAMPLES, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                            HealthCheck.data_too_large])


def _compiles(text: str) -> bool:
    """What importing the file would do: ``compile()`` of its bytes (a BOM and a coding declaration are
    honoured there, as the import system's ``source_to_code`` does)."""
    try:
        compile(text.encode("utf-8"), "fuzz.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _add(text: str) -> tuple[list[str] | None, errors.SourceError | None, str]:
    """The statement hashes ``add`` stored for ``text`` as a file, or the SourceError it raised; and the
    text as ``add`` decoded it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.py"
        path.write_text(text, encoding="utf-8")
        cb = Codebase.in_memory()
        try:
            cb.add([path])
        except errors.SourceError as exc:
            return None, exc, text
        finally:
            cb.close()
        decoded = read_source(path)
    program = normalize_module(decoded, path="fuzz.py", module="fuzz")
    # a stored statement is a statement *line* (`a = 1; b = 2` is one): count the statements each holds
    held = sum(len(ast.parse(s.source).body) for s in program.statements)
    assert held == len(ast.parse(decoded).body), "every top-level statement is stored, once"
    return [s.hash for s in program.statements], None, decoded


@given(hypothesmith.from_grammar())
@_SETTINGS
def test_add_accepts_grammar_generated_source_exactly_when_compile_does(text: str) -> None:
    hashes, error, decoded = _add(text)
    event("compile() accepts" if _compiles(text) else "compile() refuses")
    if _compiles(text):
        assert error is None, f"compile() accepts it, add refused it: {error}"
        assert hashes is not None
        again = normalize_module(decoded, path="elsewhere/fuzz.py", module="fuzz")
        assert [s.hash for s in again.statements] == hashes, "hashes depend only on the code"
    else:
        assert error is not None, "compile() refuses it, add stored it"
        assert error.hint


@given(hypothesmith.from_node())
@_SETTINGS
def test_add_stores_every_statement_of_node_generated_source(text: str) -> None:
    if not _compiles(text):  # from_node builds libcst trees; a few are not valid to CPython
        event("compile() refuses: not tried")
        return
    event("compile() accepts")
    hashes, error, _decoded = _add(text)
    assert error is None, f"compile() accepts it, add refused it: {error}"
    assert hashes is not None


# Standard-library modules of a few KB to a few tens of KB, with classes, decorators, comprehensions,
# f-strings, async code, type hints, docstrings and comments between them.
_STDLIB = Path(sysconfig.get_paths()["stdlib"])
_FILES = ["abc.py", "bisect.py", "colorsys.py", "contextvars.py", "copy.py", "fnmatch.py", "functools.py",
          "genericpath.py", "heapq.py", "keyword.py", "numbers.py", "operator.py", "queue.py", "reprlib.py",
          "sched.py", "shlex.py", "string.py", "textwrap.py", "timeit.py", "types.py", "asyncio/locks.py",
          "json/decoder.py", "dataclasses.py", "enum.py", "typing.py"]
_INSERTS = ["(", ")", ":", "\t", " ", "    ", "\0", "\\", "'", '"', "\n", "#", "\f", "\u00e9", "lambda",
            "return ", "yield ", "await ", "async ", "global x\n", "nonlocal x\n", "*", "**", "@", ",", "=",
            "\r", "\ufeff", "if 1:\n", "\t\t", "del ", "pass\n"]


@st.composite
def _mutated_stdlib(draw: st.DrawFn) -> str:
    """A run of consecutive top-level statements of a stdlib module, with up to three mutations: a
    character or token inserted, a span deleted, a line duplicated or dropped, two lines swapped."""
    path = _STDLIB / draw(st.sampled_from(_FILES))
    text = path.read_text(encoding="utf-8")
    body = ast.parse(text).body
    lines = text.splitlines(keepends=True)
    start = draw(st.integers(0, len(body) - 1))
    stop = draw(st.integers(start + 1, min(len(body), start + 8)))
    first = body[start].lineno - 1 - len(getattr(body[start], "decorator_list", []))
    last = body[stop - 1].end_lineno or len(lines)
    chunk = lines[first:last]
    for _ in range(draw(st.integers(0, 3))):
        if not chunk:
            break
        kind = draw(st.sampled_from(["insert", "delete", "duplicate", "drop", "swap"]))
        i = draw(st.integers(0, len(chunk) - 1))
        line = chunk[i]
        if kind == "insert":
            at = draw(st.integers(0, len(line)))
            chunk[i] = line[:at] + draw(st.sampled_from(_INSERTS)) + line[at:]
        elif kind == "delete" and line:
            a = draw(st.integers(0, len(line) - 1))
            chunk[i] = line[:a] + line[draw(st.integers(a + 1, len(line))):]
        elif kind == "duplicate":
            chunk.insert(i, line)
        elif kind == "drop":
            del chunk[i]
        elif kind == "swap":
            j = draw(st.integers(0, len(chunk) - 1))
            chunk[i], chunk[j] = chunk[j], chunk[i]
    return "".join(chunk)


@given(_mutated_stdlib())
@settings(_SETTINGS, max_examples=_EXAMPLES * 4)
def test_add_accepts_mutated_stdlib_code_exactly_when_compile_does(text: str) -> None:
    hashes, error, _decoded = _add(text)
    event("compile() accepts" if _compiles(text) else "compile() refuses")
    if _compiles(text):
        assert error is None, f"compile() accepts it, add refused it: {error}"
        assert hashes is not None
    else:
        assert error is not None, "compile() refuses it, add stored it"
        assert error.hint and error.path
