"""Getting libcst through source that CPython accepts: deep nesting, and indentation libcst misreads.

* **Deep trees.** libcst's visitors and code generation, and ucode's scope builder and encoder, recurse
  once or more per level of the tree. A flat ``1 + 1 + ... + 1`` is a left-leaning tree as deep as it is
  long, and ``a or b or ...`` and implicit string concatenation are nested in libcst where CPython's AST
  is flat: Python's default recursion limit (1,000 frames) is reached long before ``compile()``'s (about
  3,000 levels). :func:`call_deep` runs such work again in a thread with a large stack and a raised
  recursion limit. libcst's own (Rust) parser recurses on the C stack: a chain of thousands of
  ``and``/``or`` overflows the main thread's 8 MiB and kills the process (SIGSEGV), so such a module is
  parsed in that thread from the start (:func:`bool_operators`), and refused, cleanly, past
  :data:`MAX_BOOL_CHAIN`.
* **Indentation.** libcst's tokenizer refuses some mixes of tabs and spaces that CPython accepts
  (``if 1:\\n if 1:\\n\\t y = 2``: Instagram/LibCST#829, #951), and form feeds in indentation. CPython
  measures indentation by columns, a tab advancing to the next multiple of 8 and a form feed resetting to
  0 (the tab-size-1 measure only decides TabError, which ``compile()`` has already ruled out).
  :func:`reindented` rewrites each line's leading whitespace as that many spaces: the same blocks to
  CPython (checked: the same AST), whitespace that libcst reads. Whitespace is not hashed; the statements'
  texts are taken from the file as written.
* **A backslash at the end.** A line continuation with nothing after it but blank lines (``pass\\`` on
  the last line, or a last line holding only ``\\``) is accepted by CPython and refused by libcst's
  tokenizer; :func:`without_dangling_continuation` drops that backslash (found by the fuzz tests).
"""

from __future__ import annotations

import ast
import io
import re
import sys
import threading
import tokenize
from collections.abc import Callable
from typing import TypeVar

__all__ = ["MAX_BOOL_CHAIN", "bool_operators", "call_deep", "longest_bool_chain", "reindented",
           "without_dangling_continuation"]

T = TypeVar("T")

_STACK_SIZE = 512 * 1024 * 1024  # virtual: pages are touched only as deep as the work goes
_RECURSION_LIMIT = 250_000
# A chain of and/or this long still parses in the deep thread's stack with room to spare (100,000 were
# measured to fit); past it, the module is refused instead of risking the process.
MAX_BOOL_CHAIN = 50_000
# Fewer and/or words than this in a whole file cannot overflow the main thread's stack (5,000 in one
# chain were measured to parse there; 10,000 crash).
DEEP_PARSE_AT = 2_000

_lock = threading.Lock()
_active = 0
_saved_limit = 0


def call_deep(fn: Callable[[], T]) -> T:
    """``fn()`` run in a thread with a 512 MiB stack and a recursion limit of 250,000; its result or its
    exception. The recursion limit is the interpreter's: it is raised while any such call runs and put
    back after the last one."""
    global _active, _saved_limit
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # handed to the caller's thread
            error.append(exc)

    with _lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, _RECURSION_LIMIT))
        _active += 1
        try:
            old_size = threading.stack_size(_STACK_SIZE)
        except (ValueError, RuntimeError):  # pragma: no cover - a platform without settable stacks
            old_size = None
        try:
            thread = threading.Thread(target=target, name="ucode-deep", daemon=True)
            thread.start()
        finally:
            if old_size is not None:
                threading.stack_size(old_size)
    try:
        thread.join()
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                sys.setrecursionlimit(_saved_limit)
    if error:
        raise error[0]
    return result[0]


_BOOL_WORD = re.compile(r"\b(?:and|or)\b")


def bool_operators(source: str) -> int:
    """How many ``and``/``or`` words the text has (strings and comments included): a cheap upper bound of
    the longest boolean chain."""
    return len(_BOOL_WORD.findall(source)) if "and" in source or "or" in source else 0


def longest_bool_chain(source: str) -> int:
    """The most ``and``/``or`` operators on one path through the module's expressions (what libcst nests
    one level each), from CPython's AST; walked without recursion."""
    tree = ast.parse(source)
    best = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.BoolOp):
            depth += len(node.values) - 1
            best = max(best, depth)
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))
    return best


def _columns(ws: str) -> int:
    col = 0
    for ch in ws:
        if ch == "\t":
            col = (col // 8 + 1) * 8
        elif ch == "\f":
            col = 0
        else:
            col += 1
    return col


_LEADING = re.compile(r"[ \t\f]*")


def reindented(source: str) -> str | None:
    """``source`` with the leading whitespace of every line that starts a logical line (and of comment and
    blank lines between them) written as spaces, CPython's column count of it; lines inside a multi-line
    string or a bracketed / backslash-continued expression are left as they are. None when no such line has
    a tab or a form feed, or when the result would not be the same program to CPython."""
    if "\t" not in source and "\f" not in source:
        return None
    lines = source.split("\n")
    rows: set[int] = set()
    at_start = True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            kind = tok.type
            if kind in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
                continue
            if at_start:
                rows.add(tok.start[0])
                if kind not in (tokenize.NL, tokenize.COMMENT):
                    at_start = False
            if kind == tokenize.NEWLINE:
                at_start = True
    except (tokenize.TokenError, SyntaxError):
        return None
    changed = False
    for row in rows:
        line = lines[row - 1]
        ws = _LEADING.match(line)
        lead = ws.group() if ws is not None else ""
        if "\t" in lead or "\f" in lead:
            lines[row - 1] = " " * _columns(lead) + line[len(lead):]
            changed = True
    if not changed:
        return None
    out = "\n".join(lines)
    try:
        if ast.dump(ast.parse(out)) != ast.dump(ast.parse(source)):
            return None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return out


_DANGLING = re.compile(r"\\(?:\r\n|\r|\n)?(?:[ \t\f]*(?:\r\n|\r|\n))*[ \t\f]*\Z")


def without_dangling_continuation(source: str) -> str | None:
    """``source`` without a backslash continuation that only blank lines follow, up to the end of the file;
    None when there is none, or when dropping it would not give the same program to CPython."""
    m = _DANGLING.search(source)
    if m is None:
        return None
    out = source[: m.start()] + source[m.start() + 1:]
    try:
        if ast.dump(ast.parse(out)) != ast.dump(ast.parse(source)):
            return None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return out
