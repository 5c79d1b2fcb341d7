"""One command's session: the store opened for it, its errors as one ``error:`` line, its output as JSON.

Rule: :func:`session` is the one place a :class:`~ucode.errors.UcodeError` becomes a red ``error:`` line
(and a dim ``hint:`` line) on stderr and the error's exit code; Ctrl-C exits 130 quietly. A user error
never prints a traceback; an exception raised by the user's stored code is shown as the traceback of
their source (:func:`user_traceback`), without ucode's frames.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer

import ucode
from ucode.cli._app import STORE_FROM_KEY, STORE_KEY, color, jsonl, quiet
from ucode.codebase import STORE_DIR, Codebase, find_store
from ucode.errors import StoreError, UcodeError
from ucode.present import dicts, jsonable

__all__ = ["dicts", "emit", "error_json", "fail", "jsonable", "notice", "open_store", "print_error", "session",
           "user_traceback"]  # dicts and jsonable: ucode.present's (the HTTP API prints the same JSON)


@contextmanager
def session(ctx: typer.Context, *, create: bool = False, as_json: bool = False) -> Iterator[Codebase]:
    """The open codebase for one command; a ``UcodeError`` becomes ``error:``/``hint:`` and an exit code.

    Only commands that write may ``create`` a store; the others fail cleanly where there is none.
    """
    try:
        cb, created = open_store(ctx, create=create)
        try:
            yield cb
        except BaseException:
            if created:  # a store this command made, and the command failed: leave nothing behind
                _remove_if_untouched(cb)
            raise
        finally:
            cb.close()
        if created:  # said once the command succeeded (not before an error that stored nothing)
            notice(f"created store at {cb.path}")
    except UcodeError as exc:
        fail(exc, as_json=as_json)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _remove_if_untouched(cb: Codebase) -> None:
    """Remove the store ``cb`` when it holds nothing but what creating it wrote (its first version): a
    first ``add`` that fails leaves no empty store behind (the next command would find it)."""
    import shutil

    try:
        untouched = cb.log_position() <= 1 and not cb.tasks()
    except UcodeError:
        return
    if untouched:
        cb.close()
        shutil.rmtree(cb.path, ignore_errors=True)


def open_store(ctx: typer.Context, *, create: bool) -> tuple[Codebase, bool]:
    """The store the command line names (``--store``, ``$UCODE_STORE``) or the nearest ``.ucode/`` upward,
    and whether it was created now. Says on stderr (:func:`notice`) which store it uses when it was found in
    a parent directory; an error names the path that was tried."""
    given = ctx.meta.get(STORE_KEY)
    path, exists = find_store(given)
    if not exists and not create:
        raise _no_store(path, ctx.meta.get(STORE_FROM_KEY) if given is not None else None)
    cb = Codebase(path)
    if exists and given is None and path.parent != Path.cwd().resolve():
        notice(f"using store {path}")
    return cb, not exists


def _no_store(path: Path, named_by: str | None) -> StoreError:
    if named_by is None:
        return StoreError(
            f"no ucode store found (looked for {STORE_DIR}/ in {path.parent} and every parent directory)",
            hint="`ucode add FILE` creates one here; or pass --store PATH / set UCODE_STORE")
    what = "the directory does not exist" if not path.exists() else "it holds no store (no data.mdb)"
    inner = path / STORE_DIR
    hint = (f"did you mean --store {inner}? (the store is the {STORE_DIR}/ directory itself)"
            if (inner / "data.mdb").exists() else
            f"check the path; `ucode add FILE --store {path}` creates a store there")
    return StoreError(f"no ucode store found at {path} (from {named_by}): {what}", hint=hint)


def notice(message: str) -> None:
    """A note on stderr (dim on a terminal); ``-q`` silences it."""
    if not quiet():
        typer.secho(message, dim=True, err=True, color=color())


def fail(exc: UcodeError, *, as_json: bool) -> NoReturn:
    if as_json:
        emit({"error": exc.message, "hint": exc.hint})
    print_error(exc)
    raise typer.Exit(exc.exit_code)


def print_error(exc: UcodeError) -> None:
    """One red ``error:`` line and a dim ``hint:`` line on stderr (colored only on a terminal)."""
    typer.secho(f"error: {exc.message}", fg="red", err=True, color=color())
    if exc.hint:
        typer.secho(f"hint: {exc.hint}", dim=True, err=True, color=color())


def emit(data: Any) -> None:
    """JSON to stdout: a dict, or a list of them; with ``--jsonl``, compact, a list one item per line."""
    if jsonl():
        for item in data if isinstance(data, list) else [data]:
            typer.echo(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
        return
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def error_json(task: str, exc: BaseException, **extra: str) -> dict[str, Any]:
    """The ``--json`` output of a run whose stored code raised: the task and the exception."""
    return {"task": task, "error": {"type": type(exc).__name__, "message": str(exc), **extra}}


def user_traceback(exc: BaseException) -> list[str]:
    """The traceback of an exception raised by stored code, without ucode's and typer's own frames."""
    import traceback

    internal = (str(Path(ucode.__file__).parent), str(Path(typer.__file__).parent))
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(internal)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return lines
