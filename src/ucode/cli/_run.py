"""``ucode run``: a stored function called with JSON arguments, as a recorded task.

Rule: as :mod:`ucode.cli._code`'s. The arguments are parsed here (JSON positional values, ``--kw
NAME=JSON``, ``--args-file``); an exception the stored code raises is its result, shown as the traceback
the task recorded (the user's frames, each with its stored name and hash), exit 1.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ucode.cli._app import JsonOpt, RunCommand, VersionOpt, app, color
from ucode.cli._session import emit, jsonable, notice, session
from ucode.codebase import Codebase
from ucode.errors import ArgumentsFileError, InvalidJsonArgumentError, InvalidKeywordError, UcodeError
from ucode.present import failure_json, failure_lines

__all__ = ["parse_json_arg", "raw_text", "run", "run_arguments"]


def parse_json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJsonArgumentError(what, text, exc.msg, exc.colno) from None


def run_arguments(args: list[str], kw: list[str], args_file: Path | None) -> tuple[list[Any], dict[str, Any]]:
    positional = [parse_json_arg(a, f"argument {i + 1}") for i, a in enumerate(args)]
    keywords: dict[str, Any] = {}
    if args_file is not None:
        try:
            loaded = parse_json_arg(args_file.read_text(encoding="utf-8"), f"--args-file {args_file}")
        except OSError as exc:
            raise ArgumentsFileError(str(args_file), f"cannot read --args-file {args_file}: {exc.strerror}",
                                     hint="check the path") from None
        if isinstance(loaded, list):
            positional = loaded + positional
        elif isinstance(loaded, dict):
            keywords.update(loaded)
        else:
            raise ArgumentsFileError(str(args_file), f"--args-file {args_file} holds a {type(loaded).__name__}",
                                     hint="use a JSON list (positional arguments) or object (keyword arguments)")
    for item in kw:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise InvalidKeywordError(item)
        keywords[key] = parse_json_arg(value, f"--kw {key}")
    return positional, keywords


def raw_text(result: Any) -> str:
    """``--raw``: a str result as it is (no quotes, no escapes), anything else as one line of JSON."""
    if isinstance(result, str):
        return result
    return json.dumps(jsonable(result), ensure_ascii=False)


def _interrupted(cb: Codebase, since: float) -> str | None:
    """The id of the task this process started (at or after ``since``) and did not finish: the one a
    Ctrl-C interrupted, or None if it was interrupted before its task was recorded."""
    try:
        for rec in cb.tasks():  # newest first
            if rec.get("pid") == os.getpid() and (rec.get("started") or 0) >= since and not rec.get("finished"):
                return str(rec["id"])
    except (UcodeError, OSError):
        pass
    return None


@app.command(cls=RunCommand)
def run(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME", help="The function to run: a name, NAME@V or #hash.")],
    args: Annotated[list[str] | None, typer.Argument(metavar="[ARG]...", help="Positional arguments, as JSON.")
                    ] = None,
    kw: Annotated[list[str] | None, typer.Option("--kw", metavar="K=JSON", help="A keyword argument (repeatable).")
                  ] = None,
    args_file: Annotated[Path | None, typer.Option("--args-file", metavar="F",
                                                   help="A JSON list (positional) or object (keyword) of arguments.")
                         ] = None,
    version: VersionOpt = None,
    durability: Annotated[str | None, typer.Option(
        "--durability", metavar="MODE",
        help="How effects are recorded: durable, batched or off (default: the store's setting, "
             "`ucode config durability`, else batched).")] = None,
    raw: Annotated[bool, typer.Option(
        "--raw", help="Print a str result as it is (no quotes), any other result as one line of JSON.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a stored function with JSON arguments, as a recorded task, and print its result.

    Calls between stored functions resolve through the names of the version (late binding): rebinding a
    name changes what runs, without re-adding its callers. Coroutines run to completion; generators are
    printed as lists. An exception in the code exits 1 with a traceback of the stored source. A negative
    number is an argument (ucode run neg -5).

    Example: ucode run handleRequest '{"user_id": 1}' --version v2
    """
    with session(ctx, as_json=as_json) as cb:
        positional, keywords = run_arguments(args or [], kw or [], args_file)
        started = time.time()
        try:
            task = cb.run_task(ref, *positional, version=version, durability=durability, **keywords)
        except KeyboardInterrupt:
            tid = _interrupted(cb, started)
            if tid is not None:
                typer.secho(f"task {tid} interrupted (ucode task resume {tid})", err=True, fg="yellow",
                            color=color())
            raise
        if task.error is not None:  # the stored code raised: that is its result, shown as a traceback
            exc = task.error
            if isinstance(exc, UcodeError):
                raise exc
            lines = failure_lines(exc, task.trace)  # the user's frames, as the task recorded them
            if as_json:
                emit(failure_json(task.id, exc, task.trace, lines))
            sys.stderr.write("".join(lines))
            typer.secho(f"task {task.id} failed (ucode task show {task.id}; ucode task replay {task.id})",
                        err=True, dim=True, color=color())
            raise typer.Exit(1)
        # The result is printed before the store is closed: closing waits for the shadow runs the task
        # queued (routing), which the caller must not wait for.
        result = task.result
        if as_json:
            emit({"task": task.id, "result": jsonable(result)})
        elif raw:
            notice(f"task {task.id}")
            typer.echo(raw_text(result))
        else:
            notice(f"task {task.id}")
            import pprint  # not rich: `ucode run` is on the start-up-time budget and rich.pretty costs ~50 ms

            typer.echo(pprint.pformat(result, width=100, sort_dicts=False))
        sys.stdout.flush()
