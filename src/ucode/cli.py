"""The ``ucode`` command line: one thin command per :class:`~ucode.codebase.Codebase` method.

Every command parses its arguments, calls exactly one ``Codebase`` method inside :func:`_session` and
renders the result: rich tables and highlighted source for people, or with ``--json`` the result's
``to_dict()`` on stdout for scripts. :func:`_session` opens the store and is the one place a
:class:`~ucode.errors.UcodeError` becomes one red ``error:`` line (and a dim ``hint:`` line) on stderr and
the error's exit code; Ctrl-C exits 130 quietly.

Start-up cost: libcst is imported only by ``Codebase.add``/``verify`` and rich only inside the render
functions, so ``import ucode.cli`` and ``--help`` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

import ucode
from ucode import hashing
from ucode.codebase import Codebase
from ucode.errors import UcodeError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table
    from rich.text import Text

    from ucode.model import AddResult, Binding, DefinitionView, DiffEntry, Event, Match, VerifyResult, VersionInfo

__all__ = ["app", "main"]

PROGRESS_MIN_FILES = 20
"""``add`` shows a progress bar only when it reads more files than this."""

_STORE_KEY = "ucode.store"
_PIPE_WIDTH = 1000

app = typer.Typer(
    name="ucode",
    help="ucode: a content-addressed code store for Python.\n\n"
    "Store every top-level definition by the hash of its normalized source, bind names to hashes per "
    "version, and view, find, rebind, diff and undo them.\n\n"
    "Example: ucode add examples/app.py && ucode view lookupUser",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
version_app = typer.Typer(
    help="Create versions and choose the default one.\n\nExample: ucode version create debug --parent v1",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(version_app, name="version")

# ------------------------------------------------------------------------------------- options

VersionOpt = Annotated[
    str | None, typer.Option("--version", metavar="V", help="The version to use (default: the default version).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON to stdout.")]


@app.callback()
def _root(
    ctx: typer.Context,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            envvar="UCODE_STORE",
            metavar="PATH",
            help="The store directory (default: the nearest .ucode/ from here upward).",
        ),
    ] = None,
) -> None:
    ctx.meta[_STORE_KEY] = store


# ----------------------------------------------------------------------------- session/errors


@contextmanager
def _session(ctx: typer.Context, *, create: bool = False, as_json: bool = False) -> Iterator[Codebase]:
    """The open codebase for one command; a ``UcodeError`` becomes ``error:``/``hint:`` and an exit code.

    Only commands that write may ``create`` a store; the others fail cleanly where there is none.
    """
    try:
        cb = ucode.open(ctx.meta.get(_STORE_KEY), create=create)
        try:
            yield cb
        finally:
            cb.close()
    except UcodeError as exc:
        _fail(exc, as_json=as_json)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _fail(exc: UcodeError, *, as_json: bool) -> NoReturn:
    if as_json:
        _emit({"error": exc.message, "hint": exc.hint})
    _print_error(exc)
    raise typer.Exit(exc.exit_code)


def _print_error(exc: UcodeError) -> None:
    """One red ``error:`` line and a dim ``hint:`` line on stderr (colored only on a terminal)."""
    typer.secho(f"error: {exc.message}", fg="red", err=True)
    if exc.hint:
        typer.secho(f"hint: {exc.hint}", dim=True, err=True)


def _emit(data: Any) -> None:
    """JSON to stdout: a dict, or a list of them."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _dicts(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [item.to_dict() for item in items]


# ------------------------------------------------------------------------------- rendering


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    con = Console(stderr=stderr, highlight=False)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con.width = _PIPE_WIDTH  # piped: one record per line for grep and friends, never wrapped at 80
    return con


def _text(value: str, style: str = "") -> Text:
    """User data as rich text (never parsed as markup: names and sources may contain brackets)."""
    from rich.text import Text

    return Text(value, style=style)


def _table(*columns: str) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _short(h: str | None, empty: str = "unbound") -> Text:
    return _text(hashing.short(h), "cyan") if h else _text(empty, "red")


def _code(con: Console, text: str, lexer: str) -> None:
    """Highlighted on a terminal; verbatim when piped (so ``ucode view f > f.py`` is the exact source)."""
    if con.is_terminal:
        from rich.syntax import Syntax

        con.print(Syntax(text.rstrip("\n"), lexer, theme="ansi_dark", background_color="default"))
    else:
        con.out(text, end="" if text.endswith("\n") else "\n", highlight=False)


def _note(con: Console, message: str, style: str = "dim") -> None:
    con.print(_text(message, style), soft_wrap=True)


_STATUS_STYLE = {"added": "green", "updated": "yellow", "unchanged": "dim", "reformatted": "cyan",
                 "renamed": "magenta", "removed": "red"}


def _add_summary(result: AddResult) -> str:
    counts = result.counts()
    parts = [f"{counts[s]} {s}" for s in ("added", "updated", "renamed", "reformatted", "removed", "unchanged")
             if counts.get(s)]
    files = f"{result.files} file" + ("" if result.files == 1 else "s")
    summary = f"{files}, version {result.version}: " + (", ".join(parts) or "no definitions")
    changed = [m for m in result.modules if m.status != "unchanged"]
    if changed and not any(n.status not in ("unchanged", "reformatted") for n in result.names):
        summary += f"; {len(changed)} module{'' if len(changed) == 1 else 's'} changed (module code or lines)"
    if result.skipped:
        summary += f", {len(result.skipped)} files passed over"
    if result.created_version:
        summary += f" (created version {result.version})"
    if not result.wrote:
        summary += "; nothing written"
    return summary


def _render_add(result: AddResult, *, show_all: bool = False) -> None:
    """The names that changed (all of them with ``--all``), what was not stored, stale names, a summary.

    Unchanged names are only counted unless asked for: re-adding a large tree should say "nothing
    changed" in one line (and cheaply: no table, no rich), not list thousands of rows."""
    shown = [n for n in result.names if show_all or n.status != "unchanged" or n.warnings]
    if not shown and not result.skipped:
        typer.secho(_add_summary(result), bold=True)
        return
    con = _console()
    if shown:
        table = _table("name", "status", "hash", "kind", "warnings")
        for n in shown:
            status = _text(n.status, _STATUS_STYLE.get(n.status, ""))
            h = _short(n.hash)
            if n.status == "updated" and n.old_hash:
                h.append(f" (was {hashing.short(n.old_hash)})", "dim")
            elif n.status == "renamed" and n.renamed_from:
                status.append(f" from {n.renamed_from}", "dim")
            elif n.status == "removed":
                h = _text("unbound", "dim")
            warnings = "\n".join(f"{w.code}: {w.message} (line {w.line})" for w in n.warnings)
            table.add_row(_text(n.name), status, h, _text(n.kind), _text(warnings, "yellow"))
        con.print(table)
    for s in result.skipped:
        _note(con, f"passed over: {s.path} {s.reason}", "yellow")
    if result.stale:
        _note(con, f"removed: {', '.join(result.stale)} (no longer in the source; `ucode undo` binds "
                   f"{'it' if len(result.stale) == 1 else 'them'} again)", "yellow")
    _note(con, _add_summary(result), "bold")


def _plain() -> bool:
    """Piped and not asked for color: print plain text and skip importing rich (~40-50 ms), so the
    commands scripts run most (``view``, ``find``) start fast."""
    return not sys.stdout.isatty() and not os.environ.get("FORCE_COLOR")


def _plain_grid(rows: Sequence[tuple[str, str]], indent: str = "") -> None:
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        typer.echo(f"{indent}{k.ljust(width)}  {v}".rstrip())


def _render_view_plain(v: DefinitionView) -> None:
    typer.echo(v.source, nl=not v.source.endswith("\n"))
    rows = [("hash", "#" + v.hash), ("name", v.name or "(viewed by hash)")]
    others = [n for n in v.names if n != v.name]
    if others:
        rows.append(("also named", ", ".join(others)))
    rows += [("kind", v.kind), ("version", v.version), ("defined at", f"{v.path}:{v.line}")]
    _plain_grid(rows)
    if v.deps:
        typer.echo("dependencies:")
        deps = []
        for dep, h in v.deps.items():
            cell = hashing.short(h) if h else "unbound"
            wrote = v.written_against.get(dep)
            if wrote and wrote != h:
                cell += f" (written against {hashing.short(wrote)})"
            deps.append((dep, cell))
        _plain_grid(deps, indent="  ")
    for w in v.warnings:
        typer.echo(f"warning: {w.code}: {w.message} ({w.path}:{w.line})")


def _render_view(v: DefinitionView) -> None:
    if _plain():
        _render_view_plain(v)
        return
    con = _console()
    _code(con, v.source, "python")
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("hash", _text("#" + v.hash, "cyan"))
    grid.add_row("name", _text(v.name or "(viewed by hash)"))
    others = [n for n in v.names if n != v.name]
    if others:
        grid.add_row("also named", _text(", ".join(others)))
    grid.add_row("kind", _text(v.kind))
    grid.add_row("version", _text(v.version))
    grid.add_row("defined at", _text(f"{v.path}:{v.line}"))
    con.print(grid)
    if v.deps:
        _note(con, "dependencies:", "bold")
        deps = Table.grid(padding=(0, 2))
        deps.add_column()
        deps.add_column()
        for dep, h in v.deps.items():
            cell = _short(h)
            wrote = v.written_against.get(dep)
            if wrote and wrote != h:
                cell.append(f" (written against {hashing.short(wrote)})", "dim")
            deps.add_row(_text("  " + dep), cell)
        con.print(deps)
    for w in v.warnings:
        _note(con, f"warning: {w.code}: {w.message} ({w.path}:{w.line})", "yellow")


def _render_bindings(bindings: Sequence[Binding], *, empty: str, with_version: bool = False) -> None:
    con = _console()
    if not bindings:
        _note(con, empty)
        return
    table = _table("name", "hash", "version") if with_version else _table("name", "hash")
    for b in bindings:
        row = [_text(b.name), _short(b.hash)]
        if with_version:
            row.append(_text(b.version))
        table.add_row(*row)
    con.print(table)


def _state(h: str | None) -> str:
    """One side of a bind event: a hash, ``""`` = explicitly unbound, ``None`` = no entry of its own."""
    if h is None:
        return "(not set)"
    return hashing.short(h) if h else "(unbound)"


def _event_text(ev: Event) -> str:
    if ev.kind == "bind":
        return f"{ev.name}@{ev.version}: {_state(ev.old)} -> {_state(ev.new)}"
    if ev.kind == "version":
        return f"created version {ev.name}" + (f" from {ev.old}" if ev.old else "")
    if ev.kind == "use":
        return f"default version {ev.old} -> {ev.new}"
    return f"{ev.kind} {ev.name}@{ev.version}: {ev.old} -> {ev.new}"


def _render_events(events: Sequence[Event], *, empty: str = "nothing changed") -> None:
    con = _console()
    if not events:
        _note(con, empty)
    for ev in events:
        con.print(_text(_event_text(ev)))


def _render_history(events: Sequence[Event]) -> None:
    """One header line per command (op, time, cause), then its changes indented."""
    con = _console()
    if not events:
        _note(con, "no history")
        return
    op: int | None = None
    for ev in events:
        if ev.op != op:
            op = ev.op
            head = _text(f"{ev.op:<4} ", "bold")
            head.append(datetime.fromtimestamp(ev.time).strftime("%Y-%m-%d %H:%M:%S") + "  ", "dim")
            head.append(ev.cause, "magenta" if ev.undoes is not None else "")
            con.print(head)
        con.print(_text("       " + _event_text(ev)))


def _render_diff(entries: Sequence[DiffEntry], v1: str, v2: str) -> None:
    con = _console()
    if not entries:
        _note(con, f"no names differ between {v1} and {v2}")
        return
    for e in entries:
        head = _text(e.name + ": ", "bold")
        head.append(_short(e.old, "(none)"))
        head.append(" -> ")
        head.append(_short(e.new, "(none)"))
        con.print(head)
        _code(con, e.diff, "diff")


def _render_matches(matches: Sequence[Match], query: str) -> None:
    if _plain():
        if not matches:
            typer.echo(f"no names match {query!r}")
        width = max((len(m.name) for m in matches), default=0)
        for m in matches:
            typer.echo(f"{m.name.ljust(width)}  {hashing.short(m.hash)}  {m.kind:<8}  {m.summary}".rstrip())
        return
    con = _console()
    if not matches:
        _note(con, f"no names match {query!r}")
        return
    table = _table("name", "hash", "kind", "summary")
    for m in matches:
        table.add_row(_text(m.name), _short(m.hash), _text(m.kind), _text(m.summary, "dim"))
    con.print(table)


def _render_versions(versions: Sequence[VersionInfo]) -> None:
    con = _console()
    table = _table("version", "parent", "own names", "created")
    for v in versions:
        name = _text(("* " if v.default else "  ") + v.name, "bold green" if v.default else "")
        created = datetime.fromtimestamp(v.created).strftime("%Y-%m-%d %H:%M:%S") if v.created else ""
        table.add_row(name, _text(v.parent or ""), _text(str(v.own_bindings)), _text(created, "dim"))
    con.print(table)


def _render_verify(result: VerifyResult) -> None:
    con = _console()
    if result.older:
        _note(con, f"{result.older} definition(s) were stored by an older ucode (hash scheme before "
                   f"{hashing.DEF_SCHEME}) and were not re-hashed: `ucode add` their files again to upgrade",
              "yellow")
    if result.ok:
        _note(con, f"ok: {result.checked - result.older} definitions and statements re-hashed; the names and "
                   "modules match the namespace log", "green")
        return
    table = _table("hash", "problem")
    for p in result.problems:
        table.add_row(_short(p.get("hash") or None, ""), _text(p.get("problem", "")))
    con.print(table)
    _note(con, f"{len(result.problems)} problem(s) in {result.checked} definitions", "bold red")


class _AddProgress:
    """The ``progress`` callback of ``add``: a bar on stderr, only for more than PROGRESS_MIN_FILES files."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int, path: str) -> None:
        if total <= PROGRESS_MIN_FILES:
            return
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("adding"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}", style="dim"),
                                 console=_console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", total=total)
        assert self._task is not None
        self._bar.update(self._task, completed=done, description=path)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# -------------------------------------------------------------------------------- commands


@app.command()
def add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help="Python files or package directories.")],
    version: Annotated[
        str | None, typer.Option("--version", metavar="V", help="Bind the names in V (created if new).")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", metavar="NS", help="Put every module under NS (NS.app, ...).")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse (store nothing) if a definition has a hidden effect.")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List unchanged names too (by default they are only counted).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Store the definitions in files and bind their names.

    Example: ucode add examples/app_v2.py --version v2
    """
    bar = _AddProgress()
    with _session(ctx, create=True, as_json=as_json) as cb:
        try:
            result = cb.add(paths, version=version, namespace=namespace, strict=strict, progress=bar)
        finally:
            bar.close()
    if as_json:
        _emit(_dicts(result.names))
    else:
        _render_add(result, show_all=show_all)


@app.command()
def view(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME|#HASH", help="A name, name suffix, NAME@V or #hash prefix.")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a definition: source, hash, names, deps.

    Example: ucode view lookupUser@v2
    """
    with _session(ctx, as_json=as_json) as cb:
        result = cb.view(ref, version=version)
    if as_json:
        _emit(result.to_dict())
    else:
        _render_view(result)


@app.command()
def find(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Text the names contain (case-insensitive).")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search names containing QUERY, best matches first.

    Example: ucode find user
    """
    with _session(ctx, as_json=as_json) as cb:
        matches = cb.find(query, version=version)
    if as_json:
        _emit(_dicts(matches))
    else:
        _render_matches(matches, query)


@app.command("ls")
def ls_(
    ctx: typer.Context,
    prefix: Annotated[str | None, typer.Argument(metavar="NAMESPACE", help="Only names under it.")] = None,
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the names in a version, optionally under a namespace.

    Example: ucode ls app --version v2
    """
    with _session(ctx, as_json=as_json) as cb:
        bindings = cb.ls(prefix, version=version)
    if as_json:
        _emit(_dicts(bindings))
    else:
        _render_bindings(bindings, empty="no names" + (f" under {prefix}" if prefix else ""))


@app.command()
def names(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="#HASH", help="A hash prefix (or a name).")],
    as_json: JsonOpt = False,
) -> None:
    """List every name bound to a hash, in every version.

    Example: ucode names '#moyffzojt3'
    """
    with _session(ctx, as_json=as_json) as cb:
        bindings = cb.names(ref)
    if as_json:
        _emit(_dicts(bindings))
    else:
        _render_bindings(bindings, empty=f"no names are bound to {ref}", with_version=True)


@app.command()
def bind(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The name to (re)bind; NAME@V binds it in V.")],
    target: Annotated[str, typer.Argument(metavar="TARGET", help="A #hash prefix or a name.")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bind NAME to the definition TARGET refers to.

    Example: ucode bind lookupUser@v2 lookupUserV2
    """
    with _session(ctx, create=True, as_json=as_json) as cb:
        events = cb.bind(name, target, version=version)
    if as_json:
        _emit(_dicts(events))
    else:
        _render_events(events, empty=f"{name} is already bound to that; nothing changed")


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
    with _session(ctx, as_json=as_json) as cb:
        events = cb.unbind(name, version=version)
    if as_json:
        _emit(_dicts(events))
    else:
        _render_events(events)


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
    with _session(ctx, as_json=as_json) as cb:
        events = cb.alias(existing, new_name, version=version)
    if as_json:
        _emit(_dicts(events))
    else:
        _render_events(events)


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
    with _session(ctx, as_json=as_json) as cb:
        events = cb.move(old, new, version=version)
    if as_json:
        _emit(_dicts(events))
    else:
        _render_events(events)


@app.command()
def deps(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME", help="A name or #hash.")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the names a definition uses and what each is bound to.

    Example: ucode deps handleRequest
    """
    with _session(ctx, as_json=as_json) as cb:
        bindings = cb.deps(ref, version=version)
    if as_json:
        _emit(_dicts(bindings))
    else:
        _render_bindings(bindings, empty=f"{ref} uses no other stored names")


@app.command()
def dependents(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME", help="A name or #hash.")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the names whose definitions use NAME.

    Example: ucode dependents lookupUser
    """
    with _session(ctx, as_json=as_json) as cb:
        bindings = cb.dependents(ref, version=version)
    if as_json:
        _emit(_dicts(bindings))
    else:
        _render_bindings(bindings, empty=f"nothing uses {ref}")


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
    with _session(ctx, as_json=as_json) as cb:
        events = cb.history(name, version=version, limit=limit)
    if as_json:
        _emit(_dicts(events))
    else:
        _render_history(events)


@app.command()
def undo(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Undo the newest command that changed names.

    Example: ucode undo
    """
    with _session(ctx, as_json=as_json) as cb:
        result = cb.undo()
    if as_json:
        _emit(result.to_dict())
    else:
        _note(_console(), f"undid: {result.cause}", "bold")
        _render_events(result.events)


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

    with _session(ctx, as_json=as_json) as cb:
        if unset and (key is None or value is not None):
            raise UcodeError("--unset takes a setting and no value",
                             hint="ucode config durability --unset  (not: ucode config --unset, or with a value)")
        if key is not None and (value is not None or unset):
            settings = cb.set_config(key, None if unset else value)
        else:
            settings = cb.config()
            if key is not None and key not in settings:
                raise UcodeError(f"unknown setting {key!r}", hint="settings: " + ", ".join(sorted(settings)))
    shown = {key: settings[key]} if key is not None else settings
    if as_json:
        _emit(shown)
        return
    for k, v in shown.items():
        default, _allowed, doc = SETTINGS[k]
        typer.echo(f"{k} = {v}" + ("  (default)" if v == default else f"  (default {default})") + f"  # {doc}")


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
    with _session(ctx, as_json=as_json) as cb:
        entries = cb.diff(v1, v2)
    if as_json:
        _emit(_dicts(entries))
    else:
        _render_diff(entries, v1, v2)


@app.command()
def versions(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the versions; * marks the default one.

    Example: ucode versions
    """
    with _session(ctx, as_json=as_json) as cb:
        infos = cb.versions()
    if as_json:
        _emit(_dicts(infos))
    else:
        _render_versions(infos)


@version_app.command("use")
def version_use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="V", help="The version commands use by default.")],
    as_json: JsonOpt = False,
) -> None:
    """Make V the default version.

    Example: ucode version use v2
    """
    with _session(ctx, as_json=as_json) as cb:
        events = cb.use_version(name)
    if as_json:
        _emit(_dicts(events))
    else:
        _render_events(events, empty=f"{name} is already the default version")


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
    with _session(ctx, create=True, as_json=as_json) as cb:
        events = cb.create_version(name, parent=parent)
    if as_json:
        _emit(_dicts(events))
    else:
        _render_events(events)


@app.command()
def verify(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check the store: re-hash definitions, replay the log.

    Example: ucode verify
    """
    with _session(ctx, as_json=as_json) as cb:
        result = cb.verify()
    if as_json:
        _emit({**result.to_dict(), "ok": result.ok})
    else:
        _render_verify(result)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def closure(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="NAME", help="A name or #hash.")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the closure hash of a definition and its deps.

    Example: ucode closure handleRequest --version v2
    """
    with _session(ctx, as_json=as_json) as cb:
        h = cb.closure_hash(ref, version=version)
    if as_json:
        _emit({"ref": ref, "version": version, "closure_hash": h})
    else:
        typer.echo(h)


def _parse_json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UcodeError(
            f"{what} is not valid JSON: {text!r} ({exc.msg} at column {exc.colno})",
            hint="arguments are JSON values: 1, 2.5, true, null, '\"text\"', '[1, 2]', '{\"user_id\": 1}'",
        ) from None


def _run_arguments(args: list[str], kw: list[str], args_file: Path | None) -> tuple[list[Any], dict[str, Any]]:
    positional = [_parse_json_arg(a, f"argument {i + 1}") for i, a in enumerate(args)]
    keywords: dict[str, Any] = {}
    if args_file is not None:
        try:
            loaded = _parse_json_arg(args_file.read_text(encoding="utf-8"), f"--args-file {args_file}")
        except OSError as exc:
            raise UcodeError(f"cannot read --args-file {args_file}: {exc.strerror}", hint="check the path") from None
        if isinstance(loaded, list):
            positional = loaded + positional
        elif isinstance(loaded, dict):
            keywords.update(loaded)
        else:
            raise UcodeError(f"--args-file {args_file} holds a {type(loaded).__name__}",
                             hint="use a JSON list (positional arguments) or object (keyword arguments)")
    for item in kw:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise UcodeError(f"--kw {item!r} is not NAME=JSON", hint="e.g. --kw user_id=1 --kw name='\"Ada\"'")
        keywords[key] = _parse_json_arg(value, f"--kw {key}")
    return positional, keywords


def _jsonable(value: Any) -> Any:
    """A JSON-ready form of a result: dataclasses as dicts, sets and tuples as lists, else ``repr``."""
    import dataclasses

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return repr(value)


def _user_traceback(exc: BaseException) -> list[str]:
    """The traceback of an exception raised by stored code, without ucode's and typer's own frames."""
    import traceback

    internal = (str(Path(ucode.__file__).parent), str(Path(typer.__file__).parent))
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(internal)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return lines


@app.command()
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
    as_json: JsonOpt = False,
) -> None:
    """Run a stored function with JSON arguments, as a recorded task, and print its result.

    Calls between stored functions resolve through the names of the version (late binding): rebinding a
    name changes what runs, without re-adding its callers. Coroutines run to completion; generators are
    printed as lists. An exception in the code exits 1 with a traceback of the stored source.

    Example: ucode run handleRequest '{"user_id": 1}' --version v2
    """
    with _session(ctx, as_json=as_json) as cb:
        positional, keywords = _run_arguments(args or [], kw or [], args_file)
        task = cb.run_task(ref, *positional, version=version, durability=durability, **keywords)
        if task.error is not None:  # the stored code raised: that is its result, shown as a traceback
            exc = task.error
            if isinstance(exc, UcodeError):
                raise exc
            lines = _user_traceback(exc)
            if as_json:
                _emit({"task": task.id, "error": {"type": type(exc).__name__, "message": str(exc),
                                                  "traceback": "".join(lines)}})
            sys.stderr.write("".join(lines))
            typer.secho(f"task {task.id} failed (ucode task show {task.id}; ucode task replay {task.id})",
                        err=True, dim=True)
            raise typer.Exit(1)
    result = task.result
    if as_json:
        _emit({"task": task.id, "result": _jsonable(result)})
    else:
        typer.secho(f"task {task.id}", err=True, dim=True)
        import pprint  # not rich: `ucode run` is on the start-up-time budget and rich.pretty costs ~50 ms

        typer.echo(pprint.pformat(result, width=100, sort_dicts=False))


# ------------------------------------------------------------------------------------- tasks

task_app = typer.Typer(
    help="Inspect, replay and prune recorded tasks (every `ucode run` is one).\n\nExample: ucode task list --failed",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(task_app, name="task")
route_app = typer.Typer(
    help="Per-task routing: which version a name resolves to when a task is replayed.\n\n"
         "Example: ucode route set lookupUser --task last --version v2",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(route_app, name="route")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@task_app.command("list")
def task_list(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed or interrupted tasks.")] = False,
    name: Annotated[str | None, typer.Option("--name", metavar="N", help="Only tasks of this entry point.")
                    ] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="WHEN",
        help="Only tasks started since WHEN: a duration before now (2h, 30m, 7d; a bare number is hours), "
             "a date or local time (2026-11-27, '2026-11-27 09:30'), today or yesterday.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded tasks, newest first.

    Example: ucode task list --failed --name handleRequest --since 1d
    """
    import time as _time

    from ucode.timespec import parse_instant

    with _session(ctx, as_json=as_json) as cb:
        start = None if since is None else parse_instant(since, now=_time.time(), bare_unit="h")
        rows = cb.task_list(failed=failed, name=name, since=start)
    if as_json:
        _emit(rows)
        return
    if not rows:
        typer.echo("no tasks")
    for r in rows:
        typer.echo(f"{r['id']}  {r['status']:<11}  {_when(r['started'])}  {r['name']}@{r['version']}")


@task_app.command("show")
def task_show(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="A task id, a unique prefix of one, or `last`.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a task: what ran (names and short hashes), its arguments, every effect, its outcome.

    Example: ucode task show last
    """
    from ucode import codec
    from ucode.replay import EffectEvent
    from ucode.tasks import task_summary

    with _session(ctx, as_json=as_json) as cb:
        rec = cb.task(task_id)
        events = cb.task_events(rec["id"])
    summary = task_summary(rec)
    if as_json:
        _emit({**summary, "args": _jsonable(codec.from_wire(rec["args"])),
               "kwargs": _jsonable(codec.from_wire(rec["kwargs"])), "hashes": rec.get("hashes", {}),
               "result": _jsonable(codec.from_wire(rec.get("result"))), "error": rec.get("error"),
               "events": [_jsonable(e) if "corrupt" in e else _jsonable(EffectEvent(**e).to_dict()) for e in events]})
        return
    typer.echo(f"task {rec['id']}: {summary['name']}@{rec['version']}  {summary['status']}")
    typer.echo(f"  started {_when(rec.get('started'))}, finished {_when(rec.get('finished'))}, "
               f"durability {rec.get('durability')}, names as of log position {rec.get('position')}")
    typer.echo(f"  args {codec.from_wire(rec['args'])!r} kwargs {codec.from_wire(rec['kwargs'])!r}")
    typer.echo("  ran: " + ", ".join(f"{n} {hashing.short(h)}" for n, h in sorted(rec.get("hashes", {}).items())))
    for e in events:
        if "corrupt" in e:
            typer.secho(f"  {e['seq']:>4}  (unreadable: {e['corrupt']})", fg="red")
            continue
        ev = EffectEvent(**e)
        outcome = (f"raised {ev.error['type']}: {ev.error['message']}" if ev.error
                   else repr(codec.from_wire(ev.result)))
        typer.echo(f"  {ev.seq:>4}  {ev.call_text()} -> {outcome}  ({ev.duration * 1000:.2f} ms)")
    if summary["status"] == "interrupted":
        typer.secho("  interrupted: its process ended before it finished; the log holds what was committed",
                    fg="yellow")
    elif rec.get("error"):
        typer.secho(f"  failed: {rec['error']['type']}: {rec['error']['message']}", fg="red")
    elif summary["status"] == "succeeded":
        typer.echo(f"  result {codec.from_wire(rec.get('result'))!r}")


def _parse_use(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise UcodeError(f"--use {item!r} is not NAME=VERSION or NAME=#HASH",
                             hint="e.g. --use lookupUser=debug or --use lookupUser=#k3v7q2a")
        out[name] = target
    return out


def _render_replay(out: dict[str, Any]) -> None:
    for line in out["logs"]:
        typer.echo(f"log: {line}")
    if out["identical"]:
        typer.secho(f"task {out['task']}: replay identical", fg="green")
    else:
        d = out["divergence"]
        typer.secho(f"task {out['task']}: replay diverged", fg="red")
        from ucode.replay import Divergence

        typer.echo(str(Divergence(**d)))
        for cause in out["likely_causes"]:
            typer.secho(f"likely cause: {cause}", fg="yellow")
    typer.echo(f"result {out['result']!r}" if not out.get("error") else f"error {out['error']}")


def _one_line(value: Any, width: int = 70) -> str:
    text = " ".join((value if isinstance(value, str) else repr(value)).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _render_replay_all(outs: list[dict[str, Any]]) -> None:
    from collections import Counter

    diverged = [o for o in outs if not o["identical"]]
    kinds = Counter(o["change"] for o in diverged)
    how = f" ({', '.join(f'{n} {k}' for k, n in kinds.most_common())})" if kinds else ""
    typer.echo(f"{len(outs)} tasks replayed: {len(outs) - len(diverged)} identical, {len(diverged)} diverged{how}")
    for o in diverged:
        err, rec_err = o.get("error"), o.get("recorded_error")
        now = f"{err['type']}: {err['message']}" if err else _one_line(o["result"])
        if o["change"] in ("now succeeds", "now fails", "different result"):
            was = f"{rec_err['type']}: {rec_err['message']}" if rec_err else _one_line(o["divergence"]["expected"])
            typer.echo(f"  {o['task']}: {o['change']}: was {_one_line(was, 50)}; now {_one_line(now, 60)}")
        else:
            first = str(__import__("ucode.replay").replay.Divergence(**o["divergence"])).splitlines()[0]
            typer.echo(f"  {o['task']}: {o['change']}: {first}")


@task_app.command("replay")
def task_replay(
    ctx: typer.Context,
    task_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="The task to replay.")] = None,
    use: Annotated[list[str] | None, typer.Option("--use", metavar="NAME=V",
                                                 help="Swap a name for this replay: a version label or #hash.")
                   ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every recorded task (of --name).")] = False,
    name: Annotated[str | None, typer.Option("--name", metavar="N", help="With --all: tasks of this entry.")
                    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay a recorded task exactly (no effect is performed), optionally with names swapped.

    Example: ucode task replay last --use lookupUser=v2
    """
    with _session(ctx, as_json=as_json) as cb:
        swaps = _parse_use(use or [])
        if all_:
            outs = [r.to_dict() for r in cb.replay_all(name=name, use=swaps)]
        elif task_id is None:
            raise UcodeError("which task?", hint="ucode task replay ID, or --all [--name N]")
        else:
            outs = [cb.replay(task_id, use=swaps).to_dict()]
    outs = [_jsonable(o) for o in outs]
    if as_json:
        _emit(outs if all_ else outs[0])
        return
    if all_:
        _render_replay_all(outs)
        return
    _render_replay(outs[0])


@task_app.command("resume")
def task_resume(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="An interrupted task.")],
    as_json: JsonOpt = False,
) -> None:
    """Finish an interrupted task: replay its recorded effects (none performed again), continue live.

    Example: ucode task resume last
    """
    with _session(ctx, as_json=as_json) as cb:
        rec = cb.task(task_id)
        from ucode.tasks import task_status

        if task_status(rec) != "interrupted" and task_id == "last":
            interrupted = [r for r in cb.tasks() if task_status(r) == "interrupted"]
            if not interrupted:
                typer.echo("no interrupted task to resume")
                return
            rec = interrupted[0]
        run = cb.resume(rec["id"])
    if run.error is not None:
        if as_json:
            _emit({"task": run.id, "error": {"type": type(run.error).__name__, "message": str(run.error)}})
        sys.stderr.write("".join(_user_traceback(run.error)))
        raise typer.Exit(1)
    if as_json:
        _emit({"task": run.id, "result": _jsonable(run.result)})
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
    import time as _time

    from ucode.timespec import parse_instant

    with _session(ctx, as_json=as_json) as cb:
        n = cb.task_prune(parse_instant(older_than, now=_time.time(), bare_unit="d", option="--older-than"))
    if as_json:
        _emit({"pruned": n})
    else:
        typer.echo(f"pruned {n} task" + ("" if n == 1 else "s"))


@app.command("log")
def log_(
    ctx: typer.Context,
    task_id: Annotated[str | None, typer.Option("--task", metavar="ID", help="Only this task's lines.")] = None,
    name: Annotated[str | None, typer.Option("--name", metavar="N", help="Only tasks of this entry point.")
                    ] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="WHEN",
                                              help="Only tasks started since WHEN (2h, 7d, 2026-11-27, today).")
                     ] = None,
    grep: Annotated[str | None, typer.Option("--grep", metavar="TEXT", help="Only lines containing TEXT.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The log lines (effects.log) of recorded tasks, oldest first.

    Example: ucode log --grep lookupUserV2 --since 1d
    """
    import time as _time

    from ucode.timespec import parse_instant

    with _session(ctx, as_json=as_json) as cb:
        start = None if since is None else parse_instant(since, now=_time.time(), bare_unit="h")
        lines = cb.log_lines(task=task_id, name=name, since=start, grep=grep)
    if as_json:
        _emit(lines)
        return
    for ln in lines:
        typer.echo(f"{ln['task']} {ln['seq']:>4}  {ln['line']}")


@route_app.command("set")
def route_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The name to route.")],
    task_id: Annotated[str, typer.Option("--task", metavar="ID", help="The task whose replays use it.")],
    version: Annotated[str, typer.Option("--version", metavar="V", help="A version label or #hash.")],
    as_json: JsonOpt = False,
) -> None:
    """Make NAME resolve to VERSION in every later replay of one task (stored with the task).

    Example: ucode route set lookupUser --task last --version v2
    """
    with _session(ctx, as_json=as_json) as cb:
        rec = cb.task(task_id)
        full = cb.resolve_name(name, version=rec["version"])
        h = cb.resolve(version if version.startswith("#") else f"{full}@{version}")
        cb.task_override(rec["id"], full, h)
    if as_json:
        _emit({"task": rec["id"], "name": full, "hash": h})
    else:
        typer.echo(f"task {rec['id']}: {full} -> {hashing.short(h)} in its replays")


def _command_name(info: Any) -> str:
    return str(info.name or info.callback.__name__.rstrip("_").replace("_", "-"))


def _only(command: str) -> typer.Typer | None:
    """An app holding just ``command`` (same callback, options and help), or None if there is no such
    command. typer builds the parameters of *every* command on each invocation (``get_type_hints`` per
    function: ~60 ms for 31 commands); building one keeps start-up small as commands are added."""
    commands = [ci for ci in app.registered_commands if _command_name(ci) == command]
    groups = [gi for gi in app.registered_groups if gi.name == command]
    if not commands and not groups:
        return None
    mini = typer.Typer(name="ucode", help=app.info.help, no_args_is_help=True, add_completion=False,
                       rich_markup_mode=None, pretty_exceptions_enable=False,
                       context_settings={"help_option_names": ["-h", "--help"]})
    mini.registered_callback = app.registered_callback
    mini.registered_commands = commands
    mini.registered_groups = groups
    return mini


def main() -> None:
    """The ``ucode`` console script."""
    # The first word that is not the --store option and its value is the command.
    argv, i = sys.argv[1:], 0
    while i < len(argv) and argv[i].startswith("--store"):
        i += 1 if "=" in argv[i] else 2
    target = (_only(argv[i]) if i < len(argv) and not argv[i].startswith("-") else None) or app
    try:
        target()
    except KeyboardInterrupt:
        sys.exit(130)
    except UcodeError as exc:  # every command catches these itself; this is the backstop
        _print_error(exc)
        sys.exit(exc.exit_code)
