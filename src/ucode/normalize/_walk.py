"""Walking libcst trees fast: the fields that hold child nodes, in a fixed order, per node class.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Sequence

import libcst as cst

# ------------------------------------------------------------------------------------ tree walking

# Fields a walk never enters: whitespace, comments, parentheses, commas, operators and other tokens. Their
# subtrees hold no name, expression or statement, so skipping them changes nothing a caller looks at.
_WALK_SKIP = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header", "footer",
        "newline", "trailing_whitespace", "lbracket", "rbracket", "lbrace", "rbrace", "colon", "equal", "dot",
        "relative", "operator", "asynchronous", "first_colon", "second_colon", "star_tok", "first_comma",
        "comment", "empty_lines", "first_line", "last_line", "leading_whitespace", "trailing_comma", "separator",
    }
)
_VISIT_FUNCS = frozenset(
    {"visit_required", "visit_optional", "visit_sentinel", "visit_sequence", "visit_iterable",
     "visit_body_sequence", "visit_body_iterable"}
)
# type -> the fields holding its children, in the order libcst visits them (``node.children``'s order),
# without the skipped ones; None when that order cannot be read (then ``node.children`` is used).
_CHILD_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _child_fields(cls: type) -> tuple[str, ...] | None:
    """The order ``cls._visit_and_replace_children`` visits its fields in, read once from its source."""
    try:
        fields = _CHILD_FIELDS[cls]
    except KeyError:
        fields = None
        try:
            src = textwrap.dedent(inspect.getsource(cls._visit_and_replace_children))  # type: ignore[attr-defined]
            calls = [
                c for c in ast.walk(ast.parse(src))
                if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in _VISIT_FUNCS
                and len(c.args) >= 2 and isinstance(c.args[1], ast.Constant) and isinstance(c.args[1].value, str)
            ]
            calls.sort(key=lambda c: (c.lineno, c.col_offset))
            names: list[str] = []
            for c in calls:
                name = c.args[1].value  # type: ignore[attr-defined]
                if name not in names:
                    names.append(name)
            fields = tuple(n for n in names if n not in _WALK_SKIP and not n.startswith("whitespace"))
        except (OSError, TypeError, SyntaxError):  # pragma: no cover - no source: use node.children
            fields = None
        _CHILD_FIELDS[cls] = fields
    return fields


def _children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The children of ``node`` a walk enters, in ``node.children``'s order (without the formatting)."""
    fields = _CHILD_FIELDS.get(type(node), ()) if type(node) in _CHILD_FIELDS else _child_fields(type(node))
    if fields is None:  # pragma: no cover
        return list(node.children)
    out: list[cst.CSTNode] = []
    for f in fields:
        v = getattr(node, f)
        cls = v.__class__
        if cls is tuple or cls is list:
            out.extend(v)
        elif v is not None and cls is not cst.MaybeSentinel:
            out.append(v)
    return out


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Every node of the subtree, in pre-order and libcst's child order, without formatting tokens."""
    out: list[cst.CSTNode] = []
    append = out.append
    stack = [node]
    pop = stack.pop
    push = stack.append
    extend = stack.extend
    table = _CHILD_FIELDS
    sentinel = cst.MaybeSentinel
    while stack:
        n = pop()
        append(n)
        cls = n.__class__
        fields = table[cls] if cls in table else _child_fields(cls)
        if fields is None:  # pragma: no cover
            extend(reversed(n.children))
            continue
        for f in reversed(fields):
            v = getattr(n, f)
            vc = v.__class__
            if vc is tuple or vc is list:
                extend(reversed(v))
            elif v is not None and vc is not sentinel:
                push(v)
    return out




# ------------------------------------------------------------------------------- normalization


def _docstring_stmt(body: cst.BaseSuite) -> tuple[cst.CSTNode | None, str | None]:
    """The statement holding a docstring at the top of ``body``, and its text."""
    if isinstance(body, cst.IndentedBlock):
        stmts: Sequence[cst.CSTNode] = body.body
        if not stmts:
            return None, None
        first = stmts[0]
        if isinstance(first, cst.SimpleStatementLine) and len(first.body) == 1:
            expr = first.body[0]
            if isinstance(expr, cst.Expr) and isinstance(expr.value, (cst.SimpleString, cst.ConcatenatedString)):
                text = expr.value.evaluated_value
                if isinstance(text, str):
                    return first, text
    elif isinstance(body, cst.SimpleStatementSuite) and body.body:
        expr = body.body[0]
        if isinstance(expr, cst.Expr) and isinstance(expr.value, (cst.SimpleString, cst.ConcatenatedString)):
            text = expr.value.evaluated_value
            if isinstance(text, str):
                return expr, text
    return None, None
