"""``status``: which added files changed on disk since they were added, and the names they touch; read
only, from any directory, without libcst."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import Write
from ucode.cli import app
from ucode.codebase import Codebase


def test_status_says_unchanged_modified_and_missing(cb: Codebase, write: Write) -> None:
    a = write("pkg/__init__.py", "")
    write("pkg/a.py", "def f():\n    return 1\n\n\nX = 2\n")
    b = write("pkg/b.py", "def g():\n    return 3\n")
    cb.add([a.parent])
    assert {s.module: s.state for s in cb.status()} == {"pkg": "unchanged", "pkg.a": "unchanged",
                                                         "pkg.b": "unchanged"}
    (a.parent / "a.py").write_text("def f():\n    return 10\n\n\nX = 2\n")
    b.unlink()
    got = {s.module: (s.state, s.names) for s in cb.status(changed_only=True)}
    assert got == {"pkg.a": ("modified", ["pkg.a.X", "pkg.a.f"]), "pkg.b": ("missing", ["pkg.b.g"])}
    cb.add([a.parent / "a.py"])
    assert [s.module for s in cb.status(changed_only=True)] == ["pkg.b"]


def test_a_comment_edit_is_modified_too(cb: Codebase, write: Write) -> None:
    path = write("m.py", "def f():\n    return 1\n")
    cb.add([path])
    path.write_text("def f():\n    # why\n    return 1\n")
    assert [s.state for s in cb.status()] == ["modified"], "the stored text is not the file's any more"


def test_status_through_the_cli_from_another_directory(store: Path, write: Write, tmp_path: Path,
                                                       monkeypatch: object) -> None:
    path = write("m.py", "def f():\n    return 1\n")
    runner = CliRunner()
    assert runner.invoke(app, ["--store", str(store), "add", str(path)]).exit_code == 0
    path.write_text("def f():\n    return 2\n")
    res = runner.invoke(app, ["--store", str(store), "status", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [{"module": "m", "path": str(path.resolve()), "state": "modified",
                                       "names": ["m.f"]}]
    res = runner.invoke(app, ["--store", str(store), "status"])
    assert "modified" in res.stdout and "m.f" in res.stdout and "ucode add" in res.stdout


def test_status_does_not_import_libcst(store: Path, write: Write) -> None:
    path = write("m.py", "def f():\n    return 1\n")
    with Codebase(store) as cb:
        cb.add([path])
    code = (f"import sys, ucode; cb = ucode.open({str(store)!r}); cb.status(); print('libcst' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
