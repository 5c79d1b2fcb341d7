"""Typed records of what the store holds, as the runtime reads them: a module's program and a definition.

Rule: each is built from its stored map in exactly one place (``from_stored``), is immutable, and holds
no store or runtime object: the store layer produces them, the runtime consumes them. (Named tuples, not
dataclasses: they are defined on ``ucode run``'s start-up path, where a dataclass costs ~2 ms to define.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["Definition", "Program", "Statement"]


class Statement(NamedTuple):
    """One top-level statement of a program: its hash, the digest of its exact text (the ``texts``
    table), the line it starts at, the names it defines and its kind (``function``, ``class``, ``value``
    or ``code``)."""

    hash: str
    digest: str
    line: int
    names: tuple[str, ...]
    kind: str


class Program(NamedTuple):
    """A module's program (the ``programs`` table): what runs, in order, when the module is imported.

    ``slots`` maps each name the module defines to the statement it is bound to (its last definition);
    ``imports`` are the modules its module-level imports may load (absolute, parents included), ``used``
    those of every import in it (function bodies too)."""

    hash: str
    module: str
    package: bool
    path: str
    futures: tuple[str, ...]
    statements: tuple[Statement, ...]
    slots: Mapping[str, int]
    imports: tuple[str, ...]
    used: tuple[str, ...]
    annotations: bool
    doc: str | None
    from_imports: Mapping[str, str]

    @classmethod
    def from_stored(cls, h: str, rec: Mapping[str, Any]) -> Program:
        return cls(
            hash=h, module=rec["module"], package=bool(rec["package"]), path=rec["path"],
            futures=tuple(rec.get("futures", ())),
            statements=tuple(Statement(s[0], s[1], int(s[2]), tuple(s[3]), s[4]) for s in rec["statements"]),
            slots=dict(rec.get("slots", {})), imports=tuple(rec.get("imports", ())),
            used=tuple(rec.get("used", ())), annotations=bool(rec.get("annotations")), doc=rec.get("doc"),
            from_imports=dict(rec.get("from_imports", {})),
        )

    def slot_hash(self, name: str) -> str | None:
        """The hash the module's own program binds ``name`` to (None: it does not define it)."""
        i = self.slots.get(name)
        return None if i is None else self.statements[i].hash


class Definition(NamedTuple):
    """A stored definition (or statement of module code) as it runs on its own: its home (the module
    and names it was written as), its latest source and where that sits, the program it was first added
    with, and its warnings."""

    hash: str
    kind: str
    module: str
    names: tuple[str, ...]
    source: str
    line: int
    path: str
    futures: tuple[str, ...]
    program: str | None
    warnings: tuple[str, ...]

    @classmethod
    def from_stored(cls, h: str, rec: Mapping[str, Any], src: Mapping[str, Any]) -> Definition:
        return cls(
            hash=h, kind=rec["kind"], module=src["module"], names=tuple(src["names"]), source=src["source"],
            line=int(src.get("line", 1)), path=src.get("path", ""), futures=tuple(src.get("futures", ())),
            program=rec.get("program"), warnings=tuple(w[1] for w in src.get("warnings", ())),
        )
