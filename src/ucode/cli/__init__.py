"""The ``ucode`` command line: a thin adapter over :class:`~ucode.codebase.Codebase`.

Rule: the only package that imports typer and rich. Every command parses its arguments, makes one
``Codebase`` call inside :func:`~ucode.cli._session.session` and renders the result: rich tables and
highlighted source for people (:mod:`._render`), or with ``--json`` the result's ``to_dict()`` on stdout
for scripts. The command tree and the shared options are :mod:`._app`'s; the commands live by group:
stored code (:mod:`._code`), names (:mod:`._names`), versions and settings (:mod:`._versions`),
``run`` (:mod:`._run`), tasks and logs (:mod:`._tasks`), routes and divergences (:mod:`._routes`), the
engine (:mod:`._engine`: ``serve``, ``engine status|token|purge``).

Start-up cost: libcst is imported only by ``Codebase.add``/``verify`` and rich only inside the render
functions, so ``import ucode.cli`` and ``--help`` stay fast; :func:`main` builds only the invoked command.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

# The command modules register their commands on the app when imported (in this order: ``--help`` lists
# them so).
from ucode.cli import _code, _engine, _names, _routes, _run, _tasks, _versions  # noqa: F401
from ucode.cli._app import UcodeGroup, app
from ucode.cli._session import print_error
from ucode.errors import UcodeError

__all__ = ["app", "main"]


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
                       rich_markup_mode=None, pretty_exceptions_enable=False, cls=UcodeGroup,
                       context_settings={"help_option_names": ["-h", "--help"]})
    mini.registered_callback = app.registered_callback
    mini.registered_commands = commands
    mini.registered_groups = groups
    return mini


def main() -> None:
    """The ``ucode`` console script."""
    # The first word that is not a global option (--store PATH, -q) is the command.
    argv, i = sys.argv[1:], 0
    while i < len(argv) and (argv[i].startswith("--store") or argv[i] in ("-q", "--quiet")):
        i += 1 if "=" in argv[i] or argv[i] in ("-q", "--quiet") else 2
    target = (_only(argv[i]) if i < len(argv) and not argv[i].startswith("-") else None) or app
    if "_UCODE_COMPLETE" in os.environ:  # the shell asks for completions (`ucode completion SHELL`)
        from typer._completion_classes import completion_init  # what typer.completion re-exports

        completion_init()
        target = app
    try:
        target()
    except KeyboardInterrupt:
        sys.exit(130)
    except UcodeError as exc:  # every command catches these itself; this is the backstop
        print_error(exc)
        sys.exit(exc.exit_code)
