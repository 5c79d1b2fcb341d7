"""The module-level name table: what each top-level name is bound to (a definition, an import, a
dependency on another module of the codebase), as a statement is classified.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from ucode.normalize._data import Context

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
            renamed: set[str] = set()  # local names an ``as`` of this statement bound
            for alias in stmt.names:
                mod = _dotted(alias.name)
                if alias.asname is not None:
                    local = _dotted(alias.asname.name)
                    if local in renamed:
                        # ``import vendor.shop.catalog as shop, vendor.shop as shop`` (an ``import shop.catalog``
                        # of a package added under a namespace): within one statement the last one binds it
                        self.bindings.pop(local, None)
                    renamed.add(local)
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
