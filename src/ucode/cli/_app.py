"""The command tree (the app and its groups), the global options (``--store``, ``-q/--quiet``; and
``ucode --version``), and the option types every command shares (``--version``, ``--json``, ``--since``).

Rule: an option that more than one command takes is declared here, once, with its help; a command module
declares only its own. The global options are taken anywhere on the line: before the command (the root
callback's) or after it (:class:`UcodeGroup` adds them to every command and group, so click parses them in
place: a value is never mistaken for one, and nothing after ``--`` is one).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click.core import Command, Context, Parameter, ParameterSource
from typer._click.exceptions import MissingParameter, NoSuchOption, UsageError
from typer._click.globals import get_current_context
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

# typer vendors its own click (typer._click, not the installed click): its types are the ones used here.

__all__ = ["JSONL_KEY", "QUIET_KEY", "STORE_FROM_KEY", "STORE_KEY", "JsonOpt", "RunCommand", "SinceOpt",
           "UcodeGroup", "VersionOpt", "app", "color", "divergence_app", "engine_app", "jsonl", "quiet", "route_app",
           "since",
           "task_app", "version_app"]

STORE_KEY = "ucode.store"
STORE_FROM_KEY = "ucode.store_from"
"""How the store was named: ``--store`` or ``$UCODE_STORE`` (absent: found from the current directory)."""
QUIET_KEY = "ucode.quiet"
JSONL_KEY = "ucode.jsonl"

STORE_HELP = "The store directory (default: the nearest .ucode/ from here upward)."
QUIET_HELP = "No notes on stderr (task id, which store, a new store, progress); errors are still shown."
HASH_HINT = ("if you typed a #hash, quote it: the shell reads an unquoted # as the start of a comment "
             "('#abc123')")
NEGATIVE = re.compile(r"-(\d|\.\d|Infinity$)")
"""A negative number (JSON): an argument, not an option."""


def quiet() -> bool:
    """``-q/--quiet`` was given (anywhere on the line)."""
    ctx = get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(QUIET_KEY))


def jsonl() -> bool:
    """``--jsonl`` was given: ``--json`` output, a list as one compact object per line (JSON Lines)."""
    ctx = get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(JSONL_KEY))


def color() -> bool | None:
    """For ``typer.secho(color=...)``: False when ``$NO_COLOR`` is set (https://no-color.org), even on a
    terminal; else None (click's default: color only on a terminal)."""
    return False if os.environ.get("NO_COLOR") else None


def _set_store(ctx: Context, _param: Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[STORE_KEY] = Path(value)
        ctx.meta[STORE_FROM_KEY] = "--store"


def _set_quiet(ctx: Context, _param: Parameter, value: bool) -> None:
    if value:
        ctx.meta[QUIET_KEY] = True


def _global_options() -> list[Parameter]:
    """``--store`` and ``-q`` as options of a command (after the command name): they set what the root's
    would, and pass nothing to the command's function."""
    return [
        TyperOption(param_decls=["--store"], type=str, metavar="PATH", expose_value=False, callback=_set_store,
                    help=STORE_HELP + " Global: also before the command."),
        TyperOption(param_decls=["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_quiet,
                    help=QUIET_HELP + " Global."),
    ]


def _set_jsonl(ctx: Context, _param: Parameter, value: bool) -> None:
    if value:
        ctx.meta[JSONL_KEY] = True


def _with_globals(cmd: Command) -> None:
    if not any("--store" in p.opts for p in cmd.params):
        cmd.params.extend(_global_options())
    if any("--json" in p.opts for p in cmd.params) and not any("--jsonl" in p.opts for p in cmd.params):
        # --jsonl is --json with lists as JSON Lines: the command sees as_json=True
        cmd.params.append(TyperOption(param_decls=["--jsonl"], is_flag=True, expose_value=False,
                                      callback=_set_jsonl, help="As --json, a list as one object per line."))
        callback = cmd.callback
        if callback is not None:
            def with_jsonl(*args: Any, __callback: Any = callback, **kwargs: Any) -> Any:
                if "as_json" in kwargs and get_current_context().meta.get(JSONL_KEY):
                    kwargs["as_json"] = True
                return __callback(*args, **kwargs)

            cmd.callback = with_jsonl


def _hint(exc: UsageError) -> str | None:
    """A hint for a usage error a newcomer meets: a negative number read as an option; a ``#hash``
    argument missing because the shell took it for a comment."""
    if isinstance(exc, NoSuchOption) and NEGATIVE.match(exc.option_name):
        return f"a negative number is an argument, not an option: put -- before it (-- {exc.option_name})"
    if isinstance(exc, MissingParameter) and isinstance(exc.param, TyperArgument):
        about = f"{exc.param.metavar or ''} {getattr(exc.param, 'help', '') or ''}"
        if "#" in about:
            return HASH_HINT
    return None


class UcodeGroup(TyperGroup):
    """A group whose commands (and subgroups) also take the global options, and whose usage errors say how
    to fix the common ones (:func:`_hint`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for cmd in self.commands.values():
            _with_globals(cmd)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            hint = _hint(exc)
            if hint is None:
                raise
            raise UsageError(f"{exc.format_message()}\nhint: {hint}", ctx=exc.ctx) from None


class RunCommand(TyperCommand):
    """``ucode run``: a negative number (``-5``, ``-2.5``) is an argument, as if after ``--``. Only when
    every other dash word is an option of the command: a mistyped option stays an error."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        head = args[:args.index("--")] if "--" in args else args
        known = {o for p in self.get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
        dashed = [a for a in head if a.startswith("-") and len(a) > 1]
        if any(NEGATIVE.match(a) for a in dashed) and all(
                NEGATIVE.match(a) or a.split("=", 1)[0] in known for a in dashed):
            ctx.ignore_unknown_options = True
        return super().parse_args(ctx, args)


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None, cls=UcodeGroup)


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
    cls=UcodeGroup,
)
version_app = _group("Create versions and choose the default one.\n\nExample: ucode version create debug --parent v1")
task_app = _group("Inspect, replay and prune recorded tasks (every `ucode run` is one).\n\n"
                  "Example: ucode task list --failed")
route_app = _group("Routing: which version answers a function's calls (primary, shadow, percent), from the CLI "
                   "or a YAML file, and per-task routes for replays. Routes are in the namespace log: "
                   "`ucode history` shows them, `ucode undo` takes them back.\n\n"
                   "Example: ucode route shadow lookupUser --candidate v2")
divergence_app = _group("Divergences shadow runs found between a primary and its candidate.\n\n"
                        "Example: ucode divergence show d1")
engine_app = _group("The engine (`ucode serve`) serving this store: its status, its token, purging old code.\n\n"
                    "Example: ucode engine status")
app.add_typer(version_app, name="version")
app.add_typer(task_app, name="task")
app.add_typer(route_app, name="route")
app.add_typer(divergence_app, name="divergence")
app.add_typer(engine_app, name="engine")


def _print_version(value: bool) -> None:
    if value:
        import ucode

        typer.echo(f"ucode {ucode.__version__}")
        raise typer.Exit()


@app.callback(epilog="Global options (--store, -q) may also follow the command: ucode ls --store PATH.")
def _root(
    ctx: typer.Context,
    store: Annotated[
        Path | None,
        typer.Option("--store", envvar="UCODE_STORE", metavar="PATH", help=STORE_HELP),
    ] = None,
    quiet_: Annotated[bool, typer.Option("-q", "--quiet", help=QUIET_HELP)] = False,
    _version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version, help="Print ucode's version and exit.")] = False,
) -> None:
    ctx.meta.setdefault(STORE_KEY, store)
    if store is not None:
        source = ctx.get_parameter_source("store")
        ctx.meta[STORE_FROM_KEY] = "$UCODE_STORE" if source == ParameterSource.ENVIRONMENT else "--store"
    if quiet_:
        ctx.meta[QUIET_KEY] = True
    if color() is False:
        ctx.color = False  # every context made after this one (the command's) inherits it


VersionOpt = Annotated[
    str | None, typer.Option("--version", metavar="V", help="The version to use (default: the default version).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON to stdout.")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", metavar="WHEN",
    help="Only tasks started since WHEN: a duration before now (2h, 30m, 7d; a bare number is hours), "
         "a date or local time (2026-11-27, '2026-11-27 09:30'), today or yesterday.")]


def since(text: str | None, *, bare_unit: str = "h", option: str = "--since") -> float | None:
    """The timestamp a ``--since``-like option denotes (None when it was not given)."""
    if text is None:
        return None
    from ucode.timespec import parse_instant

    return parse_instant(text, now=time.time(), bare_unit=bare_unit, option=option)
