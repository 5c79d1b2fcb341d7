"""Compiling stored code, and placing its source where tracebacks and ``inspect`` look for it.

Rule: compiled code carries the path and the lines of the file the module was added from, as code
compiled from the file does (``co_filename`` is the module's ``__file__``). A module's program is compiled
as one code object (what runs when nothing in the module is rebound) or statement by statement (when a
name in it is: the rebound statement is then run differently, the others as they are). A definition run
on its own (bound into a module that is not its own) is compiled under a name of its own,
``<ucode MODULE.NAME #HASH>``, so a traceback shows where it came from.
"""

from __future__ import annotations

import ast
import collections.abc
import linecache
import types
from collections.abc import Sequence
from typing import overload

from ucode import hashing

__all__ = ["code_filename", "compile_definition", "compile_program", "compile_statements", "program_text",
           "register_lazy_source", "register_source"]


def _flags(futures: Sequence[str]) -> int:
    import __future__

    flags = 0
    for name in futures:
        flags |= getattr(__future__, name).compiler_flag
    return flags


def program_text(statements: Sequence[tuple[int, str]]) -> str:
    """The text of a program: each statement's text at its line (lines between them are blank), so that
    line numbers are the file's."""
    out: list[str] = []
    line = 1
    for first, text in statements:
        if first > line:
            out.append("\n" * (first - line))
            line = first
        out.append(text)
        line += text.count("\n")
    return "".join(out)


def compile_program(text: str, path: str) -> types.CodeType:
    """The whole module as one code object, as ``compile`` of the file gives it."""
    code: types.CodeType = compile(text, path, "exec", dont_inherit=True)
    return code


def compile_statements(text: str, path: str, futures: Sequence[str],
                       starts: Sequence[int]) -> list[types.CodeType | None]:
    """One code object per statement of a program (``starts``: the line each statement's text starts
    at), with the file's line numbers. A string constant after the first statement compiles to None: alone,
    it would be taken for the module's docstring (it does nothing in the file)."""
    tree = ast.parse(text, path)
    groups: list[list[ast.stmt]] = [[] for _ in starts]
    k = 0
    for node in tree.body:  # one libcst statement can be several (`a = 1; b = 2`): group them by line
        while k + 1 < len(starts) and starts[k + 1] <= node.lineno:
            k += 1
        groups[k].append(node)
    flags = _flags(futures)
    out: list[types.CodeType | None] = []
    for i, group in enumerate(groups):
        if i > 0 and len(group) == 1 and isinstance(group[0], ast.Expr) and isinstance(group[0].value, ast.Constant) \
                and isinstance(group[0].value.value, str):
            out.append(None)
            continue
        out.append(compile(ast.Module(body=group, type_ignores=[]), path, "exec", flags=flags, dont_inherit=True))
    return out


def compile_definition(source: str, line: int, filename: str, futures: Sequence[str] = ()) -> types.CodeType:
    """Compile a definition's source on its own, placed at ``line`` (so its code has the file's line
    numbers), with its module's future features."""
    code: types.CodeType = compile("\n" * (line - 1) + source, filename, "exec", flags=_flags(futures),
                                   dont_inherit=True)
    return code


def code_filename(module: str, name: str, h: str) -> str:
    """The filename of a definition compiled on its own: a traceback shows its qualified name and hash."""
    return f"<ucode {module}.{name} {hashing.short(h)}>"


class _PlacedLines(collections.abc.Sequence[str]):
    """A definition's source lines as linecache holds a file's: ``line`` is where the first is; the lines
    before it read as empty (not materialized: a late definition of a long file would cost thousands)."""

    def __init__(self, line: int, lines: list[str]) -> None:
        self._offset = line - 1
        self._lines = lines

    def __len__(self) -> int:
        return self._offset + len(self._lines)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._lines[i - self._offset] if i >= self._offset else "\n"


class _LazyLines(collections.abc.Sequence[str]):
    """A module's source lines, read from the store the first time a traceback, ``inspect`` or ``doctest``
    asks for them (importing a module never does: as with files, whose lines linecache reads lazily)."""

    def __init__(self, load: collections.abc.Callable[[], str]) -> None:
        self._load: collections.abc.Callable[[], str] | None = load
        self._lines: list[str] = []

    def _get(self) -> list[str]:
        if self._load is not None:
            load, self._load = self._load, None
            self._lines = load().splitlines(keepends=True)
        return self._lines

    def __len__(self) -> int:
        return len(self._get())

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        return self._get()[i]


def register_lazy_source(filename: str, load: collections.abc.Callable[[], str]) -> None:
    """As :func:`register_source`, with the text read by ``load()`` when first needed."""
    linecache.cache[filename] = (0, None, _LazyLines(load), filename)  # type: ignore[assignment]


def register_source(filename: str, text: str, line: int = 1) -> None:
    """Make ``linecache`` (tracebacks, ``inspect.getsource``, doctest) read ``text`` for ``filename``,
    placed at ``line``. ``mtime`` None: never invalidated by ``linecache.checkcache``, so the stored text is
    shown even where the file has changed since it was added, or is gone."""
    lines = text.splitlines(keepends=True)
    placed: Sequence[str] = lines if line == 1 else _PlacedLines(line, lines)
    linecache.cache[filename] = (len(text) + line - 1, None, placed, filename)  # type: ignore[assignment]
