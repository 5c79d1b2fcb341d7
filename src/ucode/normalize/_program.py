"""A module's program: every top-level statement in file order, classified (definition or module code),
normalized and hashed; which statement each name is bound to.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping, Set

import libcst as cst
from libcst.metadata import MetadataWrapper

from ucode import hashing
from ucode.errors import SourceError
from ucode.normalize._data import Context, Finding, NormalizedDefinition, ParsedModule
from ucode.normalize._definition import _DefinitionNormalizer
from ucode.normalize._scope import _ScopeIndex
from ucode.normalize._source import (
    DEEP_PARSE_AT,
    MAX_BOOL_CHAIN,
    bool_operators,
    call_deep,
    longest_bool_chain,
    reindented,
    without_dangling_continuation,
)
from ucode.normalize._table import _Binding, _dotted, _ModuleTable, _resolve_relative
from ucode.normalize._walk import _docstring_stmt, _walk

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
    """Parse a module with libcst; a syntax error becomes a :class:`SourceError` naming file:line:col.

    Source that CPython accepts and libcst's tokenizer does not because of how it mixes tabs and spaces is
    parsed re-indented (:func:`._source.reindented`: the same program; pass the file's text to
    :func:`normalize_module` so the statements keep theirs). Other valid Python that libcst cannot parse
    is a :class:`SourceError` that says so."""
    bools = bool_operators(source)
    if bools > MAX_BOOL_CHAIN and (longest := longest_bool_chain(source)) > MAX_BOOL_CHAIN:
        raise SourceError(
            f"cannot parse: a chain of {longest:,} `and`/`or` operators (ucode's parser, libcst, nests one "
            f"level per operator and handles up to {MAX_BOOL_CHAIN:,})", path=path,
            hint="split the condition (e.g. `any(...)` / `all(...)` over a list); nothing was stored")

    def parse(text: str) -> cst.Module:
        return call_deep(lambda: cst.parse_module(text)) if bools > DEEP_PARSE_AT else cst.parse_module(text)

    try:
        return parse(source)
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
        else:  # valid Python: the same program, written as libcst's tokenizer reads it
            again = reindented(source)
            for candidate in (again, without_dangling_continuation(again or source)):
                if candidate is not None:
                    try:
                        return parse(candidate)
                    except cst.ParserSyntaxError:
                        pass
            raise SourceError(
                f"valid Python that ucode's parser (libcst) cannot parse: {msg}", path=path, line=line,
                column=column, hint="a libcst limitation (e.g. an implicit concatenation of thousands of "
                "strings): rewrite that construct; nothing was stored") from None
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


def _dotted_node(name: str) -> cst.Name | cst.Attribute:
    parts = name.split(".")
    node: cst.Name | cst.Attribute = cst.Name(parts[0])
    for p in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(p))
    return node


class _RemapImports(cst.CSTTransformer):
    """Absolute imports of the modules in ``remap`` (top-level name -> where it now lives), rewritten to
    import the same module from there, binding the same local names (see :func:`remap_imports`)."""

    def __init__(self, remap: Mapping[str, str]) -> None:
        super().__init__()
        self.remap = remap
        self.changed = False

    def _moved(self, name: str) -> str | None:
        top, dot, rest = name.partition(".")
        new = self.remap.get(top)
        return None if new is None else new + dot + rest

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        if updated.relative or updated.module is None:
            return updated  # a relative import names its own package: it moves with it
        new = self._moved(_dotted(updated.module))
        if new is None:
            return updated
        self.changed = True
        return updated.with_changes(module=_dotted_node(new))

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        aliases: list[cst.ImportAlias] = []
        for alias in updated.names:
            name = _dotted(alias.name)
            new = self._moved(name)
            if new is None:
                aliases.append(alias)
                continue
            self.changed = True
            if alias.asname is not None:  # `import shop.catalog as c` -> `import vendor.shop.catalog as c`
                aliases.append(alias.with_changes(name=_dotted_node(new)))
                continue
            top = name.partition(".")[0]
            local = cst.AsName(name=cst.Name(top))
            if name != top:
                # `import shop.catalog` loads shop.catalog and binds `shop` to the package:
                # `import vendor.shop.catalog as shop, vendor.shop as shop` does both, binding only `shop`
                aliases.append(cst.ImportAlias(name=_dotted_node(new), asname=local))
            aliases.append(alias.with_changes(name=_dotted_node(self.remap[top]), asname=local))
        return updated.with_changes(names=aliases)


def remap_imports(mod: cst.Module, remap: Mapping[str, str]) -> cst.Module | None:
    """``mod`` with its absolute imports of the top-level modules in ``remap`` (and their submodules)
    rewritten to where they live now (``add shop --namespace vendor``: ``{"shop": "vendor.shop"}``), in
    function bodies too, or None when it has none. Each rewritten statement binds the names the original
    binds, to the moved modules: ``from shop.catalog import x`` -> ``from vendor.shop.catalog import x``,
    ``import shop`` -> ``import vendor.shop as shop``, ``import shop.catalog as c`` -> ``import
    vendor.shop.catalog as c``, ``import shop.catalog`` -> ``import vendor.shop.catalog as shop, vendor.shop
    as shop``. Relative imports are left as they are; lines do not move (tracebacks keep their lines)."""
    if not remap:
        return None
    t = _RemapImports(remap)
    out = mod.visit(t)
    return out if t.changed else None


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
    text: str | None = None,
) -> ParsedModule:
    """Normalize and hash every top-level statement of a module (source text or a parsed module): its
    program. ``origin`` is the path the module runs as (``__file__``; default ``path``). ``text``: the
    file's text, when ``source`` is what :func:`parse_source` made of it (it may have parsed a re-indented
    copy; the statements' texts are the file's).

    Raises :class:`~ucode.errors.SourceError` (with file, line and column) on a syntax error.
    """
    ctx = ctx or Context()
    if isinstance(source, str):
        text = source
        mod = parse_source(source, path=path)
    else:
        mod = source

    def run() -> ParsedModule:
        return _normalize_parsed(mod, path=path, module=module, is_package=is_package, ctx=ctx,
                                 origin=origin or path, text=text)

    try:
        return run()
    except RecursionError:
        pass
    # libcst's visitors and code generation (and the scope builder and the encoder) recurse per level: a
    # long `1 + 1 + ...` or a literal of thousands of implicitly concatenated strings (pydoc_data/topics.py)
    # is deeper than Python's default recursion limit. Again, with a deep stack (rare: only such modules).
    try:
        return call_deep(run)
    except RecursionError:
        raise SourceError(
            "cannot normalize: an expression is nested too deeply", path=path,
            hint="split the expression (e.g. a very long implicit string concatenation); nothing was stored",
        ) from None


def _normalize_parsed(mod: cst.Module, *, path: str, module: str, is_package: bool, ctx: Context,
                      origin: str, text: str | None = None) -> ParsedModule:
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

    # Pass 1: source text and line of every top-level statement. When libcst parsed a re-indented copy
    # of the file (parse_source), each statement's text is the file's own lines (the same lines: only
    # leading whitespace differs, and that is not hashed).
    file_lines = _file_lines(text, mod)
    line = 1 + len(mod.header)
    stmt_info: list[tuple[cst.SimpleStatementLine | cst.BaseCompoundStatement, str, int]] = []
    for stmt in mod.body:
        stmt_text = mod.code_for_node(stmt)
        lead = len(stmt.leading_lines) if hasattr(stmt, "leading_lines") else 0
        nlines = stmt_text.count("\n")
        if file_lines is not None:
            end = line - 1 + nlines + (0 if stmt_text.endswith("\n") else 1)
            stmt_text = "".join(file_lines[line - 1: end])
        stmt_info.append((stmt, _STATEMENT_CONTINUED.sub(r"\1", stmt_text), line + lead))
        line += nlines

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
    for i, ((node, stmt_text, sline), (kind, names, everything)) in enumerate(zip(stmt_info, kinds, strict=True)):
        first_line = _source_first_line(node, stmt_text, sline)
        if not annotations:
            annotations = any(isinstance(n, cst.AnnAssign) for n in _module_scope_nodes(node))
        body = node.body if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else None
        small: cst.CSTNode = node.body[0] if kind == "value" and isinstance(node, cst.SimpleStatementLine) else node
        normalizer = _DefinitionNormalizer(small, names if kind != "code" else everything,
                                           kind if kind != "code" else "block", table, index, body, futures)
        r = normalizer.run(line_of_factory(sline, node))
        warnings = [Finding(w.code, w.message, w.line or sline) for w in r.warnings]
        tree = r.tree
        if futures:  # `from __future__ import annotations` changes what the code does: part of the hash
            tree = ["Future", futures, tree]
        try:
            if kind == "code":
                h = hashing.statement_hash(tree, r.imports, r.deps, module=module)
                body_h = None
            else:
                h = hashing.definition_hash(kind, tree, r.imports, r.deps, name=f"{module}.{names[0]}")
                body_h = hashing.body_hash(kind, tree, r.imports, r.deps)
        except ValueError as exc:  # msgpack: "recursion limit exceeded" (lists nested over 1,024 deep)
            raise SourceError(
                f"cannot hash: the statement is nested too deeply for ucode's hash encoding ({exc})", path=path,
                line=first_line, hint="split the expression (e.g. a sum of hundreds of terms into partial sums); "
                "nothing was stored") from None
        statements.append(
            NormalizedDefinition(
                names=names, kind=kind, hash=h, imports=r.imports, deps=r.deps,
                codebase_modules=r.codebase_modules, docstring=r.docstring if kind != "code" else None,
                source=_strip_leading_blank(stmt_text), line=first_line, warnings=warnings,
                renamed_locals=r.renamed_locals, refs=r.refs, node=small, renames=r.renames, skip=r.skip,
                futures=futures, body=body_h, index=i,
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


_TAB_INDENT = re.compile(r"^[ \t\f]*[\t\f]", re.MULTILINE)
# A statement text ending in a line continuation (`pass\` followed by a blank line, which CPython joins
# to it): stored without that backslash, so that the text compiles on its own (found by the fuzz tests).
_STATEMENT_CONTINUED = re.compile(r"\\((?:\r\n|\r|\n)[ \t\f]*(?:\r\n|\r|\n)?)\Z")


def _file_lines(text: str | None, mod: cst.Module) -> list[str] | None:
    """The file's lines (each with its ``\\n``) when ``mod`` was parsed from a re-indented copy of ``text``,
    else None (then libcst's text of each statement is the file's). Only a file with a tab or a form feed
    in its indentation can have been re-indented; only then is the module's code generated to compare."""
    if text is None or _TAB_INDENT.search(text) is None or mod.code == text:
        return None
    lines = text.split("\n")
    return [ln + "\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


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
