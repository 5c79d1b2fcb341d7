"""How results look for people: rich tables and highlighted source on a terminal, plain lines when piped.

Rule: rendering reads the API's result values and prints; it computes nothing the API did not return.
rich is imported inside the functions that draw (never at start-up), and piped output skips rich entirely
(:func:`plain`): ``import rich`` costs 40-50 ms. Every table goes through :func:`print_table`: on a terminal
a rich table whose name columns wrap only after a dot (:class:`Dotted`) and whose other cells wrap at
spaces, never inside a word (too long: an ellipsis); piped, the same table as tab-separated lines under one
header line, no rules, no padding, for every table alike.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from ucode import hashing
from ucode.cli._app import color, quiet
from ucode.cli._session import notice
from ucode.present import trace_lines

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions
    from rich.measure import Measurement
    from rich.progress import Progress, TaskID
    from rich.table import Table
    from rich.text import Text

    from ucode.model import (
        AddResult,
        Binding,
        DefinitionView,
        DiffEntry,
        Event,
        FileStatus,
        Matches,
        VerifyResult,
        VersionInfo,
    )
    from ucode.tasks import TaskView

PROGRESS_MIN_FILES = 20
"""``add`` shows a progress bar only when it reads more files than this."""

PIPE_WIDTH = 1000


_PAGING: dict[str, Any] = {}  # set while paged() captures a command's output: the terminal's width and colors


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    if _PAGING and not stderr:  # drawing into paged()'s capture: as the terminal would show it
        return Console(highlight=False, force_terminal=True, width=_PAGING["width"],
                       color_system=_PAGING["colors"])
    con = Console(stderr=stderr, highlight=False)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con.width = PIPE_WIDTH  # piped: one record per line for grep and friends, never wrapped at 80
    return con


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


@contextlib.contextmanager
def paged() -> Iterator[None]:
    """Output longer than the terminal goes through a pager, as git does: ``$PAGER`` (or ``less``, with
    ``LESS=FRX`` unless set: colors kept, and output that fits on one screen printed as is). Only on a
    terminal; ``UCODE_PAGER=0`` (or ``PAGER=cat``) turns it off. Piped output is never paged."""
    if plain() or not _stdout_is_terminal() or os.environ.get("UCODE_PAGER") == "0" or _PAGING:
        yield
        return
    import io
    import shutil

    from rich.console import Console

    size = shutil.get_terminal_size()
    _PAGING.update(width=size.columns, colors=Console().color_system)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        _PAGING.clear()
    text = buf.getvalue()
    if text.count("\n") < size.lines - 1:
        sys.stdout.write(text)
        return
    import pydoc

    os.environ.setdefault("LESS", "FRX")
    pydoc.pager(text)


def rich_text(value: str, style: str = "") -> Text:
    """User data as rich text (never parsed as markup: names and sources may contain brackets)."""
    from rich.text import Text

    return Text(value, style=style)


def new_table(*columns: str) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col in columns:
        table.add_column(col, overflow="ellipsis")  # wrap at spaces; a word too long is cut with "…", not split
    return table


class Dotted:
    """A dotted name in a table cell: it wraps only after a dot (``shop.pricing.`` / ``quote``), and a part
    too long for the column ends in an ellipsis: an identifier is never split."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text, self.style = text, style
        self.parts = re.findall(r"[^.]*\.|[^.]+$", text) or [text]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.cells import cell_len
        from rich.measure import Measurement

        return Measurement(max(cell_len(p) for p in self.parts), cell_len(self.text)).clamp(
            max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        from rich.cells import cell_len
        from rich.text import Text

        lines, line = [], ""
        for part in self.parts:
            if line and cell_len(line) + cell_len(part) > options.max_width:
                lines.append(line)
                line = ""
            line += part
        lines.append(line)
        yield Text("\n".join(lines), style=self.style, no_wrap=True, overflow="ellipsis")


Segments = tuple[tuple[str, str], ...]
"""Styled text: ``((text, style), ...)``."""
Cell = str | Segments
"""A table cell: plain text, or styled segments."""


def _cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else "".join(t for t, _ in cell)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Cell]], *,
                names: Sequence[int] = (0,)) -> None:
    """A table: on a terminal a rich table (the columns ``names`` hold dotted names: :class:`Dotted`);
    piped, a header line and one tab-separated line per row (a cell's line breaks become ``; ``)."""
    if plain():
        typer.echo("\t".join(columns))
        for row in rows:
            typer.echo("\t".join(_cell_text(c).replace("\t", " ").replace("\n", "; ") for c in row))
        return
    from rich.text import Text

    con = console()
    table = new_table(*columns)
    natural = [max([len(col), *(len(line) for row in rows for line in _cell_text(row[i]).splitlines())])
               for i, col in enumerate(columns)]
    extra = 3 * (len(columns) - 1)  # the padding and separator between two columns
    if sum(natural) + extra > con.width:
        # Too wide: a name column gets what the others leave at their natural width, and at least 3/8 of the
        # width (the free text of the others wraps at spaces then); rich shares out the rest.
        for i in names:
            rest = sum(n for j, n in enumerate(natural) if j != i)
            table.columns[i].width = min(natural[i], max(20, con.width * 3 // 8, con.width - extra - rest))
    for row in rows:
        cells: list[Any] = []
        for i, c in enumerate(row):
            if i in names:
                cells.append(Dotted(c) if isinstance(c, str) else Dotted(_cell_text(c), c[0][1] if c else ""))
            else:
                cells.append(Text(c) if isinstance(c, str) else Text.assemble(*c))
        table.add_row(*cells)
    con.print(table)


def say(message: str, style: str = "") -> None:
    """A line of a command's report on stdout: styled on a terminal, plain (and without rich) when piped."""
    if plain():
        typer.echo(message)
    else:
        note(console(), message, style)


def short_cell(h: str | None, empty: str = "unbound") -> Text:
    return rich_text(hashing.short(h), "cyan") if h else rich_text(empty, "red")


def short_seg(h: str | None, empty: str = "unbound") -> tuple[str, str]:
    return (hashing.short(h), "cyan") if h else (empty, "red")


def print_code(con: Console, text: str, lexer: str) -> None:
    """Highlighted on a terminal; verbatim when piped (so ``ucode view f > f.py`` is the exact source)."""
    if con.is_terminal:
        from rich.syntax import Syntax

        con.print(Syntax(text.rstrip("\n"), lexer, theme="ansi_dark", background_color="default"))
    else:
        con.out(text, end="" if text.endswith("\n") else "\n", highlight=False)


def note(con: Console, message: str, style: str = "dim") -> None:
    con.print(rich_text(message, style), soft_wrap=True)


STATUS_STYLE = {"added": "green", "updated": "yellow", "unchanged": "dim", "reformatted": "cyan",
                 "renamed": "magenta", "removed": "red", "moved": "cyan"}


def add_summary(result: AddResult) -> str:
    counts = result.counts()
    parts = [f"{counts[s]} {s}" for s in ("added", "updated", "renamed", "reformatted", "removed", "moved",
                                          "unchanged")
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


def _common_package(modules: list[str]) -> str:
    parts = [m.split(".") for m in modules]
    common = []
    for level in zip(*parts, strict=False):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    return ".".join(common)


def render_add(result: AddResult, *, show_all: bool = False) -> None:
    """The names that changed (all of them with ``--all``), what was not stored, stale names, a summary.

    Unchanged names are only counted unless asked for: re-adding a large tree should say "nothing
    changed" in one line (and cheaply: no table, no rich), not list thousands of rows."""
    shown = [n for n in result.names if show_all or n.status != "unchanged" or n.warnings]
    # a path inside a package is named from the package root: say so (shop/pricing.py is shop.pricing)
    roots: dict[str, list[tuple[str, str]]] = {}
    for m in result.modules:
        if m.root:
            roots.setdefault(m.root, []).append((m.path, m.name))
    named = [f"{ms[0][0]} is module {ms[0][1]} (named from {root}, the package root)" if len(ms) == 1 else
             f"{len(ms)} files are modules of {_common_package([n for _p, n in ms])} (named from {root}, the "
             "package root)" for root, ms in roots.items()]
    if not shown and not result.skipped:
        for line in named:
            typer.echo(line)
        typer.secho(add_summary(result), bold=True, color=color())
        return
    if shown:
        rows: list[list[Cell]] = []
        for n in shown:
            status: Segments = ((n.status, STATUS_STYLE.get(n.status, "")),)
            h: Segments = (short_seg(n.hash),)
            if n.status == "updated" and n.old_hash:
                h += ((f" (was {hashing.short(n.old_hash)})", "dim"),)
            elif n.status == "renamed" and n.renamed_from:
                status += ((f" from {n.renamed_from}", "dim"),)
            elif n.status == "removed":
                h = (("unbound", "dim"),)
            warnings = "\n".join(f"{w.code}: {w.message} (line {w.line})" for w in n.warnings)
            rows.append([n.name, status, h, n.kind, ((warnings, "yellow"),)])
        print_table(["name", "status", "hash", "kind", "warnings"], rows)
    for line in named:
        say(line, "dim")
    for s in result.skipped:
        say(f"passed over: {s.path} {s.reason}", "yellow")
    if result.stale:
        say(f"removed: {', '.join(result.stale)} (no longer in the source; `ucode undo` binds "
            f"{'it' if len(result.stale) == 1 else 'them'} again)", "yellow")
    say(add_summary(result), "bold")


def plain() -> bool:
    """Piped and not asked for color: print plain text and skip importing rich (~40-50 ms), so the
    commands scripts run most (``view``, ``find``) start fast."""
    return not _PAGING and not sys.stdout.isatty() and not os.environ.get("FORCE_COLOR")


def plain_grid(rows: Sequence[tuple[str, str]], indent: str = "") -> None:
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        typer.echo(f"{indent}{k.ljust(width)}  {v}".rstrip())


def render_view_plain(v: DefinitionView) -> None:
    typer.echo(v.source, nl=not v.source.endswith("\n"))
    rows = [("hash", "#" + v.hash), ("name", v.name or "(viewed by hash)")]
    others = [n for n in v.names if n != v.name]
    if others:
        rows.append(("also named", ", ".join(others)))
    rows += [("kind", v.kind), ("version", v.version), ("defined at", f"{v.path}:{v.line}")]
    plain_grid(rows)
    if v.deps:
        typer.echo("dependencies:")
        deps = []
        for dep, h in v.deps.items():
            cell = hashing.short(h) if h else "unbound"
            wrote = v.written_against.get(dep)
            if wrote and wrote != h:
                cell += f" (written against {hashing.short(wrote)})"
            deps.append((dep, cell))
        plain_grid(deps, indent="  ")
    for w in v.warnings:
        typer.echo(f"warning: {w.code}: {w.message} ({w.path}:{w.line})")


def render_view(v: DefinitionView) -> None:
    if plain():
        render_view_plain(v)
        return
    con = console()
    print_code(con, v.source, "python")
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("hash", rich_text("#" + v.hash, "cyan"))
    grid.add_row("name", rich_text(v.name or "(viewed by hash)"))
    others = [n for n in v.names if n != v.name]
    if others:
        grid.add_row("also named", rich_text(", ".join(others)))
    grid.add_row("kind", rich_text(v.kind))
    grid.add_row("version", rich_text(v.version))
    grid.add_row("defined at", rich_text(f"{v.path}:{v.line}"))
    con.print(grid)
    if v.deps:
        note(con, "dependencies:", "bold")
        deps = Table.grid(padding=(0, 2))
        deps.add_column()
        deps.add_column()
        for dep, h in v.deps.items():
            cell = short_cell(h)
            wrote = v.written_against.get(dep)
            if wrote and wrote != h:
                cell.append(f" (written against {hashing.short(wrote)})", "dim")
            deps.add_row(rich_text("  " + dep), cell)
        con.print(deps)
    for w in v.warnings:
        note(con, f"warning: {w.code}: {w.message} ({w.path}:{w.line})", "yellow")


def render_bindings(bindings: Sequence[Binding], *, empty: str, with_version: bool = False) -> None:
    if not bindings:
        say(empty, "dim")
        return
    rows: list[list[Cell]] = [[b.name, (short_seg(b.hash),), *([b.version] if with_version else [])]
                              for b in bindings]
    print_table(["name", "hash", "version"] if with_version else ["name", "hash"], rows)


def binding_state(h: str | None) -> str:
    """One side of a bind event: a hash, ``""`` = explicitly unbound, ``None`` = no entry of its own."""
    if h is None:
        return "(not set)"
    return hashing.short(h) if h else "(unbound)"


def event_text(ev: Event) -> str:
    if ev.kind == "bind":
        return f"{ev.name}@{ev.version}: {binding_state(ev.old)} -> {binding_state(ev.new)}"
    if ev.kind == "version":
        return f"created version {ev.name}" + (f" from {ev.old}" if ev.old else "")
    if ev.kind == "use":
        return f"default version {ev.old} -> {ev.new}"
    if ev.kind == "drop":
        return f"version {ev.name} deleted"
    if ev.kind == "moved":
        return (f"{ev.name}@{ev.version}: callers follow it to {ev.new}" if ev.new
                else f"{ev.name}@{ev.version}: no longer moved")
    if ev.kind == "module":
        return f"module {ev.name}@{ev.version}: {binding_state(ev.old)} -> {binding_state(ev.new)}"
    if ev.kind == "route":
        return route_event_text(ev)
    return f"{ev.kind} {ev.name}@{ev.version}: {ev.old} -> {ev.new}"


def route_decision_text(d: dict[str, Any]) -> str:
    """A recorded routing decision: ``candidate v2 #abc (bucket 1234)``, ``primary (own) #def, shadow v2``."""
    text = f"{d.get('to')} {d.get('version') or '(own)'} {hashing.short(d['hash']) if d.get('hash') else ''}".rstrip()
    if d.get("bucket") is not None:
        text += f" (bucket {d['bucket']})"
    if d.get("reason"):
        text += f" ({d['reason']})"
    if d.get("shadow"):
        text += f", shadow {d.get('candidate')}" + (f" {hashing.short(d['candidate_hash'])}"
                                                    if d.get("candidate_hash") else "")
    return text


def route_event_text(ev: Event) -> str:
    """A route event: ``route app.lookupUser: shadow v2 (primary v1)``; a per-task route's scope is
    ``task:ID``."""
    if ev.version.startswith("task:"):
        return (f"route {ev.name} in the replays of task {ev.version[5:]}: {binding_state(ev.old)} -> "
                f"{binding_state(ev.new)}")
    from ucode.routing import Policy

    if ev.new is None:
        return f"route {ev.name}: removed" + (f" (was {Policy.from_text(ev.old).describe()})" if ev.old else "")
    return f"route {ev.name}: {Policy.from_text(ev.new).describe()}"


def render_events(events: Sequence[Event], *, empty: str = "nothing changed") -> None:
    con = console()
    if not events:
        note(con, empty)
    for ev in events:
        con.print(rich_text(event_text(ev)))


def render_history(events: Sequence[Event]) -> None:
    """One header line per command (op, time, cause), then its changes indented."""
    con = console()
    if not events:
        note(con, "no history")
        return
    op: int | None = None
    for ev in events:
        if ev.op != op:
            op = ev.op
            head = rich_text(f"{ev.op:<4} ", "bold")
            head.append(datetime.fromtimestamp(ev.time).strftime("%Y-%m-%d %H:%M:%S") + "  ", "dim")
            head.append(ev.cause, "magenta" if ev.undoes is not None else "")
            con.print(head)
        con.print(rich_text("       " + event_text(ev)))


def render_diff(entries: Sequence[DiffEntry], v1: str, v2: str) -> None:
    con = console()
    if not entries:
        note(con, f"no names differ between {v1} and {v2}")
        return
    for e in entries:
        head = rich_text(e.name + ": ", "bold")
        head.append(short_cell(e.old, "(none)"))
        head.append(" -> ")
        head.append(short_cell(e.new, "(none)"))
        con.print(head)
        print_code(con, e.diff, "diff")


def render_matches(matches: Matches, query: str) -> None:
    more = (f"{len(matches)} of {matches.total:,} matches shown (--limit N shows more, --limit 0 all)"
            if matches.total > len(matches) else "")
    if not matches:
        say(f"no names match {query!r}", "dim")
        return
    print_table(["name", "hash", "kind", "summary"],
                [[m.name, (short_seg(m.hash),), m.kind, ((m.summary, "dim"),)] for m in matches])
    if more:
        if plain():
            notice(more)  # stdout stays one match per line, for grep and friends
        else:
            say(more, "dim")


def render_versions(versions: Sequence[VersionInfo]) -> None:
    rows: list[list[Cell]] = []
    for v in versions:
        name: Segments = ((("* " if v.default else "  ") + v.name, "bold green" if v.default else ""),)
        created = datetime.fromtimestamp(v.created).strftime("%Y-%m-%d %H:%M:%S") if v.created else ""
        rows.append([name, v.parent or "", str(v.own_bindings), ((created, "dim"),)])
    print_table(["version", "parent", "own names", "created"], rows, names=(0, 1))


def render_status(found: Sequence[FileStatus], *, all_files: bool) -> None:
    """Changed (or, with ``all_files``, every) added file: module, state, path and the names it defines;
    then what to do."""
    con = console()
    if not found:
        note(con, "every added file is as it was added" if not all_files else "no files added yet")
        return
    print_table(["module", "state", "path", "names"],
                [[f.module, f.state, f.path, ", ".join(f.names)] for f in found], names=(0,))
    if any(f.state == "modified" for f in found):
        note(con, "`ucode add PATH` stores the edited files (the names they define are bound to the new code)")
    if any(f.state == "missing" for f in found):
        note(con, "missing files: their stored code still runs; `ucode unbind NAME` removes names you no longer want")


def render_verify(result: VerifyResult) -> None:
    con = console()
    if result.older:
        note(con, f"{result.older} definition(s) were stored by an older ucode (hash scheme before "
                   f"{hashing.DEF_SCHEME}) and were not re-hashed: `ucode add` their files again to upgrade",
              "yellow")
    for r in result.repaired:
        note(con, f"repaired: {r['hash']}: {r['problem']}", "yellow")
    if result.ok:
        note(con, f"ok: {result.checked - result.older} definitions and statements re-hashed; the names and "
                   f"modules match the namespace log; {result.code} cached code entries and {result.records} task, "
                   "event and state records checked", "green")
        return
    rows: list[list[Cell]] = []
    for p in result.problems:
        where = p.get("hash") or ""
        cell: Cell = where if " " in where or not where.isalnum() else (short_seg(where or None, ""),)
        rows.append([cell, p.get("problem", "")])
    print_table(["hash", "problem"], rows, names=())
    note(con, f"{len(result.problems)} problem(s) in {result.checked} definitions", "bold red")


class AddProgress:
    """The ``progress`` callback of ``add``: a bar on stderr, only for more than PROGRESS_MIN_FILES files."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int, path: str) -> None:
        if total <= PROGRESS_MIN_FILES or quiet():
            return
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("adding"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}", style="dim"),
                                 console=console(stderr=True), transient=True)
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


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def error_line(error: Any) -> str:
    """An exception as a task records it (type, module, message), as Python's last traceback line says it:
    ``KeyError: 'no user 42'``, ``shop.errors.OutOfStock: pear``."""
    module, name, message = error.get("module"), error.get("type", "?"), error.get("message", "")
    qual = name if module in (None, "", "builtins", "__main__") else f"{module}.{name}"
    return f"{qual}: {message}" if message else qual


def render_replay(out: dict[str, Any]) -> None:
    """``task replay``: its log lines, identical or the divergence, and how the replay ended (where it
    raised, as a traceback)."""
    for line in out["logs"]:
        typer.echo(f"log: {line}")
    if out["identical"]:
        typer.secho(f"task {out['task']}: replay identical", fg="green")
    else:
        from ucode.replay import Divergence

        typer.secho(f"task {out['task']}: replay diverged", fg="red")
        typer.echo(str(Divergence(**out["divergence"])))
        for cause in out["likely_causes"]:
            typer.secho(f"likely cause: {cause}", fg="yellow")
    err = out.get("error")
    if not err:
        typer.echo(f"result {out['result']!r}")
        return
    typer.echo("the replay raised" + (", as the task did:" if out["identical"] else ":"))
    if out.get("traceback") is not None:
        for ln in trace_lines(out["traceback"], out.get("traceback_hidden", 0)):
            typer.echo(ln)
    typer.secho(error_line(err), fg="red")


def one_line(value: Any, width: int = 70) -> str:
    text = " ".join((value if isinstance(value, str) else repr(value)).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def render_replay_all(outs: list[dict[str, Any]]) -> None:
    from collections import Counter

    diverged = [o for o in outs if not o["identical"]]
    kinds = Counter(o["change"] for o in diverged)
    how = f" ({', '.join(f'{n} {k}' for k, n in kinds.most_common())})" if kinds else ""
    typer.echo(f"{len(outs)} tasks replayed: {len(outs) - len(diverged)} identical, {len(diverged)} diverged{how}")
    for o in diverged:
        err, rec_err = o.get("error"), o.get("recorded_error")
        now = f"{err['type']}: {err['message']}" if err else one_line(o["result"])
        if o["change"] in ("now succeeds", "now fails", "different result"):
            was = f"{rec_err['type']}: {rec_err['message']}" if rec_err else one_line(o["divergence"]["expected"])
            typer.echo(f"  {o['task']}: {o['change']}: was {one_line(was, 50)}; now {one_line(now, 60)}")
        else:
            from ucode.replay import Divergence

            first = str(Divergence(**o["divergence"])).splitlines()[0]
            typer.echo(f"  {o['task']}: {o['change']}: {first}")


def render_task(view: TaskView) -> None:
    """``task show``: what ran, with what, every effect, how it ended."""
    from ucode import codec

    rec = view.record
    typer.echo(f"task {rec.id}: {rec.entry}@{rec.version}  {view.status}")
    typer.echo(f"  started {when(rec.started)}, finished {when(rec.finished)}, "
               f"durability {rec.durability}, names as of log position {rec.position}")
    typer.echo(f"  args {view.args!r} kwargs {view.kwargs!r}")
    typer.echo("  ran: " + ", ".join(f"{n} {hashing.short(h)}" for n, h in sorted((rec.hashes or {}).items())))
    if view.routes:
        typer.echo("  routed in its replays (ucode route list/unset): "
                   + ", ".join(f"{n} -> {hashing.short(h)}" for n, h in sorted(view.routes.items())))
    for e in view.events:
        if isinstance(e, dict):
            typer.secho(f"  {e['seq']:>4}  (unreadable: {e['corrupt']})", fg="red")
            continue
        if codec.is_sealed(e.result):
            outcome = codec.SECRET_TEXT  # a secret effect's result: only its keyed digest is recorded
        elif e.error:
            outcome = f"raised {e.error['type']}: {e.error['message']}"  # a secret's message is <secret>
        elif e.name == "route" and isinstance(e.result, dict):  # a routing decision: which version answered
            outcome = route_decision_text(e.result)
        else:
            outcome = repr(codec.from_wire(e.result))
        typer.echo(f"  {e.seq:>4}  {e.call_text()} -> {outcome}  ({e.duration * 1000:.2f} ms)")
    if view.status == "interrupted":
        typer.secho("  interrupted: its process ended before it finished; the log holds what was committed",
                    fg="yellow")
    elif rec.error:
        if rec.trace is not None:
            frames = [f.to_dict() for f in rec.trace.frames]
            for ln in trace_lines(frames, rec.trace.hidden, indent="  "):
                typer.echo(ln)
        else:
            typer.secho("  (no traceback recorded: the task was recorded by an older ucode)", dim=True)
        typer.secho(f"  failed: {error_line(rec.error)}", fg="red")
    elif view.status == "succeeded":
        typer.echo(f"  result {view.result!r}")
