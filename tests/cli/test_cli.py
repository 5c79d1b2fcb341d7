"""The ``ucode`` command line, end to end through typer's CliRunner.

Every command is run for real against a store in ``tmp_path``: its text output, its ``--json`` output
(parsed) and, for each command, that the JSON is what the Python API returns for the same call.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import lmdb
import pytest
from typer.testing import CliRunner, Result

import ucode
from ucode import cli, hashing
from ucode.cli import app
from ucode.cli._render import PROGRESS_MIN_FILES, AddProgress
from ucode.codebase import Codebase

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "app.py"
APP_V2 = ROOT / "examples" / "app_v2.py"


class Run(Protocol):
    def __call__(self, *args: str, code: int | None = 0, env: dict[str, str] | None = None) -> Result: ...


class JRun(Protocol):
    def __call__(self, *args: str) -> Any: ...


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store path under tmp_path; no store is picked up from the environment or a parent directory."""
    monkeypatch.delenv("UCODE_STORE", raising=False)
    monkeypatch.delenv("UCODE_CRASH_AFTER_WRITES", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "store"


def _check_clean(res: Result) -> None:
    """A user error or success: never a traceback, never an unexpected exception."""
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)


@pytest.fixture
def run(store: Path) -> Run:
    runner = CliRunner()

    def _run(*args: str, code: int | None = 0, env: dict[str, str] | None = None) -> Result:
        res = runner.invoke(app, ["--store", str(store), *args], env=env)
        _check_clean(res)
        if code is not None:
            assert res.exit_code == code, f"exit {res.exit_code}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
        return res

    return _run


@pytest.fixture
def jrun(run: Run) -> JRun:
    def _jrun(*args: str) -> Any:
        return json.loads(run(*args, "--json").stdout)

    return _jrun


@pytest.fixture
def api(store: Path) -> Callable[[], Codebase]:
    """Open the same store through the Python API (closed by the caller via ``with``)."""
    return lambda: ucode.open(store, create=False)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(rel: str, source: str) -> Path:
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
        return path

    return _write


@pytest.fixture
def memo(run: Run) -> None:
    """The memo's store: app.py in v1, app_v2.py in v2 (lookupUser@v2 not rebound yet)."""
    run("add", str(APP))
    run("add", str(APP_V2), "--version", "v2")


# ------------------------------------------------------------------------------------ add


def test_add_renders_a_table_and_a_summary(run: Run, api: Callable[[], Codebase]) -> None:
    out = run("add", str(APP)).stdout
    with api() as cb:
        h = cb.resolve("app.lookupUser")
    assert "app.lookupUser" in out and "app.handleRequest" in out
    assert hashing.short(h) in out
    assert "added" in out and "function" in out and "class" in out
    assert "1 file, version v1: 7 added" in out


def test_add_json_is_the_added_names(jrun: JRun, api: Callable[[], Codebase]) -> None:
    names = jrun("add", str(APP))
    assert isinstance(names, list) and len(names) == 7
    by_name = {n["name"]: n for n in names}
    assert set(by_name) == {"app.ITEMS", "app.USERS", "app.User", "app.handleRequest", "app.listItems",
                            "app.lookupUser", "app.renderPage"}
    assert all(n["status"] == "added" for n in names)
    with api() as cb:
        assert by_name["app.lookupUser"]["hash"] == cb.resolve("app.lookupUser")
    assert len(by_name["app.lookupUser"]["hash"]) == hashing.FULL_LENGTH


def test_readd_prints_unchanged(run: Run, jrun: JRun) -> None:
    run("add", str(APP))
    out = run("add", str(APP)).stdout
    assert "added" not in out and "app.handleRequest" not in out  # unchanged names are only counted
    assert out.strip() == "1 file, version v1: 7 unchanged; nothing written"
    listed = run("add", str(APP), "--all").stdout
    assert "app.handleRequest" in listed and "unchanged" in listed
    assert {n["status"] for n in jrun("add", str(APP))} == {"unchanged"}


def test_add_updated_shows_old_hash(run: Run, write: Callable[[str, str], Path]) -> None:
    path = write("m.py", "def f():\n    return 1\n")
    first = json.loads(run("add", str(path), "--json").stdout)[0]["hash"]
    path.write_text("def f():\n    return 2\n")
    out = run("add", str(path)).stdout
    assert "updated" in out and f"was {hashing.short(first)}" in out
    assert "1 updated" in out


def test_add_shows_warnings_renamed_and_removed_names(run: Run, write: Callable[[str, str], Path]) -> None:
    path = write("m.py", """
        import time

        def now():
            return time.time()

        def keep():
            return 1

        if __name__ == "__main__":
            print(now())
    """)
    out = run("add", str(path)).stdout
    assert "clock: time.time reads the clock (line 4)" in out
    assert "not stored" not in out  # module code (the __main__ block too) is part of the module's program
    path.write_text("def keep_one():\n    return 1\n")
    out = run("add", str(path)).stdout
    assert "renamed from m.keep" in out and "1 renamed" in out
    assert "removed: m.keep, m.now (no longer in the source; `ucode undo` binds them again)" in out


def test_add_namespace_and_new_version(run: Run, jrun: JRun) -> None:
    names = jrun("add", str(APP), "--namespace", "lib", "--version", "exp")
    assert {n["name"] for n in names} >= {"lib.app.lookupUser"}
    listed = [b["name"] for b in jrun("ls", "lib.app", "--version", "exp")]
    assert len(listed) == 7 and all(n.startswith("lib.app.") for n in listed)
    assert jrun("ls", "--version", "v1") == [], "the default version is untouched"
    assert [v["name"] for v in jrun("versions")] == ["exp", "v1"]


def test_add_reports_created_version(run: Run) -> None:
    run("add", str(APP))
    out = run("add", str(APP_V2), "--version", "v2").stdout
    assert "(created version v2)" in out


def test_add_syntax_error_names_file_line_column_and_stores_nothing(
    run: Run, jrun: JRun, write: Callable[[str, str], Path], store: Path
) -> None:
    good = write("good.py", "def ok():\n    return 1\n")
    bad = write("bad.py", "def ok2():\n    return 1\n\ndef broken(:\n    pass\n")
    res = run("add", str(good), str(bad), code=1)
    assert res.stderr.startswith("error: ")
    assert f"{bad}:4:" in res.stderr  # path:line:column
    assert res.stdout == ""
    assert not store.exists()  # nothing was stored, and the store this add would have made is not left behind
    run("add", str(good))
    run("add", str(good), str(bad), code=1)
    assert [b["name"] for b in jrun("ls")] == ["good.ok"]  # a store that existed keeps what it held


def test_add_strict_refuses_hidden_effects(run: Run, jrun: JRun, write: Callable[[str, str], Path]) -> None:
    path = write("m.py", "import time\n\ndef now():\n    return time.time()\n")
    res = run("add", "--strict", str(path), code=1)
    assert "error: --strict: m.now has a hidden effect" in res.stderr
    assert "hint:" in res.stderr
    assert "no ucode store found" in run("ls", code=2).stderr  # the failed first add left no store


def test_add_missing_file(run: Run, tmp_path: Path) -> None:
    res = run("add", str(tmp_path / "nope.py"), code=1)
    assert "no such file or directory" in res.stderr


def test_add_progress_bar_only_for_many_files(run: Run, tmp_path: Path) -> None:
    bar = AddProgress()
    bar(0, PROGRESS_MIN_FILES, "a.py")
    assert bar._bar is None, "no bar for a small add"
    bar(0, PROGRESS_MIN_FILES + 1, "a.py")
    assert bar._bar is not None
    bar(PROGRESS_MIN_FILES + 1, PROGRESS_MIN_FILES + 1, "")
    assert bar._bar is None, "the bar stops when the add is done"

    pkg = tmp_path / "many"
    pkg.mkdir()
    for i in range(PROGRESS_MIN_FILES + 5):
        (pkg / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    res = run("add", str(pkg), "--json")
    assert len(json.loads(res.stdout)) == PROGRESS_MIN_FILES + 5  # the bar never pollutes stdout


# ----------------------------------------------------------------------------------- view


def test_view_shows_source_hash_names_deps(run: Run, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    out = run("view", "handleRequest").stdout
    with api() as cb:
        h = cb.resolve("handleRequest")
        deps = {d.name: d.hash for d in cb.deps("handleRequest")}
    assert 'def handleRequest(request: dict) -> dict:' in out
    assert "#" + h in out
    assert "app.handleRequest" in out and "function" in out and "v1" in out
    assert f"{APP}:44" in out
    for name, dh in deps.items():
        assert name in out and hashing.short(dh) in out


def test_view_json_matches_the_api(jrun: JRun, run: Run, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    got = jrun("view", "lookupUser")
    with api() as cb:
        assert got == cb.view("lookupUser").to_dict()
        assert got["hash"] == cb.resolve("lookupUser")
    assert got["name"] == "app.lookupUser"
    assert got["source"].startswith("def lookupUser(user_id: int) -> User:")
    assert set(got["deps"]) == {"app.USERS", "app.User"}
    assert all(len(h) == hashing.FULL_LENGTH for h in got["deps"].values())


def test_view_by_hash_prefix(run: Run, jrun: JRun, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    with api() as cb:
        h = cb.resolve("renderPage")
    got = jrun("view", "#" + h[:8])
    assert got["hash"] == h and got["name"] is None and got["names"] == ["app.renderPage"]
    assert "(viewed by hash)" in run("view", "#" + h[:8]).stdout


def test_view_shows_unbound_deps_and_warnings(run: Run, write: Callable[[str, str], Path]) -> None:
    path = write("m.py", """
        import time

        def helper():
            return 1

        def main():
            return helper() + time.time()
    """)
    run("add", str(path))
    run("unbind", "helper")
    out = run("view", "main").stdout
    assert "m.helper" in out and "unbound" in out
    assert "warning: clock: time.time reads the clock" in out


def test_view_is_highlighted_on_a_terminal_and_verbatim_when_piped(run: Run, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    with api() as cb:
        source = cb.view("lookupUser").source
    piped = run("view", "lookupUser").stdout
    assert piped.startswith(source), "piped output starts with the exact stored source"
    colored = run("view", "lookupUser", env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" in colored and "lookupUser" in colored


# ---------------------------------------------------------------------------- find/ls/names


def test_find(run: Run, jrun: JRun, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    out = run("find", "user").stdout
    assert "app.lookupUser" in out and "Fetch a user by id." in out and "app.USERS" in out
    got = jrun("find", "user")
    with api() as cb:
        assert got == [m.to_dict() for m in cb.find("user")]
    assert got[0]["name"] == "app.User"  # exact leaf match first
    assert "no names match 'zzz'" in run("find", "zzz").stdout
    assert jrun("find", "zzz") == []


def test_ls(run: Run, jrun: JRun, api: Callable[[], Codebase], write: Callable[[str, str], Path]) -> None:
    run("add", str(APP))
    run("add", str(write("other.py", "def x():\n    return 1\n")))
    out = run("ls").stdout
    assert "app.lookupUser" in out and "other.x" in out
    got = jrun("ls", "app")
    assert [b["name"] for b in got] == ["app.ITEMS", "app.USERS", "app.User", "app.handleRequest",
                                        "app.listItems", "app.lookupUser", "app.renderPage"]
    with api() as cb:
        assert got == [b.to_dict() for b in cb.ls("app")]
    assert "no names under nothing" in run("ls", "nothing").stdout


def test_names(run: Run, jrun: JRun, memo: None) -> None:
    h = jrun("view", "lookupUserV2", "--version", "v2")["hash"]
    run("bind", "lookupUser@v2", "#" + h)
    got = jrun("names", "#" + h[:6])
    assert {(b["name"], b["version"]) for b in got} == {("app.lookupUser", "v2"), ("app_v2.lookupUserV2", "v2")}
    out = run("names", "#" + h[:6]).stdout
    assert "app.lookupUser" in out and "app_v2.lookupUserV2" in out and "v2" in out


# ------------------------------------------------------------------------ bind and friends


def test_bind_to_a_hash_and_to_a_name(run: Run, jrun: JRun, memo: None, api: Callable[[], Codebase]) -> None:
    with api() as cb:
        v2 = cb.resolve("lookupUserV2", version="v2")
        v1 = cb.resolve("lookupUser")
    out = run("bind", "lookupUser@v2", "#" + v2[:10]).stdout
    assert f"app.lookupUser@v2: (not set) -> {hashing.short(v2)}" in out
    assert "already bound" in run("bind", "lookupUser@v2", "#" + v2[:10]).stdout
    events = jrun("bind", "app.lookupUser", "app.listItems", "--version", "v2")
    assert len(events) == 1 and events[0]["kind"] == "bind" and events[0]["old"] == v2
    with api() as cb:
        assert events[0]["new"] == cb.resolve("listItems") != v1


def test_bind_to_an_unknown_hash_fails_cleanly(run: Run) -> None:
    run("add", str(APP))
    res = run("bind", "lookupUser", "#zzzzzzz", code=1)
    assert res.stderr.splitlines()[0] == "error: no stored definition has hash #zzzzzzz"
    assert res.stderr.splitlines()[1].startswith("hint: ")
    res = run("bind", "lookupUser", "#zzzzzzz", "--json", code=1)
    assert json.loads(res.stdout)["error"] == "no stored definition has hash #zzzzzzz"


def test_unbind(run: Run, jrun: JRun, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    out = run("unbind", "renderPage").stdout
    assert "app.renderPage@v1:" in out and "-> (not set)" in out
    with api() as cb:
        assert "app.renderPage" not in cb.bindings()
    run("unbind", "renderPage", code=1)
    run("add", str(APP))
    events = jrun("unbind", "app.listItems", "--version", "v1")
    assert [(e["name"], e["new"]) for e in events] == [("app.listItems", None)]


def test_alias_and_move(run: Run, jrun: JRun, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    out = run("alias", "lookupUser", "app.getUser").stdout
    assert "app.getUser@v1: (not set) ->" in out
    with api() as cb:
        assert cb.resolve("app.getUser") == cb.resolve("app.lookupUser")
    events = jrun("move", "listItems", "app.itemsOf")
    assert {(e["kind"], e["name"], e["new"]) for e in events if e["kind"] != "bind"} == {
        ("moved", "app.listItems", "app.itemsOf")}
    assert {(e["name"], e["new"] is None) for e in events if e["kind"] == "bind"} == {
        ("app.itemsOf", False), ("app.listItems", True)}
    with api() as cb:
        names = cb.bindings()
    assert "app.itemsOf" in names and "app.listItems" not in names
    res = run("alias", "lookupUser", "not a name", code=1)
    assert "error: invalid name 'not a name'" in res.stderr


def test_deps_and_dependents(run: Run, jrun: JRun, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    out = run("deps", "handleRequest").stdout
    assert "app.listItems" in out and "app.lookupUser" in out and "app.renderPage" in out
    got = jrun("deps", "handleRequest")
    users = jrun("dependents", "lookupUser")
    with api() as cb:
        assert got == [b.to_dict() for b in cb.deps("handleRequest")]
        assert users == [b.to_dict() for b in cb.dependents("lookupUser")]
    assert [b["name"] for b in jrun("dependents", "lookupUser")] == ["app.handleRequest"]
    assert "app.handleRequest" in run("dependents", "lookupUser").stdout
    assert "nothing uses app.handleRequest" in run("dependents", "app.handleRequest").stdout
    assert "uses no other stored names" in run("deps", "ITEMS").stdout


# ---------------------------------------------------------------------- the memo walkthrough


def test_memo_walkthrough(run: Run, jrun: JRun, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    run("add", str(APP_V2), "--version", "v2")
    v2_hash = jrun("view", "lookupUserV2@v2")["hash"]
    run("bind", "lookupUser@v2", "#" + v2_hash)

    out = run("view", "lookupUser@v2").stdout
    assert 'print(f"lookupUserV2 called with {user_id}")' in out
    assert "#" + v2_hash in out
    # its own dep, lookupUser, names itself in v2: it runs the v1 lookupUser it was written against
    v1_hash = jrun("view", "lookupUser@v1")["hash"]
    assert jrun("view", "lookupUser@v2")["deps"]["app.lookupUser"] == v1_hash
    assert "app.lookupUser  #" + v1_hash[:10] in out
    assert "Fetch a user by id." not in run("view", "lookupUser@v2").stdout
    assert "Fetch a user by id." in run("view", "lookupUser").stdout  # v1 is untouched

    undone = run("undo").stdout
    assert "undid: bind app.lookupUser@v2" in undone

    out = run("view", "lookupUser@v2").stdout
    assert "Fetch a user by id." in out and "lookupUserV2 called" not in out
    with api() as cb:
        assert cb.resolve("lookupUser@v2") == cb.resolve("lookupUser@v1") != v2_hash

    hist = run("history").stdout
    assert "undo: bind app.lookupUser@v2" in hist
    assert hist.index("undo: bind app.lookupUser@v2") < hist.index("add ")  # newest first


def test_history(run: Run, jrun: JRun, memo: None, api: Callable[[], Codebase]) -> None:
    run("bind", "lookupUser@v2", "lookupUserV2")
    run("undo")
    events = jrun("history")
    with api() as cb:
        assert events == [e.to_dict() for e in cb.history()]
    assert events[0]["cause"].startswith("undo: bind app.lookupUser@v2") and events[0]["undoes"] is not None
    assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
    only = jrun("history", "lookupUser")
    assert {e["name"] for e in only} == {"app.lookupUser"} and len(only) == 3
    assert len(jrun("history", "--limit", "2")) == 2
    assert {e["version"] for e in jrun("history", "--version", "v2")} == {"v2"}
    out = run("history", "lookupUser", "-n", "1").stdout
    assert "undo: bind app.lookupUser@v2" in out and "-> (not set)" in out


def test_undo(run: Run, jrun: JRun) -> None:
    run("version", "create", "v2")  # creating a version alone is not undone
    res = run("undo", code=1)
    assert res.stderr.startswith("error: nothing to undo")
    run("add", str(APP))
    run("unbind", "renderPage")
    got = jrun("undo")
    assert got["cause"] == "unbind app.renderPage@v1"
    assert [(e["name"], e["undoes"]) for e in got["events"]] == [("app.renderPage", got["undone_op"])]
    assert "app.renderPage" in [b["name"] for b in jrun("ls")]


# ----------------------------------------------------------------------------------- diff


def test_diff(run: Run, jrun: JRun, memo: None, api: Callable[[], Codebase]) -> None:
    run("bind", "lookupUser@v2", "lookupUserV2")
    out = run("diff", "v1", "v2").stdout
    assert "app.lookupUser: #" in out
    assert "--- app.lookupUser@v1" in out and "+++ app.lookupUser@v2" in out
    assert "-def lookupUser(user_id: int) -> User:" in out
    assert "+def lookupUserV2(user_id: int) -> User:" in out
    assert "app_v2.lookupUserV2: (none) -> #" in out
    got = jrun("diff", "v1", "v2")
    with api() as cb:
        assert got == [d.to_dict() for d in cb.diff("v1", "v2")]
    assert [d["name"] for d in got] == ["app.lookupUser", "app_v2.lookupUserV2"]
    assert "no names differ between v1 and v1" in run("diff", "v1", "v1").stdout
    assert "error: no version 'v9'" in run("diff", "v1", "v9", code=1).stderr


# -------------------------------------------------------------------------------- versions


def test_versions_create_and_use(run: Run, jrun: JRun, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    events = jrun("version", "create", "debug", "--parent", "v1")
    assert [(e["kind"], e["name"], e["old"]) for e in events] == [("version", "debug", "v1")]
    assert "created version v3 from v1" in run("version", "create", "v3").stdout
    assert "already exists" in run("version", "create", "v3", code=1).stderr

    got = jrun("versions")
    with api() as cb:
        assert got == [v.to_dict() for v in cb.versions()]
    assert {v["name"]: v["default"] for v in got} == {"debug": False, "v1": True, "v3": False}
    assert "* v1" in run("versions").stdout

    assert "default version v1 -> debug" in run("version", "use", "debug").stdout
    assert "already the default" in run("version", "use", "debug").stdout
    assert jrun("version", "use", "v1")[0]["new"] == "v1"
    with api() as cb:
        assert cb.default_version() == "v1"
    assert "error: no version 'nope'" in run("version", "use", "nope", code=1).stderr


def test_version_create_makes_a_store(run: Run, store: Path) -> None:
    run("version", "create", "v2")
    assert (store / "data.mdb").exists()


# -------------------------------------------------------------------------- verify/closure


def test_verify(run: Run, jrun: JRun, store: Path) -> None:
    run("add", str(APP))
    assert "ok: 9 definitions and statements re-hashed" in run("verify").stdout
    assert jrun("verify") == {"checked": 9, "problems": [], "older": 0, "ok": True, "code": 1, "records": 0,
                             "repaired": []}

    env = lmdb.open(str(store), max_dbs=16)
    with env.begin(write=True) as txn:
        txn.put(b"v1\0app.ghost", b"a" * 52, db=env.open_db(b"bind", txn=txn))
    env.close()
    res = run("verify", code=1)
    assert "app.ghost@v1 is bound to a hash that is not stored" in res.stdout
    assert "problem(s) in 9 definitions" in res.stdout
    res = run("verify", "--json", code=1)
    got = json.loads(res.stdout)
    assert got["ok"] is False and got["problems"]


def test_closure(run: Run, jrun: JRun, memo: None, api: Callable[[], Codebase]) -> None:
    out = run("closure", "handleRequest").stdout.strip()
    with api() as cb:
        assert out == cb.closure_hash("handleRequest")
        before_v2 = cb.closure_hash("handleRequest", version="v2")
    assert len(out) == hashing.FULL_LENGTH
    run("bind", "lookupUser@v2", "lookupUserV2")
    got = jrun("closure", "handleRequest", "--version", "v2")
    assert got["ref"] == "handleRequest" and got["version"] == "v2"
    assert got["closure_hash"] != before_v2, "rebinding a dependency changes the closure hash"
    with api() as cb:
        assert got["closure_hash"] == cb.closure_hash("handleRequest", version="v2")


# ---------------------------------------------------------------------------------- errors


def test_unknown_name(run: Run) -> None:
    run("add", str(APP))
    res = run("view", "lookupUsr", code=1)
    lines = res.stderr.splitlines()
    assert lines[0] == "error: no name 'lookupUsr' in version 'v1'"
    assert lines[1] == "hint: did you mean lookupUser?"
    assert res.stdout == ""


def test_unknown_name_with_json_prints_error_json(run: Run) -> None:
    run("add", str(APP))
    res = run("view", "nope", "--json", code=1)
    assert json.loads(res.stdout) == {"error": "no name 'nope' in version 'v1'",
                                      "hint": "`ucode ls` lists the names; `ucode find TEXT` searches them"}
    assert res.stderr.startswith("error: no name 'nope'")


def test_ambiguous_suffix_lists_candidates(run: Run, write: Callable[[str, str], Path]) -> None:
    run("add", str(APP))
    run("add", str(write("admin.py", "def lookupUser(x):\n    return x\n")))
    res = run("view", "lookupUser", code=1)
    assert "error: 'lookupUser' is ambiguous: it matches admin.lookupUser, app.lookupUser" in res.stderr
    assert "hint: use a longer name" in res.stderr
    assert "admin.lookupUser" in run("view", "admin.lookupUser").stdout


def test_invalid_name(run: Run) -> None:
    run("add", str(APP))
    res = run("view", "not-a-name", code=1)
    assert res.stderr.startswith("error: invalid name 'not-a-name'")


@pytest.mark.parametrize("args", [["ls"], ["view", "x"], ["history"], ["undo"], ["versions"], ["verify"],
                                  ["unbind", "x"], ["version", "use", "v1"]])
def test_read_command_without_a_store(run: Run, store: Path, args: list[str]) -> None:
    res = run(*args, code=2)
    assert res.stderr.startswith("error: no ucode store found")
    assert f"at {store} (from --store)" in res.stderr  # the path that was tried
    assert f"hint: check the path; `ucode add FILE --store {store}` creates a store there" in res.stderr
    assert not store.exists(), "a read command never creates a store"


def test_read_command_without_a_store_here_or_above(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "empty"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("UCODE_STORE", raising=False)
    if ucode.find_store()[1]:
        pytest.skip("a .ucode store exists above tmp_path")
    res = CliRunner().invoke(app, ["ls"])
    _check_clean(res)
    assert res.exit_code == 2 and res.stderr.startswith("error: no ucode store found")
    assert not (work / ".ucode").exists()


def test_add_creates_the_store_in_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UCODE_STORE", raising=False)
    res = CliRunner().invoke(app, ["add", str(APP)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / ".ucode" / "data.mdb").exists()
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    res = CliRunner().invoke(app, ["view", "lookupUser", "--json"])  # found upward, as git finds .git
    assert res.exit_code == 0 and json.loads(res.stdout)["name"] == "app.lookupUser"


def test_store_from_environment(store: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["add", str(APP)], env={"UCODE_STORE": str(store)})
    assert res.exit_code == 0, res.output
    assert (store / "data.mdb").exists()
    res = runner.invoke(app, ["ls", "--json"], env={"UCODE_STORE": str(store)})
    assert len(json.loads(res.stdout)) == 7


def test_keyboard_interrupt_exits_130_quietly(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    run("add", str(APP))

    def interrupted(self: Codebase, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Codebase, "view", interrupted)
    res = run("view", "lookupUser", code=130)
    assert res.stdout == "" and "Aborted" not in res.stderr


def test_main_exits_with_the_error_code(store: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["ucode", "--store", str(store), "ls"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no ucode store found") and "Traceback" not in err


def test_usage_errors_are_not_tracebacks(run: Run) -> None:
    res = run("view", code=2)
    assert "Missing argument" in res.stderr
    res = run("history", "--limit", "many", code=2)
    assert "Invalid value for '--limit'" in res.stderr


# --------------------------------------------------------------------------- CLI == the API


def test_every_json_output_is_the_api_result(jrun: JRun, run: Run, memo: None, api: Callable[[], Codebase]) -> None:
    run("bind", "lookupUser@v2", "lookupUserV2")
    h = jrun("view", "listItems")["hash"]
    calls: list[tuple[list[str], Callable[[Codebase], Any]]] = [
        (["view", "lookupUser@v2"], lambda cb: cb.view("lookupUser@v2").to_dict()),
        (["view", "#" + h[:5]], lambda cb: cb.view("#" + h[:5]).to_dict()),
        (["find", "item"], lambda cb: [m.to_dict() for m in cb.find("item")]),
        (["ls", "--version", "v2"], lambda cb: [b.to_dict() for b in cb.ls(version="v2")]),
        (["ls", "app_v2"], lambda cb: [b.to_dict() for b in cb.ls("app_v2")]),
        (["names", "#" + h[:5]], lambda cb: [b.to_dict() for b in cb.names("#" + h[:5])]),
        (["deps", "lookupUser", "--version", "v2"],
         lambda cb: [b.to_dict() for b in cb.deps("lookupUser", version="v2")]),
        (["dependents", "lookupUser"], lambda cb: [b.to_dict() for b in cb.dependents("lookupUser")]),
        (["history", "--limit", "3"], lambda cb: [e.to_dict() for e in cb.history(limit=3)]),
        (["diff", "v1", "v2"], lambda cb: [d.to_dict() for d in cb.diff("v1", "v2")]),
        (["versions"], lambda cb: [v.to_dict() for v in cb.versions()]),
        (["verify"], lambda cb: {**cb.verify().to_dict(), "ok": True}),
        (["closure", "handleRequest", "--version", "v2"],
         lambda cb: {"ref": "handleRequest", "version": "v2",
                     "closure_hash": cb.closure_hash("handleRequest", version="v2")}),
    ]
    for args, from_api in calls:
        got = jrun(*args)
        with api() as cb:
            assert got == from_api(cb), args


def test_write_commands_json_is_what_the_log_recorded(jrun: JRun, run: Run, api: Callable[[], Codebase]) -> None:
    run("add", str(APP))
    writes = [
        ["bind", "--new", "app.findUser", "lookupUser"],
        ["alias", "listItems", "app.items"],
        ["move", "app.items", "app.ownedItems"],
        ["unbind", "app.findUser"],
        ["version", "create", "v2"],
        ["version", "use", "v2"],
    ]
    for args in writes:
        events = jrun(*args)
        with api() as cb:
            logged = [e.to_dict() for e in cb.history(limit=len(events))]
        assert events and sorted(events, key=lambda e: -e["seq"]) == logged, args


# ------------------------------------------------------------------------------ start-up


def test_importing_the_cli_imports_neither_libcst_nor_rich() -> None:
    code = "import sys, ucode.cli; print(sorted({m.split('.')[0] for m in sys.modules} & {'libcst', 'rich'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cold_run_imports_neither_the_result_types_nor_mount_nor_decimal(tmp_path: Path) -> None:
    """`ucode run` is on a start-up budget (< 150 ms): what only other commands need is imported lazily (the
    engine's HTTP stack, Starlette and uvicorn, included)."""
    src = tmp_path / "app.py"
    src.write_text("def hello(name: str) -> str:\n    return 'hi ' + name\n")
    with Codebase(tmp_path / "st") as cb:
        cb.add([src])
    code = ("import sys\nfrom ucode import cli\n"
            f"sys.argv = ['ucode', '--store', {str(tmp_path / 'st')!r}, 'run', 'hello', '\"x\"']\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "print(sorted({'ucode.model', 'ucode._mount', 'importlib.resources', 'decimal', 'ucode.engine',"
            " 'starlette', 'uvicorn', 'anyio'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["'hi x'", "[]"]
    assert ucode.mount.__module__ == "ucode._mount" and callable(ucode.unmount)


def test_help_lists_every_command() -> None:
    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0
    for name in ("add", "view", "find", "ls", "names", "bind", "unbind", "alias", "move", "deps", "dependents",
                 "history", "undo", "diff", "versions", "version", "verify", "closure"):
        assert f"  {name} " in res.stdout, name
    assert "UCODE_STORE" in res.stdout
