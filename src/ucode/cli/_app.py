"""The command tree (the app and its groups), the global ``--store`` option, and the option types every
command shares (``--version``, ``--json``, ``--since``).

Rule: an option that more than one command takes is declared here, once, with its help; a command module
declares only its own.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["STORE_KEY", "JsonOpt", "SinceOpt", "VersionOpt", "app", "route_app", "since", "task_app", "version_app"]

STORE_KEY = "ucode.store"


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


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
version_app = _group("Create versions and choose the default one.\n\nExample: ucode version create debug --parent v1")
task_app = _group("Inspect, replay and prune recorded tasks (every `ucode run` is one).\n\n"
                  "Example: ucode task list --failed")
route_app = _group("Per-task routing: which version a name resolves to when a task is replayed.\n\n"
                   "Example: ucode route set lookupUser --task last --version v2")
app.add_typer(version_app, name="version")
app.add_typer(task_app, name="task")
app.add_typer(route_app, name="route")


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
    ctx.meta[STORE_KEY] = store


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
