"""Commands over recorded tasks: ``task list``, ``task show``, ``task replay``, ``task resume``, ``task
prune`` and ``log``. (Rule: as :mod:`ucode.cli._code`'s.)
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ucode.cli._app import JsonOpt, SinceOpt, app, since, task_app
from ucode.cli._render import (
    paged,
    plain,
    print_table,
    render_replay,
    render_replay_all,
    render_task,
    when,
)
from ucode.cli._session import emit, jsonable, print_error, session
from ucode.errors import NoInterruptedTaskError, ReplayDivergedError, UsageError
from ucode.present import failure_json, failure_lines
from ucode.refs import parse_swaps

UseOpt = Annotated[list[str] | None, typer.Option("--use", metavar="NAME=V",
                                                 help="Swap a name for this replay: a version label or #hash.")]


@task_app.command("list")
def task_list(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed or interrupted tasks.")] = False,
    status: Annotated[list[str] | None, typer.Option(
        "--status", metavar="STATUS",
        help="Only tasks with this status: running, succeeded, failed or interrupted (repeatable).")] = None,
    name: Annotated[str | None, typer.Option("--name", metavar="N", help="Only tasks of this entry point.")
                    ] = None,
    since_: SinceOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", metavar="N", min=0,
                                              help="At most N tasks (the newest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded tasks, newest first.

    Example: ucode task list --failed --name handleRequest --since 1d -n 10
    """
    with session(ctx, as_json=as_json) as cb:
        rows = cb.task_list(failed=failed, name=name, since=since(since_), status=status or None, limit=limit)
    if as_json:
        emit(rows)
        return
    if not rows:
        typer.echo("no tasks")
        return
    if plain():  # piped: a header and tab-separated fields, as every table
        print_table(["task", "status", "started", "name", "version"],
                    [[r["id"], r["status"], when(r["started"]), r["name"], r["version"]] for r in rows])
        return
    for r in rows:
        typer.echo(f"{r['id']}  {r['status']:<11}  {when(r['started'])}  {r['name']}@{r['version']}")


@task_app.command("show")
def task_show(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="A task id, a unique prefix of one, or `last`.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a task: what ran (names and short hashes), its arguments, every effect, its outcome.

    Example: ucode task show last
    """
    with session(ctx, as_json=as_json) as cb:
        view = cb.task_view(task_id)
    if as_json:
        emit(jsonable(view.to_dict()))
    else:
        with paged():
            render_task(view)


@task_app.command("replay")
def task_replay(
    ctx: typer.Context,
    task_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="The task to replay.")] = None,
    use: UseOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every recorded task (of --name).")] = False,
    name: Annotated[str | None, typer.Option("--name", metavar="N", help="With --all: tasks of this entry.")
                    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay a recorded task exactly (no effect is performed), optionally with names swapped.

    Exits 0 when every replay behaves as recorded, 3 when one diverged.

    Example: ucode task replay last --use lookupUser=v2
    """
    with session(ctx, as_json=as_json) as cb:
        swaps = parse_swaps(use or [])
        if all_:
            outs = [r.to_dict() for r in cb.replay_all(name=name, use=swaps)]
        elif task_id is None:
            raise UsageError("task replay", "which task?", hint="ucode task replay ID, or --all [--name N]")
        else:
            outs = [cb.replay(task_id, use=swaps).to_dict()]
    outs = [jsonable(o) for o in outs]
    if as_json:
        emit(outs if all_ else outs[0])
    elif all_:
        render_replay_all(outs)
    else:
        render_replay(outs[0])
    diverged = [o["task"] for o in outs if not o["identical"]]
    if diverged:  # an exit code of its own, so that a replay can gate CI
        exc = ReplayDivergedError(diverged, len(outs))
        if not as_json:
            print_error(exc)
        raise typer.Exit(exc.exit_code)


@task_app.command("resume")
def task_resume(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="An interrupted task (`last`: the newest one).")],
    as_json: JsonOpt = False,
) -> None:
    """Finish an interrupted task: replay its recorded effects (none performed again), continue live.

    Example: ucode task resume last
    """
    with session(ctx, as_json=as_json) as cb:
        try:
            run = cb.resume(task_id)
        except NoInterruptedTaskError:
            typer.echo("no interrupted task to resume")
            return
    if run.error is not None:
        lines = failure_lines(run.error, run.trace)
        if as_json:
            emit(failure_json(run.id, run.error, run.trace, lines))
        sys.stderr.write("".join(lines))
        raise typer.Exit(1)
    if as_json:
        emit({"task": run.id, "result": jsonable(run.result)})
    else:
        typer.echo(f"task {run.id} resumed and finished")
        import pprint

        typer.echo(pprint.pformat(run.result, width=100, sort_dicts=False))


@task_app.command("prune")
def task_prune(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option(
        "--older-than", metavar="AGE",
        help="A duration (30d, 12h, 2w; a bare number is days) or a date: finished tasks started before it go.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete finished tasks started before AGE, with their events (keeps the store's size bounded).

    Example: ucode task prune --older-than 30d
    """
    with session(ctx, as_json=as_json) as cb:
        cutoff = since(older_than, bare_unit="d", option="--older-than")
        assert cutoff is not None
        n = cb.task_prune(cutoff)
    if as_json:
        emit({"pruned": n})
    else:
        typer.echo(f"pruned {n} task" + ("" if n == 1 else "s"))


@app.command("log")
def log_(
    ctx: typer.Context,
    task_id: Annotated[str | None, typer.Option("--task", metavar="ID", help="Only this task's lines.")] = None,
    name: Annotated[str | None, typer.Option("--name", metavar="N", help="Only tasks of this entry point.")
                    ] = None,
    since_: SinceOpt = None,
    grep: Annotated[str | None, typer.Option("--grep", metavar="TEXT", help="Only lines containing TEXT.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines as tasks log them "
                                                                "(until Ctrl-C).")] = False,
    follow_for: Annotated[float | None, typer.Option("--follow-for", hidden=True,
                                                     help="Stop following after SECONDS (tests).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The log lines (effects.log) of recorded tasks, oldest first.

    Example: ucode log --grep lookupUserV2 --since 1d
    """
    import time

    seen: set[tuple[str, int]] = set()
    deadline = None if follow_for is None else time.monotonic() + follow_for
    with session(ctx, as_json=as_json) as cb:
        while True:
            lines = [ln for ln in cb.log_lines(task=task_id, name=name, since=since(since_), grep=grep)
                     if (ln["task"], ln["seq"]) not in seen]
            seen.update((ln["task"], ln["seq"]) for ln in lines)
            if as_json and not follow:
                emit(lines)
            else:
                for ln in lines:  # following: one line each (with --json, one compact object each)
                    typer.echo(json.dumps(jsonable(ln), separators=(",", ":")) if as_json
                               else f"{ln['task']} {ln['seq']:>4}  {ln['line']}")
            if not follow or (deadline is not None and time.monotonic() >= deadline):
                return
            time.sleep(0.25)  # a poll of committed events: a batched task's lines show at its commits
