"""The engine's life: a graceful stop (SIGTERM drains), a crash (SIGKILL loses no finished task) and the
restart that resumes what the crash interrupted; its CLI when no engine runs."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.engine.conftest import StartEngine, ucode_cli
from ucode.codebase import Codebase


def _quietly(fn: Any) -> Any:
    """``fn`` for a thread whose request the test cuts off (the engine is stopped or killed under it)."""
    def run() -> None:
        with contextlib.suppress(httpx.HTTPError):
            fn()
    return run


def _wait_in_flight(eng: Any, n: int) -> None:
    deadline = time.monotonic() + 10
    while eng.status()["in_flight"] < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert eng.status()["in_flight"] >= n


def test_sigterm_drains_tasks_in_flight_and_refuses_new_ones(start_engine: StartEngine) -> None:
    eng = start_engine()
    out: list[httpx.Response] = []
    t = threading.Thread(target=lambda: out.append(eng.run("slow", 1.0)))
    t.start()
    _wait_in_flight(eng, 1)
    eng.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with httpx.Client(base_url=eng.url, timeout=5) as c:  # a new connection: the socket is closed
        try:
            r = c.post("/v1/run/hello", json={}, headers=eng.auth)
            assert r.status_code == 503
        except httpx.ConnectError:
            pass
    t.join(30)
    assert out[0].status_code == 200 and out[0].json()["result"] == "v1"  # it finished, and was answered
    assert eng.proc.wait(30) == 0
    assert "ucode engine stopped: every task in flight finished" in eng.output()
    with Codebase(eng.store) as cb:
        assert cb.task(out[0].json()["task"])["status"] == "succeeded"
        assert cb.engine_record()["stopped"] is not None  # type: ignore[index]


def test_a_drain_timeout_leaves_the_rest_interrupted_and_listed(start_engine: StartEngine) -> None:
    eng = start_engine("--drain-timeout", "1")
    answer: list[httpx.Response] = []
    t = threading.Thread(target=_quietly(lambda: answer.append(eng.client.post(
        "/v1/run/slow", json={"args": [8]}, headers=eng.auth, timeout=30))), daemon=True)
    t.start()
    _wait_in_flight(eng, 1)
    tid = eng.status()["snapshots"][0]["tasks"][0]
    t0 = time.monotonic()
    eng.proc.send_signal(signal.SIGTERM)
    assert eng.proc.wait(30) == 1
    assert time.monotonic() - t0 < 4  # the drain timeout, once (not uvicorn's wait and then the engine's)
    t.join(10)
    # the request still waiting at the deadline was answered: a JSON 503 naming its task
    assert answer and answer[0].status_code == 503 and answer[0].json()["task"] == tid
    assert "left interrupted" in answer[0].json()["error"]["message"]
    assert f"still running, now interrupted (`ucode task resume ID`): {tid}" in eng.output()
    rows = json.loads(ucode_cli(eng.store, "task", "list", "--status", "interrupted", "--json").stdout)
    assert [r["id"] for r in rows] == [tid]


def test_sigkill_loses_no_finished_task_and_resume_finishes_the_interrupted(
        start_engine: StartEngine, tmp_path: Path) -> None:
    eng = start_engine("--workers", "4")
    marks = tmp_path / "marks.txt"
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=eng.url, timeout=10) as c:
            for _ in range(5000):
                if stop.is_set():
                    return
                try:
                    r = c.post("/v1/run/hello", json={}, headers=eng.auth)
                except httpx.HTTPError:
                    return  # the engine is gone
                if r.status_code == 200:
                    answered.append(r.json()["task"])

    clients = [threading.Thread(target=client) for _ in range(3)]
    for c in clients:
        c.start()
    long = threading.Thread(target=_quietly(lambda: eng.client.post(
        "/v1/run/steps", json={"args": [str(marks), 6, 150], "durability": "durable"}, headers=eng.auth,
        timeout=30)), daemon=True)
    long.start()
    deadline = time.monotonic() + 10
    while (not marks.exists() or len(marks.read_text().split()) < 3) and time.monotonic() < deadline:
        time.sleep(0.01)
    eng.proc.send_signal(signal.SIGKILL)  # mid-load, mid-task
    eng.proc.wait(10)
    stop.set()
    for c in clients:
        c.join(30)
    assert len(answered) > 10
    done_before = marks.read_text().split()
    with Codebase(eng.store) as cb:
        for tid in answered:  # every task that answered is there, finished
            assert cb.task(tid)["status"] == "succeeded", tid
        interrupted = [r["id"] for r in cb.task_list(status="interrupted")]
    assert interrupted  # the steps task at least

    # restart without --resume: listed, not resumed
    listed = start_engine()
    assert "task(s) earlier engines left interrupted (resume them with `ucode serve --resume`" in listed.output()
    assert set(listed.status()["interrupted"]) == set(interrupted)
    assert listed.stop() == 0
    # a later engine with --resume finishes them (the record remembers which engines left them)
    resumed = start_engine("--resume")
    deadline = time.monotonic() + 20
    while resumed.status()["interrupted"] and time.monotonic() < deadline:
        time.sleep(0.05)
    st = resumed.status()
    assert st["interrupted"] == [] and st["counters"]["resumed"] == len(interrupted)
    with Codebase(eng.store) as cb:
        for tid in interrupted:
            rec = cb.task(tid)
            assert rec["status"] == "succeeded" and rec["resumed"] is True
        steps = [t for t in interrupted if cb.task(t)["entry"] == "svc.steps"]
        assert len(steps) == 1
        assert cb.task(steps[0])["result"] == "v1"
        marks_events = [e for e in cb.task_events(steps[0]) if e["name"] == "svc.mark"]
        assert [e["args"][1] for e in marks_events] == list(range(6))
        assert not cb.verify().problems
    # the recorded marks were not performed again: each index once, except at most the one the kill cut off
    after = marks.read_text().split()
    assert sorted(set(after)) == [str(i) for i in range(6)]
    assert len(after) - 6 <= 1 and after[:len(done_before)] == done_before


def test_engine_commands_without_an_engine(svc_store: Path) -> None:
    res = ucode_cli(svc_store, "engine", "status", check=False)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "no engine is serving the store" in res.stderr and "ucode serve" in res.stderr


def test_serve_refuses_bad_endpoints_clearly(svc_store: Path, tmp_path: Path) -> None:
    for spec, message in (("GET /x=nosuchfn", "no name 'nosuchfn'"), ("FETCH /x=hello", "unknown method"),
                          ("GET /v1/x=hello", "the engine's own API"), ("GET x", "expected 'METHOD /path=function'")):
        res = ucode_cli(svc_store, "serve", "--port", "0", "--endpoint", spec, check=False)
        assert res.returncode == 1, res.stdout
        assert message in res.stderr and "Traceback" not in res.stderr, res.stderr
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("endpoints:\n  GET /x:\n    function: hello\n    colour: red\n")
    res = ucode_cli(svc_store, "serve", "--port", "0", "--config", str(cfg), check=False)
    assert res.returncode == 1 and "unknown setting 'colour'" in res.stderr


def test_a_second_engine_and_a_busy_port_are_clear_errors(start_engine: StartEngine, svc_store: Path,
                                                          tmp_path: Path) -> None:
    eng = start_engine()
    twice = ucode_cli(svc_store, "serve", "--port", "0", check=False)
    assert twice.returncode == 1 and f"an engine already serves the store at {svc_store}: pid {eng.proc.pid}" \
        in twice.stderr and "Traceback" not in twice.stderr
    other = tmp_path / "other"
    (tmp_path / "o.py").write_text("def f() -> int:\n    return 1\n")
    with Codebase(other) as cb:
        cb.add([tmp_path / "o.py"])
    port = eng.url.rsplit(":", 1)[1]
    res = ucode_cli(other, "serve", "--port", port, check=False)
    assert res.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in res.stderr
