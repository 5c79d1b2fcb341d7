"""The one exception tree of ucode.

Every error a user can cause is a :class:`UcodeError`: it carries a one-line ``message`` saying what went
wrong and a ``hint`` saying how to fix it, plus structured attributes naming the thing involved, so that the
CLI can print one red line (never a traceback) and scripts can branch on the type and attributes.

Anything that is *not* a ``UcodeError`` escaping from ucode is a bug in ucode.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousNameError",
    "DefinitionError",
    "DefinitionFailedError",
    "HashNotFoundError",
    "InvalidNameError",
    "MissingImportError",
    "NameNotFoundError",
    "NothingToUndoError",
    "RunError",
    "SourceError",
    "StoreCorruptError",
    "StoreError",
    "StoreVersionError",
    "StrictModeError",
    "TaskNotReplayableError",
    "UcodeError",
    "VersionError",
]


class UcodeError(Exception):
    """Base of every error ucode reports to a user.

    ``exit_code`` is what the CLI exits with: 1 for bad input, 2 for a store problem.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class SourceError(UcodeError):
    """A file could not be read or parsed. Nothing was stored."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = path if line is None else f"{path}:{line}" + ("" if column is None else f":{column}")
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.line = line
        self.column = column


class StrictModeError(UcodeError):
    """``add --strict`` refused definitions with hidden effects. Nothing was stored."""

    def __init__(self, offenders: list[tuple[str, str]]) -> None:
        first_name, first_warning = offenders[0]
        more = f" (and {len(offenders) - 1} more)" if len(offenders) > 1 else ""
        super().__init__(
            f"--strict: {first_name} has a hidden effect: {first_warning}{more}; nothing was stored",
            hint="make the effect explicit, or add without --strict to store it with a warning",
        )
        self.offenders = offenders


class DefinitionError(UcodeError):
    """A definition cannot be stored as written."""


class InvalidNameError(UcodeError):
    """A name or ``NAME@VERSION`` reference is not well formed."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"invalid name {name!r}: {reason}",
            hint="names are dotted Python identifiers, e.g. app.lookupUser or lookupUser@v2",
        )
        self.name = name


class NameNotFoundError(UcodeError):
    """No binding matches a name in the version asked for."""

    def __init__(self, name: str, version: str, *, suggestions: list[str] | None = None) -> None:
        hint = (
            "did you mean " + ", ".join(suggestions[:5]) + "?"
            if suggestions
            else "`ucode ls` lists the names; `ucode find TEXT` searches them"
        )
        super().__init__(f"no name {name!r} in version {version!r}", hint=hint)
        self.name = name
        self.version = version
        self.suggestions = suggestions or []


class AmbiguousNameError(UcodeError):
    """A name suffix or hash prefix matches more than one thing."""

    def __init__(self, ref: str, candidates: list[str]) -> None:
        shown = ", ".join(candidates[:8]) + (" ..." if len(candidates) > 8 else "")
        super().__init__(
            f"{ref!r} is ambiguous: it matches {shown}",
            hint="use a longer name or hash prefix",
        )
        self.ref = ref
        self.candidates = candidates


class HashNotFoundError(UcodeError):
    """No stored definition has this hash (or hash prefix)."""

    def __init__(self, ref: str) -> None:
        super().__init__(
            f"no stored definition has hash {ref}",
            hint="`ucode add FILE` stores definitions; `ucode view NAME` shows a name's hash",
        )
        self.ref = ref


class VersionError(UcodeError):
    """A version label is unknown or cannot be created."""


class NothingToUndoError(UcodeError):
    """``undo`` found no change to undo."""


class TaskNotReplayableError(UcodeError):
    """A recorded task cannot be replayed (or resumed): ``reason`` says why, ``task`` which one."""

    def __init__(self, task: str, reason: str, *, hint: str) -> None:
        super().__init__(f"task {task} cannot be replayed: {reason}", hint=hint)
        self.task = task
        self.reason = reason


class StoreError(UcodeError):
    """The store cannot be opened or used."""

    exit_code = 2


class StoreVersionError(StoreError):
    """The store was written by a newer ucode with a schema this one does not know."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"the store at {path} has schema version {found}, but this ucode supports up to {supported}",
            hint="upgrade ucode (pip install -U ucode) to open this store",
        )
        self.path = path
        self.found = found
        self.supported = supported


class StoreCorruptError(StoreError):
    """A record in the store cannot be decoded."""


class RunError(UcodeError):
    """Stored code cannot be loaded (not: the user's code raised while running; that propagates as is)."""


class MissingImportError(RunError, ImportError):
    """An import a stored module needs is not installed. Also an ``ImportError``, as in Python."""

    def __init__(self, who: str, statement: str, exc: BaseException) -> None:
        module = statement.split(" ")[1]
        top = module.split(".")[0]
        super().__init__(
            f"{who} needs `{statement}`, which cannot be imported: {exc}",
            hint=f"install the package that provides {top!r} (e.g. pip install {top}) in the environment "
                 "ucode runs in, or add its source to the store",
        )
        self.who = who
        self.statement = statement
        self.module = module


def _stored_frame(frame: object) -> bool:
    g = getattr(frame, "f_globals", {})
    loader = getattr(g.get("__spec__"), "loader", None)
    code = getattr(frame, "f_code", None)
    return type(loader).__name__ == "StoreLoader" or str(getattr(code, "co_filename", "")).startswith("<ucode ")


class DefinitionFailedError(RunError):
    """Importing a stored module raised: its module-level code (a value, a decorator, a class body, a
    call) failed. ``error`` is the exception, ``where`` the file line it failed at."""

    def __init__(self, module: str, exc: BaseException) -> None:
        import linecache

        where = ""
        tb = exc.__traceback__
        while tb is not None:  # the innermost frame of stored code is where it failed
            if _stored_frame(tb.tb_frame):
                name = tb.tb_frame.f_code.co_filename
                text = linecache.getline(name, tb.tb_lineno).strip()
                where = f"{name} line {tb.tb_lineno}" + (f": {text}" if text else "")
            tb = tb.tb_next
        super().__init__(
            f"importing {module} failed: {type(exc).__name__}: {exc}" + (f" (at {where})" if where else ""),
            hint="a module's top-level code runs when it is imported, as Python runs its file; "
                 "`ucode view NAME` shows the stored source",
        )
        self.module = module
        self.ref = module
        self.error = exc
        self.where = where
