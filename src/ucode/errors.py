"""The one exception tree of ucode.

Every error a user can cause is a :class:`UcodeError`: it carries a one-line ``message`` saying what went
wrong and a ``hint`` saying how to fix it, plus structured attributes naming the thing involved, so that the
CLI can print one red line (never a traceback) and scripts can branch on the type and attributes.

Anything that is *not* a ``UcodeError`` escaping from ucode is a bug in ucode.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousNameError",
    "ArgumentsFileError",
    "BadArgumentsError",
    "DefinitionError",
    "DefinitionFailedError",
    "DivergenceError",
    "DivergenceNotFoundError",
    "EndpointConfigError",
    "EngineAnswerError",
    "EngineBusyError",
    "EngineError",
    "EngineStoppingError",
    "EngineTokenError",
    "HashNotFoundError",
    "InvalidEffectError",
    "InvalidJsonArgumentError",
    "InvalidKeywordError",
    "InvalidNameError",
    "InvalidRequestError",
    "InvalidSettingError",
    "InvalidSwapError",
    "InvalidTimeError",
    "MissingImportError",
    "ModuleWithoutProgramError",
    "NameNotFoundError",
    "NewNameError",
    "NoEngineError",
    "NoInterruptedTaskError",
    "NoRouteError",
    "NoStateStoreError",
    "NoSuchRouteError",
    "NoTasksError",
    "NotANameError",
    "NotAnEffectError",
    "NotCallableError",
    "NotDefinedError",
    "NotInModuleError",
    "NothingToUndoError",
    "ReboundToModuleWithoutProgramError",
    "ReplayDivergedError",
    "RequestTooLargeError",
    "RouteConfigError",
    "RouteError",
    "RunError",
    "SecretKeyError",
    "SerializationError",
    "ShadowReadRefusedError",
    "SourceError",
    "StoreCorruptError",
    "StoreDamagedError",
    "StoreError",
    "StoreExistsError",
    "StoreFullError",
    "StoreIntegrityError",
    "StoreReadOnlyError",
    "StoreVersionError",
    "StrictModeError",
    "TaskCutOffError",
    "TaskNotFoundError",
    "TaskNotReplayableError",
    "TaskNotResumableError",
    "TaskPurgedError",
    "UcodeError",
    "UnauthorizedError",
    "UnhandledEffectError",
    "UnknownDurabilityError",
    "UnknownSettingError",
    "UnknownVersionError",
    "UntrustedStoreError",
    "UsageError",
    "VersionError",
    "VersionExistsError",
    "VersionInUseError",
]


class UcodeError(Exception):
    """Base of every error ucode reports to a user.

    ``exit_code`` is what the CLI exits with (1: bad input or failing code, 2: a store problem, 3: a
    replay diverged);
    ``http_status`` what the HTTP API answers with (400 bad request, 404 not found, 409 conflict, 422 code
    that cannot run, 500 a damaged store, 503 a store that cannot be used). Subclasses set both, so the
    adapters map errors by table, not by branches.
    """

    exit_code = 1
    http_status = 400

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


class InvalidSwapError(UcodeError):
    """A swap (``--use``) is not ``NAME=VERSION`` or ``NAME=#HASH``."""

    def __init__(self, item: str) -> None:
        super().__init__(f"--use {item!r} is not NAME=VERSION or NAME=#HASH",
                         hint="e.g. --use lookupUser=debug or --use lookupUser=#k3v7q2a")
        self.item = item


class NameNotFoundError(UcodeError):
    """No binding matches a name in the version asked for."""

    http_status = 404

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


class NewNameError(NameNotFoundError):
    """``bind`` of a name that is not bound, without ``--new``: a typo must not create a name."""

    def __init__(self, name: str, version: str, *, suggestions: list[str] | None = None) -> None:
        super().__init__(name, version, suggestions=suggestions)
        close = f"did you mean {', '.join(self.suggestions[:5])}? " if self.suggestions else ""
        self.message = f"no name {name!r} in version {version!r} to rebind"
        self.args = (self.message,)
        self.hint = f"{close}to bind a new name, pass --new: ucode bind --new {name} TARGET"


class AmbiguousNameError(UcodeError):
    """A name suffix or hash prefix matches more than one thing."""

    http_status = 409

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

    http_status = 404

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

    http_status = 409


class TaskNotReplayableError(UcodeError):
    """A recorded task cannot be replayed (or resumed): ``reason`` says why, ``task`` which one."""

    def __init__(self, task: str, reason: str, *, hint: str) -> None:
        super().__init__(f"task {task} cannot be replayed: {reason}", hint=hint)
        self.task = task
        self.reason = reason


class NoStateStoreError(UcodeError):
    """``effects.state`` was used where there is no store (outside a task)."""

    def __init__(self) -> None:
        super().__init__("effects.state needs a store: it is available inside a task",
                         hint="run the code with `ucode run` / Codebase.run, or inside effects.using_store(cb)")


class UnknownDurabilityError(UcodeError):
    """A durability mode that is not one of ``durable``, ``batched``, ``off``."""

    def __init__(self, mode: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"unknown durability {mode!r}", hint=f"choose {', '.join(allowed[:-1])} or {allowed[-1]}")
        self.mode = mode
        self.allowed = allowed


class NoSuchRouteError(UcodeError):
    """``route unset NAME --task T`` where several of the task's routes match NAME."""

    http_status = 404

    def __init__(self, task: str, name: str, routed: list[str]) -> None:
        hint = "its routes: " + ", ".join(routed) + "; give the full name"
        super().__init__(f"{name!r} matches several routes of task {task}",
                         hint=hint + f"; `ucode route list --task {task}` shows them")
        self.task = task
        self.name = name


class TaskNotFoundError(UcodeError):
    """No recorded task has this id (or id prefix)."""

    http_status = 404

    def __init__(self, task: str) -> None:
        super().__init__(f"no task {task!r}", hint="`ucode task list` shows the tasks")
        self.task = task


class NoTasksError(UcodeError):
    """``last`` was asked for, and nothing has run yet."""

    http_status = 404

    def __init__(self) -> None:
        super().__init__("no tasks yet", hint="every `ucode run` records one")


class NoInterruptedTaskError(UcodeError):
    """``task resume last`` and no task is interrupted: there is nothing to resume."""

    http_status = 404

    def __init__(self) -> None:
        super().__init__("no interrupted task to resume",
                         hint="`ucode task list --failed` lists failed and interrupted tasks")


class TaskNotResumableError(UcodeError):
    """A task cannot be resumed: ``reason`` says why."""

    def __init__(self, task: str, reason: str, *, hint: str) -> None:
        super().__init__(f"task {task} cannot be resumed: {reason}", hint=hint)
        self.task = task
        self.reason = reason


class StoreError(UcodeError):
    """The store cannot be opened or used."""

    exit_code = 2
    http_status = 503


class StoreExistsError(UcodeError):
    """``ucode init`` where a store already is (bad input, not a store problem: exit 1)."""

    http_status = 409

    def __init__(self, path: str) -> None:
        super().__init__(f"there is a store at {path} already; nothing was changed",
                         hint="`ucode ls` lists what it holds; `ucode init DIR` makes one elsewhere")
        self.path = path


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
    """A record in the store cannot be decoded, or one it refers to is missing."""

    http_status = 500


class StoreDamagedError(StoreCorruptError):
    """The store's data file is damaged (truncated, emptied, not a file): the store is refused, never
    reset. ``reason`` says what is wrong."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"the store at {path} is damaged: {reason}; it was not opened, and nothing was written",
                         hint="restore the .ucode directory from a backup (or from another clone); to start over, "
                              "move it away and run `ucode add` again")
        self.path = path
        self.reason = reason


class StoreIntegrityError(StoreCorruptError):
    """What is stored is not what its hash (or digest) says: a text, a program record or a cached code
    object was altered. Nothing from it runs. ``what`` names it, ``key`` where it is stored."""

    def __init__(self, what: str, key: str, *, hint: str) -> None:
        super().__init__(f"{what} does not match its hash: it was altered in the store ({key}); it was not run",
                         hint=hint)
        self.what = what
        self.key = key


class StoreReadOnlyError(StoreError):
    """A write to a store that can only be read (its files or its file system are read-only)."""

    def __init__(self, path: str, what: str = "this command writes to it") -> None:
        super().__init__(f"the store at {path} is read-only ({what}); nothing was written",
                         hint="reading commands (view, find, ls, history, task show, ...) work on it; give write "
                              "access to the directory and its files to change it")
        self.path = path


class StoreFullError(StoreError):
    """A write failed for lack of disk space (or the store reached its size limit): nothing was written."""

    http_status = 507

    def __init__(self, path: str, free: int | None, reason: str) -> None:
        room = f"{free / 2**20:.1f} MiB free on its disk" if free is not None else "no free space left"
        super().__init__(f"the store at {path} could not be written: {reason} ({room}); nothing was written, the "
                         "store is as it was before the command",
                         hint="free some disk space (`ucode task prune --older-than 30d` drops old tasks) and run "
                              "the command again")
        self.path = path
        self.free = free


class UntrustedStoreError(StoreError):
    """A store found by walking up from the current directory belongs to another user: code planted there
    would run as you (as git's ``safe.directory``, CVE-2022-24765)."""

    http_status = 403

    def __init__(self, path: str, owner: int, me: int) -> None:
        super().__init__(f"the store at {path} belongs to another user (uid {owner}, you are {me}); it was found "
                         "by looking in the parent directories, and is not used",
                         hint=f"name it explicitly (--store {path} or UCODE_STORE={path}) or trust it: "
                              f"UCODE_SAFE_STORES={path} (paths separated by ':', or '*'), or add the path as a "
                              "line to ~/.config/ucode/safe-stores")
        self.path = path
        self.owner = owner


class RunError(UcodeError):
    """Stored code cannot be loaded (not: the user's code raised while running; that propagates as is)."""

    http_status = 422


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


class NotANameError(UcodeError):
    """A command that takes a name was given a hash (``ucode unbind '#abc'``)."""

    def __init__(self, command: str, ref: str) -> None:
        super().__init__(f"{command} takes a name, not a hash ({ref})",
                         hint=f"`ucode names {ref}` lists the names bound to it; e.g. ucode {command} lookupUser")
        self.command = command
        self.ref = ref


class UnknownVersionError(VersionError):
    """A version that does not exist, named where creating it was not asked for (``NAME@v9``)."""

    http_status = 404

    def __init__(self, version: str, known: list[str], *, create: str | None = None) -> None:
        import difflib

        close = difflib.get_close_matches(version, known, n=3, cutoff=0.5)
        hint = (f"did you mean {', '.join(close)}? " if close else "") + "known versions: " + ", ".join(known)
        if create:
            hint += f"; to create it, {create}"
        super().__init__(f"no version {version!r}", hint=hint)
        self.version = version
        self.known = known


class VersionInUseError(VersionError):
    """``version delete`` / ``version rename`` of a version that cannot go: the default version, or the
    parent of other versions. ``reason`` says which."""

    http_status = 409

    def __init__(self, version: str, reason: str, *, hint: str) -> None:
        super().__init__(f"cannot remove version {version!r}: {reason}", hint=hint)
        self.version = version
        self.reason = reason


class VersionExistsError(VersionError):
    """``version create`` of a version that exists."""

    http_status = 409

    def __init__(self, version: str) -> None:
        super().__init__(f"version {version!r} already exists",
                         hint=f"`ucode versions` lists them; `ucode version use {version}` makes it the default")
        self.version = version


class UnknownSettingError(UcodeError):
    """``ucode config KEY`` with a key that is not a setting."""

    http_status = 404

    def __init__(self, key: str, known: list[str]) -> None:
        super().__init__(f"unknown setting {key!r}", hint="settings: " + ", ".join(sorted(known)))
        self.key = key


class InvalidSettingError(UcodeError):
    """A setting given a value it cannot take."""

    def __init__(self, key: str, value: str, allowed: tuple[str, ...], default: str) -> None:
        super().__init__(f"{key} cannot be {value!r}",
                         hint=f"choose one of {', '.join(allowed)} (the default is {default})")
        self.key = key
        self.value = value
        self.allowed = allowed


class InvalidTimeError(UcodeError):
    """A ``--since`` / ``--older-than`` value that is neither a duration nor a date."""

    def __init__(self, option: str, text: str) -> None:
        super().__init__(
            f"{option} {text!r} is neither a duration nor a date",
            hint=f"a duration before now ({option} 2h, 30m, 7d, 1w), a date or a local time "
                 f"({option} 2026-11-27, {option} '2026-11-27 09:30'), or {option} today",
        )
        self.option = option
        self.text = text


class BadArgumentsError(RunError):
    """A stored function was called with arguments its signature does not take."""

    def __init__(self, ref: str, signature: str, reason: str) -> None:
        super().__init__(f"cannot call {ref}{signature}: {reason}",
                         hint=f"pass arguments as JSON values matching {ref}{signature}, e.g. "
                              f"ucode run {ref} '[1, 2]' or '{{\"key\": 1}}'")
        self.ref = ref
        self.signature = signature


class NotCallableError(RunError):
    """Arguments were passed to a stored value that is not a function."""

    def __init__(self, value: str) -> None:
        super().__init__(f"{value} is a value, not a function: it takes no arguments",
                         hint="ucode run NAME (without arguments) prints a value")
        self.value = value


class NotInModuleError(RunError):
    """A name resolves to a definition that is in no module this version can import."""

    http_status = 404

    def __init__(self, ref: str, version: str) -> None:
        super().__init__(f"{ref} is not in a module of version {version!r}",
                         hint="`ucode view NAME` shows where a definition comes from; `ucode add FILE` adds its "
                              "module")
        self.ref = ref
        self.version = version


class ModuleWithoutProgramError(RunError):
    """A module added by a ucode from before modules were programs: it must be added again to run."""

    def __init__(self, module: str) -> None:
        super().__init__(f"module {module} was added by an older ucode and has no program to run",
                         hint="add it again (ucode add PATH): its definitions keep their hashes")
        self.module = module


class ReboundToModuleWithoutProgramError(RunError):
    """A name is bound to a definition whose module has no program in the store (added by an older
    ucode), so the definition cannot be run in its module."""

    def __init__(self, name: str, target: str, h: str, module: str) -> None:
        super().__init__(f"{name} is bound to {target} (#{h[:10]}), but {module} has no program in this store "
                         "(it was added by an older ucode)", hint=f"add the file of {module} again (ucode add PATH)")
        self.name = name
        self.target = target
        self.hash = h
        self.module = module


class NotDefinedError(RunError):
    """A stored module, once imported, does not define the name asked for (the statement that binds it
    did not run)."""

    def __init__(self, module: str, attr: str) -> None:
        super().__init__(f"{module}.{attr} is not defined when {module} is imported on this Python",
                         hint="the statement that defines it did not run (a branch not taken, or it was deleted); "
                              "`ucode view NAME` shows it")
        self.module = module
        self.attr = attr


class SerializationError(UcodeError):
    """A value an effect (or a task) takes or returns cannot be recorded."""

    def __init__(self, where: str, value: object) -> None:
        t = type(value)
        super().__init__(
            f"{where} is a {t.__module__}.{t.__qualname__}, which cannot be recorded",
            hint="effects take and return plain data: None, bool, int, float, str, bytes, lists, tuples, dicts, "
                 "sets, datetime, Decimal, UUID, enums, dataclasses",
        )
        self.where = where
        self.type_name = f"{t.__module__}.{t.__qualname__}"


class DivergenceError(UcodeError):
    """Raised inside a replay at the first effect that does not match: nothing real is performed.
    ``divergence`` is the :class:`ucode.replay.Divergence`."""

    http_status = 409

    def __init__(self, divergence: object) -> None:
        super().__init__(f"replay diverged {divergence}".split("\n")[0],
                         hint="the code or its inputs changed since the recording; see the divergence")
        self.divergence = divergence


class ReplayDivergedError(UcodeError):
    """``task replay`` (or ``task replay --all``) found that a replay did not behave as recorded: the CLI
    shows the replay, then exits with this error's code of its own (3), so a replay can gate CI.
    ``tasks`` are the ids of the tasks whose replay diverged, ``replayed`` how many were replayed."""

    exit_code = 3
    http_status = 409

    def __init__(self, tasks: list[str], replayed: int) -> None:
        what = f"the replay of task {tasks[0]}" if replayed == 1 else f"{len(tasks)} of {replayed} replayed tasks"
        super().__init__(f"{what} diverged", hint="a replay that matches its recording exits 0; the divergence "
                                                  "is above (--json: each replay's `divergence`)")
        self.tasks = tasks
        self.replayed = replayed


class NotAnEffectError(UcodeError):
    """``ucode.testing.handle`` was given a key that names no effect."""

    def __init__(self, key: object) -> None:
        super().__init__(f"{key!r} is not an effect",
                         hint="use an effect name (e.g. 'time.now') or an effect function (effects.now)")
        self.key = key


class UnhandledEffectError(UcodeError):
    """A test handler was asked for an effect it does not handle."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"effect {name} was called, but the test handler does not handle it",
            hint=f"add {name!r} to ucode.testing.handle({{...}}) (it handles: {', '.join(known) or 'nothing'}),"
                 " or pass passthrough=True to perform unhandled effects for real",
        )
        self.name = name


class InvalidEffectError(UcodeError):
    """An effect is declared in a way that cannot work: ``name`` is the effect, ``reason`` says why (a
    secret effect is performed again by every replay, so it cannot also write)."""

    def __init__(self, name: str, reason: str, *, hint: str) -> None:
        super().__init__(f"effect {name}: {reason}", hint=hint)
        self.name = name
        self.reason = reason


class SecretKeyError(StoreError):
    """The key of secret effects' digests cannot be used: ``source`` is where it comes from (the store's
    key file, or ``UCODE_SECRET_KEY``), ``reason`` what is wrong with it. Nothing was recorded."""

    what = "the secret key"

    def __init__(self, source: str, reason: str, *, hint: str) -> None:
        super().__init__(f"{self.what} ({source}) cannot be used: {reason}", hint=hint)
        self.source = source
        self.reason = reason


class EngineTokenError(SecretKeyError):
    """The engine's token (``engine.token`` in the store directory, or ``UCODE_ENGINE_TOKEN``) cannot be
    used; the engine does not start without one."""

    what = "the engine's token"


class UsageError(UcodeError):
    """A command was called in a way it does not take (options that exclude each other, a missing
    argument); ``command`` names it."""

    def __init__(self, command: str, message: str, *, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.command = command


class InvalidJsonArgumentError(UcodeError):
    """An argument of ``ucode run`` is not valid JSON. ``what`` names it (``argument 2``, ``--kw user_id``)."""

    def __init__(self, what: str, text: str, reason: str, column: int) -> None:
        super().__init__(
            f"{what} is not valid JSON: {text!r} ({reason} at column {column})",
            hint="arguments are JSON values: 1, 2.5, true, null, '\"text\"', '[1, 2]', '{\"user_id\": 1}'",
        )
        self.what = what
        self.text = text


class ArgumentsFileError(UcodeError):
    """``--args-file`` cannot be read, or holds neither a JSON list nor a JSON object."""

    def __init__(self, path: str, message: str, *, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class InvalidKeywordError(UcodeError):
    """A ``--kw`` item that is not ``NAME=JSON``."""

    def __init__(self, item: str) -> None:
        super().__init__(f"--kw {item!r} is not NAME=JSON", hint="e.g. --kw user_id=1 --kw name='\"Ada\"'")
        self.item = item


class RouteError(UcodeError):
    """A route that cannot be set as asked: a name that is not a function, a version that does not bind
    it, a mode, percent or key that is not valid. ``name`` is the routed name; ``field`` the setting at
    fault (``mode``, ``candidate``, ``percent``, ``key``, ...) when there is one."""

    def __init__(self, name: str, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.name = name
        self.field = field


class RouteConfigError(UcodeError):
    """A routing file (``route apply FILE``) that does not parse or holds a route that cannot be set:
    ``path``, ``line`` and ``column`` (1-based) say where; nothing of the file was applied."""

    def __init__(self, path: str, line: int, column: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}:{line}:{column}: {message} (nothing was applied)", hint=hint)
        self.path = path
        self.line = line
        self.column = column


class NoRouteError(UcodeError):
    """``route show/clear/promote/report NAME`` for a name that has no route."""

    http_status = 404

    def __init__(self, name: str, routed: list[str]) -> None:
        hint = ("routed names: " + ", ".join(routed)) if routed else "no name has a route (`ucode route list`)"
        super().__init__(f"{name} has no route", hint=hint)
        self.name = name


class DivergenceNotFoundError(UcodeError):
    """``divergence show ID`` for an id that is not in the store."""

    http_status = 404

    def __init__(self, divergence_id: str) -> None:
        super().__init__(f"no divergence {divergence_id!r}",
                         hint="`ucode route report NAME` lists the latest divergences of a route with their ids")
        self.divergence_id = divergence_id


class ShadowReadRefusedError(UcodeError):
    """Raised in a shadow run (never in the caller's run) when the candidate asks for a read the primary
    did not make and its route refuses such reads (``reads: refuse``): counted as a candidate error."""

    def __init__(self, effect: str) -> None:
        super().__init__(f"a shadow run may not perform {effect}: the primary did not make this read",
                         hint="set `reads: perform` on the route to let shadow runs make reads of their own")
        self.effect = effect


class EngineError(UcodeError):
    """Base of the errors of the engine (``ucode serve``) and of the commands that talk to it."""


class EngineBusyError(EngineError):
    """The engine has as many tasks in flight as it may (``--max-in-flight``): the request is refused at
    once (no unbounded queue), with ``Retry-After``."""

    http_status = 503

    def __init__(self, limit: int, retry_after: int = 1) -> None:
        super().__init__(f"the engine is running {limit} tasks, its limit: this request was not started",
                         hint=f"retry after {retry_after} s; `ucode serve --max-in-flight N` raises the limit")
        self.limit = limit
        self.retry_after = retry_after


class UnauthorizedError(EngineError):
    """A request that needs the engine's token came without it, or with another one."""

    http_status = 401

    def __init__(self, why: str) -> None:
        super().__init__(f"{why}: this endpoint needs the engine's token",
                         hint="send `Authorization: Bearer TOKEN`; `ucode engine token` prints it")


class RequestTooLargeError(EngineError):
    http_status = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the request body has {size} bytes, more than the limit of {limit}",
                         hint="send less, or start the engine with a larger `--max-body BYTES`")


class InvalidRequestError(EngineError):
    """A request whose body or parameters are not what the endpoint takes."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)


class NoEngineError(EngineError):
    """``ucode engine status`` (or purge) where no engine serves the store."""

    http_status = 503

    def __init__(self, store: str, why: str) -> None:
        super().__init__(f"no engine is serving the store at {store}: {why}",
                         hint="`ucode serve` starts one")


class EndpointConfigError(EngineError):
    """An endpoint mapping (``--endpoint`` or the config file) that cannot be served."""

    def __init__(self, where: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{where}: {message}", hint=hint or "write it as 'METHOD /path/{param}=function', e.g. "
                                                              "'GET /users/{user_id:int}=lookupUser'")
        self.where = where


class EngineStoppingError(EngineError):
    """A request that arrived while the engine drains (SIGTERM): refused, as a full engine refuses."""

    http_status = 503

    def __init__(self) -> None:
        super().__init__("the engine is stopping: this request was not started",
                         hint="retry against the engine that replaces it")
        self.retry_after = 1


class TaskCutOffError(EngineError):
    """The engine stopped (its drain timeout passed) before the task of this request finished: the task
    is left interrupted, for ``ucode task resume`` or the next engine's ``--resume``."""

    http_status = 503

    def __init__(self, task: str | None) -> None:
        what = f"task {task}" if task else "the task"
        super().__init__(f"the engine stopped before {what} finished (its drain timeout passed): it is left "
                         "interrupted", hint=f"`ucode task resume {task or 'ID'}`, or `ucode serve --resume`")
        self.task = task
        self.retry_after = 1


class EngineAnswerError(EngineError):
    """What a running engine answered with an error status (``ucode engine purge`` and ``status`` relay it)."""

    def __init__(self, status: int, message: str, hint: str | None) -> None:
        super().__init__(message, hint=hint)
        self.http_status = status


class TaskPurgedError(EngineError):
    """Raised inside a task running old code when the engine purges that code brutally (``ucode engine
    purge --brutal``, Erlang's ``purge``): the task ends failed with this error, recorded as such."""

    http_status = 503

    def __init__(self, position: int | None = None) -> None:
        at = "" if position is None else f" (log position {position})"
        super().__init__(f"the code this task ran{at} was purged while it ran",
                         hint="run it again: new tasks run the current code")
        self.position = position
