"""The structural encoding that is hashed: libcst nodes to nested lists of strings and ints, so that
formatting can never reach a hash (see docs/hashing.md).
"""

from __future__ import annotations

import ast
import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import libcst as cst

# --------------------------------------------------------------------------------------- encoding

_DROP_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header",
        "footer", "indent", "newline", "trailing_whitespace", "lbracket", "rbracket", "lbrace", "rbrace",
        "colon", "dot", "star_tok", "whitespace_between", "first_comma",
    }
)
_FIELD_CACHE: dict[type, tuple[str, ...]] = {}
_FORMATTING_TYPES: tuple[type, ...] = (
    cst.BaseParenthesizableWhitespace, cst.Comma, cst.Semicolon, cst.EmptyLine, cst.TrailingWhitespace,
    cst.Newline, cst.Comment, cst.LeftParen, cst.RightParen, cst.AssignEqual, cst.Colon,
)


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELD_CACHE.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in _DROP_FIELDS and not f.name.startswith("whitespace")
        )
        if cls is cst.FormattedStringExpression:
            names = (*names, "equal")
        _FIELD_CACHE[cls] = names
    return names


def _text_leaf(value: str) -> Any:
    """A string value as a tree leaf. ``"\\ud800"`` is a valid literal, but a lone surrogate cannot be
    encoded as UTF-8 (msgpack's ``str``): such a value is carried as the hex of its surrogatepass bytes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ["Surrogates", value.encode("utf-8", "surrogatepass").hex()]
    return value


def _string_value(node: cst.SimpleString) -> list[Any]:
    value = ast.literal_eval(node.value)
    if isinstance(value, bytes):
        return ["Bytes", value.hex()]
    return ["Str", _text_leaf(value)]


def _fstring_text(node: cst.FormattedString, text: str) -> str:
    prefix = node.prefix.lower().replace("f", "")
    if "r" in prefix:
        # Raw: the text is the value. (Evaluating ``r"...\\"`` would fail on a text part ending in a
        # backslash, as in ``rf"C:\\dir\\{name}"``.)
        value = text
    else:
        quote = node.start[len(node.prefix):]
        # The space keeps a text part that ends in the quote character (``f"""say "{x}" """``) or in a
        # backslash from closing the literal early; it is removed again after evaluation.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an invalid escape is kept as written, as Python does
            value = ast.literal_eval(prefix + quote + text + " " + quote)[:-1]
    return str(value).replace("{{", "{").replace("}}", "}")


def _equal_text(node: cst.FormattedStringExpression) -> str:
    """What ``f"{expr = }"`` prints before the value: the expression's source text up to and with ``=``."""
    code = cst.Module(body=[]).code_for_node
    parts = [node.whitespace_before_expression, node.expression, node.whitespace_after_expression]
    text = "".join(code(p) for p in parts)
    return text + (code(node.equal) if isinstance(node.equal, cst.AssignEqual) else "=")


# What the encoder does with a node or a field value, by class (isinstance on libcst's ABCs is slow; the
# answer only depends on the class, so it is computed once per class with the same isinstance tests).
(_K_NAME, _K_ATTRIBUTE, _K_SIMPLE_STRING, _K_STRINGS, _K_INTEGER, _K_FLOAT, _K_IMAGINARY, _K_BLOCK, _K_MODULE,
 _K_NODE, _K_NOT_A_NODE) = range(11)
_NODE_KIND: dict[type, int] = {}
_V_SKIP, _V_SEQUENCE, _V_STR, _V_OTHER = range(4)
_VALUE_KIND: dict[type, int] = {}
_FORMATTING_CLASS: dict[type, bool] = {}


def _node_kind(cls: type) -> int:
    kind = _K_NOT_A_NODE
    for test, k in (
        (cst.Name, _K_NAME), (cst.Attribute, _K_ATTRIBUTE), (cst.SimpleString, _K_SIMPLE_STRING),
        ((cst.ConcatenatedString, cst.FormattedString), _K_STRINGS), (cst.Integer, _K_INTEGER),
        (cst.Float, _K_FLOAT), (cst.Imaginary, _K_IMAGINARY), ((cst.IndentedBlock, cst.SimpleStatementSuite), _K_BLOCK),
        (cst.Module, _K_MODULE), (cst.CSTNode, _K_NODE),
    ):
        if issubclass(cls, test):
            kind = k
            break
    _NODE_KIND[cls] = kind
    return kind


def _value_kind(cls: type) -> int:
    if cls is type(None) or issubclass(cls, (cst.MaybeSentinel, _FORMATTING_TYPES)):
        kind = _V_SKIP
    elif issubclass(cls, (list, tuple)):
        kind = _V_SEQUENCE
    elif issubclass(cls, str):
        kind = _V_STR
    else:
        kind = _V_OTHER
    _VALUE_KIND[cls] = kind
    return kind


def _is_formatting(cls: type) -> bool:
    found = _FORMATTING_CLASS.get(cls)
    if found is None:
        found = _FORMATTING_CLASS[cls] = issubclass(cls, _FORMATTING_TYPES)
    return found


class _Encoder:
    """Encodes a libcst subtree as nested lists of str/int, applying the normalizer's renames."""

    def __init__(self, renames: dict[int, str], skip: set[int]) -> None:
        self.renames = renames
        self.skip = skip

    def encode(self, node: Any) -> Any:
        cls = node.__class__
        kind = _NODE_KIND.get(cls)
        if kind is None:
            kind = _node_kind(cls)
        if kind == _K_NAME:
            return ["Name", self.renames.get(id(node), node.value)]
        if kind == _K_ATTRIBUTE and id(node) in self.renames:
            return ["Name", self.renames[id(node)]]
        if kind == _K_SIMPLE_STRING:
            return _string_value(node)
        if kind == _K_STRINGS:
            return self._strings(node)
        if kind == _K_INTEGER:
            return ["Int", str(int(node.value.replace("_", ""), 0))]
        if kind == _K_FLOAT:
            return ["Float", repr(float(node.value.replace("_", "")))]
        if kind == _K_IMAGINARY:
            return ["Imag", repr(float(node.value[:-1].replace("_", "")))]
        if kind == _K_BLOCK:
            return ["Block", self._statements(node.body)]
        if kind == _K_MODULE:
            return ["Module", self._statements(node.body)]
        if kind == _K_NOT_A_NODE:
            raise TypeError(f"cannot encode {cls.__name__}")
        out: list[Any] = [cls.__name__]
        value_kinds = _VALUE_KIND
        for name in _fields(cls):
            value = getattr(node, name)
            vkind = value_kinds.get(value.__class__)
            if vkind is None:
                vkind = _value_kind(value.__class__)
            if vkind == _V_SKIP:
                if name == "equal" and isinstance(value, cst.AssignEqual):
                    out.append([name, 1])
                continue
            if vkind == _V_SEQUENCE:
                if not value:
                    continue
                encode = self.encode
                out.append([name, [encode(v) for v in value if not _is_formatting(v.__class__)]])
            elif vkind == _V_STR:
                if value:
                    out.append([name, value])
            else:
                out.append([name, self.encode(value)])
        if cls is cst.FormattedStringExpression and node.equal is not None:
            # ``f"{x = }"`` prints the expression's text as written, spaces and parentheses included,
            # so that text is part of what the code does (``f"{x=}"`` prints something else).
            out.append(["equal_text", _equal_text(node)])
        return out

    def _statements(self, body: Sequence[cst.CSTNode]) -> list[Any]:
        out: list[Any] = []
        for stmt in body:
            if id(stmt) in self.skip:
                continue
            if stmt.__class__ is cst.SimpleStatementLine:
                out.extend(self.encode(s) for s in stmt.body if id(s) not in self.skip)
            else:
                out.append(self.encode(stmt))
        return out

    def _strings(self, node: cst.BaseExpression) -> Any:
        parts: list[Any] = []
        is_bytes = False

        def add_text(text: str) -> None:
            if parts and isinstance(parts[-1], str):
                parts[-1] += text
            else:
                parts.append(text)

        def walk(n: cst.BaseExpression) -> None:
            nonlocal is_bytes
            if isinstance(n, cst.ConcatenatedString):
                walk(n.left)
                walk(n.right)
            elif isinstance(n, cst.SimpleString):
                value = ast.literal_eval(n.value)
                if isinstance(value, bytes):
                    is_bytes = True
                    parts.append(["Bytes", value.hex()])
                else:
                    add_text(value)
            elif isinstance(n, cst.FormattedString):
                for part in n.parts:
                    if isinstance(part, cst.FormattedStringText):
                        add_text(_fstring_text(n, part.value))
                    else:
                        parts.append(self.encode(part))
            else:  # pragma: no cover - libcst only nests the three above
                parts.append(self.encode(n))

        walk(node)
        if is_bytes:
            if all(not isinstance(p, str) and p[0] == "Bytes" for p in parts):
                # ``b"a" b"b"`` is the value ``b"ab"``: encode it exactly as that literal.
                return ["Bytes", "".join(p[1] for p in parts)]
            return ["BytesConcat", [p if not isinstance(p, str) else ["Str", _text_leaf(p)] for p in parts]]
        if all(isinstance(p, str) for p in parts):
            return ["Str", _text_leaf("".join(parts))]
        return ["FStr", [["Text", _text_leaf(p)] if isinstance(p, str) else p for p in parts]]
