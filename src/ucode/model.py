"""The data the API returns: plain frozen dataclasses, each with ``to_dict()`` for ``--json``.

Nothing here touches the store or libcst; the CLI renders these, scripts read their dicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ucode.records import NamespaceEvent

__all__ = [
    "AddResult",
    "AddedModule",
    "AddedName",
    "Binding",
    "DefinitionView",
    "DiffEntry",
    "Event",
    "FileStatus",
    "Match",
    "Matches",
    "SkippedStatement",
    "UndoResult",
    "VerifyResult",
    "VersionInfo",
    "Warning",
]


class _Dict:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True)
class Warning(_Dict):
    """A hidden effect or unresolved name found at add time (``code`` is e.g. ``clock``)."""

    code: str
    message: str
    path: str
    line: int


@dataclass(frozen=True)
class AddedName(_Dict):
    """One name an ``add`` bound, and what happened to it.

    ``status``: ``added`` (new name), ``updated`` (rebound to a new hash), ``unchanged``,
    ``reformatted`` (same hash, the stored source text was updated: a comment or formatting edit),
    ``renamed`` (a new name for the same code as a name the module no longer defines: ``renamed_from``,
    ``from`` in ``to_dict``), ``removed`` (the module no longer defines it: unbound) or ``moved`` (moved
    away with ``ucode move`` and unchanged in the file: left unbound, its callers follow the move).
    """

    name: str
    hash: str
    status: str
    kind: str
    old_hash: str | None
    path: str
    line: int
    warnings: list[Warning] = field(default_factory=list)
    renamed_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["from"] = out.pop("renamed_from")
        return out


@dataclass(frozen=True)
class AddedModule(_Dict):
    """One module an ``add`` stored: the hash of its program (every statement, in order) and whether it
    is ``added``, ``updated`` (its program changed: a definition, module code, a comment or a line) or
    ``unchanged``."""

    name: str
    hash: str
    status: str
    old_hash: str | None
    path: str
    # the package root the module was named from, when the path added is inside a package (``shop/
    # pricing.py`` is ``shop.pricing``: the directories above it have ``__init__.py`` up to ``root``)
    root: str | None = None


@dataclass(frozen=True)
class SkippedStatement(_Dict):
    path: str
    line: int
    reason: str
    text: str


@dataclass(frozen=True)
class AddResult(_Dict):
    """What an ``add`` did. ``stale``: names the modules no longer define, unbound by this add (the same
    names are in ``names`` with status ``removed``); ``skipped``: files passed over."""

    version: str
    names: list[AddedName]
    skipped: list[SkippedStatement]
    stale: list[str]
    files: int
    wrote: bool
    created_version: bool
    modules: list[AddedModule] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["names"] = [n.to_dict() for n in self.names]
        return out

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.names:
            out[n.status] = out.get(n.status, 0) + 1
        return out


@dataclass(frozen=True)
class DefinitionView(_Dict):
    """Everything ``view`` shows about a name or hash."""

    name: str | None
    names: list[str]
    hash: str
    kind: str
    version: str
    source: str
    docstring: str | None
    path: str
    line: int
    module: str
    deps: dict[str, str | None]
    written_against: dict[str, str]
    imports: list[str]
    warnings: list[Warning]


@dataclass(frozen=True)
class Match(_Dict):
    name: str
    hash: str
    kind: str
    summary: str


class Matches(list[Match]):
    """What ``find`` returns: the best matches (a list), and ``total``, how many names matched in all."""

    def __init__(self, matches: list[Match], total: int) -> None:
        super().__init__(matches)
        self.total = total


@dataclass(frozen=True)
class FileStatus(_Dict):
    """What ``ucode status`` says of one added module's file: ``state`` is ``unchanged`` (its text is what
    was added), ``modified`` (edited since: ``ucode add`` would store it anew) or ``missing`` (gone from
    disk); ``names`` are the names its last add bound (what an add of the edited file may change)."""

    module: str
    path: str
    state: str
    names: list[str]


@dataclass(frozen=True)
class Binding(_Dict):
    """``name`` is bound to ``hash`` in ``version`` (``None``: not bound there, e.g. a missing dependency)."""

    name: str
    hash: str | None
    version: str


Event = NamespaceEvent
"""One entry of the namespace log (:class:`ucode.records.NamespaceEvent`): ``kind`` ``bind`` / ``module``
(``old`` -> ``new`` for ``name`` in ``version``; ``None`` = not set in this version, ``""`` = explicitly
unbound), ``version`` (``name`` created from parent ``old``), ``use`` (default version ``old`` -> ``new``).
``op`` groups the events of one command; ``undoes`` marks an undo."""


@dataclass(frozen=True)
class UndoResult(_Dict):
    undone_op: int
    cause: str
    events: list[Event]

    def to_dict(self) -> dict[str, Any]:
        return {"undone_op": self.undone_op, "cause": self.cause, "events": [e.to_dict() for e in self.events]}


@dataclass(frozen=True)
class DiffEntry(_Dict):
    name: str
    old: str | None
    new: str | None
    diff: str


@dataclass(frozen=True)
class VersionInfo(_Dict):
    name: str
    parent: str | None
    default: bool
    own_bindings: int
    created: float


@dataclass(frozen=True)
class VerifyResult(_Dict):
    checked: int
    problems: list[dict[str, str]]
    older: int = 0  # definitions stored under an older hash scheme: not re-hashed (re-add to upgrade)
    repaired: list[dict[str, str]] = field(default_factory=list)  # what --repair fixed (not in problems)
    records: int = 0  # task, event and state records decoded
    code: int = 0  # cached code entries checked

    @property
    def ok(self) -> bool:
        return not self.problems
