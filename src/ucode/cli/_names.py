"""Commands that change names by hand, and their log: ``bind``, ``unbind``, ``alias``, ``move``,
``history``, ``undo``. (Rule: as :mod:`ucode.cli._code`'s.)
"""

from __future__ import annotations

from typing import Annotated

import typer

from ucode.cli._app import JsonOpt, VersionOpt, app
from ucode.cli._render import console, note, paged, render_events, render_history
from ucode.cli._session import dicts, emit, session


@app.command()
def bind(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The name to (re)bind; NAME@V binds it in V.")],
    target: Annotated[str, typer.Argument(metavar="TARGET", help="A #hash prefix or a name.")],
    version: VersionOpt = None,
    new: Annotated[bool, typer.Option(
        "--new", help="NAME is a new name: bind it (without --new, a name that is not bound is an error, so a "
                      "typo creates nothing).")] = False,
    create: Annotated[bool, typer.Option(
        "--create", help="Create the version if it does not exist (from the default version).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bind NAME to the definition TARGET refers to.

    Example: ucode bind lookupUser@v2 lookupUserV2
    """
    with session(ctx, create=create or new, as_json=as_json) as cb:
        events = cb.bind(name, target, version=version, new=new, create=create)
    if as_json:
        emit(dicts(events))
    else:
        render_events(events, empty=f"{name} is already bound to that; nothing changed")


@app.command()
def unbind(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The name to remove.")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a name from a version (the definition stays stored).

    Example: ucode unbind app.renderPage --version v2
    """
    with session(ctx, as_json=as_json) as cb:
        events = cb.unbind(name, version=version)
    if as_json:
        emit(dicts(events))
    else:
        render_events(events)


@app.command()
def alias(
    ctx: typer.Context,
    existing: Annotated[str, typer.Argument(metavar="EXISTING", help="A name or #hash.")],
    new_name: Annotated[str, typer.Argument(metavar="NEW", help="The second name (a full dotted name).")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bind a second name to the same definition.

    Example: ucode alias lookupUser app.getUser
    """
    with session(ctx, as_json=as_json) as cb:
        events = cb.alias(existing, new_name, version=version)
    if as_json:
        emit(dicts(events))
    else:
        render_events(events)


@app.command()
def move(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="OLD", help="The current name.")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="The new full name.")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename: bind NEW to OLD's definition, unbind OLD.

    Example: ucode move app.listItems app.itemsOf
    """
    with session(ctx, as_json=as_json) as cb:
        events = cb.move(old, new, version=version)
    if as_json:
        emit(dicts(events))
    else:
        render_events(events)


@app.command()
def history(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="Only changes to this name.")] = None,
    version: Annotated[str | None, typer.Option("--version", metavar="V", help="Only changes in V.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", metavar="N", help="At most N entries.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the namespace log, newest first.

    Example: ucode history lookupUser --limit 5
    """
    with session(ctx, as_json=as_json) as cb:
        events = cb.history(name, version=version, limit=limit)
        if name is not None and not events and limit != 0:
            cb.resolve_name(name, version=version)  # a name that does not exist: an error, with "did you mean"
    if as_json:
        emit(dicts(events))
    else:
        with paged():
            render_history(events)


@app.command()
def undo(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Undo the newest command that changed names.

    Example: ucode undo
    """
    with session(ctx, as_json=as_json) as cb:
        result = cb.undo()
    if as_json:
        emit(result.to_dict())
    else:
        note(console(), f"undid: {result.cause}", "bold")
        render_events(result.events)
