"""Normalization: Python source -> definitions, each with a canonical tree, its imports, deps and hash.

This is the only module (with :mod:`ucode.hazards`) that imports libcst; only the write paths (``add``,
``verify``) import it, so ``run``/``view``/``find`` never pay for it.

What a definition hashes to (see docs/hashing.md for the full rules):

* Its structure, not its text: the encoder walks the libcst tree and drops whitespace, comments,
  parentheses, trailing commas and the docstring; strings and numbers are encoded by value
  (``'a'`` == ``"a"``, ``0x10`` == ``16``).
* Its own name is the placeholder ``_u_self``: a rename or an alias keeps the hash, and a recursive call
  means "this very definition".
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
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import (
    Access,
    Assignment,
    BaseAssignment,
    BuiltinAssignment,
    ClassScope,
    ComprehensionScope,
    GlobalScope,
    ImportAssignment,
    MetadataWrapper,
    ScopeProvider,
)

from ucode import hashing
from ucode.errors import SourceError
from ucode.hazards import HazardScanner

__all__ = [
    "SELF",
    "Context",
    "Finding",
    "NormalizedDefinition",
    "ParsedModule",
    "Reexport",
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
    known definition (used to resolve attribute chains such as ``app.lookupUser``).
    """

    modules: frozenset[str] = frozenset()
    is_name: Callable[[str], bool] = lambda _fqn: False


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
    names: list[str]
    kind: str  # "function" | "class" | "value"
    hash: str
    imports: list[str]
    deps: list[str]
    codebase_modules: list[str]
    docstring: str | None
    source: str
    line: int
    warnings: list[Finding]
    renamed_locals: bool
    refs: dict[str, list[str]]
    node: cst.CSTNode = field(repr=False)
    renames: dict[int, str] = field(repr=False, default_factory=dict)
    skip: set[int] = field(repr=False, default_factory=set)


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
    name: str
    path: str
    is_package: bool
    docstring: str | None
    definitions: list[NormalizedDefinition]
    reexports: list[Reexport]
    star_reexports: list[str]
    skipped: list[Skipped]


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

    def bind(self, name: str, binding: _Binding) -> None:
        # The first import of a name wins (``try: import simplejson as json / except: import json``
        # should read as the preferred one); a definition always wins over an import.
        old = self.bindings.get(name)
        if old is not None and old.kind in ("import", "dep", "module") and binding.kind != "def":
            return
        self.bindings[name] = binding

    def add_import(self, stmt: cst.Import | cst.ImportFrom) -> list[tuple[str, str]]:
        """Record an import; return (local name, absolute target) pairs for codebase imports."""
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
                        self.bind(top, _Binding("import", f"import {mod}", top))
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
            if full in self.ctx.modules:
                self.bind(local, _Binding("module", full))
            elif absolute in self.ctx.modules:
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


class _Encoder:
    """Encodes a libcst subtree as nested lists of str/int, applying the normalizer's renames."""

    def __init__(self, renames: dict[int, str], skip: set[int]) -> None:
        self.renames = renames
        self.skip = skip

    def encode(self, node: Any) -> Any:
        if isinstance(node, cst.Name):
            return ["Name", self.renames.get(id(node), node.value)]
        if isinstance(node, cst.Attribute) and id(node) in self.renames:
            return ["Name", self.renames[id(node)]]
        if isinstance(node, cst.SimpleString):
            return _string_value(node)
        if isinstance(node, (cst.ConcatenatedString, cst.FormattedString)):
            return self._strings(node)
        if isinstance(node, cst.Integer):
            return ["Int", str(int(node.value.replace("_", ""), 0))]
        if isinstance(node, cst.Float):
            return ["Float", repr(float(node.value.replace("_", "")))]
        if isinstance(node, cst.Imaginary):
            return ["Imag", repr(float(node.value[:-1].replace("_", "")))]
        if isinstance(node, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            return ["Block", self._statements(node.body)]
        if isinstance(node, cst.Module):
            return ["Module", self._statements(node.body)]
        if isinstance(node, cst.CSTNode):
            out: list[Any] = [type(node).__name__]
            for name in _fields(type(node)):
                value = getattr(node, name)
                if value is None or isinstance(value, (cst.MaybeSentinel, _FORMATTING_TYPES)):
                    if name == "equal" and isinstance(value, cst.AssignEqual):
                        out.append([name, 1])
                    continue
                if isinstance(value, (list, tuple)):
                    if not value:
                        continue
                    out.append([name, [self.encode(v) for v in value if not isinstance(v, _FORMATTING_TYPES)]])
                elif isinstance(value, str):
                    if value:
                        out.append([name, value])
                else:
                    out.append([name, self.encode(value)])
            if isinstance(node, cst.FormattedStringExpression) and node.equal is not None:
                # ``f"{x = }"`` prints the expression's text as written, spaces and parentheses included,
                # so that text is part of what the code does (``f"{x=}"`` prints something else).
                out.append(["equal_text", _equal_text(node)])
            return out
        raise TypeError(f"cannot encode {type(node).__name__}")

    def _statements(self, body: Sequence[cst.CSTNode]) -> list[Any]:
        out: list[Any] = []
        for stmt in body:
            if id(stmt) in self.skip:
                continue
            if isinstance(stmt, cst.SimpleStatementLine):
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


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


class _ScopeIndex:
    """Module-wide index from nodes to scope accesses and assignments.

    Which binding a read refers to is decided by :meth:`resolve`, by Python's static rules, not by
    libcst's ``Access.referents``: libcst only links a read to assignments that come *before* it in
    the text, so ``prev`` read at the top of a loop body and assigned at its bottom, or ``cell`` in
    ``[... for row in rows for cell in row if cell]``, had no (or the wrong) referent and were left
    unrenamed while their assignments were renamed.
    """

    def __init__(self, wrapper: MetadataWrapper) -> None:
        scopes = wrapper.resolve(ScopeProvider)
        self.scopes = scopes
        self.access: dict[int, Access] = {}
        self.assign: dict[int, BaseAssignment] = {}
        self.fixed: set[tuple[int, str]] = set()  # (scope, name) keys that must keep their name
        self.global_scope: GlobalScope | None = None
        # (scope, name) that the scope binds itself. libcst files an assignment after ``nonlocal x`` /
        # ``global x`` under the *immediate parent* / global scope, so ``x in parent.assignments`` can
        # be true when the parent never binds x (``nonlocal`` reaching past an intermediate function).
        self._own: set[tuple[int, str]] = set()
        redirected: list[tuple[cst.Name, Any]] = []  # (target, scope it appears in) of those
        seen: set[int] = set()
        for scope in scopes.values():
            if scope is None or id(scope) in seen:
                continue
            seen.add(id(scope))
            if isinstance(scope, GlobalScope):
                self.global_scope = scope
            for acc in scope.accesses:
                self.access[id(acc.node)] = acc
                # For ``import os.path``, libcst records the read of ``os.path`` on the Attribute node;
                # the Name ``os`` at its root is what gets classified (and renamed ``_u_i<n>``).
                root: cst.CSTNode = acc.node
                while isinstance(root, cst.Attribute):
                    root = root.value
                if root is not acc.node and isinstance(root, cst.Name):
                    self.access.setdefault(id(root), acc)
            for a in scope.assignments:
                own_node = a.node if isinstance(a, Assignment) else None
                node_scope = scopes.get(own_node, a.scope) if own_node is not None else a.scope
                if node_scope is a.scope:
                    self._own.add((id(a.scope), a.name))
                elif isinstance(own_node, cst.Name):
                    redirected.append((own_node, node_scope))
                if isinstance(a, ImportAssignment) or not isinstance(a, Assignment):
                    self.fixed.add((id(a.scope), a.name))
                    continue
                target = a.node
                if isinstance(a.scope, ClassScope):
                    # A name bound in a class body is an attribute of the class (``z = 1``, a dataclass
                    # field ``x: int``): renaming it would change the class's interface.
                    self.fixed.add((id(a.scope), a.name))
                if isinstance(target, cst.Name):
                    self.assign[id(target)] = a
                elif isinstance(target, (cst.FunctionDef, cst.ClassDef, cst.Param)):
                    self.assign[id(target.name)] = a
                    self.fixed.add((id(a.scope), a.name))
                else:
                    self.fixed.add((id(a.scope), a.name))
        # (scope, name) declared ``global`` / ``nonlocal`` in that scope.
        self.declared_global: set[tuple[int, str]] = set()
        self.declared_nonlocal: set[tuple[int, str]] = set()
        # id(Name) -> (id(scope), name) for binding occurrences libcst puts in the wrong scope or misses.
        self.override: dict[int, tuple[int, str]] = {}
        self._extra: dict[int, set[str]] = {}  # id(scope) -> names it binds that libcst did not record
        self._moved: set[tuple[int, str]] = set()  # bindings libcst recorded in the wrong scope
        self._fix_unmodelled_bindings(scopes)
        for name_node, node_scope in redirected:
            if (id(node_scope), name_node.value) in self.declared_nonlocal:
                key = self.resolve(name_node.value, node_scope)
                if key is not None:
                    self.override[id(name_node)] = key

    def _fix_unmodelled_bindings(self, scopes: Any) -> None:
        """Correct two binding rules libcst's ScopeProvider does not model (checked with libcst 1.9).

        * ``match`` patterns: a capture (``case [x]``, ``case P() as x``, ``case {**rest}``) binds a
          variable of the enclosing scope, but libcst records it as a read of that name; and the keyword
          of a class pattern (``case Point(x=0)``) is an *attribute* name, but libcst records it as a read
          of the variable ``x``, which then got renamed.
        * An assignment expression in a comprehension (``[y := f(v) for v in xs]``) binds ``y`` in the
          enclosing function, but libcst binds it in the comprehension's own scope, so later reads of
          ``y`` were unresolved while the comprehension's ``y`` was renamed.
        """
        bindings: list[tuple[cst.Name, Any]] = []  # (name node, scope it really binds in)
        for node, scope in scopes.items():
            if scope is None:
                continue
            if isinstance(node, cst.Global):
                self.declared_global.update((id(scope), item.name.value) for item in node.names)
            elif isinstance(node, cst.Nonlocal):
                self.declared_nonlocal.update((id(scope), item.name.value) for item in node.names)
            elif isinstance(node, cst.MatchKeywordElement):
                self.access.pop(id(node.key), None)  # an attribute name, like ``obj.x``: never renamed
            elif isinstance(node, (cst.MatchAs, cst.MatchStar)) and isinstance(node.name, cst.Name):
                bindings.append((node.name, scope))
            elif isinstance(node, cst.MatchMapping) and isinstance(node.rest, cst.Name):
                bindings.append((node.rest, scope))
            elif (
                isinstance(node, cst.NamedExpr)
                and isinstance(scope, ComprehensionScope)
                and isinstance(node.target, cst.Name)
            ):
                target: Any = scope
                while isinstance(target, ComprehensionScope):
                    self._moved.add((id(target), node.target.value))
                    target = target.parent
                bindings.append((node.target, target))
        for name_node, scope in bindings:
            name = name_node.value
            if (id(scope), name) in self.declared_global or (id(scope), name) in self.declared_nonlocal:
                continue  # the capture rebinds the global / enclosing variable: resolve() finds it
            self._extra.setdefault(id(scope), set()).add(name)
            self.override[id(name_node)] = (id(scope), name)
            if not _is_local_scope(scope, self.global_scope) or isinstance(scope, ClassScope):
                self.fixed.add((id(scope), name))  # a module global or a class attribute: keep the name

    def binds(self, scope: Any, name: str) -> bool:
        """Whether ``scope`` itself binds ``name`` (anywhere in it: Python scoping is static)."""
        if name in self._extra.get(id(scope), ()):
            return True
        return (id(scope), name) in self._own and (id(scope), name) not in self._moved

    def resolve(self, name: str, scope: Any) -> tuple[int, str] | None:
        """The local binding a read of ``name`` in ``scope`` refers to, or None when it is not local
        (a module-level name, a builtin or an unresolved name)."""
        while scope is not None and not isinstance(scope, GlobalScope):
            key = (id(scope), name)
            if key in self.declared_global:
                return None
            if key not in self.declared_nonlocal and self.binds(scope, name):
                return key
            scope = scope.parent
            # Class bodies are not visible from the functions and comprehensions nested in them.
            while isinstance(scope, ClassScope):
                scope = scope.parent
        return None


def _is_local_scope(scope: Any, global_scope: Any) -> bool:
    return scope is not None and scope is not global_scope and not isinstance(scope, GlobalScope)


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


class _DefinitionNormalizer:
    def __init__(
        self,
        stmt: cst.CSTNode,
        names: list[str],
        kind: str,
        table: _ModuleTable,
        index: _ScopeIndex,
        body_for_doc: cst.BaseSuite | None,
    ) -> None:
        self.stmt = stmt
        self.names = names
        self.kind = kind
        self.table = table
        self.index = index
        self.body_for_doc = body_for_doc

    def run(self, line_of: Callable[[cst.CSTNode], int]) -> _Result:
        stmt = self.stmt
        table = self.table
        index = self.index
        gscope = index.global_scope
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

        def classify_free(n: cst.Name) -> None:
            name = n.value
            if self.kind == "block" and name in self.names:
                return  # a name the block binds itself: module-level, kept as written, no dependency
            if name in self.names and table.bindings.get(name, _Binding("other", "")).kind == "def":
                free[id(n)] = ("self", SELF)
                return
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
            if isinstance(n, cst.Global):
                for item in n.names:
                    classify_free(item.name)
                continue
            if isinstance(n, cst.Nonlocal):
                scope = index.scopes.get(n)
                for item in n.names:
                    key = index.resolve(item.name.value, scope)  # skips ``scope``: it declares the name
                    if key is not None:
                        local_keys[id(item.name)] = key
                continue
            if not isinstance(n, cst.Name):
                continue
            override_key = index.override.get(id(n))
            if override_key is not None:
                local_keys[id(n)] = override_key
                continue
            acc = index.access.get(id(n))
            if acc is not None:
                if isinstance(acc.scope, ClassScope) and index.binds(acc.scope, n.value):
                    # A class body looks names up at run time (class namespace, then globals), so
                    # there the order libcst's referents follow is right: ``x = x + 1`` reads a global.
                    referents = acc.referents
                    if referents and all(
                        not isinstance(r, BuiltinAssignment) and _is_local_scope(r.scope, gscope)
                        for r in referents
                    ):
                        r = next(iter(referents))
                        local_keys[id(n)] = (id(r.scope), r.name)
                    else:
                        classify_free(n)
                    continue
                key = index.resolve(n.value, acc.scope)
                if key is not None:
                    local_keys[id(n)] = key
                else:
                    classify_free(n)
                continue
            asg = index.assign.get(id(n))
            if asg is not None:
                if _is_local_scope(asg.scope, gscope):
                    local_keys[id(n)] = (id(asg.scope), asg.name)
                elif self.kind == "block" and n.value in self.names:
                    pass  # the block binding one of its own names
                elif n.value in self.names and (n is getattr(stmt, "name", None) or self.kind == "value"):
                    free[id(n)] = ("self", SELF)
                else:
                    # ``global x`` then ``x = ...`` inside a function: module state.
                    classify_free(n)

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
                       rename_locals, renames, skip, dict(sorted(refs.items())))


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


def _statement_lines(stmt: cst.CSTNode, first_line: int) -> dict[int, int]:
    """id(node) -> line for every node of a top-level statement whose first line is ``first_line``."""
    from libcst.metadata import PositionProvider

    lead = len(getattr(stmt, "leading_lines", ()))
    wrapper = MetadataWrapper(cst.Module(body=[stmt]), unsafe_skip_copy=True)  # type: ignore[list-item]
    return {id(n): pos.start.line - 1 - lead + first_line for n, pos in wrapper.resolve(PositionProvider).items()}


def _is_block(stmt: cst.CSTNode) -> bool:
    """A top-level statement stored as a block definition: ``if`` (but not ``if __name__ ==
    "__main__":``), ``try``, or an assignment that unpacks into plain names (``a, b = 1, 2``)."""
    if isinstance(stmt, cst.If):
        test = stmt.test
        return not (isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name)
                    and test.left.value == "__name__")
    if isinstance(stmt, (cst.Try, cst.TryStar)):
        return True
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
        return all(
            isinstance(t.target, (cst.Tuple, cst.List))
            and all(isinstance(e.value, cst.Name) for e in t.target.elements)
            for t in stmt.body[0].targets
        )
    return False


def _module_scope_names(stmt: cst.CSTNode) -> list[str]:
    """Names a top-level statement binds in the module (not inside the functions and classes it
    defines), in order of first binding."""
    out: dict[str, None] = {}

    def targets(node: cst.CSTNode) -> None:
        for t in _walk(node):
            if isinstance(t, cst.Name):
                out.setdefault(t.value, None)

    stack: list[cst.CSTNode] = [stmt]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            out.setdefault(n.name.value, None)
            continue  # their bodies are their own scopes; decorators bind nothing
        if isinstance(n, (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
            continue
        if isinstance(n, cst.AssignTarget):
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
        stack.extend(reversed(n.children))
    # an except-handler's `as e` is deleted when the handler ends: not a module-level binding
    for n in _walk(stmt):
        if isinstance(n, cst.ExceptHandler) and n.name is not None and isinstance(n.name.name, cst.Name):
            out.pop(n.name.name.value, None)
    return list(out)


def _is_import_block(stmt: cst.CSTNode) -> bool:
    """Imports, possibly inside ``try``/``if`` (``if TYPE_CHECKING:``, fallback imports)."""
    if isinstance(stmt, cst.SimpleStatementLine):
        return all(isinstance(s, (cst.Import, cst.ImportFrom, cst.Pass)) for s in stmt.body)
    if isinstance(stmt, (cst.Try, cst.If)):
        blocks: list[cst.BaseSuite] = [stmt.body]
        if isinstance(stmt, cst.Try):
            blocks += [h.body for h in stmt.handlers]
            if stmt.orelse is not None:
                blocks.append(stmt.orelse.body)
        else:
            orelse = stmt.orelse
            while orelse is not None:
                blocks.append(orelse.body)
                orelse = orelse.orelse if isinstance(orelse, cst.If) else None
        for b in blocks:
            inner: Sequence[cst.BaseStatement] = (
                b.body if isinstance(b, cst.IndentedBlock)
                else [cst.SimpleStatementLine(body=b.body)] if isinstance(b, cst.SimpleStatementSuite)
                else []
            )
            if not all(_is_import_block(s) for s in inner):
                return False
        return True
    return False


def _imports_in(stmt: cst.CSTNode) -> Iterator[cst.Import | cst.ImportFrom]:
    for n in _walk(stmt):
        if isinstance(n, (cst.Import, cst.ImportFrom)):
            yield n


def _bound_names(stmt: cst.CSTNode) -> Iterator[str]:
    """Module-level names bound by an unstored statement (for loops, tuple unpacking, with ... as)."""
    for n in _walk(stmt):
        if isinstance(n, (cst.AssignTarget, cst.For, cst.WithItem, cst.AugAssign, cst.AnnAssign)):
            target = getattr(n, "target", None) or getattr(getattr(n, "asname", None), "name", None)
            if target is None:
                continue
            for t in _walk(target):
                if isinstance(t, cst.Name):
                    yield t.value
        elif isinstance(n, (cst.FunctionDef, cst.ClassDef)):
            yield n.name.value


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


def top_level_names(mod: cst.Module) -> list[str]:
    """Names the module's definitions bind (cheap: no scope analysis)."""
    names: list[str] = []
    for stmt in mod.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            names.append(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            names.extend(_assign_targets(stmt.body[0]) or [])
    return names


def normalize_module(
    source: str | cst.Module,
    *,
    path: str,
    module: str,
    is_package: bool = False,
    ctx: Context | None = None,
) -> ParsedModule:
    """Normalize and hash every top-level definition of a module (source text or a parsed module).

    Raises :class:`~ucode.errors.SourceError` (with file, line and column) on a syntax error.
    """
    ctx = ctx or Context()
    mod = parse_source(source, path=path) if isinstance(source, str) else source
    try:
        return _normalize_parsed(mod, path=path, module=module, is_package=is_package, ctx=ctx)
    except RecursionError:
        # libcst's visitors (and the encoder) recurse: a literal of thousands of implicitly concatenated
        # strings (pydoc_data/topics.py) parses, but cannot be analysed. Report it, do not crash.
        raise SourceError(
            "cannot normalize: an expression is nested too deeply", path=path,
            hint="split the expression (e.g. a very long implicit string concatenation); nothing was stored",
        ) from None


def _normalize_parsed(mod: cst.Module, *, path: str, module: str, is_package: bool, ctx: Context) -> ParsedModule:
    wrapper = MetadataWrapper(mod, unsafe_skip_copy=True)
    index = _ScopeIndex(wrapper)
    table = _ModuleTable(module, is_package, ctx)

    # Pass 1: source text, line of every top-level statement, and the module-level name table.
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

    reexports: list[Reexport] = []
    star_reexports: list[str] = []
    kinds: dict[int, tuple[str, list[str]]] = {}
    skipped: list[Skipped] = []
    for i, (stmt, text, sline) in enumerate(stmt_info):
        if isinstance(stmt, cst.FunctionDef):
            kinds[i] = ("function", [stmt.name.value])
            table.bind(stmt.name.value, _Binding("def", ""))
        elif isinstance(stmt, cst.ClassDef):
            kinds[i] = ("class", [stmt.name.value])
            table.bind(stmt.name.value, _Binding("def", ""))
        elif isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and _assign_targets(stmt.body[0]):
            names = _assign_targets(stmt.body[0]) or []
            kinds[i] = ("value", names)
            for n in names:
                table.bind(n, _Binding("def", ""))
        elif _is_import_block(stmt):
            for imp in _imports_in(stmt):
                found = table.add_import(imp)
                if is_package:
                    for local, target in found:
                        if local == "*":
                            star_reexports.append(target)
                        else:
                            reexports.append(Reexport(f"{module}.{local}", target, sline))
        elif i == 0 and module_doc is not None:
            continue
        elif _is_block(stmt) and (block_names := _module_scope_names(stmt)):
            kinds[i] = ("block", block_names)
            for n in block_names:
                table.bind(n, _Binding("def", ""))
        else:
            reason = _skip_reason(stmt)
            first = text.strip().splitlines()[0] if text.strip() else ""
            skipped.append(Skipped(sline, reason, first[:80]))
            for name in _bound_names(stmt):
                if name not in table.bindings:
                    table.bindings[name] = _Binding("other", f"line {sline}")

    # Later definitions of a name shadow earlier ones, as when Python runs the module.
    last_index: dict[str, int] = {}
    for i, (_kind, names) in kinds.items():
        for n in names:
            last_index[n] = i

    def line_of_factory(base_line: int, stmt: cst.CSTNode) -> Callable[[cst.CSTNode], int]:
        """Line numbers for warnings, computed only for a statement that has one (a whole-module
        position pass costs more than parsing), by counting newlines in the code before the node."""
        positions: dict[int, int] = {}

        def line_of(node: cst.CSTNode) -> int:
            if not positions:
                positions.update(_statement_lines(stmt, base_line))
            return positions.get(id(node), base_line)

        return line_of

    definitions: list[NormalizedDefinition] = []
    for i, (kind, names) in kinds.items():
        stmt, text, sline = stmt_info[i]
        live = [n for n in names if last_index[n] == i]
        if not live:
            skipped.append(Skipped(sline, f"shadowed by a later definition of {names[0]!r}", text.strip()[:80]))
            continue
        body = stmt.body if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) else None
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and kind != "block" else stmt
        normalizer = _DefinitionNormalizer(small, names, kind, table, index, body)
        r = normalizer.run(line_of_factory(sline, stmt))
        warnings = [Finding(w.code, w.message, w.line or sline) for w in r.warnings]
        # A block (a top-level `if`/`try`, or tuple unpacking) binds several names at once; each name is
        # its own definition: the whole block, and which of its names it stands for.
        selections = [(n, ["Select", n, r.tree]) for n in live] if kind == "block" else [(live[0], r.tree)]
        for selected, tree in selections:
            h = hashing.definition_hash(kind, tree, r.imports, r.deps)
            definitions.append(
                NormalizedDefinition(
                    names=[selected] if kind == "block" else live, kind=kind, hash=h, imports=r.imports,
                    deps=r.deps, codebase_modules=r.codebase_modules, docstring=r.docstring,
                    source=_strip_leading_blank(text), line=sline, warnings=warnings,
                    renamed_locals=r.renamed_locals, refs=r.refs, node=small, renames=r.renames, skip=r.skip,
                )
            )

    return ParsedModule(
        name=module, path=path, is_package=is_package, docstring=module_doc, definitions=definitions,
        reexports=reexports, star_reexports=star_reexports, skipped=skipped,
    )


def _strip_leading_blank(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "".join(lines).rstrip() + "\n"


def _skip_reason(stmt: cst.CSTNode) -> str:
    if isinstance(stmt, cst.If):
        test = stmt.test
        if (
            isinstance(test, cst.Comparison)
            and isinstance(test.left, cst.Name)
            and test.left.value == "__name__"
        ):
            return "`if __name__ == \"__main__\":` block is not stored"
        return "top-level `if` statement is not stored"
    if isinstance(stmt, cst.SimpleStatementLine):
        first = stmt.body[0]
        if isinstance(first, cst.Expr) and isinstance(first.value, cst.Call):
            return "side-effecting top-level call is not stored"
        if isinstance(first, cst.Assign):
            return "assignment to a target other than plain names is not stored"
        if isinstance(first, cst.AugAssign):
            return "augmented assignment at top level is not stored"
        if isinstance(first, cst.AnnAssign):
            return "annotation without a value is not stored"
        return f"top-level `{type(first).__name__}` statement is not stored"
    return f"top-level `{type(stmt).__name__}` statement is not stored"


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
