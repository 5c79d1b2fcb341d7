"""Every CLI command is documented: an ``Example:`` in its help that really runs, and a section in the docs.

Adding a command without documenting it fails here.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from ucode.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "cli.md"]


def _walk(cmd: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))
SUBCOMMANDS = [path for path, _cmd in COMMANDS if path]


def test_the_walk_finds_every_command() -> None:
    got = {" ".join(p) for p in SUBCOMMANDS}
    assert {"add", "view", "find", "ls", "names", "bind", "unbind", "alias", "move", "deps", "dependents",
            "history", "undo", "diff", "versions", "version", "version use", "version create", "verify",
            "closure"} <= got


def _help(path: tuple[str, ...]) -> str:
    res = CliRunner().invoke(app, [*path, "--help"])
    assert res.exit_code == 0, res.output
    return res.stdout


def _example(path: tuple[str, ...]) -> str:
    lines = [ln.strip() for ln in _help(path).splitlines() if ln.strip().startswith("Example:")]
    assert len(lines) == 1, f"`ucode {' '.join(path)} --help` has no (or several) Example: lines"
    return lines[0].removeprefix("Example:").strip()


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "ucode")
def test_help_has_a_description_and_an_example(path: tuple[str, ...]) -> None:
    text = _help(path)
    cmd = dict(COMMANDS)[path]
    assert (getattr(cmd, "help", None) or "").strip(), "a one-line description"
    example = _example(path)
    assert example.startswith("ucode " + " ".join(path)), f"the example runs the command itself: {example}"
    assert "Usage: ucode" in text


@pytest.mark.parametrize("path", SUBCOMMANDS, ids=lambda p: " ".join(p))
def test_docs_mention_every_command(path: tuple[str, ...]) -> None:
    needle = "ucode " + " ".join(path)
    text = "\n".join(p.read_text() for p in DOCS if p.exists())
    assert needle in text, f"{needle!r} is documented in neither README.md nor docs/cli.md"


@pytest.mark.parametrize("path", SUBCOMMANDS, ids=lambda p: " ".join(p))
def test_docs_have_a_section_per_command(path: tuple[str, ...]) -> None:
    heading = "## ucode " + " ".join(path)
    cli_md = (ROOT / "docs" / "cli.md").read_text()
    assert any(ln.strip() == heading or ln.startswith(heading + " ") for ln in cli_md.splitlines()), heading


@pytest.fixture
def walkthrough_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with examples/ and a store as examples/walkthrough.sh makes it (lookupUser@v2 rebound),
    and a shadow route with one divergence."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UCODE_STORE", raising=False)
    runner = CliRunner()
    for args in (["add", "examples/app.py"], ["add", "examples/app_v2.py", "--version", "v2"],
                 ["bind", "lookupUser@v2", "lookupUserV2"], ["run", "handleRequest", '{"user_id": 1}']):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    # and examples/shadow.sh's buggy lookupUser shadowed as v3, with one divergence (d1): user 0, for whom
    # version 1 raises (exit 1) and v3 answers; the last task succeeded
    for args, code in ((["add", "examples/shadow/v2/app.py", "--version", "v3"], 0),
                       (["route", "shadow", "lookupUser", "--candidate", "v3"], 0), (["run", "lookupUser", "0"], 1),
                       (["run", "handleRequest", '{"user_id": 1}'], 0)):
        res = runner.invoke(app, args)
        assert res.exit_code == code, res.output
    return tmp_path


SERVES = {("serve",)}
"""Commands whose example runs until stopped: run in a process of its own, stopped with SIGTERM."""
NEEDS_ENGINE = {("engine",), ("engine", "status"), ("engine", "purge")}
"""Commands whose example talks to a running engine: one is started on the walkthrough's store first."""


def _serve(argv: list[str]) -> subprocess.Popen[str]:
    """``ucode ARGV`` (a ``serve``) in another process, once it listens."""
    proc = subprocess.Popen([sys.executable, "-c", "from ucode.cli import main; main()", *argv[1:]],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the engine says where it listens, once it does
    assert first.startswith("ucode engine serving "), first + (proc.stdout.read() if proc.poll() is not None else "")
    return proc


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "ucode")
def test_help_examples_run(path: tuple[str, ...], walkthrough_dir: Path) -> None:
    """Each help example works on the walkthrough's store, exactly as printed."""
    if path in SERVES:
        out = _stop(_serve(shlex.split(_example(path))))
        assert "Traceback" not in out
        return
    engine = _serve(["ucode", "serve", "--port", "0"]) if path in NEEDS_ENGINE else None
    try:
        _run_example(path)
    finally:
        if engine is not None:
            _stop(engine)


def _run_example(path: tuple[str, ...]) -> None:
    for part in _example(path).split("&&"):
        argv = shlex.split(part)
        assert argv[0] == "ucode"
        res = CliRunner().invoke(app, argv[1:])
        assert res.exit_code == 0, f"{part.strip()!r} failed:\n{res.output}"
        assert "Traceback" not in res.output
