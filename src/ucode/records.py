"""Typed records of what the store holds: definitions and their sources, programs and their statements,
modules and files, namespace events, tasks and their event rows.

Rule: each record is built from its stored map in exactly one place (``from_stored``) and written back in
exactly one (``to_stored``), so the keys on disk (some abbreviated, ``wa``, ``cbm``: the format is not
changed by naming them) appear nowhere else; records are immutable and hold no store or runtime object.
(Named tuples, not dataclasses: several are defined on ``ucode run``'s start-up path, where a dataclass
costs ~2 ms to define.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

__all__ = [
    "EVENT_FIELDS", "Definition", "DefinitionRecord", "FileRecord", "ImportSpec", "ModuleRecord",
    "NamespaceEvent", "Program", "SourceRecord", "Statement", "TaskRecord", "Trace", "TraceFrame", "error_of",
    "event_row",
]


class Statement(NamedTuple):
    """One top-level statement of a program: its hash, the digest of its exact text (the ``texts``
    table), the line it starts at, the names it defines and its kind (``function``, ``class``, ``value``
    or ``code``)."""

    hash: str
    digest: str
    line: int
    names: tuple[str, ...]
    kind: str

    def to_stored(self) -> list[Any]:
        return [self.hash, self.digest, self.line, list(self.names), self.kind]


class Program(NamedTuple):
    """A module's program (the ``programs`` table): what runs, in order, when the module is imported.

    ``slots`` maps each name the module defines to the statement it is bound to (its last definition);
    ``imports`` are the modules its module-level imports may load (absolute, parents included), ``used``
    those of every import in it (function bodies too); ``from_imports`` what its top-level ``from ...
    import`` statements bind (local name -> ``module.name``), ``stars`` the codebase modules it
    ``import *``s."""

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
    stars: tuple[str, ...] = ()

    @classmethod
    def from_stored(cls, h: str, rec: Mapping[str, Any]) -> Program:
        """The program of a stored record: a sealed one (schema 4: what is hashed is stored as the bytes
        hashed, ``sealed``, and each statement's names and kind beside it, ``meta``) or one of schema 3
        (every field in the record)."""
        sealed = rec.get("sealed")
        if sealed is not None:
            import msgpack

            _scheme, module, package, path, futures, rows = msgpack.unpackb(sealed, raw=False)
            statements = tuple(Statement(r[0], r[1], r[2], tuple(m[0]), m[1])
                               for r, m in zip(rows, rec["meta"], strict=True))
        else:
            module, package, path, futures = rec["module"], rec["package"], rec["path"], rec.get("futures", ())
            statements = tuple(Statement(s[0], s[1], int(s[2]), tuple(s[3]), s[4]) for s in rec["statements"])
        return cls(
            hash=h, module=module, package=bool(package), path=path, futures=tuple(futures),
            statements=statements, slots=dict(rec.get("slots", {})), imports=tuple(rec.get("imports", ())),
            used=tuple(rec.get("used", ())), annotations=bool(rec.get("annotations")), doc=rec.get("doc"),
            from_imports=dict(rec.get("from_imports", {})), stars=tuple(rec.get("stars", ())),
        )

    def to_stored(self) -> dict[str, Any]:
        from ucode import hashing

        sealed = hashing.module_seal(self.module, package=self.package, path=self.path, futures=self.futures,
                                     statements=[(s.hash, s.digest, s.line) for s in self.statements])
        return {"sealed": sealed, "meta": [[list(s.names), s.kind] for s in self.statements],
                "slots": dict(self.slots), "imports": list(self.imports), "used": list(self.used),
                "annotations": self.annotations, "doc": self.doc, "from_imports": dict(self.from_imports),
                "stars": list(self.stars)}

    def slot_hash(self, name: str) -> str | None:
        """The hash the module's own program binds ``name`` to (None: it does not define it)."""
        i = self.slots.get(name)
        return None if i is None else self.statements[i].hash


class DefinitionRecord(NamedTuple):
    """A stored definition or statement of module code (the ``defs`` table), immutable by hash: its hash
    scheme, kind, canonical imports, dependency names, the codebase modules it refers to, the hash each
    dependency name had when it was added (``written_against``), whether its locals were renamed, its
    body hash (the definition without its name; None for module code) and the program it was first
    added with."""

    scheme: str
    kind: str
    imports: tuple[str, ...]
    deps: tuple[str, ...]
    codebase_modules: tuple[str, ...]
    written_against: Mapping[str, str]
    renamed_locals: bool
    body: str | None
    program: str | None

    @classmethod
    def from_stored(cls, rec: Mapping[str, Any]) -> DefinitionRecord:
        from ucode import hashing

        return cls(rec.get("scheme", hashing.DEF_SCHEME), rec["kind"], tuple(rec.get("imports", ())),
                   tuple(rec.get("deps", ())), tuple(rec.get("cbm", ())), dict(rec.get("wa", {})),
                   bool(rec.get("renamed", False)), rec.get("body"), rec.get("program"))

    def to_stored(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "kind": self.kind, "imports": list(self.imports), "deps": list(self.deps),
                "cbm": list(self.codebase_modules), "wa": dict(self.written_against), "renamed": self.renamed_locals,
                "body": self.body, "program": self.program}


class SourceRecord(NamedTuple):
    """A definition's source as last added (the ``src`` table): metadata, replaced by a later add of the
    same hash (a comment edit). ``refs`` maps each free name to ``[kind, target]`` (``dep``, ``import``,
    ``module``); ``warnings`` are ``[code, message, line]``."""

    source: str
    path: str
    line: int
    module: str
    names: tuple[str, ...]
    doc: str | None
    refs: Mapping[str, tuple[str, str]]
    warnings: tuple[tuple[str, str, int], ...]
    futures: tuple[str, ...] = ()

    @classmethod
    def from_stored(cls, rec: Mapping[str, Any]) -> SourceRecord:
        return cls(rec["source"], rec.get("path", ""), int(rec.get("line", 1)), rec.get("module", ""),
                   tuple(rec.get("names", ())), rec.get("doc"),
                   {k: (v[0], v[1]) for k, v in rec.get("refs", {}).items()},
                   tuple((w[0], w[1], int(w[2])) for w in rec.get("warnings", ())), tuple(rec.get("futures", ())))

    def to_stored(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "path": self.path, "line": self.line, "module": self.module,
                               "names": list(self.names), "doc": self.doc,
                               "refs": {k: list(v) for k, v in self.refs.items()},
                               "warnings": [list(w) for w in self.warnings]}
        if self.futures:
            out["futures"] = list(self.futures)
        return out


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
    def of(cls, h: str, rec: DefinitionRecord, src: SourceRecord) -> Definition:
        return cls(h, rec.kind, src.module, src.names, src.source, src.line, src.path, src.futures, rec.program,
                   tuple(w[1] for w in src.warnings))


class ModuleRecord(NamedTuple):
    """A module as last added (the ``modules`` table; any version): where it came from, whether it is a
    package, what its top-level ``from`` imports bind (``add`` follows them), and its latest program."""

    path: str
    package: bool
    imports: Mapping[str, str]
    program: str | None

    @classmethod
    def from_stored(cls, rec: Mapping[str, Any]) -> ModuleRecord:
        return cls(rec.get("path", ""), bool(rec.get("package")), dict(rec.get("imports", {})), rec.get("program"))

    def to_stored(self) -> dict[str, Any]:
        return {"path": self.path, "package": self.package, "imports": dict(self.imports), "program": self.program}


class FileRecord(NamedTuple):
    """What the last add of a file produced (the ``files`` table): an unchanged re-add is answered from
    here without parsing. ``ctx`` digests the set of stored modules it was normalized against; ``names``
    are ``[name, hash, kind, line, [[code, message, line], ...]]``."""

    digest: str
    path: str
    package: bool
    ctx: str
    normalization: int
    program: str | None
    volatile: bool
    names: tuple[tuple[str, str, str, int, tuple[tuple[str, str, int], ...]], ...]

    @classmethod
    def from_stored(cls, rec: Mapping[str, Any]) -> FileRecord:
        return cls(rec.get("digest", ""), rec.get("path", ""), bool(rec.get("package")), rec.get("ctx", ""),
                   int(rec.get("normalization", 0)), rec.get("program"), bool(rec.get("volatile")),
                   tuple((n[0], n[1], n[2], int(n[3]), tuple((w[0], w[1], int(w[2])) for w in n[4]))
                         for n in rec.get("names", ())))

    def to_stored(self) -> dict[str, Any]:
        return {"digest": self.digest, "path": self.path, "package": self.package, "ctx": self.ctx,
                "normalization": self.normalization, "program": self.program, "volatile": self.volatile,
                "names": [[n, h, k, ln, [list(w) for w in ws]] for n, h, k, ln, ws in self.names]}


class NamespaceEvent(NamedTuple):
    """One entry of the namespace log (see :mod:`ucode.namespace`): ``kind`` ``bind`` / ``module`` (in
    ``version``, ``name`` goes from ``old`` to ``new``: a hash, ``""`` explicitly unbound, None inherit),
    ``version`` (``name`` created from parent ``old``) or ``use`` (the default version ``old`` -> ``new``).
    ``op`` groups the events of one command; ``undoes`` marks an undo."""

    seq: int
    time: float
    op: int
    kind: str
    version: str
    name: str
    old: str | None
    new: str | None
    cause: str
    undoes: int | None = None

    @classmethod
    def from_stored(cls, rec: Mapping[str, Any]) -> NamespaceEvent:
        return cls(int(rec["seq"]), float(rec["time"]), int(rec["op"]), rec["kind"], rec["version"], rec["name"],
                   rec["old"], rec["new"], rec.get("cause", ""), rec.get("undoes"))

    def to_stored(self) -> dict[str, Any]:
        return self._asdict()

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class TraceFrame(NamedTuple):
    """One frame of a failed task's traceback: the qualified name of its function (``shop.pricing.quote``;
    ``shop.pricing.<module>`` for module code), the hash of the stored statement or definition it runs in
    (None: code that is not in the store, a library's), the file and line of the source, and the line's
    text. No locals: a frame never holds a value the code computed."""

    name: str
    hash: str | None
    path: str
    line: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Trace(NamedTuple):
    """The traceback of a failed task, most recent call last: the frames of the user's code (stored code
    and the libraries it called), and how many frames of ucode's own machinery were left out."""

    frames: tuple[TraceFrame, ...]
    hidden: int = 0

    @classmethod
    def from_stored(cls, rec: Mapping[str, Any]) -> Trace:
        return cls(tuple(TraceFrame(f[0], f[1], f[2], int(f[3]), f[4]) for f in rec.get("frames", ())),
                   int(rec.get("hidden", 0)))

    def to_stored(self) -> dict[str, Any]:
        return {"frames": [list(f) for f in self.frames], "hidden": self.hidden}


class TaskRecord(NamedTuple):
    """A task (the ``tasks`` table): what ran (entry name and hash, the closure hash, the programs of the
    stored modules its import ran, the names rebound in them), where (version and namespace log
    position), with what (arguments in recorded form; ``args_note`` when they could not be recorded), how
    (durability, the process: its PID, start time and boot, see ``tasks._process``; older records have
    only the PID), and how it ended (a failure: ``error``, the full Python ``traceback`` as text, and
    ``trace``, the user's frames; a record without ``trace``, older ones, has no traceback recorded)."""

    id: str
    entry: str
    hash: str | None
    closure: str | None
    version: str
    position: int
    args: Any
    kwargs: Any
    status: str
    started: float
    durability: str
    pid: int | None = None
    modules: Mapping[str, str] | None = None
    hashes: Mapping[str, str] | None = None
    args_note: str | None = None
    finished: float | None = None
    result: Any = None
    result_note: str | None = None
    error: Mapping[str, str] | None = None
    traceback: str | None = None
    resumed: bool = False
    pid_start: int | None = None
    boot: str | None = None
    trace: Trace | None = None

    @classmethod
    def from_stored(cls, rec: Mapping[str, Any]) -> TaskRecord:
        fields = cls._fields
        known = {k: v for k, v in rec.items() if k in fields}
        known.setdefault("hash", None)
        known.setdefault("closure", None)
        known.setdefault("durability", "batched")
        known.setdefault("started", 0.0)
        if isinstance(known.get("trace"), Mapping):
            known["trace"] = Trace.from_stored(known["trace"])
        return cls(**known)

    def to_stored(self) -> dict[str, Any]:
        """The stored map: the fields that are set (a task that never failed has no ``error`` key)."""
        out = {k: v for k, v in self._asdict().items() if v is not None and not (k == "resumed" and not v)}
        if self.trace is not None:
            out["trace"] = self.trace.to_stored()
        return out


def error_of(exc: BaseException) -> dict[str, str]:
    """An exception as a task records it (and ``--json`` shows it): type, module, message."""
    return {"type": type(exc).__qualname__, "module": type(exc).__module__, "message": str(exc)}


class ImportSpec(NamedTuple):
    """A canonical import as hashed: ``import a.b`` (``name`` None) or ``from a import b``. Stored as its
    text (``str(spec)``); plain imports of one package merged as ``import a; import a.b``."""

    module: str
    name: str | None = None

    @classmethod
    def parse(cls, text: str) -> list[ImportSpec]:
        out = []
        for part in text.split("; "):
            words = part.split(" ")
            out.append(cls(words[1], words[3]) if words[0] == "from" else cls(words[1]))
        return out

    def __str__(self) -> str:
        return f"from {self.module} import {self.name}" if self.name is not None else f"import {self.module}"


EVENT_FIELDS: tuple[str, ...] = ("seq", "name", "args", "kwargs", "result", "error", "writes", "duration")
"""The fields of a recorded effect, in the order a stored event row holds them (``replay.EffectEvent``)."""
_EVENT_DEFAULTS: dict[str, Any] = {"result": None, "error": None, "writes": False, "duration": 0.0}


def event_row(event: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
    """A recorded effect as a stored row (a list in :data:`EVENT_FIELDS` order), from a row or a map
    (stores written before events were rows)."""
    if isinstance(event, Mapping):
        return [event[f] if f in event else _EVENT_DEFAULTS[f] for f in EVENT_FIELDS]
    return list(event)
