"""The task commands as a person debugging a failing task meets them: the traceback where it failed (``run``,
``task show``, ``task replay``, ``--json``), ``task list --limit/--status``, and an exit code of its own
when a replay diverges (CI)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ucode.cli import app
from ucode.codebase import Codebase
from ucode.errors import ReplayDivergedError
from ucode.store import tasks as stored

Run = Callable[..., Result]

PRICING = '''
from ucode import effects


def rate(item: str) -> float:
    return {"pen": 1.5}[item]


def quote(items: list) -> float:
    total = 0.0
    for item in items:
        total += effects.randint(1, 1) * rate(item)
    return total
'''
FIX = '''
from ucode import effects


def rate_fixed(item: str) -> float:
    return {"pen": 1.5, "book": 12.0}.get(item, 0.0)
'''


@pytest.fixture
def ucli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(tmp_path)
    pkg = tmp_path / "shop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from shop.pricing import quote\n")
    (pkg / "pricing.py").write_text(textwrap.dedent(PRICING).lstrip("\n"))
    (tmp_path / "fix.py").write_text(textwrap.dedent(FIX).lstrip("\n"))
    runner = CliRunner()

    def _run(*args: str, code: int | None = 0) -> Result:
        res = runner.invoke(app, ["--store", str(tmp_path / "s"), *args])
        if code is not None:
            assert res.exit_code == code, f"exit {res.exit_code}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
        return res

    _run("add", str(pkg))
    return _run


def short(run: Run, ref: str) -> str:
    return "#" + json.loads(run("view", ref, "--json").stdout)["hash"][:10]


def failed_task(run: Run) -> str:
    return str(json.loads(run("run", "quote", '["pen", "book"]', "--json", code=1).stdout)["task"])


def test_run_prints_the_users_traceback_with_stored_names_and_hashes(ucli: Run, tmp_path: Path) -> None:
    res = ucli("run", "quote", '["pen", "book"]', code=1)
    path = tmp_path / "shop" / "pricing.py"
    err = res.stderr
    assert err.startswith("Traceback (most recent call last):\n")
    assert f'File "{path}", line 11, in shop.pricing.quote {short(ucli, "shop.pricing.quote")}\n' in err
    assert f'File "{path}", line 5, in shop.pricing.rate {short(ucli, "shop.pricing.rate")}\n' in err
    assert '    return {"pen": 1.5}[item]\n' in err
    assert "frames of ucode's own machinery not shown" in err
    assert "KeyError: 'book'\n" in err and "src/ucode" not in err and "_bootstrap" not in err
    assert err.index("KeyError: 'book'") > err.index("in shop.pricing.rate")  # most recent call last
    out = json.loads(ucli("run", "quote", '["book"]', "--json", code=1).stdout)
    assert [f["name"] for f in out["traceback"]] == ["shop.pricing.quote", "shop.pricing.rate"]
    assert out["traceback"][1]["line"] == 5 and out["error"]["type"] == "KeyError"


def test_a_user_error_still_prints_no_traceback(ucli: Run) -> None:
    res = ucli("run", "quote", "1", "2", code=1)
    assert "error: cannot call quote" in res.stderr and "Traceback" not in res.output


def test_task_show_has_the_traceback_and_json_its_frames(ucli: Run, tmp_path: Path) -> None:
    tid = failed_task(ucli)
    shown = ucli("task", "show", tid).stdout
    lines = shown.splitlines()
    start = lines.index("  Traceback (most recent call last):")
    assert lines[start + 1] == (f'    File "{tmp_path / "shop" / "pricing.py"}", line 11, in shop.pricing.quote '
                                f'{short(ucli, "shop.pricing.quote")}')
    assert lines[start + 2] == "      total += effects.randint(1, 1) * rate(item)"
    assert lines[-1] == "  failed: KeyError: 'book'"
    data = json.loads(ucli("task", "show", tid, "--json").stdout)
    assert [(f["name"], f["line"], f["text"]) for f in data["traceback"]] == [
        ("shop.pricing.quote", 11, "total += effects.randint(1, 1) * rate(item)"),
        ("shop.pricing.rate", 5, 'return {"pen": 1.5}[item]')]
    assert data["traceback"][0]["hash"].startswith(short(ucli, "shop.pricing.quote")[1:])
    assert data["traceback_hidden"] >= 1
    ok = json.loads(ucli("run", "quote", '["pen"]', "--json").stdout)["task"]
    assert json.loads(ucli("task", "show", ok, "--json").stdout)["traceback"] is None


def test_task_show_of_a_record_without_a_traceback(ucli: Run, tmp_path: Path) -> None:
    tid = failed_task(ucli)
    with Codebase(tmp_path / "s") as cb, cb.store.write() as txn:  # as an older ucode recorded it
        rec = stored.load_task(txn, tid)
        assert rec is not None
        stored.save_task(txn, rec._replace(trace=None))
    shown = ucli("task", "show", tid).stdout
    assert "no traceback recorded" in shown and "failed: KeyError: 'book'" in shown
    assert json.loads(ucli("task", "show", tid, "--json").stdout)["traceback"] is None


def test_task_replay_of_a_failure_shows_where_it_raised_not_a_dict(ucli: Run) -> None:
    tid = failed_task(ucli)
    out = ucli("task", "replay", tid).stdout
    assert "replay identical" in out and "{'type'" not in out
    assert "the replay raised, as the task did:\nTraceback (most recent call last):\n" in out
    assert f"in shop.pricing.rate {short(ucli, 'shop.pricing.rate')}\n" in out
    assert out.rstrip().endswith("KeyError: 'book'")
    data = json.loads(ucli("task", "replay", tid, "--json").stdout)
    assert [f["name"] for f in data["traceback"]] == ["shop.pricing.quote", "shop.pricing.rate"]


def test_a_diverged_replay_exits_with_a_code_of_its_own(ucli: Run, tmp_path: Path) -> None:
    assert ReplayDivergedError.exit_code == 3
    tid = failed_task(ucli)
    ok = json.loads(ucli("run", "quote", '["pen"]', "--json").stdout)["task"]
    ucli("add", str(tmp_path / "fix.py"), "--version", "fix")
    ucli("bind", "shop.pricing.rate@fix", "rate_fixed@fix")
    assert "replay identical" in ucli("task", "replay", tid, code=0).stdout
    res = ucli("task", "replay", tid, "--use", "shop.pricing.rate=fix", code=3)
    assert "replay diverged" in res.stdout and f"error: the replay of task {tid} diverged" in res.stderr
    data = json.loads(ucli("task", "replay", tid, "--use", "shop.pricing.rate=fix", "--json", code=3).stdout)
    assert data["identical"] is False and data["change"] == "now succeeds" and data["traceback"] is None
    assert json.loads(ucli("task", "replay", ok, "--use", "shop.pricing.rate=fix", "--json").stdout)["identical"]
    every = ucli("task", "replay", "--all", "--use", "shop.pricing.rate=fix", code=3)
    assert "2 tasks replayed: 1 identical, 1 diverged (1 now succeeds)" in every.stdout
    assert "error: 1 of 2 replayed tasks diverged" in every.stderr
    assert len(json.loads(ucli("task", "replay", "--all", "--use", "shop.pricing.rate=fix", "--json",
                               code=3).stdout)) == 2
    ucli("task", "replay", "--all", code=0)  # without the swap: every replay matches its recording


def test_task_list_limit_and_status(ucli: Run) -> None:
    bad = [failed_task(ucli) for _ in range(2)]
    good = [json.loads(ucli("run", "quote", '["pen"]', "--json").stdout)["task"] for _ in range(2)]
    newest_first = [*good[::-1], *bad[::-1]]

    def ids(*args: str) -> list[str]:
        return [r["id"] for r in json.loads(ucli("task", "list", *args, "--json").stdout)]

    assert ids() == newest_first
    assert ids("-n", "3") == newest_first[:3] and ids("--limit", "1") == newest_first[:1] and ids("-n", "0") == []
    assert ids("--status", "failed") == bad[::-1]
    assert ids("--status", "succeeded", "-n", "1") == good[-1:]
    assert ids("--status", "succeeded", "--status", "failed") == newest_first
    assert ids("--status", "running") == [] and ids("--status", "interrupted") == []
    text = ucli("task", "list", "--status", "failed", "-n", "1").stdout
    assert text.splitlines()[0] == "task\tstatus\tstarted\tname\tversion", "piped: a header, as every table"
    assert text.splitlines()[1].startswith(bad[-1] + "\tfailed\t") and len(text.splitlines()) == 2
    res = ucli("task", "list", "--status", "faild", code=1)
    assert "error: unknown task status 'faild'" in res.stderr and "did you mean failed?" in res.stderr
    assert "Traceback" not in res.output
    ucli("task", "list", "-n", "-1", code=2)  # a usage error


def test_the_api_takes_status_and_limit(ucli: Run, tmp_path: Path) -> None:
    bad = failed_task(ucli)
    ucli("run", "quote", '["pen"]')
    with Codebase(tmp_path / "s") as cb:
        assert [r["id"] for r in cb.task_list(status="failed")] == [bad]
        assert len(cb.task_list(limit=1)) == 1 and len(cb.task_list(status=["failed", "succeeded"])) == 2


def test_route_list_unset_and_task_show_see_per_task_routes(tmp_path: Path) -> None:
    store = tmp_path / "routes-store"
    runner = CliRunner()

    def ucode(*args: str, code: int = 0) -> str:
        res = runner.invoke(app, ["--store", str(store), *args])
        assert res.exit_code == code, res.output
        return res.stdout + res.stderr

    root = Path(__file__).resolve().parents[2] / "examples"
    ucode("add", str(root / "app.py"))
    ucode("add", str(root / "app_v2.py"), "--version", "v2")
    ucode("bind", "lookupUser@v2", "lookupUserV2")
    ucode("run", "handleRequest", '{"user_id": 1}')
    assert "has no routes" in ucode("route", "list", "--task", "last")
    ucode("route", "set", "lookupUser", "--task", "last", "--version", "v2")
    with Codebase(store) as cb:
        tid, routes = cb.task_routes("last")
        assert routes == {"app.lookupUser": cb.resolve("lookupUser@v2")}
        assert cb.task_view(tid).to_dict()["routes"] == routes
    assert "app.lookupUser -> #" in ucode("route", "list", "--task", "last")
    assert "routed in its replays" in ucode("task", "show", "last")
    assert "is no longer routed" in ucode("route", "unset", "lookupUser", "--task", "last")
    assert "was not routed; nothing changed" in ucode("route", "unset", "lookupUser", "--task", "last")
    assert "did you mean" in ucode("route", "unset", "lookupUsr", "--task", "last", code=1)
    with Codebase(store) as cb:
        assert cb.task_routes("last")[1] == {}


def test_log_follow_prints_lines_of_tasks_that_run_meanwhile(tmp_path: Path) -> None:
    import threading
    import time

    store = tmp_path / "follow-store"
    src = tmp_path / "talk.py"
    src.write_text("from ucode import effects\n\n\ndef talk(n):\n    effects.log(f'said {n}')\n    return n\n")
    with Codebase(store) as cb:
        cb.add([src])
        cb.run("talk", 1, durability="durable")

    def later() -> None:
        time.sleep(0.6)
        with Codebase(store) as other:
            other.run("talk", 2, durability="durable")

    worker = threading.Thread(target=later)
    worker.start()
    res = CliRunner().invoke(app, ["--store", str(store), "log", "--follow", "--follow-for", "2.5"])
    worker.join()
    assert res.exit_code == 0, res.output
    said = [ln.rsplit("  ", 1)[1] for ln in res.stdout.splitlines()]
    assert said == ["said 1", "said 2"], "the old line once, then the new one as it was logged"
