"""What normalization produces: the records of a module's program (no libcst logic here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

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
    body: str | None = None  # hashing.body_hash: the definition without its name (None for module code)
    index: int = 0  # its position in the module's program


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
