"""The engine's HTTP API on a real server on loopback: running, tasks, names, routes, errors, security."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import httpx

from tests.engine.conftest import StartEngine, ucode_cli
from ucode.codebase import Codebase


def test_run_answers_the_result_and_records_the_task(start_engine: StartEngine) -> None:
    eng = start_engine()
    r = eng.run("hello", "ada")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"] == {"hello": "ada", "version": "v1"}
    assert r.headers["X-Ucode-Task"] == body["task"]
    # GET /v1/tasks/{id} is `ucode task show ID --json`, field for field
    shown = eng.client.get(f"/v1/tasks/{body['task']}").json()
    cli = json.loads(ucode_cli(eng.store, "task", "show", body["task"], "--json").stdout)
    assert shown == cli
    assert shown["status"] == "succeeded" and shown["name"] == "svc.hello"


def test_run_with_kwargs_and_version(start_engine: StartEngine) -> None:
    eng = start_engine()
    r = eng.client.post("/v1/run/hello", json={"kwargs": {"name": "bo"}, "version": "v2"}, headers=eng.auth)
    assert r.json()["result"] == {"hello": "bo", "version": "v2"}
    task = eng.client.get(f"/v1/tasks/{r.json()['task']}").json()
    assert task["version"] == "v2"


def test_a_failing_function_is_a_500_with_the_task_and_its_traceback(start_engine: StartEngine) -> None:
    eng = start_engine()
    r = eng.run("fail", "boom")
    assert r.status_code == 500
    body = r.json()
    assert body["error"]["type"] == "ValueError" and body["error"]["message"] == "boom"
    assert body["traceback"][-1]["name"] == "svc.fail"
    cli = ucode_cli(eng.store, "run", "fail", '"boom"', "--json", check=False)
    assert cli.returncode == 1
    assert json.loads(cli.stdout)["error"] == {**body["error"], "traceback": body["error"]["traceback"]}
    assert eng.client.get(f"/v1/tasks/{body['task']}").json()["status"] == "failed"


def test_wait_false_answers_202_with_the_task_at_once(start_engine: StartEngine) -> None:
    eng = start_engine()
    t0 = time.monotonic()
    r = eng.client.post("/v1/run/slow", json={"args": [0.5], "wait": False}, headers=eng.auth)
    assert r.status_code == 202 and time.monotonic() - t0 < 0.45
    tid = r.json()["task"]
    assert r.headers["Location"] == f"/v1/tasks/{tid}"
    assert eng.client.get(f"/v1/tasks/{tid}").json()["status"] == "running"
    deadline = time.monotonic() + 10
    while eng.client.get(f"/v1/tasks/{tid}").json()["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    task = eng.client.get(f"/v1/tasks/{tid}").json()
    assert task["status"] == "succeeded" and task["result"] == "v1"


def test_the_task_stream_sends_each_effect_then_the_end(start_engine: StartEngine) -> None:
    eng = start_engine()
    tid = eng.client.post("/v1/run/slow", json={"args": [0.3], "wait": False}, headers=eng.auth).json()["task"]
    kinds, data = [], []
    with eng.client.stream("GET", f"/v1/tasks/{tid}/stream") as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("event: "):
                kinds.append(line.removeprefix("event: "))
            elif line.startswith("data: "):
                data.append(json.loads(line.removeprefix("data: ")))
    assert kinds == ["effect", "end"]
    assert data[0]["name"] == "svc.io" and data[1]["status"] == "succeeded"


def test_the_tasks_stream_sends_tasks_as_they_start_and_end(start_engine: StartEngine) -> None:
    eng = start_engine()
    got: list[tuple[str, str]] = []

    def listen() -> None:
        with httpx.Client(base_url=eng.url, timeout=30) as c, c.stream("GET", "/v1/tasks/stream") as resp:
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    row = json.loads(line.removeprefix("data: "))
                    got.append((row["name"], row["status"]))
                    if len(got) == 3:
                        return

    t = threading.Thread(target=listen)
    t.start()
    time.sleep(0.3)
    eng.client.post("/v1/run/slow", json={"args": [0.5], "wait": False}, headers=eng.auth)
    time.sleep(0.3)
    eng.run("fail", "x")
    t.join(20)
    assert ("svc.slow", "running") in got and ("svc.fail", "failed") in got
    assert len(got) == 3


def test_tasks_list_names_versions_history_are_the_cli_json(start_engine: StartEngine) -> None:
    eng = start_engine()
    eng.run("hello")
    eng.run("fail", "x")
    for path, argv in (("/v1/tasks?limit=5", ["task", "list", "-n", "5"]),
                       ("/v1/tasks?status=failed", ["task", "list", "--status", "failed"]),
                       ("/v1/names?prefix=svc", ["ls", "svc"]), ("/v1/versions", ["versions"]),
                       ("/v1/history?limit=3", ["history"]), ("/v1/names/svc.hello", ["view", "svc.hello"])):
        got = eng.client.get(path).json()
        want = json.loads(ucode_cli(eng.store, *argv, "--json").stdout)
        if argv == ["history"]:
            want = want[:3]
        assert got == want, path


def test_bind_and_undo_through_the_api_switch_what_runs(start_engine: StartEngine) -> None:
    eng = start_engine()
    with Codebase(eng.store) as cb:
        v2 = cb.resolve("svc.which", version="v2")
    r = eng.client.post("/v1/bind", json={"name": "which", "target": "#" + v2}, headers=eng.auth)
    assert r.status_code == 200, r.text
    assert [(e["name"], e["new"]) for e in r.json()] == [("svc.which", v2)]
    assert eng.run("hello").json()["result"]["version"] == "v2"  # the next task: no wait for the watcher
    u = eng.client.post("/v1/undo", headers=eng.auth)
    assert u.status_code == 200 and u.json()["undone_op"] == r.json()[0]["op"]
    assert eng.run("hello").json()["result"]["version"] == "v1"
    assert eng.client.post("/v1/bind", json={"name": "nothere", "target": "#" + v2}, headers=eng.auth
                           ).status_code == 404


def test_replay_through_the_api_with_a_swap(start_engine: StartEngine) -> None:
    eng = start_engine()
    tid = eng.run("hello", "z").json()["task"]
    same = eng.client.post(f"/v1/tasks/{tid}/replay", json={}).json()
    assert same["identical"] is True
    swapped = eng.client.post(f"/v1/tasks/{tid}/replay", json={"use": {"which": "v2"}}).json()
    assert swapped["identical"] is False and swapped["result"] == {"hello": "z", "version": "v2"}
    assert swapped == json.loads(ucode_cli(eng.store, "task", "replay", tid, "--use", "which=v2", "--json",
                                           check=False).stdout)


def test_routes_through_the_api(start_engine: StartEngine) -> None:
    eng = start_engine()
    r = eng.client.post("/v1/routes/which", json={"mode": "percent", "candidate": "v2", "percent": 100},
                        headers=eng.auth)
    assert r.status_code == 200, r.text
    assert eng.run("hello").json()["result"]["version"] == "v2"  # a canary of 100%
    assert [v["name"] for v in eng.client.get("/v1/routes").json()] == ["svc.which"]
    assert eng.client.get("/v1/routes/which").json()["mode"] == "percent"
    assert eng.client.delete("/v1/routes/which", headers=eng.auth).status_code == 200
    assert eng.run("hello").json()["result"]["version"] == "v1"
    bad = eng.client.post("/v1/routes/which", json={"mode": "sometimes"}, headers=eng.auth)
    assert bad.status_code == 400 and "unknown route mode" in bad.json()["error"]


def test_user_endpoints_map_path_query_and_body(start_engine: StartEngine) -> None:
    eng = start_engine("--endpoint", "GET /users/{user_id:int}=handle",
                       "--endpoint", "POST /users/{user_id:int}/req=handle")
    r = eng.client.get("/users/7?verbose=true")
    assert r.status_code == 200, r.text
    assert r.json()["result"] == {"user_id": 7, "verbose": True, "request": None, "version": "v1"}
    r = eng.client.post("/users/7/req", json={"request": {"a": 1}})
    assert r.json()["result"]["request"] == {"a": 1}
    assert eng.client.get("/users/x").status_code == 404  # not an int: no such path
    twice = eng.client.get("/users/7?user_id=8")
    assert twice.status_code == 400 and "given twice" in twice.json()["error"]
    wrong = eng.client.get("/users/7?colour=red")
    assert wrong.status_code == 422 and "unexpected keyword argument 'colour'" in wrong.json()["error"]
    assert eng.client.post("/users/7/req", content=b"[1]").status_code == 400
    # user endpoints are the app's own: no token needed, and they are tasks like any other
    assert eng.client.get(f"/v1/tasks/{r.json()['task']}").json()["name"] == "svc.handle"


def test_endpoints_from_a_config_file(start_engine: StartEngine, tmp_path: Path) -> None:
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("endpoints:\n  POST /h:\n    function: handle\n    body: request\n    version: v2\n"
                   "  GET /hi: hello\n")
    eng = start_engine("--config", str(cfg))
    r = eng.client.post("/h?user_id=3", json=[1, 2])
    assert r.json()["result"] == {"user_id": 3, "verbose": False, "request": [1, 2], "version": "v2"}
    assert eng.client.get("/hi").json()["result"]["version"] == "v1"
    doc = eng.client.get("/v1/openapi.json").json()
    assert "/h" in doc["paths"] and "/hi" in doc["paths"]


def test_errors_are_4xx_with_the_cli_messages(start_engine: StartEngine) -> None:
    eng = start_engine("--max-body", "1000")
    unknown = eng.run("nope")
    cli = json.loads(ucode_cli(eng.store, "run", "nope", "--json", check=False).stdout)
    assert unknown.status_code == 404 and unknown.json() == cli
    wrong = eng.run("hello", 1, 2, 3)
    cli = json.loads(ucode_cli(eng.store, "run", "hello", "1", "2", "3", "--json", check=False).stdout)
    assert wrong.status_code == 422 and wrong.json() == cli
    bad = eng.client.post("/v1/run/hello", content=b"{nope", headers=eng.auth)
    assert bad.status_code == 400 and bad.json()["error"].startswith("the request body is not JSON")
    shape = eng.client.post("/v1/run/hello", json={"args": "ada"}, headers=eng.auth)
    assert shape.status_code == 400 and "'args' must be a list" in shape.json()["error"]
    big = eng.client.post("/v1/run/hello", json={"args": ["x" * 2000]}, headers=eng.auth)
    assert big.status_code == 413 and "more than the limit of 1000" in big.json()["error"]
    missing = eng.client.get("/v1/tasks/tzzzzzzzz")
    assert missing.status_code == 404 and "hint" in missing.json()
    path = eng.client.get("/v1/nothing")
    assert path.status_code == 404 and "openapi" in path.json()["hint"]
    assert eng.client.delete("/v1/engine").status_code == 405


def test_the_token_guards_every_write_and_run(start_engine: StartEngine) -> None:
    eng = start_engine()
    for method, path in (("POST", "/v1/run/hello"), ("POST", "/v1/bind"), ("POST", "/v1/undo"),
                         ("POST", "/v1/routes/which"), ("DELETE", "/v1/routes/which"),
                         ("POST", "/v1/engine/purge")):
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {eng.token}"}):
            r = eng.client.request(method, path, json={}, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json()["hint"].startswith("send `Authorization: Bearer TOKEN`")
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert eng.client.get("/v1/engine").status_code == 200  # reads are open on loopback
    # the token file is the owner's only, and `ucode engine token` prints it
    mode = stat.S_IMODE(os.stat(eng.store / "engine.token").st_mode)
    assert mode == 0o600
    assert ucode_cli(eng.store, "engine", "token").stdout.strip() == eng.token


def test_beyond_loopback_every_endpoint_needs_the_token(start_engine: StartEngine) -> None:
    eng = start_engine("--host", "0.0.0.0")
    assert "every /v1/ endpoint needs the token" in eng.output()
    base = eng.url.replace("0.0.0.0", "127.0.0.1")
    with httpx.Client(base_url=base) as c:
        assert c.get("/v1/engine").status_code == 401
        assert c.get("/v1/engine", headers=eng.auth).status_code == 200


def test_secrets_stay_redacted_in_every_response(start_engine: StartEngine) -> None:
    eng = start_engine(env={"SVC_SECRET": "hunter2-very-secret"})
    r = eng.run("secret_len")
    assert r.json()["result"] == len("hunter2-very-secret")
    tid = r.json()["task"]
    for path in (f"/v1/tasks/{tid}", f"/v1/tasks/{tid}/events"):
        text = eng.client.get(path).text
        assert "hunter2" not in text and "<secret>" in text


def test_a_full_engine_answers_503_with_retry_after(start_engine: StartEngine) -> None:
    eng = start_engine("--max-in-flight", "2", "--workers", "4")
    results: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=eng.url, timeout=30) as c:
            results.append(c.post("/v1/run/slow", json={"args": [0.6]}, headers=eng.auth).status_code)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while eng.status()["in_flight"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    refused = eng.run("hello")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert "its limit" in refused.json()["error"] and "--max-in-flight" in refused.json()["hint"]
    for t in threads:
        t.join(30)
    assert results == [200, 200]
    assert eng.status()["counters"]["rejected"] == 1
    assert eng.run("hello").status_code == 200  # room again


def test_async_functions_run_on_the_loop_each_with_its_own_handler(start_engine: StartEngine) -> None:
    eng = start_engine("--workers", "1")
    out: dict[str, dict[str, object]] = {}

    def call(tag: str) -> None:
        with httpx.Client(base_url=eng.url, timeout=30) as c:
            out[tag] = c.post("/v1/run/tagged", json={"args": [tag]}, headers=eng.auth).json()

    threads = [threading.Thread(target=call, args=(f"t{i}",)) for i in range(12)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert time.monotonic() - t0 < 5
    for tag, body in out.items():
        assert body["result"]["tag"] == tag and body["result"]["task"] == body["task"]
        events = eng.client.get(f"/v1/tasks/{body['task']}/events").json()
        assert [e["name"] for e in events] == ["log", "random.randint", "log"]
        assert all(tag in json.dumps(e["args"]) + json.dumps(e["kwargs"]) for e in events if e["name"] == "log")
        assert events[1]["result"] == body["result"]["r"]
        assert eng.client.post(f"/v1/tasks/{body['task']}/replay", json={}).json()["identical"] is True


def test_the_openapi_description_covers_the_api_table(start_engine: StartEngine) -> None:
    from ucode.engine._http import API

    eng = start_engine()
    doc = eng.client.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for method, path, token, handler in API:
        op = doc["paths"][path][method.lower()]
        assert op["operationId"] == handler.__name__
        assert ("security" in op) is token
        assert op["summary"]


def test_engine_status_through_the_cli(start_engine: StartEngine) -> None:
    eng = start_engine()
    eng.run("hello")
    st = json.loads(ucode_cli(eng.store, "engine", "status", "--json").stdout)
    assert st["pid"] == eng.proc.pid and st["counters"]["succeeded"] == 1
    text = ucode_cli(eng.store, "engine", "status").stdout
    assert f"engine pid {eng.proc.pid}" in text and "counters: accepted 1" in text
