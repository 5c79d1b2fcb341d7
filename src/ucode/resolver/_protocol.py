"""What the runtime receives from the resolver: a snapshot of the names to read from, and a factory of
snapshots. The runtime sees these protocols, never the store or a ``Codebase``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ucode.records import Definition, Program

__all__ = ["SnapshotFactory", "SnapshotSource"]


class SnapshotSource(Protocol):
    """What the runtime reads of one snapshot of the names (a version as of one log position, plus
    overrides)."""

    # read-only properties (a plain attribute satisfies them): what the snapshot is of
    @property
    def version(self) -> str: ...

    @property
    def position(self) -> int: ...

    @property
    def overrides(self) -> Mapping[str, str]: ...

    def module(self, name: str) -> str | None:
        """The program module ``name`` runs in this snapshot (None: not a stored module here)."""

    def modules(self) -> frozenset[str]:
        """Every module bound in this snapshot."""

    def program(self, h: str) -> Program:
        """The program with hash ``h`` (programs are immutable)."""

    def names_under(self, module: str) -> dict[str, str]:
        """The names bound directly under ``module`` (``app.f`` -> ``f``), with the hash each is bound to."""

    def lookup(self, name: str) -> str | None:
        """The hash ``name`` is bound to (None: not bound)."""

    def moved_under(self, module: str) -> dict[str, str]:
        """The names directly under ``module`` that were moved (``ucode move``) and are not bound: name ->
        the hash of what the name they moved to is bound to (what code calling the old name runs)."""

    def routes(self) -> Mapping[str, str]:
        """The routes in force in this snapshot (full name -> policy text, ``ucode.routing`` reads it)."""

    def definition(self, h: str) -> Definition:
        """The stored definition (or statement) with hash ``h``."""

    def text(self, digest: str) -> str:
        """The exact text with this digest."""

    def code(self, key: str) -> bytes | None:
        """Compiled code cached under ``key`` (see ``ucode.runtime.code_key``), or None."""

    def resolve(self, ref: str) -> tuple[str | None, str | None]:
        """``NAME`` / ``#HASH`` -> (full name or None for a hash, hash or None for a name defined by a
        stored module but bound to no definition)."""


class SnapshotFactory(Protocol):
    """Snapshots of a codebase's names, and the little else the runtime asks of a store."""

    def snapshot_source(self, version: str | None, at: int | None,
                        overrides: Mapping[str, str] | None) -> SnapshotSource: ...

    def log_position(self) -> int: ...

    def save_code(self, items: dict[str, bytes]) -> None:
        """Cache compiled code: key -> marshalled code."""

    def has_module_record(self, module: str) -> bool:
        """Whether ``module`` was ever added (a module added by an older ucode has no program)."""
