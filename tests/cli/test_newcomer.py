"""The command line as a newcomer meets it (issue 11, items 8 and 9): where the store is and what went
wrong with it, global options anywhere on the line, hints for the shell's traps (negative numbers, an
unquoted ``#hash``), ``run --raw``, ``NO_COLOR``, tables at 80 columns and piped, ``history`` of a name that
does not exist, Ctrl-C during a run, the notes on stderr (a new store, a store found upward) and ``-q``,
``ucode --version``. Through typer's CliRunner, as a user types the commands.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import ucode
from ucode.cli import app

ANSI = re.compile(r"\x1b\[[0-9;]*m")
FUNCS = ('def neg(x):\n    return -x\n\n\ndef hello(name):\n    return "hello " + name\n\n\n'
         'def data():\n    return {"a": [1, 2], "b": None}\n\n\ndef stop():\n    raise KeyboardInterrupt\n')


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory, with no store in it or above it, none from the environment, no colors."""
    for var in ("UCODE_STORE", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "UCODE_CRASH_AFTER_WRITES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(FUNCS)
    return tmp_path


def ucode_(*args: str, code: int | None = 0, **kw: object) -> Result:
    res = CliRunner().invoke(app, list(args), **kw)  # type: ignore[arg-type]
    assert "Traceback" not in res.output, res.output
    if code is not None:
        assert res.exit_code == code, f"exit {res.exit_code}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


# ------------------------------------------------------------------ item 8: which store, and where options go


def test_a_store_that_is_not_there_is_named(here: Path) -> None:
    res = ucode_("--store", "/nonexistent/st", "ls", code=2)
    assert res.stderr.startswith("error: no ucode store found at /nonexistent/st (from --store)")
    assert "every parent directory" not in res.stderr
    res = ucode_("ls", code=2, env={"UCODE_STORE": str(here / "nope")})
    assert f"at {here / 'nope'} (from $UCODE_STORE)" in res.stderr
    res = ucode_("ls", code=2)  # found from the current directory: says from where it looked
    assert f"looked for .ucode/ in {here.resolve()} and every parent directory" in res.stderr


def test_a_project_directory_given_as_the_store_gets_a_did_you_mean(here: Path) -> None:
    ucode_("add", "m.py", code=0)
    res = ucode_("--store", str(here), "ls", code=2)
    assert f"did you mean --store {here / '.ucode'}?" in res.stderr


def test_global_options_go_before_or_after_the_command(here: Path) -> None:
    st = str(here / "st")
    ucode_("add", "m.py", "--store", st)
    assert (here / "st" / "data.mdb").exists() and not (here / ".ucode").exists()
    for args in (["--store", st, "ls"], ["ls", "--store", st], ["ls", f"--store={st}"], ["ls", "m", "--store", st]):
        assert "m.neg" in ucode_(*args).stdout, args
    ucode_("task", "list", "--store", st)  # a group's command takes it too
    ucode_("version", "create", "v2", "--store", st)
    assert "v2" in ucode_("versions", "--store", st).stdout
    assert ucode_("run", "neg", "3", "--store", st, "-q").stderr == ""
    # after --, nothing is an option: "--store" is an argument (here: not valid JSON)
    res = ucode_("run", "hello", "--store", st, "--", "--store", code=1)
    assert "argument 1 is not valid JSON: '--store'" in res.stderr


def test_every_command_help_lists_the_global_options() -> None:
    for args in (["ls"], ["run"], ["task", "list"], ["version", "create"]):
        out = ucode_(*args, "--help").stdout
        assert out.count("--store PATH") == 1 and "-q, --quiet" in out, args
    assert "may also follow the command" in ucode_("--help").stdout


# ------------------------------------------------------------------ item 9: the shell's traps


def test_run_takes_negative_numbers_as_arguments(here: Path) -> None:
    ucode_("add", "m.py")
    assert ucode_("run", "neg", "-5").stdout == "5\n"
    assert ucode_("run", "neg", "-2.5", "--json").stdout.count('"result": 2.5') == 1
    assert ucode_("run", "neg", "--", "-5").stdout == "5\n"
    res = ucode_("run", "neg", "--bogus", "-5", code=2)  # a mistyped option is still an error
    assert "No such option: --bogus" in res.stderr


def test_a_negative_number_elsewhere_gets_a_hint_about_dash_dash(here: Path) -> None:
    ucode_("add", "m.py")
    res = ucode_("view", "-5", code=2)
    assert "No such option: -5" in res.stderr
    assert "hint: a negative number is an argument, not an option: put -- before it" in res.stderr


@pytest.mark.parametrize("args", [["bind", "neg"], ["view"], ["names"], ["alias"], ["deps"]])
def test_a_missing_hash_argument_hints_at_quoting(here: Path, args: list[str]) -> None:
    res = ucode_(*args, code=2)  # `ucode bind neg #abc`: the shell dropped "#abc" as a comment
    assert "Missing argument" in res.stderr
    assert "hint: if you typed a #hash, quote it" in res.stderr and "'#abc123'" in res.stderr


def test_run_raw_prints_a_string_as_it_is_and_anything_else_as_json(here: Path) -> None:
    ucode_("add", "m.py")
    assert ucode_("run", "hello", '"world"').stdout == "'hello world'\n"  # the repr, as before
    assert ucode_("run", "hello", '"world"', "--raw").stdout == "hello world\n"
    assert ucode_("run", "data", "--raw").stdout == '{"a": [1, 2], "b": null}\n'
    assert ucode_("run", "neg", "2", "--raw").stdout == "-2\n"


def test_no_color_is_honored_for_the_error_line_on_a_terminal(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    colored = ucode_("view", "nosuch", code=2, color=True)  # color=True: as on a terminal
    assert ANSI.search(colored.stderr), "on a terminal the error line is red"
    monkeypatch.setenv("NO_COLOR", "1")
    res = ucode_("view", "nosuch", code=2, color=True)
    assert res.stderr.startswith("error: ") and not ANSI.search(res.stderr)
    ucode_("add", "m.py")
    res = ucode_("run", "stop", code=130, color=True)
    assert "interrupted" in res.stderr and not ANSI.search(res.stderr)


# ------------------------------------------------------------------ item 9: tables


LONG = "inventory_management_system.warehouse_operations.reconciliation_procedures"


def test_the_add_table_at_80_columns_never_splits_an_identifier(here: Path) -> None:
    pkg = here / "inventory_management_system" / "warehouse_operations"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "reconciliation_procedures.py").write_text(
        "import time\n\n\ndef reconcile_stock_levels_across_all_distribution_centers():\n    return time.time()\n\n\n"
        "def short_one():\n    return 1\n")
    res = ucode_("add", "inventory_management_system", env={"COLUMNS": "80", "FORCE_COLOR": "1"})
    lines = ANSI.sub("", res.stdout).splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    parts = set(LONG.split(".")) | {"reconcile_stock_levels_across_all_distribution_centers", "short_one"}
    words = {"name", "status", "hash", "kind", "warnings", "added", "function", "clock", "time", "reads", "the",
             "line", "files", "version", "v1"}
    for line in lines:
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*…?", re.sub(r"#\w+", "", line)):
            assert word in parts | words or (word.endswith("…") and any(p.startswith(word[:-1]) for p in parts)), \
                (word, line)
    assert any(line.startswith("inventory_management_system.") for line in lines), "folded at a dot"


def test_piped_tables_are_tab_separated_under_one_header(here: Path) -> None:
    add = ucode_("add", "m.py").stdout.splitlines()
    ucode_("alias", "neg", "m.negate")
    tables = {
        "add": (add, ["name", "status", "hash", "kind", "warnings"]),
        "ls": (ucode_("ls").stdout.splitlines(), ["name", "hash"]),
        "find": (ucode_("find", "e").stdout.splitlines(), ["name", "hash", "kind", "summary"]),
        "names": (ucode_("names", "neg").stdout.splitlines(), ["name", "hash", "version"]),
        "versions": (ucode_("versions").stdout.splitlines(), ["version", "parent", "own names", "created"]),
    }
    for cmd, (lines, header) in tables.items():
        assert lines[0].split("\t") == header, cmd
        rows = [ln for ln in lines[1:] if "\t" in ln]
        assert rows and all(len(r.split("\t")) == len(header) for r in rows), (cmd, lines)
        assert not any("─" in ln or "  " in ln.split("\t")[0] for ln in lines), (cmd, lines)
    assert "m.negate\t#" in "\n".join(tables["ls"][0])


def test_an_alias_is_not_reported_stale_by_the_next_add(here: Path) -> None:
    ucode_("add", "m.py")
    ucode_("alias", "neg", "m.negate")
    (here / "m.py").write_text(FUNCS + "\n\ndef more():\n    return 2\n")
    out = ucode_("add", "m.py").stdout
    assert "removed" not in out and "m.negate" not in out
    with ucode.open(here / ".ucode", create=False) as cb:
        assert cb.resolve("m.negate") == cb.resolve("m.neg")


# ------------------------------------------------------------------ item 9: history, Ctrl-C


def test_history_of_a_name_that_does_not_exist_is_an_error(here: Path) -> None:
    ucode_("add", "m.py")
    res = ucode_("history", "negg", code=1)
    assert "no name 'negg'" in res.stderr and "did you mean neg?" in res.stderr
    ucode_("unbind", "m.hello")
    assert "m.hello" in ucode_("history", "m.hello").stdout  # unbound now: its history is still there


def test_ctrl_c_during_a_run_prints_the_task_id(here: Path) -> None:
    ucode_("add", "m.py")
    res = ucode_("run", "stop", code=130)
    m = re.search(r"task (\w+) interrupted \(ucode task resume (\w+)\)", res.stderr)
    assert m and m.group(1) == m.group(2), res.stderr
    with ucode.open(here / ".ucode", create=False) as cb:
        assert cb.tasks()[0]["id"] == m.group(1)


# ------------------------------------------------------------------ item 9: notes on stderr, -q, --version


def test_a_new_store_is_announced_once(here: Path) -> None:
    (here / "bad.py").write_text("def f(:\n")
    res = ucode_("add", "bad.py", code=1)
    assert "created store" not in res.stderr  # nothing was stored: no note before the error
    st = here / "fresh"
    res = ucode_("add", "m.py", "--store", str(st))
    assert res.stderr == f"created store at {st}\n"
    assert "created store" not in ucode_("add", "m.py", "--store", str(st)).stderr
    assert "created store" not in ucode_("add", "m.py", "--store", str(here / "other"), "-q").stderr


def test_a_store_found_upward_is_named_on_stderr(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ucode_("add", "m.py")
    assert "using store" not in ucode_("ls").stderr  # in the current directory: nothing to say
    (here / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(here / "sub" / "deeper")
    res = ucode_("ls")
    assert res.stderr == f"using store {here.resolve() / '.ucode'}\n" and "m.neg" in res.stdout
    assert ucode_("ls", "-q").stderr == "" and ucode_("-q", "ls").stderr == ""
    res = ucode_("view", "nosuch", code=1)  # said before an error too: it is the store the error is about
    assert res.stderr.startswith("using store ")


def test_quiet_silences_the_notes_but_not_the_errors(here: Path) -> None:
    ucode_("add", "m.py")
    assert re.fullmatch(r"task \w+\n", ucode_("run", "neg", "1").stderr)
    res = ucode_("-q", "run", "neg", "1")
    assert res.stderr == "" and res.stdout == "-1\n"
    res = ucode_("run", "nosuch", "-q", code=1)
    assert res.stderr.startswith("error: ")


def test_version_prints_the_package_version() -> None:
    res = ucode_("--version")
    assert res.stdout == f"ucode {ucode.__version__}\n"


def test_init_creates_an_empty_store_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["init"])
    assert res.exit_code == 0, res.output
    assert f"created store at {tmp_path.resolve() / '.ucode'}" in res.stdout
    assert (tmp_path / ".ucode" / "data.mdb").exists()
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 1 and "there is a store at" in again.stderr and "Traceback" not in again.output
    assert runner.invoke(app, ["init", "sub"]).exit_code == 0
    assert (tmp_path / "sub" / ".ucode" / "data.mdb").exists()
    assert runner.invoke(app, ["ls"]).exit_code == 0, "an empty store is a store: reading commands work"


def test_completion_prints_a_script_and_the_shell_gets_completions(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    res = CliRunner().invoke(app, ["completion", "bash"])
    assert res.exit_code == 0 and "_UCODE_COMPLETE=complete_bash" in res.stdout
    bad = CliRunner().invoke(app, ["completion", "tcsh"])
    assert bad.exit_code == 1 and "one of: bash" in bad.stderr
    env = {**__import__("os").environ, "_UCODE_COMPLETE": "complete_bash", "COMP_WORDS": "ucode vers",
           "COMP_CWORD": "1"}
    code = "import sys; sys.argv[0] = 'ucode'; from ucode.cli import main; main()"
    out = subprocess.run([sys.executable, "-c", code], env=env,
                         capture_output=True, text=True).stdout
    assert set(out.split()) == {"versions", "version"}


def test_jsonl_prints_one_compact_object_per_line(tmp_path: Path) -> None:
    import json

    store = tmp_path / "store"
    runner = CliRunner()
    examples = Path(__file__).resolve().parents[2] / "examples"
    assert runner.invoke(app, ["--store", str(store), "add", str(examples / "app.py")]).exit_code == 0
    assert runner.invoke(app, ["--store", str(store), "run", "handleRequest", '{"user_id": 1}']).exit_code == 0
    for command in (["ls"], ["find", "user"], ["versions"], ["history"], ["task", "list"], ["status", "--all"]):
        as_list = json.loads(runner.invoke(app, ["--store", str(store), *command, "--json"]).stdout)
        res = runner.invoke(app, ["--store", str(store), *command, "--jsonl"])
        assert res.exit_code == 0, res.output
        lines = res.stdout.splitlines()
        assert [json.loads(ln) for ln in lines] == as_list and all("\n" not in ln for ln in lines), command
    err = runner.invoke(app, ["--store", str(store), "view", "nosuch", "--jsonl"])
    assert err.exit_code == 1 and json.loads(err.stdout)["error"].startswith("no name")


def test_long_output_on_a_terminal_goes_through_the_pager(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import pydoc
    import shutil

    import typer

    from ucode.cli import _render

    paged_texts: list[str] = []
    monkeypatch.setattr(_render, "_stdout_is_terminal", lambda: True)
    monkeypatch.setattr(_render, "plain", lambda: False)  # on a terminal
    monkeypatch.setattr(shutil, "get_terminal_size", lambda *a: os.terminal_size((80, 10)))
    monkeypatch.setattr(pydoc, "pager", paged_texts.append)
    monkeypatch.delenv("UCODE_PAGER", raising=False)
    with _render.paged():
        for i in range(30):
            typer.echo(f"line {i}")
    assert len(paged_texts) == 1 and paged_texts[0].count("\n") == 30 and capsys.readouterr().out == ""
    with _render.paged():
        typer.echo("short")
    assert len(paged_texts) == 1 and capsys.readouterr().out == "short\n", "what fits is printed as is"
    monkeypatch.setenv("UCODE_PAGER", "0")
    with _render.paged():
        for i in range(30):
            typer.echo(f"line {i}")
    assert len(paged_texts) == 1 and capsys.readouterr().out.count("\n") == 30, "UCODE_PAGER=0: never"
    monkeypatch.setattr(_render, "_stdout_is_terminal", lambda: False)
    monkeypatch.delenv("UCODE_PAGER")
    with _render.paged():
        for i in range(30):
            typer.echo(f"line {i}")
    assert len(paged_texts) == 1, "piped output is never paged"


def test_a_failed_first_add_leaves_no_store_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text("def f(:\n")
    (tmp_path / "good.py").write_text("def f():\n    return 1\n")
    runner = CliRunner()
    res = runner.invoke(app, ["add", "bad.py"])
    assert res.exit_code == 1 and "error:" in res.output
    assert not (tmp_path / ".ucode").exists()  # the next command does not find an empty store
    assert "no ucode store found" in runner.invoke(app, ["ls"]).output
    assert runner.invoke(app, ["add", "good.py"]).exit_code == 0
    assert runner.invoke(app, ["add", "bad.py"]).exit_code == 1
    assert (tmp_path / ".ucode").exists()  # a store that existed stays, with what it held
    assert "f" in runner.invoke(app, ["ls"]).output
