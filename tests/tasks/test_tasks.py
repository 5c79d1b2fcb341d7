"""Tasks: every run is recorded; show, replay exactly, replay + swap, divergence, durability, faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ucode import errors
from ucode.cli import app
from ucode.codebase import SCHEMA_VERSION, Codebase

Write = Callable[[str, str], Path]

SHOP = '''
from ucode import effects

PRICES = {"apple": 3, "pear": 5}

def price(item: str) -> int:
    return PRICES[item] + effects.randint(0, 2)

def checkout(items: list) -> dict:
    effects.log("checkout", n=len(items))
    total = sum(price(i) for i in items)
    return {"total": total, "year": effects.now().year}
'''
SHOP_DEBUG = '''
from ucode import effects
from shop import PRICES

def price_debug(item: str) -> int:
    p = PRICES[item] + effects.randint(0, 2)
    effects.log("price", item=item, p=p)
    return p
'''
SHOP_V3 = '''
from ucode import effects
from shop import price

def checkout3(items: list) -> dict:
    effects.log("checkout", n=len(items))
    total = sum(price(i) for i in items) + effects.randint(0, 9)
    return {"total": total, "year": effects.now().year}
'''


@pytest.fixture
def shop(cb: Codebase, write: Write) -> Codebase:
    cb.add([write("shop.py", SHOP)])
    cb.add([write("shop_debug.py", SHOP_DEBUG)], version="debug")
    cb.bind("price@debug", "price_debug@debug", create=True)
    return cb


def test_every_run_is_a_recorded_task(shop: Codebase) -> None:
    run = shop.run_task("checkout", ["apple", "pear"])
    rec = shop.task(run.id)
    assert rec["status"] == "succeeded" and rec["entry"] == "shop.checkout" and rec["version"] == "v1"
    assert rec["hash"] == shop.resolve("checkout") and rec["closure"] == shop.closure_hash("checkout")
    assert rec["hashes"] == {"shop.checkout": shop.resolve("checkout")}  # the entry, and nothing rebound
    assert list(rec["modules"]) == ["shop"]  # the program of every stored module it imported
    names = [e["name"] for e in shop.task_events(run.id)]
    assert names == ["log", "random.randint", "random.randint", "time.now"]
    assert shop.task(run.id[:5])["id"] == run.id  # a unique prefix works


def test_replay_is_exact_and_performs_nothing(shop: Codebase, capsys: pytest.CaptureFixture[str]) -> None:
    run = shop.run_task("checkout", ["apple", "pear"])
    capsys.readouterr()
    for _ in range(3):
        out = shop.replay(run.id)
        assert out.result.identical and out.result.result == run.result
    assert capsys.readouterr().err == ""  # the log effect was served, not printed again


def test_replay_with_a_swapped_function_shows_its_log_lines(shop: Codebase) -> None:
    run = shop.run_task("checkout", ["apple", "pear"])
    out = shop.replay(run.id, use={"price": "debug"})
    assert out.result.identical  # same effects, same result: the debug version only logs more
    prices = [int(line.rsplit("=", 1)[1]) for line in out.logs if line.startswith("price")]
    assert sum(prices) == run.result["total"]  # the replay's own log lines show what the run computed
    assert out.swapped == {"shop.price": shop.resolve("price@debug")}


def test_divergence_is_reported_precisely(shop: Codebase, write: Write) -> None:
    run = shop.run_task("checkout", ["apple"])
    shop.add([write("shop3.py", SHOP_V3)])
    shop.bind("checkout@v3", "shop3.checkout3", create=True)
    out = shop.replay(run.id, use={"checkout": "v3"})
    d = out.result.divergence
    assert not out.result.identical and d is not None
    assert (d.kind, d.expected, d.actual) == ("effect", "time.now()", "random.randint(0, 9)")


def test_route_set_stores_an_override_for_later_replays(shop: Codebase) -> None:
    run = shop.run_task("checkout", ["pear"])
    shop.task_override(run.id, "shop.price", shop.resolve("price@debug"))
    out = shop.replay(run.id)
    assert any(line.startswith("price item='pear'") for line in out.logs)


def test_replay_uses_the_names_as_they_were_when_the_task_started(shop: Codebase, write: Write) -> None:
    run = shop.run_task("checkout", ["apple"])
    shop.add([write("alt.py", "def price(item: str) -> int:\n    return 100\n")])
    shop.bind("shop.price", "alt.price")  # a later rebinding does not change what the task ran
    assert shop.replay(run.id).result.identical
    assert shop.run("checkout", ["apple"])["total"] == 100


def test_failed_task_replays_its_exception(shop: Codebase) -> None:
    run = shop.run_task("checkout", ["banana"])
    assert isinstance(run.error, KeyError) and shop.task(run.id)["status"] == "failed"
    assert shop.task(run.id)["error"]["type"] == "KeyError"
    assert shop.replay(run.id).result.identical


@pytest.mark.parametrize("mode", ["durable", "batched"])
def test_durability_modes_record_the_same_events(shop: Codebase, mode: str) -> None:
    run = shop.run_task("checkout", ["apple"], durability=mode)
    assert len(shop.task_events(run.id)) == 3 and shop.replay(run.id).result.identical


def test_durability_off_records_no_events_and_cannot_replay(shop: Codebase) -> None:
    run = shop.run_task("checkout", ["apple"], durability="off")
    assert shop.task_events(run.id) == [] and shop.task(run.id)["status"] == "succeeded"
    with pytest.raises(errors.UcodeError, match="durability off"):
        shop.replay(run.id)


def test_unknown_task_and_unrecordable_result(shop: Codebase, write: Write) -> None:
    with pytest.raises(errors.UcodeError, match="no task 'nope'"):
        shop.task("nope")
    shop.add([write("odd.py", "import threading\n\ndef lock():\n    return threading.Lock()\n")])
    run = shop.run_task("lock")
    assert "cannot be recorded" in shop.task(run.id)["result_note"]


def test_killed_task_shows_interrupted_with_its_committed_events(tmp_path: Path) -> None:
    store = tmp_path / "s"
    src = tmp_path / "slow.py"
    src.write_text("from ucode import effects\nimport os\n\ndef work():\n    effects.randint(1, 2)\n"
                   "    os._exit(9)\n")
    with Codebase(store) as cb:
        cb.add([src])
    code = f"import ucode; ucode.open({str(store)!r}).run('work', durability='durable')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert proc.returncode == 9
    with Codebase(store) as cb:
        (rec,) = cb.tasks()
        assert cb.task_list()[0]["status"] == "interrupted"
        assert [e["name"] for e in cb.task_events(rec["id"])] == ["random.randint"]  # durable: committed


def test_corrupt_event_record_is_reported_and_others_stay_readable(shop: Codebase, store: Path) -> None:
    import lmdb

    run = shop.run_task("checkout", ["apple"], durability="durable")  # durable: one record per event
    tid = run.id
    shop.close()
    env = lmdb.open(str(store), max_dbs=30)
    db = env.open_db(b"events")
    with env.begin(write=True) as txn:
        txn.put(tid.encode() + b"\0" + (1).to_bytes(8, "big"), b"\xc1garbage", db=db)
    env.close()
    with Codebase(store) as again:
        events = again.task_events(tid)
        assert "corrupt" in events[1] and events[0]["name"] == "log" and events[2]["name"] == "time.now"
        with pytest.raises(errors.UcodeError, match="unreadable event at seq 1"):
            again.replay(tid)


def test_batched_events_are_one_record_per_batch_and_a_damaged_batch_is_reported(
        shop: Codebase, store: Path) -> None:
    import lmdb

    run = shop.run_task("checkout", ["apple"])  # batched: the task's events land as one record
    good = shop.run_task("checkout", ["pear"])
    assert [e["seq"] for e in shop.task_events(run.id)] == [0, 1, 2]
    shop.close()
    env = lmdb.open(str(store), max_dbs=30)
    db = env.open_db(b"events")
    with env.begin(write=True) as txn:
        keys = [k for k, _ in txn.cursor(db=db) if k.startswith(run.id.encode() + b"\0")]
        assert len(keys) == 1
        txn.put(keys[0], b"\xc1garbage", db=db)
    env.close()
    with Codebase(store) as again:
        (damaged,) = again.task_events(run.id)
        assert damaged["seq"] == 0 and "events committed with it" in damaged["corrupt"]
        assert again.replay(good.id).result.identical  # the other task's log is intact


def test_events_written_as_maps_by_schema_1_stores_still_replay(shop: Codebase, store: Path) -> None:
    import lmdb
    import msgpack

    run = shop.run_task("checkout", ["apple"])
    rows = shop.task_event_rows(run.id)
    shop.close()
    env = lmdb.open(str(store), max_dbs=30)
    db, meta = env.open_db(b"events"), env.open_db(b"meta")
    with env.begin(write=True) as txn:  # rewrite the log the way schema 1 stored it
        for k in [k for k, _ in txn.cursor(db=db) if k.startswith(run.id.encode() + b"\0")]:
            txn.delete(k, db=db)
        for row in rows:
            ev = dict(zip(("seq", "name", "args", "kwargs", "result", "error", "writes", "duration"), row, strict=True))
            txn.put(run.id.encode() + b"\0" + ev["seq"].to_bytes(8, "big"), msgpack.packb(ev), db=db)
        txn.put(b"schema", msgpack.packb(1), db=meta)
    env.close()
    with Codebase(store) as again:
        assert again.task_event_rows(run.id) == rows
        assert again.replay(run.id).result.identical
        assert again.stats()["schema"] == SCHEMA_VERSION  # upgraded on open


def test_prune_keeps_the_store_bounded(shop: Codebase) -> None:
    import time

    old = shop.run_task("checkout", ["apple"])
    assert shop.task_prune(time.time() + 1) == 1
    with pytest.raises(errors.UcodeError):
        shop.task(old.id)
    assert shop.task_events(old.id) == []


# --------------------------------------------------------------------------------------- CLI


def shop_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`ucode --store S ...` through typer's CliRunner, in a directory holding the shop sources."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shop.py").write_text(textwrap.dedent(SHOP))
    (tmp_path / "shop_debug.py").write_text(textwrap.dedent(SHOP_DEBUG))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Result:
        res = runner.invoke(app, ["--store", str(tmp_path / "s"), *args])
        assert res.exit_code == code, res.output
        assert "Traceback" not in res.output
        return res

    return invoke


def test_task_cli_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = shop_cli(tmp_path, monkeypatch)
    runner = CliRunner()

    def ucode(*args: str, code: int = 0) -> str:
        return cli(*args, code=code).stdout

    ucode("add", "shop.py")
    ucode("add", "shop_debug.py", "--version", "debug")
    ucode("bind", "price@debug", "price_debug@debug")
    ran = json.loads(ucode("run", "checkout", '["apple", "pear"]', "--json"))
    tid = ran["task"]
    listed = json.loads(ucode("task", "list", "--json"))
    assert [(t["id"], t["name"], t["status"]) for t in listed] == [(tid, "shop.checkout", "succeeded")]
    shown = ucode("task", "show", tid)
    assert "random.randint(0, 2) ->" in shown and "shop.checkout #" in shown
    replayed = json.loads(ucode("task", "replay", tid, "--json"))
    assert replayed["identical"] is True and replayed["result"] == ran["result"]
    swapped = ucode("task", "replay", tid, "--use", "price=debug")
    assert "log: price item='apple'" in swapped and "replay identical" in swapped
    ucode("route", "set", "price", "--task", tid, "--version", "debug")
    assert "log: price item='pear'" in ucode("task", "replay", tid)
    assert "checkout n=2" in ucode("log")
    assert "1 tasks replayed: 1 identical, 0 diverged" in ucode("task", "replay", "--all", "--name", "checkout")
    assert "error: --use 'price' is not NAME=VERSION" in runner.invoke(
        app, ["--store", str(tmp_path / "s"), "task", "replay", tid, "--use", "price"]).stderr
    assert json.loads(ucode("task", "prune", "--older-than", "0", "--json")) == {"pruned": 1}
    assert os.path.exists(tmp_path / "s")


def test_resume_an_interrupted_task_without_performing_its_effects_again(tmp_path: Path) -> None:
    store = tmp_path / "s"
    src = tmp_path / "job.py"
    src.write_text(textwrap.dedent('''
        import os
        from ucode import effects

        def job():
            a = effects.randint(1, 10**9)
            b = effects.randint(1, 10**9)
            if os.environ.get("CRASH_NOW") == "1":  # the process dies here (a kill, a power cut...)
                os._exit(9)
            c = effects.randint(1, 10**9)
            return [a, b, c]
    '''))
    with Codebase(store) as cb:
        cb.add([src])
    code = f"import ucode; ucode.open({str(store)!r}).run('job', durability='durable')"
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "CRASH_NOW": "1"},
                          capture_output=True, check=False)
    assert proc.returncode == 9
    with Codebase(store) as cb:
        (rec,) = cb.tasks()
        recorded = [e["result"] for e in cb.task_events(rec["id"])]
        assert len(recorded) == 2
        done = cb.resume(rec["id"])
        assert done.result[:2] == recorded  # the first two effects were served, not performed again
        assert [e["seq"] for e in cb.task_events(rec["id"])] == [0, 1, 2]
        assert cb.task(rec["id"])["status"] == "succeeded"
        assert cb.replay(rec["id"]).result.identical
        with pytest.raises(errors.UcodeError, match="not interrupted"):
            cb.resume(rec["id"])


COUNTER = '''
from ucode import effects

def bump(by: int) -> int:
    n = effects.state.get("visits", 0) + by
    effects.state.put("visits", n)
    return n
'''


def test_world_state_is_a_fold_of_its_events_and_replay_writes_nothing(cb: Codebase, write: Write) -> None:
    cb.add([write("counter.py", COUNTER)])
    first = cb.run_task("bump", 1)
    assert first.result == 1 and cb.run("bump", 2) == 3
    assert cb.state_at() == {"visits": 3} and cb.state_at(1) == {"visits": 1}
    out = cb.replay(first.id)
    assert out.result.identical and out.result.result == 1  # the replay saw the value the run saw...
    assert cb.state_at() == {"visits": 3}  # ...and wrote nothing
    with pytest.raises(errors.UcodeError, match=r"effects\.state needs a store"):
        cb.function("bump")(1)  # outside a task there is no store to use


def test_event_fields_are_the_same_in_the_store_and_in_replay() -> None:
    from ucode import codebase, replay

    assert codebase.EVENT_FIELDS == replay.EVENT_FIELDS


def test_store_wide_default_durability(shop: Codebase) -> None:
    assert shop.config() == {"durability": "batched", "resume": "off"}
    assert shop.task(shop.run_task("checkout", ["apple"]).id)["durability"] == "batched"
    assert shop.set_config("durability", "durable") == {"durability": "durable", "resume": "off"}
    assert shop.task(shop.run_task("checkout", ["apple"]).id)["durability"] == "durable"
    assert shop.task(shop.run_task("checkout", ["apple"], durability="off").id)["durability"] == "off"  # a run says
    assert shop.set_config("durability", None) == {"durability": "batched", "resume": "off"}  # the default
    with pytest.raises(errors.UcodeError, match="durability cannot be 'sometimes'"):
        shop.set_config("durability", "sometimes")
    with pytest.raises(errors.UcodeError, match="unknown setting 'color'"):
        shop.set_config("color", "red")
    assert shop.config() == {"durability": "batched", "resume": "off"}  # bad input changed nothing
    assert shop.set_config("resume", "on")["resume"] == "on"  # what `ucode serve` does at start (engine)


def test_config_and_time_filters_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ucode = shop_cli(tmp_path, monkeypatch)

    ucode("add", "shop.py")
    assert "durability = batched  (default)" in ucode("config").stdout
    assert json.loads(ucode("config", "durability", "durable", "--json").stdout) == {"durability": "durable"}
    tid = json.loads(ucode("run", "checkout", '["apple"]', "--json").stdout)["task"]
    assert json.loads(ucode("task", "show", tid, "--json").stdout)["durability"] == "durable"
    assert "durability = durable  (default batched)" in ucode("config", "durability").stdout
    bad = ucode("config", "durability", "sometimes", code=1)
    assert "error: durability cannot be 'sometimes'" in bad.stderr and "durable, batched, off" in bad.stderr
    assert "--unset takes a setting" in ucode("config", "--unset", code=1).stderr
    assert json.loads(ucode("config", "durability", "--unset", "--json").stdout) == {"durability": "batched"}

    def listed(*since: str) -> list[str]:
        return [t["id"] for t in json.loads(ucode("task", "list", "--json", *since).stdout)]

    assert listed("--since", "1h") == listed("--since", "today") == listed("--since", "2000-01-01") == [tid]
    assert listed("--since", "2999-01-01") == [] and listed() == [tid]
    err = ucode("task", "list", "--since", "lately", code=1).stderr
    assert "error: --since 'lately' is neither a duration nor a date" in err and "--since 2h" in err
    assert json.loads(ucode("task", "prune", "--older-than", "2000-01-01", "--json").stdout) == {"pruned": 0}
    assert json.loads(ucode("task", "prune", "--older-than", "1d", "--json").stdout) == {"pruned": 0}
    assert json.loads(ucode("task", "prune", "--older-than", "0s", "--json").stdout) == {"pruned": 1}


def test_log_lines_filtered_by_task_name_time_and_text(shop: Codebase, write: Write) -> None:
    import time

    from ucode.cli import app as cli_app

    shop.add([write("shop3.py", SHOP_V3)])
    one = shop.run_task("checkout", ["apple"])
    two = shop.run_task("checkout3", ["apple", "pear"])
    every = shop.log_lines()
    assert [(x["task"], x["line"]) for x in every] == [(one.id, "checkout n=1"), (two.id, "checkout n=2")]
    assert [x["task"] for x in shop.log_lines(name="checkout3")] == [two.id]
    assert [x["task"] for x in shop.log_lines(task=one.id)] == [one.id]
    assert shop.log_lines(grep="n=2")[0]["name"] == "shop3.checkout3"
    assert shop.log_lines(since=time.time() + 60) == []
    res = CliRunner().invoke(cli_app, ["--store", str(shop.path), "log", "--since", "1h", "--name", "checkout3",
                                       "--json"])
    assert res.exit_code == 0, res.output
    assert [x["line"] for x in json.loads(res.stdout)] == ["checkout n=2"]


def test_replaying_a_task_whose_code_is_no_longer_stored(shop: Codebase, store: Path) -> None:
    import lmdb

    run = shop.run_task("checkout", ["apple"])
    gone = shop.task(run.id)["modules"]["shop"]
    shop.close()
    env = lmdb.open(str(store), max_dbs=30)
    with env.begin(write=True) as txn:  # a damaged or partly copied store: the module's program is gone
        txn.delete(gone.encode(), db=env.open_db(b"programs", txn=txn))
    env.close()
    with Codebase(store) as again:
        with pytest.raises(errors.TaskNotReplayableError, match="the code it ran is not in this store") as info:
            again.replay(run.id)
        assert info.value.task == run.id and "add the source it ran again" in (info.value.hint or "")
        assert again.task(run.id)["status"] == "succeeded"  # the record itself is intact
