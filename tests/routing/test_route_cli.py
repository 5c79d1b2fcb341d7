"""The route commands as a person meets them: shadow, report, divergence show, replay with the candidate,
percent, promote, undo, apply from a file, and clear errors (no traceback) for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import Write
from tests.routing.conftest import V1
from ucode.cli import app

Ucode = Callable[..., str]
V2 = V1.replace('"user%d" % user_id', '("USER%d" if user_id == 2 else "user%d") % user_id')


@pytest.fixture
def ucode(tmp_path: Path, write: Write) -> Ucode:
    runner = CliRunner()
    store = tmp_path / "cli-store"

    def run(*args: str, code: int = 0) -> str:
        res = runner.invoke(app, ["--store", str(store), *args])
        assert res.exit_code == code, f"exit {res.exit_code}\n{res.stdout}\n{res.stderr}"
        assert "Traceback" not in res.stderr or args[0] == "run"
        return res.stdout + res.stderr

    run("add", str(write("v1/app.py", V1)))
    run("add", str(write("v2/app.py", V2)), "--version", "v2")
    return run


def test_shadow_report_divergence_and_replay(ucode: Ucode) -> None:
    out = ucode("route", "shadow", "lookupUser", "--candidate", "v2", "--ignore", "fetched_at")
    assert "route app.lookupUser: shadow v2" in out
    for i in (1, 2, 3):
        ucode("run", "handleRequest", json.dumps({"user_id": i}))
    rep = json.loads(ucode("route", "report", "lookupUser", "--json"))
    assert {k: rep[k] for k in ("calls", "shadowed", "matched", "diverged", "candidate_errors")} == {
        "calls": 3, "shadowed": 3, "matched": 2, "diverged": 1, "candidate_errors": 0}
    [d] = rep["divergences"]
    assert set(d) >= {"id", "task"}
    text = ucode("route", "report", "lookupUser")
    assert "matched 2, diverged 1" in text and d["id"] in text
    shown = ucode("divergence", "show", d["id"])
    assert "USER2" in shown and f"ucode task replay {d['task']} --use app.lookupUser=v2" in shown
    assert json.loads(ucode("divergence", "show", d["id"], "--json"))["candidate"]["result"]["name"] == "USER2"
    assert "replay diverged" in ucode("task", "replay", d["task"], "--use", "lookupUser=v2", code=3)
    assert "replay identical" in ucode("task", "replay", d["task"])
    assert "no divergence 'd99'" in ucode("divergence", "show", "d99", code=1)


def test_list_show_percent_promote_history_undo(ucode: Ucode) -> None:
    assert "no routes" in ucode("route", "list")
    ucode("route", "percent", "lookupUser", "--candidate", "v2", "--percent", "10", "--key", "user_id")
    [row] = json.loads(ucode("route", "list", "--json"))
    assert (row["name"], row["mode"], row["percent"], row["key"]) == ("app.lookupUser", "percent", 10, "user_id")
    assert "10% to v2 by user_id" in ucode("route", "list")
    show = ucode("route", "show", "lookupUser")
    assert "key: user_id" in show and "candidate: v2 -> #" in show
    assert "route app.lookupUser: 10% to v2" in ucode("history", "-n", "1")
    ucode("route", "set", "lookupUser", "--version", "v2")
    assert "primary v2" in ucode("route", "list")
    assert "USER2" in ucode("run", "lookupUser", "2")
    out = ucode("route", "promote", "lookupUser")
    assert "app.lookupUser@v1" in out and "route app.lookupUser: removed" in out
    assert "no routes" in ucode("route", "list")
    ucode("undo")
    assert "primary v2" in ucode("route", "list")
    ucode("route", "clear", "lookupUser")
    assert "no routes" in ucode("route", "list")
    assert "lookupUser has no route" in ucode("route", "clear", "lookupUser", code=1)
    assert "ok" in ucode("verify").lower()


def test_apply_a_routing_file(ucode: Ucode, tmp_path: Path) -> None:
    f = tmp_path / "routing.yaml"
    f.write_text("functions:\n  lookupUser:\n    routing:\n      mode: shadow\n      primary: v1\n"
                 "      shadow: v2\n      compare:\n        ignore: [fetched_at]\n")
    out = json.loads(ucode("route", "apply", str(f), "--json"))
    [r] = out["routes"]
    assert (r["mode"], r["primary"], r["candidate"], r["ignore"]) == ("shadow", "v1", "v2", ["fetched_at"])
    assert "nothing changed" in ucode("route", "apply", str(f))  # applying again changes nothing
    f.write_text("functions:\n  lookupUser:\n    routing:\n      mode: none\n")
    assert "removed" in ucode("route", "apply", str(f))


@pytest.mark.parametrize(("text", "where", "message"), [
    ("functions:\n  lookupUser:\n    routing:\n      mode: percent\n      candidate: v2\n      percent: 150\n",
     ":6:16:", "percent must be a number from 0 to 100"),
    ("functions:\n  lookupUser:\n    routing:\n      mode: shadow\n      shadow: v9\n", ":5:15:",
     "there is no version 'v9'"),
    ("functions:\n  lookupUser:\n    routing:\n      mode: sideways\n", ":4:13:", "unknown routing mode 'sideways'"),
    ("functions:\n  nosuch:\n    routing:\n      mode: shadow\n      shadow: v2\n", ":2:3:",
     "there is no function nosuch"),
    ("functions:\n  lookupUser:\n    routing:\n      mode: percent\n      candidate: v2\n      percent: 5\n"
     "      key: uid\n", ":7:12:", "not a parameter"),
    ("functions:\n  lookupUser:\n    routing:\n      mode: shadow\n      shadw: v2\n", ":5:7:",
     "unknown setting 'shadw'"),
    ("functions:\n  lookupUser:\n   routing: [\n", ":4:1:", "not valid YAML"),
    ("functions:\n  lookupUser:\n\trouting: x\n", ":3:1:", "not valid YAML"),
])
def test_a_bad_routing_file_names_its_line_and_applies_nothing(ucode: Ucode, tmp_path: Path, text: str,
                                                                 where: str, message: str) -> None:
    good = "functions:\n  handleRequest:\n    routing:\n      mode: primary\n      primary: v2\n"
    f = tmp_path / "routing.yaml"
    f.write_text(good + text.removeprefix("functions:\n"))
    out = ucode("route", "apply", str(f), code=1)
    shifted = where.split(":")
    line = int(shifted[1]) + good.count("\n") - 1
    assert f"routing.yaml:{line}:{shifted[2]}:" in out and message in out and "nothing was applied" in out
    assert "no routes" in ucode("route", "list")  # the good route before it was not applied either


def test_route_errors_are_one_line_with_a_hint(ucode: Ucode) -> None:
    out = ucode("route", "shadow", "nosuch", "--candidate", "v2", code=1)
    assert out.startswith("error: there is no function nosuch") and "hint:" in out
    out = ucode("route", "percent", "lookupUser", "--candidate", "v2", "--percent", "-1", code=1)
    assert "percent must be a number from 0 to 100, not -1" in out
    assert "has no route" in ucode("route", "report", "lookupUser", code=1)
