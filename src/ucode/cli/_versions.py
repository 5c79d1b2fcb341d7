"""Commands over versions and settings: ``versions``, ``diff``, ``version use``, ``version create``,
``version delete``, ``version rename``, ``config``. (Rule: as :mod:`ucode.cli._code`'s.)
"""

from __future__ import annotations

from typing import Annotated

import typer

from ucode.cli._app import JsonOpt, app, version_app
from ucode.cli._render import paged, render_diff, render_events, render_versions
from ucode.cli._session import dicts, emit, session
from ucode.errors import UnknownSettingError, UsageError


@app.command()
def versions(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the versions; * marks the default one.

    Example: ucode versions
    """
    with session(ctx, as_json=as_json) as cb:
        infos = cb.versions()
    if as_json:
        emit(dicts(infos))
    else:
        render_versions(infos)


@app.command()
def diff(
    ctx: typer.Context,
    v1: Annotated[str, typer.Argument(metavar="V1", help="The old version.")],
    v2: Annotated[str, typer.Argument(metavar="V2", help="The new version.")],
    as_json: JsonOpt = False,
) -> None:
    """Show names bound differently in two versions.

    Example: ucode diff v1 v2
    """
    with session(ctx, as_json=as_json) as cb:
        entries = cb.diff(v1, v2)
    if as_json:
        emit(dicts(entries))
    else:
        with paged():
            render_diff(entries, v1, v2)


@version_app.command("use")
def version_use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="V", help="The version commands use by default.")],
    as_json: JsonOpt = False,
) -> None:
    """Make V the default version.

    Example: ucode version use v2
    """
    with session(ctx, as_json=as_json) as cb:
        events = cb.use_version(name)
    if as_json:
        emit(dicts(events))
    else:
        render_events(events, empty=f"{name} is already the default version")


@version_app.command("create")
def version_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="V", help="The new version's label.")],
    parent: Annotated[
        str | None, typer.Option("--parent", metavar="P", help="Start from P (default: the default version).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create version V from a parent version.

    Example: ucode version create debug --parent v2
    """
    with session(ctx, create=True, as_json=as_json) as cb:
        events = cb.create_version(name, parent=parent)
    if as_json:
        emit(dicts(events))
    else:
        render_events(events)


@version_app.command("delete")
def version_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="V", help="The version to remove.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove version V and its own bindings (the definitions stay stored; `ucode undo` brings it back).

    Example: ucode version delete v2
    """
    with session(ctx, as_json=as_json) as cb:
        events = cb.delete_version(name)
    if as_json:
        emit(dicts(events))
    else:
        render_events(events)


@version_app.command("rename")
def version_rename(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="OLD", help="The version's label now.")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="Its new label.")],
    as_json: JsonOpt = False,
) -> None:
    """Rename version OLD to NEW: its bindings, its parent and being the default go with it.

    Example: ucode version rename v2 candidate
    """
    with session(ctx, as_json=as_json) as cb:
        events = cb.rename_version(old, new)
    if as_json:
        emit(dicts(events))
    else:
        render_events(events)


@app.command()
def config(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Argument(metavar="[KEY]", help="A setting (omit: list them all).")] = None,
    value: Annotated[str | None, typer.Argument(metavar="[VALUE]", help="Its new value (omit: show it).")] = None,
    unset: Annotated[bool, typer.Option("--unset", help="Put KEY back to its default.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show or change the store's settings. `durability` is how runs record their effects when they do
    not pass --durability: durable, batched (the default) or off.

    Example: ucode config durability durable
    """
    from ucode.codebase import SETTINGS

    with session(ctx, as_json=as_json) as cb:
        if unset and (key is None or value is not None):
            raise UsageError("config", "--unset takes a setting and no value",
                             hint="ucode config durability --unset  (not: ucode config --unset, or with a value)")
        if key is not None and (value is not None or unset):
            settings = cb.set_config(key, None if unset else value)
        else:
            settings = cb.config()
            if key is not None and key not in settings:
                raise UnknownSettingError(key, list(settings))
    shown = {key: settings[key]} if key is not None else settings
    if as_json:
        emit(shown)
        return
    for k, v in shown.items():
        default, _allowed, doc = SETTINGS[k]
        typer.echo(f"{k} = {v}" + ("  (default)" if v == default else f"  (default {default})") + f"  # {doc}")
