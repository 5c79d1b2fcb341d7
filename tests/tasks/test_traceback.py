"""A failed task records where it failed: the user's frames (stored qualified names, statement hashes, file,
line and text), none of ucode's own, no values; shown by the API, replays and old records stay readable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ucode.codebase import Codebase
from ucode.records import TaskRecord, Trace, TraceFrame
from ucode.store import tasks as stored

Write = Callable[[str, str], Path]

INIT = "from shop.pricing import quote\n"
PRICING = '''
import json
from ucode import effects


def rate(item: str) -> float:
    return {"pen": 1.5}[item]


def quote(items: list) -> float:
    total = 0.0
    for item in items:
        total += rate(item)
    return total


def parse(text: str) -> object:
    return json.loads(text)


def checked(item: str) -> float:
    token = effects.secret("TB_TOKEN")
    if token:
        return rate(item)
    return 0.0


async def later(x: int) -> int:
    return 1 // x
'''


@pytest.fixture
def shop(cb: Codebase, write: Write) -> Codebase:
    write("shop/__init__.py", INIT)
    cb.add([write("shop/pricing.py", PRICING).parent])
    return cb


def frames(trace: Trace | None) -> list[tuple[str, str | None, int, str]]:
    assert trace is not None
    return [(f.name, f.hash, f.line, f.text) for f in trace.frames]


def test_a_failed_task_records_the_users_frames_with_names_hashes_and_lines(shop: Codebase, tmp_path: Path) -> None:
    run = shop.run_task("shop.pricing.quote", ["pen", "book"])
    assert isinstance(run.error, KeyError)
    quote_h, rate_h = shop.resolve("shop.pricing.quote"), shop.resolve("shop.pricing.rate")
    assert frames(run.trace) == [
        ("shop.pricing.quote", quote_h, 12, "total += rate(item)"),
        ("shop.pricing.rate", rate_h, 6, 'return {"pen": 1.5}[item]'),
    ]
    assert run.trace is not None and run.trace.hidden >= 1  # ucode's own frames: counted, not shown
    assert {f.path for f in run.trace.frames} == {str(tmp_path / "src" / "shop" / "pricing.py")}
    view = shop.task_view(run.id)
    assert view.record.trace == run.trace  # stored with the task
    d = view.to_dict()
    assert d["traceback"][1] == {"name": "shop.pricing.rate", "hash": rate_h, "line": 6,
                                 "path": str(tmp_path / "src" / "shop" / "pricing.py"),
                                 "text": 'return {"pen": 1.5}[item]'}
    assert d["traceback_hidden"] == run.trace.hidden


def test_library_frames_are_kept_without_a_hash_and_ucodes_are_hidden(shop: Codebase) -> None:
    run = shop.run_task("shop.pricing.parse", "{")
    got = frames(run.trace)
    assert got[0] == ("shop.pricing.parse", shop.resolve("shop.pricing.parse"), 17, "return json.loads(text)")
    assert all(h is None for _, h, _, _ in got[1:]) and got[-1][0].startswith("json.decoder.")
    assert run.trace is not None and all("/ucode/" not in f.path for f in run.trace.frames)


def test_a_coroutines_event_loop_is_not_the_users_code(shop: Codebase) -> None:
    run = shop.run_task("later", 0)
    assert [n for n, *_ in frames(run.trace)] == ["shop.pricing.later"]  # asyncio's frames: hidden


def test_module_code_and_a_rebound_older_revision_have_their_own_hashes(cb: Codebase, write: Write) -> None:
    path = write("m.py", "def f(x):\n    return 10 // x\n\n\ndef g(x):\n    return f(x)\n")
    cb.add([path])
    old = cb.resolve("m.f")
    write("m.py", "def f(x):\n    return 20 // x\n\n\ndef g(x):\n    return f(x)\n")
    cb.add([path])
    cb.bind("m.f", "#" + old)  # the older revision runs compiled on its own (`<ucode m.f #...>`)
    run = cb.run_task("g", 0)
    assert frames(run.trace) == [("m.g", cb.resolve("m.g"), 6, "return f(x)"), ("m.f", old, 2, "return 10 // x")]
    assert run.trace is not None and run.trace.frames[1].path == str(path)


def test_a_replay_of_a_failure_shows_where_it_raised(shop: Codebase) -> None:
    run = shop.run_task("quote", ["book"])
    rep = shop.replay(run.id)
    assert rep.result.identical and rep.result.error is not None
    assert frames(rep.trace) == frames(run.trace)  # the same frames, replayed
    out = rep.to_dict()
    assert [f["name"] for f in out["traceback"]] == ["shop.pricing.quote", "shop.pricing.rate"]
    ok = shop.run_task("quote", ["pen"])
    assert ok.trace is None and shop.replay(ok.id).to_dict()["traceback"] is None
    assert shop.task_view(ok.id).to_dict()["traceback"] is None


def test_a_secret_value_is_in_no_frame(shop: Codebase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TB_TOKEN", "sk-TRACEBACK-SECRET")
    run = shop.run_task("checked", "book")
    assert frames(run.trace)[-1][0] == "shop.pricing.rate"
    assert "sk-TRACEBACK-SECRET" not in repr(shop.task_view(run.id).to_dict())
    assert "sk-TRACEBACK-SECRET" not in repr(shop.task(run.id))


def test_a_record_without_a_trace_reads_as_no_traceback_recorded(shop: Codebase) -> None:
    run = shop.run_task("quote", ["book"])
    with shop.store.write() as txn:  # as an older ucode stored it: no `trace` key
        rec = stored.load_task(txn, run.id)
        assert rec is not None
        stored.save_task(txn, rec._replace(trace=None))
    assert "trace" not in shop.task(run.id)
    d: dict[str, Any] = shop.task_view(run.id).to_dict()
    assert d["traceback"] is None and d["error"]["type"] == "KeyError"
    assert TaskRecord.from_stored({"id": "t1", "entry": "m.f", "version": "v1", "position": 0, "args": [],
                                   "kwargs": {}, "status": "failed"}).trace is None


def test_the_trace_round_trips_through_its_stored_form() -> None:
    t = Trace((TraceFrame("m.f", "abc", "/x/m.py", 3, "return 1 // 0"),
               TraceFrame("json.loads", None, "j.py", 1, "")), 4)
    assert Trace.from_stored(t.to_stored()) == t
