"""Normalization: Python source -> definitions, each with a canonical tree, its imports, deps and hash.

This is the only module (with :mod:`ucode.hazards`) that imports libcst; only the write paths (``add``,
``verify``) import it, so ``run``/``view``/``find`` never pay for it.

What a definition hashes to (see docs/hashing.md for the full rules):

* Its structure, not its text: the encoder walks the libcst tree and drops whitespace, comments,
  parentheses, trailing commas and the docstring; strings and numbers are encoded by value
  (``'a'`` == ``"a"``, ``0x10`` == ``16``).
* Its own name is the placeholder ``_u_self`` in the tree (a recursive call means "this very
  definition"), and the qualified name it defines is a separate part of the hash: in Python a statement
  binds an object under its name in its module, so ``A = []`` and ``B = []`` are two definitions (two
  lists), not one. ``ucode alias``/``move`` bind more names to the same hash without changing it.
* Local variables are renamed ``_u_l0, _u_l1, ...`` in order of first occurrence (alpha-equivalence),
  unless the definition can observe local names (``locals()``, ``vars()``, ``eval``, ``exec``, ``dir()``,
  an f-string ``=`` specifier, frame introspection): then nothing is renamed in it. Parameter names,
  attribute names, keyword arguments, names bound by local imports and the names of nested functions and
  classes (visible as ``__name__``) stay as written.
* Free names are classified: a dependency on another definition of the codebase (``_u_d<i>``, the
  ``i``-th of the sorted fully qualified ``deps``), an import (``_u_i<i>``, the ``i``-th of the sorted
  canonical ``imports``, whatever alias it was imported under), a builtin (kept), or unresolved (kept,
  with a warning).

The normalized *code* (:func:`normalized_code`) is the same renaming applied as a libcst transform; with
:func:`import_prelude` it runs exactly as the original does (a property test checks it).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import inspect
import re
import textwrap
import warnings
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper

from ucode import hashing
from ucode.errors import SourceError
from ucode.hazards import HazardScanner

__all__ = [
    "SELF",
    "Context",
    "Finding",
    "NormalizedDefinition",
    "ParsedModule",
    "Skipped",
    "import_prelude",
    "normalize_module",
    "normalized_code",
    "parse_source",
    "top_level_names",
]

SELF = "_u_self"
_RESERVED_PREFIX = "_u_"
_MODULE_DUNDERS = frozenset(
    {"__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__",
     "__path__", "__annotations__", "__dict__", "__cached__",
     # Not module-level, but implicit: the cell ``super()`` uses, visible in every method.
     "__class__"}
)
_BUILTINS = frozenset(dir(builtins)) | _MODULE_DUNDERS
# Calls that observe local variable *names*: renaming locals would change what they see.
_NAME_OBSERVERS = frozenset({"locals", "vars", "eval", "exec", "dir"})
_FRAME_OBSERVERS = frozenset(
    {"sys._getframe", "inspect.currentframe", "inspect.stack", "inspect.getouterframes", "sys.exc_info"}
)


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Context:
    """What the normalizer must know about the rest of the codebase.

    ``modules``: fully qualified names of modules that are in the codebase (this batch and the store);
    an import from one of them is a dependency, not an import. ``is_name(fqn)`` says whether a name is a
    known definition (used to resolve attribute chains such as ``app.lookupUser``). ``follow`` resolves a
    name through the imports of its module (see :func:`import_map`).
    """

    modules: frozenset[str] = frozenset()
    is_name: Callable[[str], bool] = lambda _fqn: False
    # ``follow(fqn)``: where a name that is not a definition comes from when its module imported it
    # (``pluggy._hooks.HookspecMarker`` -> ``pluggy._decorators.HookspecMarker``): Python's
    # ``from ._hooks import HookspecMarker`` gets whatever ``_hooks`` holds under that name.
    follow: Callable[[str], str] = lambda fqn: fqn


@dataclass(frozen=True)
class Finding:
    """A warning about a definition: a hidden effect or an unresolved name."""

    code: str
    message: str
    line: int

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "line": self.line}


@dataclass
class NormalizedDefinition:
    """One top-level statement of a module, normalized and hashed: a definition (``kind`` function, class
    or value) or module code (``kind`` code). ``names``: what it defines (a definition's name or names;
    the names module code assigns, ``a, b = 1, 2`` or a ``def`` inside ``try``)."""

    names: list[str]
    kind: str  # "function" | "class" | "value" | "code"
    hash: str
    imports: list[str]
    deps: list[str]
    codebase_modules: list[str]
    docstring: str | None
    source: str  # the exact text that runs (comment lines above it included), placed at `line`
    line: int
    warnings: list[Finding]
    renamed_locals: bool
    refs: dict[str, list[str]]
    node: cst.CSTNode = field(repr=False)
    renames: dict[int, str] = field(repr=False, default_factory=dict)
    skip: set[int] = field(repr=False, default_factory=set)
    futures: list[str] = field(default_factory=list)  # the module's `from __future__` features it runs with
    eager: list[str] = field(default_factory=list)  # refs used when it runs (the others: at call time)
    weak: list[str] = field(default_factory=list)  # refs only named in string annotations
    body: str | None = None  # hashing.body_hash: the definition without its name (None for module code)
    index: int = 0  # its position in the module's program


@dataclass(frozen=True)
class Reexport:
    """``from .helpers import slugify`` in a package ``__init__``: ``name`` is an alias of ``target``."""

    name: str
    target: str
    line: int


@dataclass(frozen=True)
class Skipped:
    """A top-level statement that is not stored (reported by file and line)."""

    line: int
    reason: str
    text: str


@dataclass
class ParsedModule:
    """A module's program: every top-level statement in file order (see :func:`normalize_module`)."""

    name: str
    path: str
    is_package: bool
    docstring: str | None
    statements: list[NormalizedDefinition]
    slots: dict[str, int]  # name -> the statement (index) the name is bound to: its last definition
    star_reexports: list[str] = field(default_factory=list)  # codebase modules it `import *`s from
    imports: dict[str, str] = field(default_factory=dict)  # import_map(): what its from-imports bind
    futures: list[str] = field(default_factory=list)  # its `from __future__` features (FUTURE_FEATURES)
    modules_imported: list[str] = field(default_factory=list)  # modules its module-level imports load
    modules_used: list[str] = field(default_factory=list)  # modules any import in it loads (functions too)
    annotations: bool = False  # it annotates a module-level name (Python sets up __annotations__ first)
    hash: str = ""  # hashing.module_hash of the program
    origin: str = ""  # the path it runs as (__file__)
    skipped: list[Skipped] = field(default_factory=list)  # nothing is skipped any more: kept for callers

    @property
    def definitions(self) -> list[NormalizedDefinition]:
        """The statements that names are bound to, in file order."""
        bound = set(self.slots.values())
        return [s for s in self.statements if s.index in bound]

    def bindings(self) -> dict[str, str]:
        """Every name the module defines -> the hash it is bound to."""
        return {n: self.statements[i].hash for n, i in self.slots.items()}


# ------------------------------------------------------------------------------ module-level table


@dataclass(frozen=True)
class _Binding:
    """What a module-level name is bound to."""

    kind: str  # "def" | "import" | "dep" | "module" | "other"
    value: str  # import statement, dep fqn, module fqn, or a reason
    qualname: str = ""  # for imports: the dotted name of the bound object, for hazard detection


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return _dotted(node.value) + "." + node.attr.value
    raise TypeError(type(node).__name__)


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    if level - 1 > len(base):
        return target or ""
    base = base[: len(base) - (level - 1)]
    if target:
        base = [*base, target]
    return ".".join(base)


class _ModuleTable:
    def __init__(self, module: str, is_package: bool, ctx: Context) -> None:
        self.module = module
        self.is_package = is_package
        self.ctx = ctx
        self.bindings: dict[str, _Binding] = {}
        self.star_modules: list[str] = []  # codebase modules star-imported
        self.external_stars: list[str] = []
        self._plain: set[str] = set()  # names bound only by unconditional ``import a.b`` statements

    def bind(self, name: str, binding: _Binding, *, plain_import: bool = False) -> None:
        # The first import of a name wins (``try: import simplejson as json / except: import json``
        # should read as the preferred one); a definition always wins over an import. Except that
        # unconditional ``import email`` and ``import email.mime.text`` both bind ``email`` and *both* must
        # run (the second loads the submodule the code uses as ``email.mime.text``): they merge into one
        # value, ``import email; import email.mime.text`` (sorted, so the order of the lines is not hashed).
        old = self.bindings.get(name)
        if plain_import and old is not None and name in self._plain:
            parts = sorted(set(old.value.split("; ")) | {binding.value})
            self.bindings[name] = _Binding("import", "; ".join(parts), name)
            return
        if plain_import and old is None:
            self._plain.add(name)
        elif old is None or binding.kind == "def":
            self._plain.discard(name)
        if old is not None and old.kind in ("import", "dep", "module") and binding.kind != "def":
            return
        self.bindings[name] = binding

    def add_import(self, stmt: cst.Import | cst.ImportFrom, *, conditional: bool = False) -> list[tuple[str, str]]:
        """Record an import (``conditional``: inside a top-level ``if``/``try``); return (local name,
        absolute target) pairs for codebase imports."""
        found: list[tuple[str, str]] = []
        if isinstance(stmt, cst.Import):
            for alias in stmt.names:
                mod = _dotted(alias.name)
                if alias.asname is not None:
                    local = _dotted(alias.asname.name)
                    if mod in self.ctx.modules:
                        self.bind(local, _Binding("module", mod))
                    elif "." in mod:
                        head, _, tail = mod.rpartition(".")
                        self.bind(local, _Binding("import", f"from {head} import {tail}", mod))
                    else:
                        self.bind(local, _Binding("import", f"import {mod}", mod))
                else:
                    top = mod.split(".")[0]
                    if top in self.ctx.modules:
                        self.bind(top, _Binding("module", top))
                    else:
                        self.bind(top, _Binding("import", f"import {mod}", top), plain_import=not conditional)
            return found
        # ImportFrom
        level = len(stmt.relative)
        target = _dotted(stmt.module) if stmt.module is not None else None
        absolute = _resolve_relative(self.module, self.is_package, level, target) if level else (target or "")
        if isinstance(stmt.names, cst.ImportStar):
            if absolute in self.ctx.modules:
                self.star_modules.append(absolute)
                found.append(("*", absolute))
            else:
                self.external_stars.append(absolute)
            return found
        for alias in stmt.names:
            name = _dotted(alias.name)
            local = _dotted(alias.asname.name) if alias.asname is not None else name
            full = f"{absolute}.{name}"
            if absolute == "builtins" and local == name:
                # ``from builtins import super, str`` (python-future style) binds the builtin itself.
                # Keep it a builtin: renamed ``_u_i0()``, a zero-argument ``super()`` loses its
                # ``__class__`` cell and fails at run time.
                continue
            if full in self.ctx.modules and not self.ctx.is_name(full):
                self.bind(local, _Binding("module", full))
            elif absolute in self.ctx.modules:
                if not self.ctx.is_name(full):
                    full = self.ctx.follow(full)
                # ``from .rules_core import block`` where rules_core/__init__ does ``from .block import
                # block``: Python gives the package's attribute (the function), not the submodule
                self.bind(local, _Binding("dep", full))
                found.append((local, full))
            else:
                self.bind(local, _Binding("import", f"from {absolute} import {name}", full))
        return found

    def lookup(self, name: str) -> _Binding | None:
        b = self.bindings.get(name)
        if b is not None:
            return b
        for mod in self.star_modules:
            if self.ctx.is_name(f"{mod}.{name}"):
                return _Binding("dep", f"{mod}.{name}")
        return None


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


# --------------------------------------------------------------------------------- scope analysis
#
# A model of Python's scopes over the libcst tree. It reproduces exactly what libcst's ScopeProvider (1.9)
# decides -- which names are reads, which are bindings and in which scope, the textual order of bindings in
# a class body -- at a fraction of its cost (libcst's visitor framework, ExpressionContextProvider and
# qualified-name lookups were more than half of ``add``). ``_ScopeIndex`` then applies the static rules.

_GLOBAL, _FUNCTION, _CLASS, _COMPREHENSION, _ANNOTATION, _BUILTIN = range(6)

# Nodes after which libcst counts one more assignment in the current scope (its textual order).
_ASSIGNMENT_LIKE = frozenset(
    {cst.AnnAssign, cst.AsName, cst.Assign, cst.AugAssign, cst.ClassDef, cst.CompFor, cst.FunctionDef,
     cst.Global, cst.Import, cst.ImportFrom, cst.NamedExpr, cst.Nonlocal, cst.Parameters, cst.WithItem,
     cst.TypeVar, cst.TypeAlias, cst.TypeVarTuple, cst.ParamSpec}
)
# An annotation string that cannot bind, declare or count anything when parsed (no ``:``, ``=``, ``;``,
# line break, escape, ``import``/``global``/``nonlocal``) only adds reads of the string node itself, which
# nothing looks up: it is not parsed at all.
_STRING_MAY_BIND = re.compile(r"[:=;\n\r\\@]|import|global|nonlocal")


class _Scope:
    __slots__ = ("assignments", "count", "kind", "name_prefix", "overwrites", "parent")

    def __init__(self, kind: int, parent: _Scope | None, name: str | None = None) -> None:
        self.kind = kind
        self.parent: _Scope = parent if parent is not None else self
        self.assignments: dict[str, list[_Asg]] = {}
        self.overwrites: dict[str, _Scope] = {}  # ``global`` / ``nonlocal`` declarations
        self.count = 0  # libcst's _assignment_count
        if kind in (_GLOBAL, _BUILTIN):
            self.name_prefix = ""
        else:
            assert parent is not None
            base = parent.name_prefix
            if kind == _FUNCTION:
                parts = [base, name, "<locals>"]
            elif kind == _CLASS:
                parts = [base, name]
            elif kind == _COMPREHENSION:
                parts = [base, "<comprehension>"]
            else:
                parts = [base]
            self.name_prefix = ".".join(p for p in parts if p)

    def visible_from(self, from_scope: _Scope) -> bool:
        if self.kind == _CLASS:
            return from_scope.parent is self and from_scope.kind == _ANNOTATION
        return True

    def next_visible_parent(self, from_scope: _Scope, first: _Scope | None = None) -> _Scope:
        parent = first if first is not None else self.parent
        while not parent.visible_from(from_scope):
            parent = parent.parent
        return parent

    def find_target(self, name: str) -> _Scope:
        kind = self.kind
        if kind == _BUILTIN:
            raise NotImplementedError("assignments in builtin scope are not allowed")
        if kind != _GLOBAL:
            over = self.overwrites.get(name)
            if over is not None:
                return self.next_visible_parent(self, over).find_target(name)
        return self

    def contains(self, name: str) -> bool:
        kind = self.kind
        if kind == _BUILTIN:
            return hasattr(builtins, name)
        if kind == _GLOBAL:
            if name in self.assignments:
                return len(self.assignments[name]) > 0
            return self.next_visible_parent(self).contains(name)
        over = self.overwrites.get(name)
        if over is not None:
            return over.contains(name)
        if name in self.assignments:
            return len(self.assignments[name]) > 0
        return self.next_visible_parent(self).contains(name)

    def resolve_access(self, name: str, from_scope: _Scope) -> list[_Asg]:
        kind = self.kind
        if kind == _BUILTIN:
            found = self.assignments.get(name)
            if found is None:
                if not hasattr(builtins, name):
                    return []
                found = self.assignments[name] = [_Asg(name, self, None, -1, "builtin")]
            return found
        if kind != _GLOBAL:
            over = self.overwrites.get(name)
            if over is not None:
                return self.next_visible_parent(from_scope, over).resolve_access(name, from_scope)
        found = self.assignments.get(name)
        if found is not None:
            return found
        return self.next_visible_parent(from_scope).resolve_access(name, from_scope)


class _Asg:
    """A binding of ``name`` in ``scope``; ``index`` is its textual order there (libcst's)."""

    __slots__ = ("index", "kind", "name", "node", "scope")

    def __init__(self, name: str, scope: _Scope, node: Any, index: int, kind: str) -> None:
        self.name = name
        self.scope = scope
        self.node = node
        self.index = index
        self.kind = kind  # "name" | "import" | "def" (FunctionDef, ClassDef, Param) | "other" | "builtin"

    def qualified_names(self, full_name: str) -> set[str]:
        if self.kind == "builtin":
            return {f"builtins.{self.name}"}
        if self.kind != "import":
            prefix = self.scope.name_prefix
            return {f"{prefix}.{full_name}" if prefix else full_name}
        # libcst's ImportAssignment.get_qualified_names_for
        node = self.node
        module = ""
        if isinstance(node, cst.ImportFrom):
            if node.module:
                module = _full_name(node.module) or ""
            if node.relative:
                module = "." * len(node.relative) + module
        results: set[str] = set()
        if isinstance(node.names, cst.ImportStar):
            return results
        for alias in node.names:
            real = _full_name(alias.name)
            if not real:
                continue
            parts = real.split(".")
            for real_name in [".".join(parts[:i]) for i in range(len(parts), 0, -1)]:
                as_name = real_name
                if module and module.endswith("."):
                    real_name = f"{module}{real_name}"
                elif module:
                    real_name = f"{module}.{real_name}"
                if alias.asname:
                    alias_name = alias.evaluated_alias
                    if alias_name is not None:
                        as_name = alias_name
                if full_name.startswith(as_name):
                    remaining = full_name.split(as_name, 1)[1]
                    if remaining and not remaining.startswith("."):
                        continue
                    remaining = remaining.lstrip(".")
                    results.add(f"{real_name}.{remaining}" if remaining else real_name)
                    break
        return results


class _Acc:
    """A read of a Name: its scope, the number of bindings the scope had before it, its enclosing
    attribute chain (``a.b.c`` for ``a``)."""

    __slots__ = ("attr", "index", "node", "scope")

    def __init__(self, node: cst.Name, scope: _Scope, index: int, attr: cst.Attribute | None) -> None:
        self.node = node
        self.scope = scope
        self.index = index
        self.attr = attr


def _full_name(node: Any) -> str | None:
    """libcst's ``get_full_name_for_node``."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, str):
        return node
    if isinstance(node, cst.Attribute):
        return f"{_full_name(node.value)}.{node.attr.value}"
    if isinstance(node, cst.Call):
        return _full_name(node.func)
    if isinstance(node, cst.Subscript):
        return _full_name(node.value)
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        return _full_name(node.name)
    if isinstance(node, cst.Decorator):
        return _full_name(node.decorator)
    return None


def _gen_dotted_names(node: cst.Attribute | cst.Name) -> Iterator[tuple[str, cst.CSTNode]]:
    """libcst's ``_gen_dotted_names``: ``a.b.c`` -> ("a.b.c", node), ("a.b", ...), ("a", ...)."""
    if isinstance(node, cst.Name):
        yield node.value, node
        return
    value = node.value
    if isinstance(value, cst.Call):
        value = value.func
        if isinstance(value, (cst.Attribute, cst.Name)):
            names = _gen_dotted_names(value)
            try:
                next_name, next_node = next(names)
            except StopIteration:
                return
            yield next_name, next_node
            yield from names
    elif isinstance(value, (cst.Attribute, cst.Name)):
        names = _gen_dotted_names(value)
        try:
            next_name, next_node = next(names)
        except StopIteration:
            return
        yield f"{next_name}.{node.attr.value}", node
        yield next_name, next_node
        yield from names


class _ScopeBuilder:
    """One pass over a module recording what libcst's ScopeVisitor (with ExpressionContextProvider) records:
    a scope tree, every binding (and in which scope: ``global``/``nonlocal`` redirect them), every read of a
    Name, the nodes ``_ScopeIndex`` corrects. Same traversal order, same special cases (the first argument
    of ``typing.TypeVar``/``NewType`` is not visited; annotation strings are parsed)."""

    def __init__(self) -> None:
        self.builtin_scope = _Scope(_BUILTIN, None)
        self.global_scope = _Scope(_GLOBAL, self.builtin_scope)
        self.scope = self.global_scope
        self.access: dict[int, _Acc] = {}
        self.assign: dict[int, _Asg] = {}
        self.fixed: set[tuple[int, str]] = set()
        self.own: set[tuple[int, str]] = set()
        self.redirected: list[tuple[cst.Name, _Scope]] = []
        self.declared: list[tuple[cst.Global | cst.Nonlocal, _Scope]] = []
        self.fixups: list[tuple[cst.CSTNode, _Scope]] = []  # Match* nodes and NamedExpr, with their scope
        self.keep_alive: list[cst.Module] = []  # parsed annotation strings (their nodes' ids are recorded)
        self._attr_stack: list[cst.Attribute | None] = [None]
        self._in_annotation: list[bool] = [False]
        self._in_type_hint: list[bool] = [False]
        self._ignored_subscripts: set[int] = set()
        self._in_string = False  # inside a parsed annotation string: no expression context, reads ignored
        self._maybe_typing = False  # whether any binding so far can have a ``typing.`` qualified name
        self._dispatch: dict[type, Callable[[Any, bool], None]] = {
            cst.Name: self._name, cst.Attribute: self._attribute, cst.Call: self._call, cst.Arg: self._arg,
            cst.Annotation: self._annotation, cst.SimpleString: self._simple_string,
            cst.ConcatenatedString: self._concatenated_string, cst.Subscript: self._subscript,
            cst.FunctionDef: self._function_def, cst.Lambda: self._lambda, cst.Param: self._param,
            cst.ClassDef: self._class_def, cst.Global: self._global, cst.Nonlocal: self._nonlocal,
            cst.ListComp: self._comprehension, cst.SetComp: self._comprehension,
            cst.DictComp: self._comprehension, cst.GeneratorExp: self._comprehension, cst.For: self._for,
            cst.Import: self._import, cst.ImportFrom: self._import, cst.TypeAlias: self._type_alias,
            cst.TypeVar: self._type_var, cst.TypeVarTuple: self._type_var_like,
            cst.ParamSpec: self._type_var_like,
            # expression context (libcst's ExpressionContextProvider): what is a store
            cst.Assign: self._assign, cst.AssignTarget: self._store_target, cst.AnnAssign: self._ann_assign,
            cst.AugAssign: self._store_target, cst.NamedExpr: self._named_expr, cst.AsName: self._as_name,
            cst.CompFor: self._comp_for, cst.Del: self._del,
            cst.MatchAs: self._fixup, cst.MatchStar: self._fixup, cst.MatchMapping: self._fixup,
            cst.MatchKeywordElement: self._fixup,
        }

    # -- traversal

    def visit(self, node: Any, store: bool = False) -> None:
        handler = self._dispatch.get(node.__class__)
        if handler is not None:
            handler(node, store)
        else:
            self._children(node, store)
        if node.__class__ in _ASSIGNMENT_LIKE:
            self.scope.count += 1

    def _children(self, node: Any, store: bool) -> None:
        visit = self.visit
        for child in _children(node):
            visit(child, store)

    def _record(self, name: str, node: Any, kind: str) -> None:
        current = self.scope
        target = current.find_target(name)
        a = _Asg(name, target, node, target.count, kind)
        target.assignments.setdefault(name, []).append(a)
        key = (id(target), name)
        if target is current:
            self.own.add(key)
        elif kind == "name":
            self.redirected.append((node, current))
        if name.startswith("typing"):
            self._maybe_typing = True
        if kind == "import":
            self.fixed.add(key)
            return
        if target.kind == _CLASS:
            # A name bound in a class body is an attribute of the class (``z = 1``, a dataclass field
            # ``x: int``): renaming it would change the class's interface.
            self.fixed.add(key)
        if kind == "name":
            self.assign[id(node)] = a
        elif kind == "def":
            self.assign[id(node.name)] = a
            self.fixed.add(key)
        else:
            self.fixed.add(key)

    def _name(self, node: cst.Name, store: bool) -> None:
        if self._in_string:
            return  # libcst files these reads under the string node, which nothing looks up
        if store:
            self._record(node.value, node, "name")
        else:
            scope = self.scope
            self.access[id(node)] = _Acc(node, scope, scope.count, self._attr_stack[-1])

    def _attribute(self, node: cst.Attribute, store: bool) -> None:
        stack = self._attr_stack
        if stack[-1] is None:
            stack[-1] = node
        self.visit(node.value)  # not ``attr``: an attribute name is no variable
        if stack[-1] is node:
            stack[-1] = None

    def _qualified_names(self, node: cst.CSTNode) -> set[str]:
        """libcst's ``Scope.get_qualified_names_for`` (during the traversal: the bindings seen so far)."""
        full_name = _full_name(node)
        if full_name is None:
            return set()
        scope = self.scope
        found: list[_Asg] = []
        prefix: str | None = full_name
        while prefix:
            if scope.contains(prefix):
                found = scope.resolve_access(prefix, scope)
                break
            idx = prefix.rfind(".")
            prefix = None if idx == -1 else prefix[:idx]
        results: set[str] = set()
        for a in found:
            results |= a.qualified_names(full_name)
        return results

    def _call(self, node: cst.Call, store: bool) -> None:
        self._attr_stack.append(None)
        hints = self._in_type_hint
        hints.append(False)
        qnames = self._qualified_names(node) if self._maybe_typing else ()
        if "typing.NewType" in qnames or "typing.TypeVar" in qnames:
            self.visit(node.func, store)
            hints[-1] = True
            for arg in node.args[1:]:
                self.visit(arg, store)
        elif "typing.cast" in qnames:
            self.visit(node.func, store)
            if node.args:
                hints.append(True)
                self.visit(node.args[0], store)
                hints.pop()
                for arg in node.args[1:]:
                    self.visit(arg, store)
        else:
            self._children(node, store)
        self._attr_stack.pop()
        hints.pop()

    def _arg(self, node: cst.Arg, store: bool) -> None:
        self.visit(node.value, store)  # not the keyword: neither a read nor a binding

    def _annotation(self, node: cst.Annotation, store: bool) -> None:
        self._in_annotation.append(True)
        self._children(node, store)
        self._in_annotation.pop()

    def _string_annotation(self, node: cst.SimpleString | cst.ConcatenatedString) -> bool:
        if (self._in_type_hint[-1] or self._in_annotation[-1]) and not self._ignored_subscripts:
            value = node.evaluated_value
            if value:
                if isinstance(value, str) and not _STRING_MAY_BIND.search(value):
                    return True
                try:
                    mod = cst.parse_module(value)
                except cst.ParserSyntaxError:
                    return True
                self.keep_alive.append(mod)
                in_string = self._in_string
                self._in_string = True
                try:
                    self.visit(mod)
                finally:
                    self._in_string = in_string
                return True
        return False

    def _simple_string(self, node: cst.SimpleString, store: bool) -> None:
        self._string_annotation(node)

    def _concatenated_string(self, node: cst.ConcatenatedString, store: bool) -> None:
        if not self._string_annotation(node):
            self._children(node, store)

    def _subscript(self, node: cst.Subscript, store: bool) -> None:
        in_type_hint = False
        ignored = False
        if self._maybe_typing and isinstance(node.value, cst.Name):
            qnames = self._qualified_names(node.value)
            if any(qn.startswith(("typing.", "typing_extensions.")) for qn in qnames):
                in_type_hint = True
            if "typing.Literal" in qnames or "typing_extensions.Literal" in qnames:
                ignored = True
                self._ignored_subscripts.add(id(node))
        self._in_type_hint.append(in_type_hint)
        self._children(node, False)  # the value and the slice are reads, even in a target
        self._in_type_hint.pop()
        if ignored:
            self._ignored_subscripts.discard(id(node))

    def _function_def(self, node: cst.FunctionDef, store: bool) -> None:
        self._record(node.name.value, node, "def")
        outer = self.scope
        if node.type_parameters:
            self.scope = _Scope(_ANNOTATION, outer)
            self.visit(node.type_parameters)
        around = self.scope
        self.scope = _Scope(_FUNCTION, around, node.name.value)
        self.visit(node.params)
        self.visit(node.body)
        self.scope = around
        for decorator in node.decorators:
            self.visit(decorator)
        if node.returns:
            self.visit(node.returns)
        self.scope = outer

    def _lambda(self, node: cst.Lambda, store: bool) -> None:
        outer = self.scope
        self.scope = _Scope(_FUNCTION, outer)
        self.visit(node.params, store)
        self.visit(node.body, store)
        self.scope = outer

    def _param(self, node: cst.Param, store: bool) -> None:
        self._record(node.name.value, node, "def")
        current = self.scope
        self.scope = current.parent  # defaults and annotations are evaluated outside the function
        if node.default:
            self.visit(node.default, store)
        if node.annotation:
            self.visit(node.annotation, store)
        self.scope = current

    def _class_def(self, node: cst.ClassDef, store: bool) -> None:
        self._record(node.name.value, node, "def")
        for decorator in node.decorators:
            self.visit(decorator)
        outer = self.scope
        if node.type_parameters:
            self.scope = _Scope(_ANNOTATION, outer)
            self.visit(node.type_parameters)
        for base in node.bases:
            self.visit(base)
        for keyword in node.keywords:
            self.visit(keyword)
        self.scope = _Scope(_CLASS, self.scope, node.name.value)
        for statement in node.body.body:
            self.visit(statement)
        self.scope = outer

    def _global(self, node: cst.Global, store: bool) -> None:
        scope = self.scope
        for item in node.names:
            if scope.kind != _GLOBAL:
                scope.overwrites[item.name.value] = self.global_scope
        self.declared.append((node, scope))

    def _nonlocal(self, node: cst.Nonlocal, store: bool) -> None:
        scope = self.scope
        for item in node.names:
            if scope.kind == _GLOBAL:
                raise NotImplementedError("nonlocal declaration not allowed at module level")
            scope.overwrites[item.name.value] = scope.parent
        self.declared.append((node, scope))

    def _comprehension(self, node: Any, store: bool) -> None:
        for_in = node.for_in
        self.visit(for_in.iter, store)  # the first iterable is evaluated in the enclosing scope
        outer = self.scope
        self.scope = _Scope(_COMPREHENSION, outer)
        self.visit(for_in.target, True)
        self.scope.count += 1
        for condition in for_in.ifs:
            self.visit(condition, store)
        if for_in.inner_for_in:
            self.visit(for_in.inner_for_in, store)
        if isinstance(node, cst.DictComp):
            self.visit(node.key, store)
            self.visit(node.value, store)
        else:
            self.visit(node.elt, store)
        self.scope = outer

    def _comp_for(self, node: cst.CompFor, store: bool) -> None:
        # an inner ``for`` of a comprehension, visited in order; only its target is a store
        for f in _child_fields(cst.CompFor) or ():
            v = getattr(node, f)
            if v is None or v.__class__ is cst.MaybeSentinel:
                continue
            if v.__class__ is tuple or v.__class__ is list:
                for c in v:
                    self.visit(c, store)
            else:
                self.visit(v, True if f == "target" else store)

    def _for(self, node: cst.For, store: bool) -> None:
        self.visit(node.target, True)
        self.scope.count += 1
        self.visit(node.iter, store)
        self.visit(node.body, store)
        if node.orelse is not None:
            self.visit(node.orelse, store)

    def _import(self, node: cst.Import | cst.ImportFrom, store: bool) -> None:
        names = node.names
        if isinstance(names, cst.ImportStar):
            return
        if isinstance(node, cst.Import):
            if any((_full_name(a.name) or "").startswith("typing") for a in names):
                self._maybe_typing = True
        elif not node.relative and node.module is not None and (_full_name(node.module) or "").startswith("typing"):
            self._maybe_typing = True
        for alias in names:
            target = alias.asname.name if alias.asname is not None else alias.name
            for name, _ in _gen_dotted_names(target):  # type: ignore[arg-type]
                self._record(name, node, "import")

    def _type_alias(self, node: cst.TypeAlias, store: bool) -> None:
        self._record(node.name.value, node, "other")
        outer = self.scope
        self.scope = _Scope(_ANNOTATION, outer)
        if node.type_parameters is not None:
            self.visit(node.type_parameters)
        self.visit(node.value)
        self.scope = outer

    def _type_var(self, node: cst.TypeVar, store: bool) -> None:
        self._record(node.name.value, node, "other")
        if node.bound is not None:
            self.visit(node.bound)

    def _type_var_like(self, node: cst.TypeVarTuple | cst.ParamSpec, store: bool) -> None:
        self._record(node.name.value, node, "other")

    def _assign(self, node: cst.Assign, store: bool) -> None:
        for target in node.targets:
            self.visit(target, True)
        self.visit(node.value, store)

    def _store_target(self, node: cst.AssignTarget | cst.AugAssign, store: bool) -> None:
        for f in _child_fields(node.__class__) or ():
            v = getattr(node, f)
            if v is not None and v.__class__ is not cst.MaybeSentinel:
                self.visit(v, True if f == "target" else store)

    def _ann_assign(self, node: cst.AnnAssign, store: bool) -> None:
        self._store_target(node, store)  # type: ignore[arg-type]

    def _named_expr(self, node: cst.NamedExpr, store: bool) -> None:
        self._store_target(node, store)  # type: ignore[arg-type]
        self.fixups.append((node, self.scope))

    def _as_name(self, node: cst.AsName, store: bool) -> None:
        self.visit(node.name, True)

    def _del(self, node: cst.Del, store: bool) -> None:
        self.visit(node.target, False)

    def _fixup(self, node: cst.CSTNode, store: bool) -> None:
        self._children(node, store)
        self.fixups.append((node, self.scope))


class _ScopeIndex:
    """Module-wide index from nodes to reads and bindings (from :class:`_ScopeBuilder`).

    Which binding a read refers to is decided by :meth:`resolve`, by Python's static rules, not by the
    textual order libcst's ``Access.referents`` follow (libcst links a read only to bindings that come
    *before* it in the text, so ``prev`` read at the top of a loop body and assigned at its bottom, or
    ``cell`` in ``[... for row in rows for cell in row if cell]``, had no or the wrong referent).
    """

    def __init__(self, mod: cst.Module) -> None:
        b = _ScopeBuilder()
        b.visit(mod)
        self.global_scope = b.global_scope
        self.access = b.access
        self.assign = b.assign
        self.fixed = b.fixed  # (scope, name) keys that must keep their name
        # (scope, name) that the scope binds itself. A binding after ``nonlocal x`` / ``global x`` is filed
        # under the enclosing / global scope, which need not bind x itself (``nonlocal`` reaching past an
        # intermediate function).
        self._own = b.own
        self._keep_alive = b.keep_alive
        # (scope, name) declared ``global`` / ``nonlocal`` in that scope.
        self.declared_global: set[tuple[int, str]] = set()
        self.declared_nonlocal: set[tuple[int, str]] = set()
        self.nonlocal_scope: dict[int, _Scope] = {}  # id(Nonlocal) -> the scope it is in
        for node, scope in b.declared:
            if isinstance(node, cst.Global):
                self.declared_global.update((id(scope), item.name.value) for item in node.names)
            else:
                self.declared_nonlocal.update((id(scope), item.name.value) for item in node.names)
                self.nonlocal_scope[id(node)] = scope
        # id(Name) -> (id(scope), name) for binding occurrences filed in the wrong scope or missed.
        self.override: dict[int, tuple[int, str]] = {}
        self._extra: dict[int, set[str]] = {}  # id(scope) -> names it binds that were not recorded
        self._moved: set[tuple[int, str]] = set()  # bindings recorded in the wrong scope
        self._fix_unmodelled_bindings(b.fixups)
        for name_node, node_scope in b.redirected:
            if (id(node_scope), name_node.value) in self.declared_nonlocal:
                key = self.resolve(name_node.value, node_scope)
                if key is not None:
                    self.override[id(name_node)] = key

    def _fix_unmodelled_bindings(self, fixups: list[tuple[cst.CSTNode, _Scope]]) -> None:
        """Correct two binding rules the builder (as libcst's ScopeProvider) does not model.

        * ``match`` patterns: a capture (``case [x]``, ``case P() as x``, ``case {**rest}``) binds a
          variable of the enclosing scope, but is recorded as a read of that name; and the keyword of a
          class pattern (``case Point(x=0)``) is an *attribute* name, but is recorded as a read of the
          variable ``x``, which then got renamed.
        * An assignment expression in a comprehension (``[y := f(v) for v in xs]``) binds ``y`` in the
          enclosing function, but is recorded in the comprehension's own scope, so later reads of ``y``
          were unresolved while the comprehension's ``y`` was renamed.
        """
        bindings: list[tuple[cst.Name, _Scope]] = []  # (name node, scope it really binds in)
        for node, scope in fixups:
            if isinstance(node, cst.MatchKeywordElement):
                self.access.pop(id(node.key), None)  # an attribute name, like ``obj.x``: never renamed
            elif isinstance(node, (cst.MatchAs, cst.MatchStar)) and isinstance(node.name, cst.Name):
                bindings.append((node.name, scope))
            elif isinstance(node, cst.MatchMapping) and isinstance(node.rest, cst.Name):
                bindings.append((node.rest, scope))
            elif (
                isinstance(node, cst.NamedExpr)
                and scope.kind == _COMPREHENSION
                and isinstance(node.target, cst.Name)
            ):
                target = scope
                while target.kind == _COMPREHENSION:
                    self._moved.add((id(target), node.target.value))
                    target = target.parent
                bindings.append((node.target, target))
        for name_node, scope in bindings:
            name = name_node.value
            if (id(scope), name) in self.declared_global or (id(scope), name) in self.declared_nonlocal:
                continue  # the capture rebinds the global / enclosing variable: resolve() finds it
            self._extra.setdefault(id(scope), set()).add(name)
            self.override[id(name_node)] = (id(scope), name)
            if scope.kind == _GLOBAL or scope.kind == _CLASS:
                self.fixed.add((id(scope), name))  # a module global or a class attribute: keep the name

    def binds(self, scope: _Scope, name: str) -> bool:
        """Whether ``scope`` itself binds ``name`` (anywhere in it: Python scoping is static)."""
        if name in self._extra.get(id(scope), ()):
            return True
        return (id(scope), name) in self._own and (id(scope), name) not in self._moved

    def resolve(self, name: str, scope: _Scope | None) -> tuple[int, str] | None:
        """The local binding a read of ``name`` in ``scope`` refers to, or None when it is not local
        (a module-level name, a builtin or an unresolved name)."""
        while scope is not None and scope.kind != _GLOBAL:
            key = (id(scope), name)
            if key in self.declared_global:
                return None
            if key not in self.declared_nonlocal and self.binds(scope, name):
                return key
            scope = scope.parent
            # Class bodies are not visible from the functions and comprehensions nested in them.
            while scope.kind == _CLASS:
                scope = scope.parent
        return None

    @staticmethod
    def referents(acc: _Acc) -> list[_Asg]:
        """The bindings a read refers to in textual order (libcst's ``Access.referents``): the ones of its
        scope that come before it, else those of the enclosing scope. Right for a class body."""
        scope = acc.scope
        name = acc.node.value
        if acc.attr is not None:
            for attr_name, _ in _gen_dotted_names(acc.attr):
                if scope.contains(attr_name):
                    name = attr_name
                    break
        found = scope.resolve_access(name, scope)
        previous = [a for a in found if a.scope is not scope or a.index < acc.index]
        if not previous and found and scope.parent is not scope:
            previous = list(scope.parent.resolve_access(name, scope))
        return previous


@dataclass
class _Result:
    tree: Any
    imports: list[str]
    deps: list[str]
    codebase_modules: list[str]
    docstring: str | None
    warnings: list[Finding]
    renamed_locals: bool
    renames: dict[int, str]
    skip: set[int]
    refs: dict[str, list[str]]
    eager: list[str]
    weak: list[str]


class _DefinitionNormalizer:
    def _reads_globals(self, nodes: list[cst.CSTNode]) -> bool:
        """Whether the definition calls the builtin ``globals()`` (or ``vars()`` with no argument)."""
        for n in nodes:
            if type(n) is cst.Call and type(n.func) is cst.Name and (
                    n.func.value == "globals" or (n.func.value == "vars" and not n.args)):
                acc = self.index.access.get(id(n.func))
                if self.table.lookup(n.func.value) is None and (
                        acc is None or self.index.resolve(n.func.value, acc.scope) is None):
                    return True
        return False

    def __init__(
        self,
        stmt: cst.CSTNode,
        names: list[str],
        kind: str,
        table: _ModuleTable,
        index: _ScopeIndex,
        body_for_doc: cst.BaseSuite | None,
        module_names: Sequence[str] = (),
        futures: Sequence[str] = (),
        prior: _Binding | None = None,
    ) -> None:
        self.futures = futures
        self.prior = prior  # what its own name means when it reads it (X = f(X) after importing X)
        self.stmt = stmt
        self.names = names
        self.kind = kind
        self.table = table
        self.index = index
        self.body_for_doc = body_for_doc
        self.module_names = module_names  # what a `globals()` in this definition can reach

    def run(self, line_of: Callable[[cst.CSTNode], int]) -> _Result:
        stmt = self.stmt
        table = self.table
        index = self.index
        skip: set[int] = set()
        docstring: str | None = None
        if self.body_for_doc is not None:
            doc_node, docstring = _docstring_stmt(self.body_for_doc)
            if doc_node is not None:
                skip.add(id(doc_node))

        nodes = list(_walk(stmt))
        rename_locals = True
        for n in nodes:
            if (isinstance(n, cst.Name) and n.value.startswith(_RESERVED_PREFIX)) or (
                isinstance(n, cst.FormattedStringExpression) and n.equal is not None
            ):
                rename_locals = False
            elif isinstance(n, cst.Call):
                func = n.func
                if isinstance(func, cst.Name) and func.value in _NAME_OBSERVERS:
                    b = table.lookup(func.value)
                    if b is None:
                        rename_locals = False
                elif isinstance(func, cst.Attribute):
                    try:
                        dotted = _dotted(func)
                    except TypeError:
                        continue
                    head, _, rest = dotted.partition(".")
                    b = table.lookup(head)
                    qual = (b.qualname + ("." + rest if rest else "")) if b is not None and b.qualname else dotted
                    if qual in _FRAME_OBSERVERS:
                        rename_locals = False

        imports: set[str] = set()
        deps: set[str] = set()
        cb_modules: set[str] = set()
        warnings: list[Finding] = []
        # Free-name occurrences: id(node) -> ("import" | "dep" | "self", key)
        free: dict[int, tuple[str, str]] = {}
        local_keys: dict[int, tuple[int, str]] = {}
        unresolved_seen: set[str] = set()
        refs: dict[str, list[str]] = {}
        consumed: set[int] = set()  # Name nodes replaced as part of an attribute chain
        qualnames: dict[int, str] = {}  # id(Name or Attribute) -> qualified name of an imported object

        # Which free names the definition uses *when it is defined* (class bases and bodies, decorators,
        # defaults, a value's expression; annotations unless `from __future__ import annotations`), as
        # opposed to inside a function body, at call time. The runner builds eager dependencies first and
        # the others after, so a cycle (a class whose methods use a subclass of it) builds in a working
        # order, as Python's top-to-bottom execution of the module does.
        eager: set[str] = set()
        unevaluated: set[int] = set()
        if "annotations" in self.futures:
            for n in nodes:
                if type(n) is cst.Annotation:
                    unevaluated.update(id(x) for x in _walk(n))

        def deferred(n: cst.Name, scope: _Scope | None) -> bool:
            if id(n) in unevaluated:
                return True
            while scope is not None:
                if scope.kind == _FUNCTION:
                    return True
                if scope.parent is scope:
                    return False
                scope = scope.parent
            return False

        def classify_free(n: cst.Name, scope: _Scope | None = None, *, lazy: bool = False) -> None:
            name = n.value
            if not lazy and not deferred(n, scope):
                eager.add(name)
            if self.kind == "block" and name in self.names:
                return  # a name the block binds itself: module-level, kept as written, no dependency
            if name in self.names and self.prior is not None:
                b: _Binding | None = self.prior
            elif name in self.names and table.bindings.get(name, _Binding("other", "")).kind == "def":
                free[id(n)] = ("self", SELF)
                return
            else:
                b = table.lookup(name)
            if b is None:
                if name in _BUILTINS:
                    return
                if name not in unresolved_seen:
                    unresolved_seen.add(name)
                    hint = (
                        f" (it may come from `from {table.external_stars[0]} import *`)"
                        if table.external_stars else ""
                    )
                    warnings.append(Finding("unresolved", f"unresolved name {name!r}{hint}", line_of(n)))
                return
            if b.kind == "def":
                free[id(n)] = ("dep", f"{table.module}.{name}")
                refs[name] = ["dep", f"{table.module}.{name}"]
            elif b.kind == "dep":
                free[id(n)] = ("dep", b.value)
                refs[name] = ["dep", b.value]
                cb_modules.add(b.value.rpartition(".")[0])
            elif b.kind == "import":
                free[id(n)] = ("import", b.value)
                refs[name] = ["import", b.value]
                qualnames[id(n)] = b.qualname
            elif b.kind == "module":
                free[id(n)] = ("dep", b.value)
                refs[name] = ["module", b.value]
                cb_modules.add(b.value)
            else:
                if name not in unresolved_seen:
                    unresolved_seen.add(name)
                    warnings.append(Finding("unresolved", f"{name!r} is bound by a top-level statement that "
                                            f"is not stored ({b.value})", line_of(n)))

        for n in nodes:
            if type(n) is cst.Global:
                for item in n.names:
                    classify_free(item.name, lazy=True)  # `global x` is inside a function
                continue
            if type(n) is cst.Nonlocal:
                scope = index.nonlocal_scope.get(id(n))
                for item in n.names:
                    key = index.resolve(item.name.value, scope)  # skips ``scope``: it declares the name
                    if key is not None:
                        local_keys[id(item.name)] = key
                continue
            if type(n) is not cst.Name:
                continue
            override_key = index.override.get(id(n))
            if override_key is not None:
                local_keys[id(n)] = override_key
                continue
            acc = index.access.get(id(n))
            if acc is not None:
                if acc.scope.kind == _CLASS and index.binds(acc.scope, n.value):
                    # A class body looks names up at run time (class namespace, then globals), so
                    # there the textual order libcst's referents follow is right: ``x = x + 1`` reads a
                    # global.
                    referents = index.referents(acc)
                    if referents and all(r.kind != "builtin" and r.scope.kind != _GLOBAL for r in referents):
                        r = referents[0]
                        local_keys[id(n)] = (id(r.scope), r.name)
                    else:
                        classify_free(n, acc.scope)
                    continue
                key = index.resolve(n.value, acc.scope)
                if key is not None:
                    local_keys[id(n)] = key
                else:
                    classify_free(n, acc.scope)
                continue
            asg = index.assign.get(id(n))
            if asg is not None:
                if asg.scope.kind != _GLOBAL:
                    local_keys[id(n)] = (id(asg.scope), asg.name)
                elif self.kind == "block" and n.value in self.names:
                    pass  # the block binding one of its own names
                elif n.value in self.names and (n is getattr(stmt, "name", None) or self.kind == "value"):
                    free[id(n)] = ("self", SELF)
                else:
                    # ``global x`` then ``x = ...`` inside a function: module state.
                    classify_free(n, asg.scope)

        # Attribute chains on codebase modules (``app.lookupUser``) become a single dependency.
        chain_deps: dict[int, str] = {}
        for n in nodes:
            if not isinstance(n, cst.Attribute):
                continue
            root = n
            chain: list[str] = []
            while isinstance(root, cst.Attribute):
                chain.append(root.attr.value)
                root = root.value  # type: ignore[assignment]
            if not isinstance(root, cst.Name) or free.get(id(root), ("", ""))[0] != "dep":
                continue
            base = free[id(root)][1]
            if base not in table.ctx.modules:
                continue
            chain.reverse()
            # Only the outermost attribute node of a chain gets the replacement; inner ones are covered.
            cur = base
            depth = 0
            for attr in chain:
                cand = f"{cur}.{attr}"
                cur = cand
                depth += 1
                if cand not in table.ctx.modules:
                    break
            if depth == len(chain):
                chain_deps[id(n)] = cur
        # Keep only the outermost: an Attribute whose own value was replaced must be dropped.
        for n in nodes:
            if isinstance(n, cst.Attribute) and id(n) in chain_deps:
                inner = n.value
                while isinstance(inner, cst.Attribute):
                    chain_deps.pop(id(inner), None)
                    inner = inner.value
                consumed.add(id(inner))

        for target in chain_deps.values():
            deps.add(target)
            if target not in table.ctx.modules:
                cb_modules.add(target.rpartition(".")[0])
                if not table.ctx.is_name(target):
                    warnings.append(Finding("unresolved", f"unresolved name {target!r}", 0))
            else:
                cb_modules.add(target)
        for nid, (what, value) in free.items():
            if nid in consumed:
                continue
            if what == "dep":
                deps.add(value)
            elif what == "import":
                imports.add(value)

        # Names inside string annotations (`def f(x: "User") -> "Node"`) are read only when something asks
        # for the hints (typing.get_type_hints, pydantic): the string stays as written, and the module-level
        # names it mentions become *weak* references: in the definition's globals, but built last and
        # left out of the build order (they say nothing about what must exist first).
        weak: set[str] = set()
        for n in nodes:
            if type(n) is not cst.Annotation:
                continue
            for x in _walk(n.annotation):
                if type(x) is not cst.SimpleString:
                    continue
                try:
                    expr = cst.parse_expression(ast.literal_eval(x.value))
                except Exception:  # not an expression: metadata text, or a bytes literal
                    continue
                for y in _walk(expr):
                    if type(y) is not cst.Name or y.value in self.names or y.value in refs:
                        continue
                    b = table.lookup(y.value)
                    if b is None or b.kind == "other":
                        continue
                    if b.kind == "import":
                        imports.add(b.value)
                        refs[y.value] = ["import", b.value]
                    else:
                        target = f"{table.module}.{y.value}" if b.kind == "def" else b.value
                        deps.add(target)
                        refs[y.value] = ["module" if b.kind == "module" else "dep", target]
                        weak.add(y.value)

        if self.module_names and self._reads_globals(nodes):
            # `"{field_content}".format(**globals())`, `globals()[name]`: the module's namespace, read as
            # data. A stored definition has its own globals, so every module-level definition it can see
            # (those before it, for code that runs when it is defined) is a dependency.
            for name in self.module_names:
                if name not in self.names and table.bindings.get(name, _Binding("other", "")).kind == "def":
                    deps.add(f"{table.module}.{name}")
                    refs.setdefault(name, ["dep", f"{table.module}.{name}"])

        sorted_imports = sorted(imports)
        sorted_deps = sorted(deps)
        imp_index = {v: f"_u_i{i}" for i, v in enumerate(sorted_imports)}
        dep_index = {v: f"_u_d{i}" for i, v in enumerate(sorted_deps)}

        renames: dict[int, str] = {}
        for nid, (what, value) in free.items():
            if nid in consumed:
                continue
            if what == "self":
                renames[nid] = SELF
            elif what == "dep":
                renames[nid] = dep_index[value]
            elif what == "import":
                renames[nid] = imp_index[value]
        for nid, target in chain_deps.items():
            renames[nid] = dep_index[target]

        if rename_locals:
            order: dict[tuple[int, str], str] = {}
            for n in nodes:
                key = local_keys.get(id(n))
                if key is None or key in index.fixed:
                    continue
                if key not in order:
                    order[key] = f"_u_l{len(order)}"
                renames[id(n)] = order[key]

        warnings.extend(HazardScanner(table, qualnames, free, line_of, set(local_keys)).scan(nodes, self.kind))
        tree = _Encoder(renames, skip).encode(stmt)
        return _Result(tree, sorted_imports, sorted_deps, sorted(cb_modules), docstring, warnings,
                       rename_locals, renames, skip, dict(sorted(refs.items())), sorted(eager & refs.keys()),
                       sorted(weak))


# ------------------------------------------------------------------------------------ public API


def _assign_targets(stmt: cst.BaseSmallStatement) -> list[str] | None:
    """Names a simple ``NAME = ...`` / ``NAME: T = ...`` binds, or None for other statements."""
    if isinstance(stmt, cst.Assign):
        names: list[str] = []
        for t in stmt.targets:
            if not isinstance(t.target, cst.Name):
                return None
            names.append(t.target.value)
        return names
    if isinstance(stmt, cst.AnnAssign) and stmt.value is not None and isinstance(stmt.target, cst.Name):
        return [stmt.target.value]
    return None


def _reads_global(node: cst.CSTNode, name: str, index: _ScopeIndex) -> bool:
    """Whether ``node`` reads the module-level ``name`` (not a local of a comprehension or lambda)."""
    for n in _walk(node):
        if type(n) is cst.Name and n.value == name:
            acc = index.access.get(id(n))
            if acc is not None and index.resolve(name, acc.scope) is None:
                return True
    return False


_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp,
                  cst.GeneratorExp)


def _module_scope_nodes(stmt: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node of a top-level statement that runs in the module's own scope: not the bodies of the
    functions, classes, lambdas and comprehensions it defines (their names and decorators are)."""
    stack: list[cst.CSTNode] = [stmt]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            stack.extend(reversed([*n.decorators, n.name]))
            continue
        if isinstance(n, _NESTED_SCOPES):
            continue
        stack.extend(reversed(n.children))


def _assigned_names(stmt: cst.CSTNode) -> list[str]:
    """The module-level names a statement of module code defines (they become names in the store when
    no definition binds them): functions and classes it defines, and plain-name targets of assignments
    (``a, b = 1, 2``; ``X += 1``; an assignment inside ``if``/``try``/``for``). Not what imports, loop
    variables, ``with ... as`` and ``except ... as`` bind."""
    out: dict[str, None] = {}

    def targets(node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            out.setdefault(node.value, None)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for e in node.elements:
                targets(e.value)
        elif isinstance(node, cst.StarredElement):
            targets(node.value)

    for n in _module_scope_nodes(stmt):
        if isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            out.setdefault(n.name.value, None)
        elif isinstance(n, cst.AssignTarget):
            targets(n.target)
        elif isinstance(n, (cst.AnnAssign, cst.AugAssign)) and isinstance(n.target, cst.Name) and (
                isinstance(n, cst.AugAssign) or n.value is not None):
            out.setdefault(n.target.value, None)
    return list(out)


def _module_scope_names(stmt: cst.CSTNode) -> list[str]:
    """Every name a top-level statement binds in the module (imports, loop variables and ``with ... as``
    included; not inside the functions and classes it defines), in order of first binding."""
    out: dict[str, None] = {}

    def targets(node: cst.CSTNode) -> None:
        for t in _walk(node):
            if isinstance(t, cst.Name):
                out.setdefault(t.value, None)

    for n in _module_scope_nodes(stmt):
        if isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            out.setdefault(n.name.value, None)
        elif isinstance(n, cst.AssignTarget):
            targets(n.target)
        elif isinstance(n, (cst.AnnAssign, cst.AugAssign)) and isinstance(n.target, cst.Name):
            out.setdefault(n.target.value, None)
        elif isinstance(n, cst.For):
            targets(n.target)
        elif isinstance(n, cst.WithItem) and n.asname is not None:
            targets(n.asname.name)
        elif isinstance(n, cst.ExceptHandler) and n.name is not None:
            targets(n.name.name)
        elif isinstance(n, cst.NamedExpr):
            targets(n.target)
        elif isinstance(n, cst.Import):
            for alias in n.names:
                local: cst.BaseExpression = alias.asname.name if alias.asname is not None else alias.name
                while isinstance(local, cst.Attribute):
                    local = local.value
                if isinstance(local, cst.Name):
                    out.setdefault(local.value, None)
        elif isinstance(n, cst.ImportFrom) and not isinstance(n.names, cst.ImportStar):
            for alias in n.names:
                local = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(local, cst.Name):
                    out.setdefault(local.value, None)
    return list(out)


def _module_imports(stmt: cst.CSTNode) -> Iterator[cst.Import | cst.ImportFrom]:
    """The import statements a top-level statement runs in the module's scope (not in the functions it
    defines)."""
    for n in _module_scope_nodes(stmt):
        if isinstance(n, (cst.Import, cst.ImportFrom)):
            yield n


def _imports_in(stmt: cst.CSTNode) -> Iterator[cst.Import | cst.ImportFrom]:
    for n in _walk(stmt):
        if isinstance(n, (cst.Import, cst.ImportFrom)):
            yield n


def _imported_modules(imp: cst.Import | cst.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The modules an import statement may load, absolute, each with its parent packages (``import a.b``
    loads ``a`` and ``a.b``; ``from a import b`` loads ``a``, and ``a.b`` when it is a submodule)."""
    names: list[str] = []
    if isinstance(imp, cst.Import):
        names = [_dotted(alias.name) for alias in imp.names]
    else:
        level = len(imp.relative)
        target = _dotted(imp.module) if imp.module is not None else None
        base = _resolve_relative(module, is_package, level, target) if level else (target or "")
        if not base or base == "__future__":
            return []
        names = [base]
        if not isinstance(imp.names, cst.ImportStar):
            names += [f"{base}.{_dotted(alias.name)}" for alias in imp.names]
    out: list[str] = []
    for name in names:
        parts = name.split(".")
        out.extend(".".join(parts[:k]) for k in range(1, len(parts) + 1))
    return out


def _statement_lines(stmt: cst.CSTNode, first_line: int) -> dict[int, int]:
    """id(node) -> line for every node of a top-level statement whose first line is ``first_line``."""
    from libcst.metadata import PositionProvider

    lead = len(getattr(stmt, "leading_lines", ()))
    module = stmt if isinstance(stmt, cst.Module) else cst.Module(body=[stmt])  # type: ignore[list-item]
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return {id(n): pos.start.line - 1 - lead + first_line for n, pos in wrapper.resolve(PositionProvider).items()}


def parse_source(source: str, *, path: str) -> cst.Module:
    """Parse a module with libcst; a syntax error becomes a :class:`SourceError` naming file:line:col."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        # Python's own parser pinpoints errors better than libcst's (which reports the token after):
        # use its line, column and message when it agrees that the source is invalid.
        line, column, msg = exc.raw_line, exc.raw_column + 1, exc.message.removeprefix("parser error: ")
        try:
            compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as py_exc:
            line, column, msg = py_exc.lineno or line, py_exc.offset or column, py_exc.msg
        except (ValueError, RecursionError, MemoryError):
            pass
        raise SourceError(
            f"syntax error: {msg}", path=path, line=line, column=column,
            hint="fix the syntax and add again; nothing was stored",
        ) from None
    except (RecursionError, MemoryError) as exc:  # pathological nesting
        raise SourceError(f"cannot parse: {type(exc).__name__}", path=path) from None


def import_map(mod: cst.Module, module: str, is_package: bool) -> dict[str, str]:
    """What the module's top-level ``from ... import`` statements bind: local name -> the fully qualified
    name imported (``from ._decorators import HookspecMarker`` in ``pluggy._hooks``: ``HookspecMarker`` ->
    ``pluggy._decorators.HookspecMarker``). Cheap: no scope analysis."""
    out: dict[str, str] = {}
    for stmt in mod.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for imp in stmt.body:
            if not isinstance(imp, cst.ImportFrom) or isinstance(imp.names, cst.ImportStar):
                continue
            level = len(imp.relative)
            target = _dotted(imp.module) if imp.module is not None else None
            source = _resolve_relative(module, is_package, level, target) if level else (target or "")
            for alias in imp.names:
                local = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(local, cst.Name):
                    out.setdefault(local.value, f"{source}.{_dotted(alias.name)}")
    return out


def _is_definition(stmt: cst.CSTNode) -> str | None:
    """The kind of definition a top-level statement is (``function``, ``class``, ``value``), or None for
    module code. A value is ``NAME = expr`` / ``NAME: T = expr`` / ``a = b = expr``, alone on its line."""
    if isinstance(stmt, cst.FunctionDef):
        return "function"
    if isinstance(stmt, cst.ClassDef):
        return "class"
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and _assign_targets(stmt.body[0]):
        return "value"
    return None


def top_level_names(mod: cst.Module, *, module: str = "", is_package: bool = False,
                    modules: Set[str] = frozenset()) -> list[str]:
    """Names the module binds as names of the store (cheap: no scope analysis): its definitions and the
    names its module code assigns; for a package ``__init__``, also the names its ``from ... import``
    statements bind to things that are not modules (``from .block import block`` makes ``pkg.block`` the
    function, though ``pkg.block`` is a module too: normalization then reads it as the function)."""
    names: list[str] = []
    for stmt in mod.body:
        kind = _is_definition(stmt)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            names.append(stmt.name.value)
        elif kind == "value" and isinstance(stmt, cst.SimpleStatementLine):
            names.extend(_assign_targets(stmt.body[0]) or [])
        else:
            names.extend(_assigned_names(stmt))
        if is_package and isinstance(stmt, cst.SimpleStatementLine):
            for imp in stmt.body:
                if not isinstance(imp, cst.ImportFrom) or isinstance(imp.names, cst.ImportStar):
                    continue
                level = len(imp.relative)
                target = _dotted(imp.module) if imp.module is not None else None
                source = _resolve_relative(module, True, level, target) if level else (target or "")
                for alias in imp.names:
                    local = alias.asname.name if alias.asname is not None else alias.name
                    if isinstance(local, cst.Name) and f"{source}.{_dotted(alias.name)}" not in modules:
                        names.append(local.value)
    return names


def normalize_module(
    source: str | cst.Module,
    *,
    path: str,
    module: str,
    is_package: bool = False,
    ctx: Context | None = None,
    origin: str | None = None,
) -> ParsedModule:
    """Normalize and hash every top-level statement of a module (source text or a parsed module): its
    program. ``origin`` is the path the module runs as (``__file__``; default ``path``).

    Raises :class:`~ucode.errors.SourceError` (with file, line and column) on a syntax error.
    """
    ctx = ctx or Context()
    mod = parse_source(source, path=path) if isinstance(source, str) else source
    try:
        return _normalize_parsed(mod, path=path, module=module, is_package=is_package, ctx=ctx,
                                 origin=origin or path)
    except RecursionError:
        # libcst's visitors (and the encoder) recurse: a literal of thousands of implicitly concatenated
        # strings (pydoc_data/topics.py) parses, but cannot be analysed. Report it, do not crash.
        raise SourceError(
            "cannot normalize: an expression is nested too deeply", path=path,
            hint="split the expression (e.g. a very long implicit string concatenation); nothing was stored",
        ) from None


def _normalize_parsed(mod: cst.Module, *, path: str, module: str, is_package: bool, ctx: Context,
                      origin: str) -> ParsedModule:
    """A module's program: every top-level statement in file order, each normalized and hashed.

    A statement is a *definition* (``def``, ``class``, ``NAME = expr``: hashed under its qualified name,
    ``ucode/def/2``) or *module code* (imports, calls, loops, ``if``/``try`` blocks, and statements that
    go on changing a name bound before them: ``f = lru_cache(f)``, ``X += 1``, ``REG["a"] = f``: hashed
    under the module, ``ucode/stmt/1``). Running the module runs them in this order, in one namespace, as
    Python runs the file. A name of the store (``app.lookupUser``) is bound to the last definition of
    that name, else to the last statement of module code that assigns it (``try: from math import sumprod
    / except ImportError: def sumprod(...)``); names that only imports bind are not names of the store.
    """
    index = _ScopeIndex(mod)
    table = _ModuleTable(module, is_package, ctx)

    # Pass 1: source text and line of every top-level statement.
    line = 1 + len(mod.header)
    stmt_info: list[tuple[cst.SimpleStatementLine | cst.BaseCompoundStatement, str, int]] = []
    for stmt in mod.body:
        text = mod.code_for_node(stmt)
        lead = len(stmt.leading_lines) if hasattr(stmt, "leading_lines") else 0
        stmt_info.append((stmt, text, line + lead))
        line += text.count("\n")

    module_doc: str | None = None
    if mod.body:
        doc_node, module_doc = _docstring_stmt(cst.IndentedBlock(body=[mod.body[0]]))
        if doc_node is None:
            module_doc = None

    # Pass 2: what each statement is, and the module's name table (complete before any statement is
    # normalized: a function body may use a name defined below it).
    kinds: list[tuple[str, list[str], list[str]]] = []  # (kind, names it defines, every name it binds)
    bound_before: set[str] = set()
    modules_imported: dict[str, None] = {}
    modules_used: dict[str, None] = {}
    for stmt, _text, _sline in stmt_info:
        kind = _is_definition(stmt)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            names = [stmt.name.value]
        elif kind == "value" and isinstance(stmt, cst.SimpleStatementLine):
            first = stmt.body[0]
            names = _assign_targets(first) or []
            value = first.value if isinstance(first, (cst.Assign, cst.AnnAssign)) else None
            if value is not None and any(n in bound_before and _reads_global(value, n, index) for n in names):
                kind = None  # `f = lru_cache(f)`, `X = X + [3]`: goes on changing the name: module code
        if kind is None:
            names = _assigned_names(stmt)
        everything = names if kind is not None else _module_scope_names(stmt)
        kinds.append((kind or "code", names, everything))
        for imp in _module_imports(stmt):
            table.add_import(imp, conditional=not isinstance(stmt, cst.SimpleStatementLine))
            modules_imported.update(dict.fromkeys(_imported_modules(imp, module, is_package)))
        for imp in _imports_in(stmt):
            modules_used.update(dict.fromkeys(_imported_modules(imp, module, is_package)))
        bound_before.update(everything)
    slots: dict[str, int] = {}
    for i, (kind, names, _everything) in enumerate(kinds):
        for n in names:
            prev = slots.get(n)
            # the last definition of a name wins; module code only names what no definition binds
            if prev is None or kind != "code" or kinds[prev][0] == "code":
                slots[n] = i
    for n in slots:
        table.bind(n, _Binding("def", ""))
    for _kind, _names, everything in kinds:
        for n in everything:
            if n not in table.bindings:
                table.bindings[n] = _Binding("local", "")  # a loop variable, a `with ... as` target

    def line_of_factory(base_line: int, stmt: cst.CSTNode) -> Callable[[cst.CSTNode], int]:
        """Line numbers for warnings, computed only for a statement that has one (a whole-module
        position pass costs more than parsing), by counting newlines in the code before the node."""
        positions: dict[int, int] = {}

        def line_of(node: cst.CSTNode) -> int:
            if not positions:
                positions.update(_statement_lines(stmt, base_line))
            return positions.get(id(node), base_line)

        return line_of

    futures = sorted({alias.name.value for st in mod.body if isinstance(st, cst.SimpleStatementLine)
                      for imp in st.body if isinstance(imp, cst.ImportFrom) and imp.module is not None
                      and _dotted(imp.module) == "__future__" and not isinstance(imp.names, cst.ImportStar)
                      for alias in imp.names if isinstance(alias.name, cst.Name)
                      and alias.name.value in hashing.FUTURE_FEATURES})
    annotations = False
    statements: list[NormalizedDefinition] = []
    for i, ((node, text, sline), (kind, names, everything)) in enumerate(zip(stmt_info, kinds, strict=True)):
        first_line = _source_first_line(node, text, sline)
        if not annotations:
            annotations = any(isinstance(n, cst.AnnAssign) for n in _module_scope_nodes(node))
        body = node.body if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else None
        small: cst.CSTNode = node.body[0] if kind == "value" and isinstance(node, cst.SimpleStatementLine) else node
        normalizer = _DefinitionNormalizer(small, names if kind != "code" else everything,
                                           kind if kind != "code" else "block", table, index, body, (),
                                           futures)
        r = normalizer.run(line_of_factory(sline, node))
        warnings = [Finding(w.code, w.message, w.line or sline) for w in r.warnings]
        tree = r.tree
        if futures:  # `from __future__ import annotations` changes what the code does: part of the hash
            tree = ["Future", futures, tree]
        if kind == "code":
            h = hashing.statement_hash(tree, r.imports, r.deps, module=module)
            body_h = None
        else:
            h = hashing.definition_hash(kind, tree, r.imports, r.deps, name=f"{module}.{names[0]}")
            body_h = hashing.body_hash(kind, tree, r.imports, r.deps)
        statements.append(
            NormalizedDefinition(
                names=names, kind=kind, hash=h, imports=r.imports, deps=r.deps,
                codebase_modules=r.codebase_modules, docstring=r.docstring if kind != "code" else None,
                source=_strip_leading_blank(text), line=first_line, warnings=warnings,
                renamed_locals=r.renamed_locals, refs=r.refs, node=small, renames=r.renames, skip=r.skip,
                futures=futures, eager=r.eager, weak=r.weak, body=body_h, index=i,
            )
        )
    program = hashing.module_hash(
        module, package=is_package, path=origin, futures=futures,
        statements=[(s.hash, hashing.text_digest(s.source), s.line) for s in statements])
    return ParsedModule(
        name=module, path=path, is_package=is_package, docstring=module_doc, statements=statements,
        slots=slots, star_reexports=list(table.star_modules), imports=import_map(mod, module, is_package),
        futures=futures, modules_imported=list(modules_imported), modules_used=list(modules_used),
        annotations=annotations, hash=program, origin=origin,
    )


def _source_first_line(stmt: cst.CSTNode, text: str, sline: int) -> int:
    """The file line where ``_strip_leading_blank(text)`` starts: ``sline`` is the statement's own first
    line, and the comment lines above it are kept in the source (the runner places the source at this
    line, so tracebacks point at the file's lines)."""
    lead = len(getattr(stmt, "leading_lines", ()))
    removed = 0
    for ln in text.splitlines()[:lead]:
        if ln.strip():
            break
        removed += 1
    return sline - (lead - removed)


def _strip_leading_blank(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------------------ normalized code


class _Renamer(cst.CSTTransformer):
    def __init__(self, renames: dict[int, str], skip: set[int]) -> None:
        self.renames = renames
        self.skip = skip

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.renames.get(id(original_node))
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        new = self.renames.get(id(original_node))
        return cst.Name(new) if new else updated_node

    def leave_FormattedStringExpression(
        self, original_node: cst.FormattedStringExpression, updated_node: cst.FormattedStringExpression
    ) -> cst.FormattedStringExpression | cst.FlattenSentinel[cst.BaseFormattedStringContent]:
        if original_node.equal is None or updated_node.deep_equals(original_node):
            return updated_node
        # ``f"{np.pi=}"`` prints the expression as written: once ``np`` is renamed ``_u_i0``, spell the
        # ``=`` out (the original text, then the value with the conversion ``=`` implies) so the output
        # is unchanged.
        text = _equal_text(original_node).replace("{", "{{").replace("}", "}}")
        conversion = updated_node.conversion
        if conversion is None and updated_node.format_spec is None:
            conversion = "r"
        return cst.FlattenSentinel(
            [cst.FormattedStringText(text), updated_node.with_changes(equal=None, conversion=conversion)]
        )

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        if id(original_node) in self.skip:
            return cst.RemoveFromParent()
        return super().on_leave(original_node, updated_node)


def normalized_code(defn: NormalizedDefinition) -> str:
    """The definition's normalized form as code (names canonical, docstring dropped)."""
    node = defn.node.visit(_Renamer(defn.renames, defn.skip))
    if isinstance(node, cst.Module):  # a chain
        return node.code
    if isinstance(node, cst.BaseSmallStatement):
        node = cst.SimpleStatementLine(body=[node])
    return cst.Module(body=[node]).code  # type: ignore[list-item]


def import_prelude(imports: Sequence[str]) -> str:
    """Code binding ``_u_i<i>`` to each canonical import, so normalized code can run on its own."""
    lines = []
    for i, stmt in enumerate(imports):
        if stmt.startswith("from "):
            _, mod, _, name = stmt.split(" ")
            lines.append(f"from {mod} import {name} as _u_i{i}")
        else:
            mod = stmt.split(" ")[1]
            lines.append(f"_u_i{i} = __import__({mod!r})")
    return "\n".join(lines) + ("\n" if lines else "")
