"""Scope analysis: which names are reads and which are bindings, and in which scope, by Python's static
rules (libcst's ScopeProvider's decisions, at a fraction of its cost).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterator
from typing import Any

import libcst as cst

from ucode.normalize._walk import _child_fields, _children

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
