"""Commands over stored code: ``add``, ``view``, ``find``, ``ls``, ``names``, ``deps``, ``dependents``,
``closure``, ``verify``.

Rule (every command module): a command parses its arguments, makes one ``Codebase`` call inside
:func:`~ucode.cli._session.session` and renders the result (``--json``: the result's ``to_dict()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ucode.cli._app import JsonOpt, VersionOpt, app
from ucode.cli._render import (
    AddProgress,
    paged,
    render_add,
    render_bindings,
    render_matches,
    render_status,
    render_verify,
    render_view,
)
from ucode.cli._session import dicts, emit, session
from ucode.errors import UcodeError, UsageError


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
    bar = AddProgress()
    with session(ctx, create=True, as_json=as_json) as cb:
        try:
            result = cb.add(paths, version=version, namespace=namespace, strict=strict, progress=bar)
        finally:
            bar.close()
    if as_json:
        emit(dicts(result.names))
    else:
        render_add(result, show_all=show_all)


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
    with session(ctx, as_json=as_json) as cb:
        result = cb.view(ref, version=version)
    if as_json:
        emit(result.to_dict())
    else:
        with paged():
            render_view(result)


@app.command()
def find(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Text the names contain (case-insensitive).")],
    version: VersionOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", metavar="N", min=0,
                                       help="Show at most N matches (0: all of them).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Search names containing QUERY, best matches first (50 unless --limit says otherwise).

    Example: ucode find user --limit 10
    """
    with session(ctx, as_json=as_json) as cb:
        matches = cb.find(query, version=version, limit=limit or None)
    if as_json:
        emit(dicts(matches))
    else:
        render_matches(matches, query)


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
    with session(ctx, as_json=as_json) as cb:
        bindings = cb.ls(prefix, version=version)
    if as_json:
        emit(dicts(bindings))
    else:
        render_bindings(bindings, empty="no names" + (f" under {prefix}" if prefix else ""))


@app.command()
def names(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="#HASH", help="A hash prefix (or a name).")],
    as_json: JsonOpt = False,
) -> None:
    """List every name bound to a hash, in every version.

    Example: ucode names '#moyffzojt3'
    """
    with session(ctx, as_json=as_json) as cb:
        bindings = cb.names(ref)
    if as_json:
        emit(dicts(bindings))
    else:
        render_bindings(bindings, empty=f"no names are bound to {ref}", with_version=True)


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
    with session(ctx, as_json=as_json) as cb:
        bindings = cb.deps(ref, version=version)
    if as_json:
        emit(dicts(bindings))
    else:
        render_bindings(bindings, empty=f"{ref} uses no other stored names")


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
    with session(ctx, as_json=as_json) as cb:
        bindings = cb.dependents(ref, version=version)
    if as_json:
        emit(dicts(bindings))
    else:
        render_bindings(bindings, empty=f"nothing uses {ref}")


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
    with session(ctx, as_json=as_json) as cb:
        h = cb.closure_hash(ref, version=version)
    if as_json:
        emit({"ref": ref, "version": version, "closure_hash": h})
    else:
        typer.echo(h)


@app.command()
def verify(
    ctx: typer.Context,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Drop damaged compiled-code cache entries (compiled again on the next run).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check the store: re-hash definitions, replay the log, check the code cache, tasks and state.

    Example: ucode verify --repair
    """
    with session(ctx, create=False, as_json=as_json) as cb:
        result = cb.verify(repair=repair)
    if as_json:
        emit({**result.to_dict(), "ok": result.ok})
    else:
        render_verify(result)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def status(
    ctx: typer.Context,
    all_files: Annotated[bool, typer.Option("--all", help="List unchanged files too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show which added files changed on disk since they were added, and the names they define.

    Example: ucode status --all
    """
    with session(ctx, create=False, as_json=as_json) as cb:
        found = cb.status(changed_only=not all_files)
    if as_json:
        emit(dicts(found))
    else:
        render_status(found, all_files=all_files)


@app.command()
def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(metavar="[DIR]", help="Where to make DIR/.ucode (default: here).")]
    = Path("."),
) -> None:
    """Create an empty store in DIR/.ucode (or at --store PATH); commands in DIR and below then use it.

    Example: ucode init demo
    """
    from ucode.cli._app import STORE_KEY
    from ucode.cli._session import fail
    from ucode.codebase import STORE_DIR, Codebase
    from ucode.errors import StoreExistsError

    given = ctx.meta.get(STORE_KEY)
    path = (Path(given) if given is not None else directory / STORE_DIR).resolve()
    try:
        if (path / "data.mdb").exists():
            raise StoreExistsError(str(path))
        with Codebase(path) as cb:
            version = cb.default_version()
    except UcodeError as exc:
        fail(exc, as_json=False)
    typer.echo(f"created store at {path} (version {version})")
    typer.echo("next: ucode add FILE-OR-PACKAGE, then ucode ls")


@app.command()
def completion(
    shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash, zsh, fish or powershell.")],
) -> None:
    """Print the shell completion script for SHELL (add it to your shell's start-up file).

    Example: ucode completion bash
    """
    # typer's own completion (typer.completion re-exports these; pinned below 0.29 in pyproject)
    from typer._completion_classes import completion_init
    from typer._completion_shared import get_completion_script

    shells = ("bash", "zsh", "fish", "powershell", "pwsh")
    if shell not in shells:
        from ucode.cli._session import fail

        fail(UsageError("completion", f"unknown shell {shell!r}", hint="one of: " + ", ".join(shells)),
             as_json=False)
    completion_init()
    typer.echo(get_completion_script(prog_name="ucode", complete_var="_UCODE_COMPLETE", shell=shell))
    typer.echo({"bash": "# add to ~/.bashrc: eval \"$(ucode completion bash)\"",
                "zsh": "# add to ~/.zshrc: eval \"$(ucode completion zsh)\"",
                "fish": "# save as ~/.config/fish/completions/ucode.fish"}.get(shell, ""))
