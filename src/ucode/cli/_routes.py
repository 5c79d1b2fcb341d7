"""Commands over routes: ``route set/unset/list/show/shadow/percent/clear/promote/apply/report`` and
``divergence show``. (Rule: as :mod:`ucode.cli._code`'s: parse, one ``Codebase`` call, render.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ucode import hashing
from ucode.cli._app import JsonOpt, divergence_app, route_app
from ucode.cli._render import print_table, render_events, when
from ucode.cli._session import emit, jsonable, session
from ucode.errors import UsageError
from ucode.present import route_json

if TYPE_CHECKING:
    from ucode.routing import RouteChange, RouteView

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The function: a full name or a unique suffix.")]
TaskOpt = Annotated[str | None, typer.Option("--task", metavar="ID",
                                             help="One task's replays instead (an id, a prefix, or last).")]
PrimaryOpt = Annotated[str | None, typer.Option(
    "--primary", metavar="V", help="The version (or #hash) that answers (default: the caller's own binding).")]
CandidateOpt = Annotated[str, typer.Option("--candidate", metavar="V2", help="The candidate version (or #hash).")]


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        typer.secho(f"warning: {w}", fg="yellow", err=True)


def _show_change(change: RouteChange, as_json: bool, empty: str = "nothing changed (the route was already so)") -> None:
    if as_json:
        emit(jsonable(change.to_dict()))
        return
    _warn(change.warnings)
    render_events(change.events, empty=empty)


def _targets(view: RouteView) -> str:
    return ", ".join(f"{side} {hashing.short(h) if h else '(unbound)'}" for side, h in view.targets.items())


# ------------------------------------------------------------------------------------ per-task and primary


@route_app.command("set")
def route_set(
    ctx: typer.Context,
    name: NameArg,
    version: Annotated[str, typer.Option("--version", metavar="V", help="A version label or #hash.")],
    task_id: TaskOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Route every call of NAME to VERSION, whatever version the caller runs in (a primary route); with
    --task, only in the replays of that task (a per-task route).

    Example: ucode route set lookupUser --version v2
    """
    with session(ctx, as_json=as_json) as cb:
        if task_id is None:
            change = cb.route_primary(name, version)
        else:
            tid, full, h = cb.route_task(task_id, name, version)
    if task_id is None:
        _show_change(change, as_json)
    elif as_json:
        emit({"task": tid, "name": full, "hash": h})
    else:
        typer.echo(f"task {tid}: {full} -> {hashing.short(h)} in its replays")


@route_app.command("unset")
def route_unset(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The routed name (full, or a unique suffix).")],
    task_id: Annotated[str, typer.Option("--task", metavar="ID", help="The task (an id, a prefix, or last).")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a per-task route: the task's replays resolve NAME as the task ran it again.

    Example: ucode route unset lookupUser --task last
    """
    with session(ctx, as_json=as_json) as cb:
        tid, full, removed = cb.unroute_task(task_id, name)
    if as_json:
        emit({"task": tid, "name": full, "removed": removed})
    else:
        typer.echo(f"task {tid}: {full} is no longer routed" if removed
                   else f"task {tid}: {full} was not routed; nothing changed")


@route_app.command("list")
def route_list(
    ctx: typer.Context,
    task_id: TaskOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the routes in force (with --task: the per-task routes of one task's replays).

    Example: ucode route list
    """
    with session(ctx, as_json=as_json) as cb:
        if task_id is not None:
            tid, per_task = cb.task_routes(task_id)
        else:
            views = cb.routes()
    if task_id is not None:
        if as_json:
            emit({"task": tid, "routes": per_task})
        elif not per_task:
            typer.echo(f"task {tid} has no routes (`ucode route set NAME --task {tid} --version V` adds one)")
        else:
            for n, h in sorted(per_task.items()):
                typer.echo(f"task {tid}: {n} -> {hashing.short(h)} in its replays")
        return
    if as_json:
        emit(jsonable([v.to_dict() for v in views]))
    elif not views:
        typer.echo("no routes (`ucode route shadow NAME --candidate V2` or `ucode route apply FILE` adds one)")
    else:
        print_table(["name", "mode", "route", "runs now"],
                    [[v.name, v.policy.mode, v.policy.describe(), _targets(v)] for v in views])


@route_app.command("show")
def route_show(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Show one route: its policy, what its versions run now, and its counters.

    Example: ucode route show lookupUser
    """
    with session(ctx, as_json=as_json) as cb:
        view = cb.route(name)
        rep = cb.route_report(view.name, limit=0)
    if as_json:
        emit(route_json(view.to_dict(), rep))
        return
    p = view.policy
    typer.echo(f"route {view.name}: {p.describe()}")
    typer.echo(f"  mode {p.mode}; revision {p.revision}" + (f"; salt {p.salt}" if p.mode == "percent" else ""))
    for side, h in view.targets.items():
        label = (p.candidate if side == "candidate" else p.primary) or "the caller's own binding"
        typer.echo(f"  {side}: {label} -> {hashing.short(h) if h else '(unbound)'}")
    if p.mode == "percent":
        typer.echo(f"  key: {p.key or 'the task id'}")
    if p.mode == "shadow":
        typer.echo(f"  reads the primary did not make: {p.reads}ed" + (
            f"; compared ignoring {', '.join(p.ignore)}" if p.ignore else ""))
    typer.echo(f"  calls {rep['calls']}" + (f", shadowed {rep['shadowed']}, diverged {rep['diverged']}"
                                           if p.mode == "shadow" else "")
               + (f", to the candidate {rep['candidate']}" if p.mode == "percent" else ""))


# ------------------------------------------------------------------------------------ policies


@route_app.command("shadow")
def route_shadow(
    ctx: typer.Context,
    name: NameArg,
    candidate: CandidateOpt,
    primary: PrimaryOpt = None,
    ignore: Annotated[list[str] | None, typer.Option(
        "--ignore", metavar="FIELD", help="A field left out of comparisons, at any depth (repeatable).")] = None,
    reads: Annotated[str, typer.Option(
        "--reads", metavar="perform|refuse",
        help="Reads the primary did not make: performed (default) or refused in the shadow run.")] = "perform",
    as_json: JsonOpt = False,
) -> None:
    """Shadow NAME: the primary answers every call; CANDIDATE runs on the same arguments off the caller's
    path, in a sandbox that never writes, and is compared (`ucode route report NAME`).

    Example: ucode route shadow lookupUser --candidate v2 --ignore fetched_at
    """
    with session(ctx, as_json=as_json) as cb:
        change = cb.route_shadow(name, candidate, primary=primary, ignore=ignore or (), reads=reads)
    _show_change(change, as_json)


@route_app.command("percent")
def route_percent(
    ctx: typer.Context,
    name: NameArg,
    candidate: CandidateOpt,
    percent: Annotated[float, typer.Option("--percent", metavar="P", help="The candidate's share, 0 to 100.")],
    key: Annotated[str | None, typer.Option(
        "--key", metavar="PATH", help="The routing key: an argument or a path into one, e.g. user_id or "
                                      "req.user_id (default: the task id).")] = None,
    primary: PrimaryOpt = None,
    salt: Annotated[str | None, typer.Option(
        "--salt", metavar="TEXT", help="The salt keys are hashed with (default: the route's, else a new one): "
                                       "the same salt sends the same keys to the candidate.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a sticky share of NAME's calls to CANDIDATE: a call's key is hashed into a bucket with the
    route's salt, and raising the percent only adds keys.

    Example: ucode route percent lookupUser --candidate v2 --percent 10
    """
    with session(ctx, as_json=as_json) as cb:
        change = cb.route_percent(name, candidate, percent, key=key, primary=primary, salt=salt)
    _show_change(change, as_json)


@route_app.command("clear")
def route_clear(ctx: typer.Context, name: NameArg, task_id: TaskOpt = None, as_json: JsonOpt = False) -> None:
    """Remove NAME's route: its calls run the caller's own binding again (with --task: a per-task route).

    Example: ucode route clear lookupUser
    """
    if task_id is not None:
        route_unset(ctx, name, task_id, as_json)
        return
    with session(ctx, as_json=as_json) as cb:
        change = cb.route_clear(name)
    _show_change(change, as_json)


@route_app.command("promote")
def route_promote(
    ctx: typer.Context,
    name: NameArg,
    version: Annotated[str | None, typer.Option(
        "--version", metavar="V", help="The version to bind it in (default: the default version).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Bind NAME to what its route's candidate runs now and remove the route, as one step (`ucode undo`
    takes both back).

    Example: ucode route promote lookupUser
    """
    with session(ctx, as_json=as_json) as cb:
        change = cb.route_promote(name, version=version)
    _show_change(change, as_json)


@route_app.command("apply")
def route_apply(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A routing file (YAML, `functions:` ...).")],
    prune: Annotated[bool, typer.Option("--prune", help="Also remove the routes the file does not name.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply a routing file: every route in it is checked first (a problem names its line), then all are
    written as one step.

    Example: ucode route apply examples/routing.yaml
    """
    with session(ctx, as_json=as_json) as cb:
        change = cb.route_apply(path, prune=prune)
    _show_change(change, as_json, empty="nothing changed (the routes were already so)")


# ------------------------------------------------------------------------------------ reports


def _args_text(args: list[Any], kwargs: dict[str, Any]) -> str:
    return ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])


@route_app.command("report")
def route_report(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option("-n", "--limit", metavar="N", help="How many divergences to list.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """What NAME's route did: calls, shadow runs matched and diverged, candidate errors, slower or faster,
    and the latest divergences.

    Example: ucode route report lookupUser
    """
    with session(ctx, as_json=as_json) as cb:
        if limit < 0:
            raise UsageError("route report", f"-n must be 0 or more, not {limit}", hint="e.g. -n 10")
        rep = cb.route_report(name, limit=limit)
    if as_json:
        emit(jsonable(rep))
        return
    route = rep["route"]
    typer.echo(f"route {rep['name']}: {route['describe']}")
    side = "candidate" if route["candidate"] else "primary"
    if route["targets"].get(side):
        typer.secho(f"  (counted since the route was set or its {side} became "
                    f"{hashing.short(route['targets'][side])})", dim=True)
    typer.echo(f"  calls {rep['calls']}" + (f" (primary {rep['primary']}, candidate {rep['candidate']}"
                                           + (f", without the key {rep['no_key']}" if rep["no_key"] else "") + ")"
                                           if route["mode"] == "percent" else ""))
    if route["mode"] == "shadow" or rep["shadowed"]:
        typer.echo(f"  shadowed {rep['shadowed']}: matched {rep['matched']}, diverged {rep['diverged']}; "
                   f"candidate errors {rep['candidate_errors']}"
                   + (f"; primary errors {rep['primary_errors']}" if rep["primary_errors"] else "")
                   + f"; dropped {rep['dropped']}"
                   + (f"; not shadowed {rep['unshadowable']} (arguments or results that cannot be recorded)"
                      if rep["unshadowable"] else ""))
        if rep["shadowed"]:
            typer.echo(f"  candidate slower {rep['candidate_slower']}, faster {rep['candidate_faster']} "
                       f"(mean {rep['primary_mean_ms']} ms primary, {rep['candidate_mean_ms']} ms candidate)")
    divs = rep["divergences"]
    if divs:
        typer.echo(f"latest divergences ({len(divs)} of {rep['divergences_total']}):")
        print_table(["id", "task", "when", "what differs", "arguments"],
                    [[d["id"], d["task"] or "-", when(d["time"]), ", ".join(d["kinds"]),
                      _args_text(d["args"], d["kwargs"])] for d in divs])
        first = divs[0]
        typer.secho(f"`ucode divergence show {first['id']}` shows one; `ucode task replay {first['task']} --use "
                    f"{rep['name']}={route['candidate']}` replays its task with the candidate", dim=True)


@divergence_app.command("show")
def divergence_show(
    ctx: typer.Context,
    divergence_id: Annotated[str, typer.Argument(metavar="ID", help="A divergence id (d1, d2, ...).")],
    as_json: JsonOpt = False,
) -> None:
    """Show one divergence: the call, both results and durations, a diff, and the effects that differ.

    Example: ucode divergence show d1
    """
    with session(ctx, as_json=as_json) as cb:
        d = cb.divergence(divergence_id)
    if as_json:
        emit(jsonable(d))
        return
    typer.echo(f"divergence {d['id']}: {d['route']}, task {d.get('task') or '-'}, {when(d.get('time'))}")
    typer.echo(f"  called with ({_args_text(d['args'], d['kwargs'])})")
    for side in ("primary", "candidate"):
        s = d[side]
        label = s.get("version") or "the caller's own"
        what = (f"raised {s['error']['type']}: {s['error']['message']}" if s.get("error")
                else f"returned {jsonable(s['result'])!r}")
        typer.echo(f"  {side:<9} {label} {hashing.short(s['hash']) if s.get('hash') else ''}: {what} "
                   f"in {1000 * s.get('duration', 0):.2f} ms")
    if d.get("diff"):
        typer.echo("  the results differ (compared as recorded: a class as its name and fields):")
        for ln in d["diff"].splitlines():
            typer.echo("    " + ln)
    if d.get("effects_diff"):
        typer.echo("  the writes differ:")
        for ln in d["effects_diff"].splitlines():
            typer.echo("    " + ln)
    cand = d["candidate"].get("effects", [])
    if cand:
        typer.echo("  the candidate's effects: " + "; ".join(f"{e['name']} {e['how']}" for e in cand))
    for line in d["candidate"].get("logs", []):
        typer.echo(f"  candidate log: {line}")
    version = d["candidate"].get("version") or "#" + hashing.short(d["candidate"].get("hash") or "")
    if d.get("task"):
        typer.secho(f"reproduce: ucode task replay {d['task']} --use {d['route']}={version}", dim=True)
