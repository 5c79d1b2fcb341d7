"""Normalizing one statement, in named phases: decide whether locals may be renamed, classify every
free name, fold attribute chains on codebase modules into one dependency, read names in string
annotations, pick the canonical names, encode and scan for hidden effects.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst

from ucode.normalize._data import Finding
from ucode.normalize._encode import _Encoder
from ucode.normalize._hazards import HazardScanner
from ucode.normalize._scope import _CLASS, _GLOBAL, _ScopeIndex
from ucode.normalize._table import _Binding, _dotted, _ModuleTable
from ucode.normalize._walk import _docstring_stmt, _walk

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
    """Normalizes one top-level statement (a definition, or module code: ``kind`` "block", whose own
    ``names`` are kept as written). Single use: :meth:`run` goes through the phases in order, each reading
    what the ones before it left on ``self``."""

    def __init__(
        self,
        stmt: cst.CSTNode,
        names: list[str],
        kind: str,
        table: _ModuleTable,
        index: _ScopeIndex,
        body_for_doc: cst.BaseSuite | None,
        futures: Sequence[str] = (),
    ) -> None:
        self.stmt = stmt
        self.names = names
        self.kind = kind
        self.table = table
        self.index = index
        self.body_for_doc = body_for_doc
        self.futures = futures
        # What the phases fill in.
        self.line_of: Callable[[cst.CSTNode], int] = lambda _n: 0
        self.skip: set[int] = set()  # nodes the encoding leaves out (the docstring)
        self.docstring: str | None = None
        self.nodes: list[cst.CSTNode] = []
        self.rename_locals = True
        self.free: dict[int, tuple[str, str]] = {}  # id(Name) -> ("import" | "dep" | "self", key)
        self.local_keys: dict[int, tuple[int, str]] = {}  # id(Name) -> (id(scope), name) of a local
        self.refs: dict[str, list[str]] = {}  # local name -> [kind, target]: how it resolves
        self.qualnames: dict[int, str] = {}  # id(Name) -> qualified name of an imported object
        self.chain_deps: dict[int, str] = {}  # id(Attribute) -> the codebase name the chain is
        self.consumed: set[int] = set()  # Name nodes replaced as part of an attribute chain
        self.imports: set[str] = set()
        self.deps: set[str] = set()
        self.cb_modules: set[str] = set()
        self.warnings: list[Finding] = []
        self._unresolved: set[str] = set()

    def run(self, line_of: Callable[[cst.CSTNode], int]) -> _Result:
        self.line_of = line_of
        self._skip_docstring()
        self.nodes = list(_walk(self.stmt))
        self.rename_locals = self._locals_can_be_renamed()
        self._classify_names()
        self._fold_attribute_chains()
        self._collect_references()
        self._read_string_annotations()
        renames, imports, deps = self._canonical_names()
        self.warnings.extend(HazardScanner(self.table, self.qualnames, self.free, line_of,
                                           set(self.local_keys)).scan(self.nodes, self.kind))
        tree = _Encoder(renames, self.skip).encode(self.stmt)
        return _Result(tree, imports, deps, sorted(self.cb_modules), self.docstring, self.warnings,
                       self.rename_locals, renames, self.skip, dict(sorted(self.refs.items())))

    # ---------------------------------------------------------------------------------- phases

    def _skip_docstring(self) -> None:
        """A docstring is metadata, not code: left out of the encoding (``view`` shows it)."""
        if self.body_for_doc is not None:
            doc_node, self.docstring = _docstring_stmt(self.body_for_doc)
            if doc_node is not None:
                self.skip.add(id(doc_node))

    def _locals_can_be_renamed(self) -> bool:
        """False when the statement can observe its local names (``locals()``, ``vars()``, ``eval``,
        ``exec``, ``dir()``, an f-string ``=``, frame introspection) or already uses ``_u_`` names."""
        for n in self.nodes:
            if (isinstance(n, cst.Name) and n.value.startswith(_RESERVED_PREFIX)) or (
                isinstance(n, cst.FormattedStringExpression) and n.equal is not None
            ):
                return False
            if not isinstance(n, cst.Call):
                continue
            func = n.func
            if isinstance(func, cst.Name) and func.value in _NAME_OBSERVERS:
                if self.table.lookup(func.value) is None:
                    return False
            elif isinstance(func, cst.Attribute):
                try:
                    dotted = _dotted(func)
                except TypeError:
                    continue
                head, _, rest = dotted.partition(".")
                b = self.table.lookup(head)
                qual = (b.qualname + ("." + rest if rest else "")) if b is not None and b.qualname else dotted
                if qual in _FRAME_OBSERVERS:
                    return False
        return True

    def _classify_free(self, n: cst.Name) -> None:
        """A free name: this statement itself, a dependency, an import, a builtin, or unresolved."""
        name = n.value
        if self.kind == "block" and name in self.names:
            return  # a name module code binds itself: module-level, kept as written, no dependency
        table = self.table
        if name in self.names and table.bindings.get(name, _Binding("other", "")).kind == "def":
            self.free[id(n)] = ("self", SELF)
            return
        b = table.lookup(name)
        if b is None:
            if name in _BUILTINS or name in self._unresolved:
                return
            self._unresolved.add(name)
            hint = f" (it may come from `from {table.external_stars[0]} import *`)" if table.external_stars else ""
            self.warnings.append(Finding("unresolved", f"unresolved name {name!r}{hint}", self.line_of(n)))
            return
        if b.kind == "def":
            self.free[id(n)] = ("dep", f"{table.module}.{name}")
            self.refs[name] = ["dep", f"{table.module}.{name}"]
        elif b.kind == "dep":
            self.free[id(n)] = ("dep", b.value)
            self.refs[name] = ["dep", b.value]
            self.cb_modules.add(b.value.rpartition(".")[0])
        elif b.kind == "import":
            self.free[id(n)] = ("import", b.value)
            self.refs[name] = ["import", b.value]
            self.qualnames[id(n)] = b.qualname
        elif b.kind == "module":
            self.free[id(n)] = ("dep", b.value)
            self.refs[name] = ["module", b.value]
            self.cb_modules.add(b.value)
        # "local": a loop variable or `with ... as` name of module code: kept as written

    def _classify_names(self) -> None:
        """Every Name: a local of one of the statement's scopes (renamable), or free (classified)."""
        index, stmt = self.index, self.stmt
        for n in self.nodes:
            if type(n) is cst.Global:
                for item in n.names:
                    self._classify_free(item.name)  # `global x` is inside a function
                continue
            if type(n) is cst.Nonlocal:
                scope = index.nonlocal_scope.get(id(n))
                for item in n.names:
                    key = index.resolve(item.name.value, scope)  # skips ``scope``: it declares the name
                    if key is not None:
                        self.local_keys[id(item.name)] = key
                continue
            if type(n) is not cst.Name:
                continue
            override_key = index.override.get(id(n))
            if override_key is not None:
                self.local_keys[id(n)] = override_key
                continue
            acc = index.access.get(id(n))
            if acc is not None:
                if acc.scope.kind == _CLASS and index.binds(acc.scope, n.value):
                    # A class body looks names up at run time (class namespace, then globals), so there
                    # the textual order libcst's referents follow is right: ``x = x + 1`` reads a global.
                    referents = index.referents(acc)
                    if referents and all(r.kind != "builtin" and r.scope.kind != _GLOBAL for r in referents):
                        r = referents[0]
                        self.local_keys[id(n)] = (id(r.scope), r.name)
                    else:
                        self._classify_free(n)
                    continue
                key = index.resolve(n.value, acc.scope)
                if key is not None:
                    self.local_keys[id(n)] = key
                else:
                    self._classify_free(n)
                continue
            asg = index.assign.get(id(n))
            if asg is not None:
                if asg.scope.kind != _GLOBAL:
                    self.local_keys[id(n)] = (id(asg.scope), asg.name)
                elif self.kind == "block" and n.value in self.names:
                    pass  # module code binding one of its own names
                elif n.value in self.names and (n is getattr(stmt, "name", None) or self.kind == "value"):
                    self.free[id(n)] = ("self", SELF)
                else:
                    self._classify_free(n)  # ``global x`` then ``x = ...`` inside a function: module state

    def _fold_attribute_chains(self) -> None:
        """Attribute chains on codebase modules (``app.lookupUser``) become a single dependency: only the
        outermost attribute node of a chain is replaced; the nodes inside it are consumed."""
        modules = self.table.ctx.modules
        for n in self.nodes:
            if not isinstance(n, cst.Attribute):
                continue
            root: cst.BaseExpression = n
            chain: list[str] = []
            while isinstance(root, cst.Attribute):
                chain.append(root.attr.value)
                root = root.value
            if not isinstance(root, cst.Name) or self.free.get(id(root), ("", ""))[0] != "dep":
                continue
            base = self.free[id(root)][1]
            if base not in modules:
                continue
            chain.reverse()
            cur = base
            depth = 0
            for attr in chain:
                cur = f"{cur}.{attr}"
                depth += 1
                if cur not in modules:
                    break
            if depth == len(chain):
                self.chain_deps[id(n)] = cur
        for n in self.nodes:  # keep only the outermost: an Attribute whose own value was replaced goes
            if isinstance(n, cst.Attribute) and id(n) in self.chain_deps:
                inner = n.value
                while isinstance(inner, cst.Attribute):
                    self.chain_deps.pop(id(inner), None)
                    inner = inner.value
                self.consumed.add(id(inner))

    def _collect_references(self) -> None:
        """The statement's dependencies and imports, from its free names and folded chains."""
        table = self.table
        for target in self.chain_deps.values():
            self.deps.add(target)
            if target not in table.ctx.modules:
                self.cb_modules.add(target.rpartition(".")[0])
                if not table.ctx.is_name(target):
                    self.warnings.append(Finding("unresolved", f"unresolved name {target!r}", 0))
            else:
                self.cb_modules.add(target)
        for nid, (what, value) in self.free.items():
            if nid in self.consumed:
                continue
            if what == "dep":
                self.deps.add(value)
            elif what == "import":
                self.imports.add(value)

    def _read_string_annotations(self) -> None:
        """Names inside string annotations (``def f(x: "User") -> "Node"``) are references too (read when
        something asks for the hints: ``typing.get_type_hints``); the string stays as written."""
        table = self.table
        for n in self.nodes:
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
                    if type(y) is not cst.Name or y.value in self.names or y.value in self.refs:
                        continue
                    b = table.lookup(y.value)
                    if b is None or b.kind in ("other", "local"):
                        continue
                    if b.kind == "import":
                        self.imports.add(b.value)
                        self.refs[y.value] = ["import", b.value]
                    else:
                        target = f"{table.module}.{y.value}" if b.kind == "def" else b.value
                        self.deps.add(target)
                        self.refs[y.value] = ["module" if b.kind == "module" else "dep", target]

    def _canonical_names(self) -> tuple[dict[int, str], list[str], list[str]]:
        """The renaming the encoding applies: ``_u_self``, ``_u_d<i>`` (the i-th sorted dependency),
        ``_u_i<i>`` (the i-th sorted import), and, where allowed, ``_u_l<i>`` for locals in order of first
        use. Returns (renames, sorted imports, sorted deps)."""
        sorted_imports = sorted(self.imports)
        sorted_deps = sorted(self.deps)
        imp_index = {v: f"_u_i{i}" for i, v in enumerate(sorted_imports)}
        dep_index = {v: f"_u_d{i}" for i, v in enumerate(sorted_deps)}
        renames: dict[int, str] = {}
        for nid, (what, value) in self.free.items():
            if nid in self.consumed:
                continue
            if what == "self":
                renames[nid] = SELF
            elif what == "dep":
                renames[nid] = dep_index[value]
            elif what == "import":
                renames[nid] = imp_index[value]
        for nid, target in self.chain_deps.items():
            renames[nid] = dep_index[target]
        if self.rename_locals:
            order: dict[tuple[int, str], str] = {}
            for n in self.nodes:
                key = self.local_keys.get(id(n))
                if key is None or key in self.index.fixed:
                    continue
                if key not in order:
                    order[key] = f"_u_l{len(order)}"
                renames[id(n)] = order[key]
        return renames, sorted_imports, sorted_deps
