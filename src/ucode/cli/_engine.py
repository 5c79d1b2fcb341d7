"""``ucode serve`` and ``ucode engine status|token|purge``: the engine, from the command line.

Rule: as every command module's: parse, one call (``ucode.engine.serve``; a request to the running engine),
render. ``serve`` imports the engine (Starlette, uvicorn) only when it runs; no other command does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ucode.cli._app import JsonOpt, app, engine_app
from ucode.cli._render import when
from ucode.cli._session import emit, session

__all__ = ["engine_purge", "engine_status", "engine_token", "serve"]


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", metavar="ADDR",
                                      help="The address to listen on (beyond loopback, every /v1/ endpoint "
                                           "needs the token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="N", min=0, max=65535,
                                      help="The port (0: any free one; the first line printed says which).")] = 8470,
    endpoint: Annotated[list[str] | None, typer.Option(
        "--endpoint", metavar="'METHOD /path=fn'",
        help="Serve a stored function at METHOD /path (repeatable): 'GET /users/{user_id:int}=lookupUser'.")] = None,
    config: Annotated[Path | None, typer.Option("--config", metavar="FILE",
                                                help="A YAML file of `endpoints:` (see docs/engine.md).")] = None,
    workers: Annotated[int, typer.Option("--workers", metavar="N", min=1,
                                         help="Threads running plain functions (coroutines run on the loop).")] = 8,
    max_in_flight: Annotated[int, typer.Option(
        "--max-in-flight", metavar="N", min=1,
        help="Tasks running at once; one more is refused with 503 and Retry-After.")] = 64,
    resume: Annotated[bool | None, typer.Option(
        "--resume/--no-resume",
        help="Resume the tasks earlier engines left interrupted (default: `ucode config resume`).")] = None,
    drain_timeout: Annotated[float, typer.Option(
        "--drain-timeout", metavar="S", min=0,
        help="On SIGTERM, how long tasks in flight may take to finish; the rest are left interrupted.")] = 30.0,
    max_body: Annotated[int, typer.Option("--max-body", metavar="BYTES", min=1,
                                          help="The largest request body accepted (413 beyond).")] = 1 << 20,
    durability: Annotated[str | None, typer.Option(
        "--durability", metavar="MODE", help="How tasks record effects: durable, batched or off (default: the "
                                             "store's setting). Writes of concurrent tasks share commits.")] = None,
) -> None:
    """Serve the store: run functions as tasks over HTTP, swap code under live traffic.

    A `ucode bind`, `route` or `undo` from any process is picked up within milliseconds: tasks that started
    before it finish on their code, later ones run the new code. SIGTERM drains. The API (under /v1/) is
    described in docs/engine.md and at /v1/openapi.json.

    Example: ucode serve --endpoint 'POST /handle=handleRequest' --port 0
    """
    from ucode import engine

    with session(ctx) as cb:
        endpoints = [engine.parse_spec(e) for e in endpoint or []]
        if config is not None:
            endpoints += engine.load_file(config)
        code = engine.serve(cb, host=host, port=port, workers=workers, max_in_flight=max_in_flight,
                            endpoints=endpoints, resume=resume, drain_timeout=drain_timeout, max_body=max_body,
                            durability=durability)
    raise typer.Exit(code)


def _render_status(st: dict[str, Any]) -> None:
    c = st["counters"]
    typer.echo(f"engine pid {st['pid']} serving {st['store']} since {when(st['started'])} "
               f"({'accepting' if st['accepting'] else 'draining'})")
    typer.echo(f"log position {st['position']}; {st['in_flight']} of {st['max_in_flight']} tasks in flight, "
               f"{st['workers']} workers")
    typer.echo("snapshots in use:" if st["snapshots"] else "snapshots in use: none (no task in flight)")
    for s in st["snapshots"]:
        mark = "current" if s["current"] else "old"
        typer.echo(f"  {s['version']}@{s['position']}  {mark:<7}  {s['in_flight']} task(s)  "
                   f"{' '.join(s['tasks'][:5])}")
    typer.echo("counters: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    for sw in st["swaps"][-3:]:
        first = f", first task on it after {sw['first_task_ms']} ms" if "first_task_ms" in sw else ""
        typer.echo(f"code change seen at {when(sw['seen'])}: position {sw['previous']} -> {sw['position']}{first}")
    if st.get("interrupted"):
        typer.echo(f"left interrupted by earlier engines: {' '.join(st['interrupted'])}")


@engine_app.command("status")
def engine_status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the running engine: snapshots in use, tasks in flight per snapshot, counters, code changes.

    Example: ucode engine status --json
    """
    from ucode import engine

    with session(ctx, as_json=as_json) as cb:
        st = engine.engine_status(cb)
    if as_json:
        emit(st)
    else:
        _render_status(st)


@engine_app.command("token")
def engine_token(ctx: typer.Context) -> None:
    """Print the engine's token (made on first use, kept 0600 in the store directory).

    Clients send it as `Authorization: Bearer TOKEN` to every endpoint that changes something.

    Example: ucode engine token
    """
    with session(ctx) as cb:
        token = cb.engine_token()
    typer.echo(token or "")


@engine_app.command("purge")
def engine_purge(
    ctx: typer.Context,
    brutal: Annotated[bool, typer.Option("--brutal", help="End the tasks on old code now (recorded as purged) "
                                                          "instead of waiting for them.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", metavar="S", min=0, help="How long to wait.")] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Purge old code from the running engine: wait for its tasks (soft) or end them (--brutal).

    Erlang's soft_purge and purge: old snapshots are dropped once no task runs on them.

    Example: ucode engine purge --timeout 10
    """
    from ucode import engine

    with session(ctx, as_json=as_json) as cb:
        out = engine.engine_request(cb, "POST", "/v1/engine/purge", {"brutal": brutal, "timeout": timeout},
                                    timeout=timeout + 10)
    if as_json:
        emit(out)
        return
    typer.echo(f"{out['mode']} purge: {len(out['old_tasks'])} task(s) on old code, {len(out['ended'])} ended, "
               f"{len(out['remaining'])} still running {' '.join(out['remaining'])}".rstrip())
