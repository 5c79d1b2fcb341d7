"""Hot swap under live traffic, on a real engine: rebinding from another process while clients call,
tasks in flight finishing on their code, old snapshots dropped, purge, shadow and canary routes."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from tests.engine.conftest import StartEngine, ucode_cli
from ucode.codebase import Codebase


def _hashes(store: Any) -> dict[str, str]:
    with Codebase(store) as cb:
        return {v: cb.resolve("svc.which", version=v) for v in ("v1", "v2")}


def test_rebinding_under_load_drops_no_request(start_engine: StartEngine) -> None:
    eng = start_engine("--endpoint", "GET /hello=hello", "--workers", "4")
    h = _hashes(eng.store)
    stop = threading.Event()
    seen: list[tuple[int, str | None, str | None]] = []  # (status, version answered, task)
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=eng.url, timeout=30) as c:
            for _ in range(2000):  # bounded: the test stops it long before
                if stop.is_set():
                    return
                r = c.get("/hello")
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                with lock:
                    seen.append((r.status_code, (body.get("result") or {}).get("version"), body.get("task")))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for t in clients:
        t.start()
    # a slow task started on v1 code before the swaps: it finishes on v1
    slow = threading.Thread(target=lambda: seen_slow.append(eng.run("slow", 0.8).json()))
    seen_slow: list[dict[str, Any]] = []
    slow.start()
    deadline = time.monotonic() + 10
    while not any(s["version"] == "v1" and s["in_flight"] for s in eng.status()["snapshots"]) and \
            time.monotonic() < deadline:
        time.sleep(0.01)
    targets = ["v2", "v1", "v2", "v1", "v2"]
    for v in targets:  # another process rebinds, several times, under load
        ucode_cli(eng.store, "bind", "which", "#" + h[v])
        time.sleep(0.15)
    stop.set()
    for t in [*clients, slow]:
        t.join(30)
    assert seen and all(status == 200 for status, _, _ in seen), [s for s in seen if s[0] != 200][:5]
    versions = {v for _, v, _ in seen}
    assert versions == {"v1", "v2"}
    # every response's version is the code its task recorded
    with Codebase(eng.store) as cb:
        for _status, version, task in seen[:: max(1, len(seen) // 200)]:
            rec = cb.task(str(task))
            # hashes: the entry and what differs from the files (v1 is as added)
            assert rec["hashes"].get("svc.which", h["v1"]) == h[str(version)], (task, version)
    # the task in flight across the swaps finished on the code it started with
    assert seen_slow[0]["result"] == "v1"
    st = eng.status()
    assert st["counters"]["swaps"] >= len(targets)
    assert st["counters"]["snapshots_dropped"] >= 1
    assert st["in_flight"] == 0 and st["snapshots"] == []  # nothing holds old code any more
    assert all("first_task_ms" in s for s in st["swaps"][-len(targets):-1])


def test_a_swap_is_picked_up_within_100_ms(start_engine: StartEngine) -> None:
    eng = start_engine("--endpoint", "GET /hello=hello")
    h = _hashes(eng.store)
    assert eng.client.get("/hello").json()["result"]["version"] == "v1"
    ucode_cli(eng.store, "bind", "which", "#" + h["v2"])
    returned = time.monotonic()
    for _ in range(1000):
        if eng.client.get("/hello").json()["result"]["version"] == "v2":
            break
    waited = time.monotonic() - returned
    assert waited < 1.0  # generous here (a loaded CI machine); bench/ measures it: goal < 100 ms
    swap = eng.status()["swaps"][-1]
    assert swap["first_task_ms"] < 1000


def test_soft_purge_waits_for_old_tasks_and_brutal_ends_them(start_engine: StartEngine) -> None:
    eng = start_engine()
    h = _hashes(eng.store)
    out: dict[str, Any] = {}

    def call(name: str, key: str, seconds: float) -> None:
        with httpx.Client(base_url=eng.url, timeout=30) as c:
            out[key] = c.post(f"/v1/run/{name}", json={"args": [seconds]}, headers=eng.auth).json()

    old = threading.Thread(target=call, args=("slow", "soft", 2.5))
    old.start()
    deadline = time.monotonic() + 10
    while eng.status()["in_flight"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    ucode_cli(eng.store, "bind", "which", "#" + h["v2"])
    res = ucode_cli(eng.store, "engine", "purge", "--timeout", "10", "--json")
    import json

    soft = json.loads(res.stdout)
    old.join(30)
    assert soft["mode"] == "soft" and len(soft["old_tasks"]) == 1 and soft["remaining"] == []
    assert out["soft"]["result"] == "v1"  # it was let finish, on its code

    # brutal: a CPU-bound plain function and a coroutine on old code are ended, recorded as purged
    spin = threading.Thread(target=call, args=("spin", "spin", 20))
    coro = threading.Thread(target=call, args=("aslow", "aslow", 20))
    spin.start()
    coro.start()
    deadline = time.monotonic() + 10
    while eng.status()["in_flight"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    ucode_cli(eng.store, "bind", "which", "#" + h["v1"])
    t0 = time.monotonic()
    brutal = eng.client.post("/v1/engine/purge", json={"brutal": True, "timeout": 10}, headers=eng.auth).json()
    spin.join(30)
    coro.join(30)
    assert time.monotonic() - t0 < 10
    assert brutal["mode"] == "brutal" and len(brutal["old_tasks"]) == 2 and brutal["remaining"] == []
    for key in ("spin", "aslow"):
        assert out[key]["error"]["type"] == "TaskPurgedError", out[key]
        task = eng.client.get(f"/v1/tasks/{out[key]['task']}").json()
        assert task["status"] == "failed" and task["error"]["type"] == "TaskPurgedError"
    st = eng.status()
    assert st["counters"]["purged"] == 2 and st["snapshots"] == []
    assert eng.run("hello").status_code == 200  # the engine goes on


def test_shadow_and_canary_on_live_traffic(start_engine: StartEngine) -> None:
    eng = start_engine("--endpoint", "GET /hello/{name}=hello")
    ucode_cli(eng.store, "route", "shadow", "which", "--candidate", "v2")
    answers = [eng.client.get(f"/hello/u{i}").json()["result"]["version"] for i in range(20)]
    assert set(answers) == {"v1"}  # the primary answers
    deadline = time.monotonic() + 10
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        report = eng.client.get("/v1/routes/which/report").json()
        if report.get("shadowed", 0) + report.get("dropped", 0) >= 20 and report.get("diverged", 0) >= 1:
            break
        time.sleep(0.2)
    assert report["calls"] >= 20 and report["diverged"] >= 1  # v2's which answers "v2": a divergence
    # a canary of 50% (keyed by the task id: each request its own bucket): some of each, no request fails
    ucode_cli(eng.store, "route", "percent", "which", "--candidate", "v2", "--percent", "50")
    got = [eng.client.get(f"/hello/k{i}") for i in range(40)]
    assert all(r.status_code == 200 for r in got)
    assert {r.json()["result"]["version"] for r in got} == {"v1", "v2"}
    with Codebase(eng.store) as cb:  # each task recorded the decision it got
        decided = [[e for e in cb.task_events(r.json()["task"]) if e["name"] == "route"] for r in got[:5]]
    assert all(len(d) == 1 for d in decided)
