"""The engine's parts without a server: group commit, endpoint mappings, the token file, the replayed task id."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ucode import errors
from ucode.codebase import Codebase
from ucode.engine._endpoints import Endpoint, arguments, load_file, parse_spec
from ucode.store import Store
from ucode.store import tasks as stored
from ucode.store.secrets import TOKEN_ENV, load_token
from ucode.tasks import GroupCommit

# ------------------------------------------------------------------------------------ group commit


def test_group_commit_shares_transactions_and_commits_before_answering(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    gc = GroupCommit(store)
    done: list[int] = []

    def writer(i: int) -> None:
        for j in range(20):
            gc.submit(lambda txn, k=f"{i}-{j}": txn.put("meta", k.encode(), b"x")).result()
            with store.read() as txn:  # once the future is done, the write is there
                assert txn.get("meta", f"{i}-{j}".encode()) == b"x"
        done.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(done) == list(range(8)) and gc.writes == 160
    assert gc.commits < gc.writes  # concurrent writers shared transactions
    gc.close()
    store.close()


def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s")
    gc = GroupCommit(store)
    gate = threading.Event()
    blocker = gc.submit(lambda txn: gate.wait(5))  # holds the committer, so the next three form one group
    good1 = gc.submit(lambda txn: txn.put("meta", b"a", b"1"))

    def bad(txn: object) -> None:
        raise ValueError("no")

    failing = gc.submit(bad)
    good2 = gc.submit(lambda txn: txn.put("meta", b"b", b"2"))
    gate.set()
    blocker.result(5)
    good1.result(5)
    good2.result(5)
    with pytest.raises(ValueError, match="no"):
        failing.result(5)
    with store.read() as txn:
        assert (txn.get("meta", b"a"), txn.get("meta", b"b")) == (b"1", b"2")
    gc.close()
    late = gc.submit(lambda txn: txn.put("meta", b"c", b"3"))  # after close: written directly
    assert late.done()
    store.close()


def test_tasks_through_group_commit_are_recorded(tmp_path: Path) -> None:
    src = tmp_path / "app.py"
    src.write_text("from ucode import effects\n\ndef f(x: int) -> int:\n    return x + effects.randint(1, 9)\n")
    with Codebase(tmp_path / "s") as cb:
        cb.add([src])
        cb.group_commit()
        runs = [cb.execute("f", [i], {}) for i in range(5)]
        for r in runs:
            rec = cb.task(r.id)
            assert rec["status"] == "succeeded" and len(cb.task_events(r.id)) == 1
            assert cb.replay(r.id).result.identical


# --------------------------------------------------------------------------------- endpoints


def test_endpoint_specs() -> None:
    ep = parse_spec("GET /users/{user_id:int}=lookupUser@v2")
    assert ep == Endpoint("GET", "/users/{user_id:int}", "lookupUser", "v2", None, ep.where)
    assert ep.params == ["user_id"]
    assert parse_spec("post /h=handleRequest").method == "POST"
    for bad, message in (("GET /x", "expected 'METHOD /path=function'"), ("BREW /x=f", "unknown method"),
                         ("GET x=f", "is not a path"), ("GET /v1/run=f", "the engine's own API"),
                         ("GET /a/{b:bool}=f", "converters"), ("GET /{a}/{a}=f", "names a parameter twice"),
                         ("GET /a=", "is not a function name")):
        with pytest.raises(errors.EndpointConfigError, match=message):
            parse_spec(bad)


def test_endpoint_files(tmp_path: Path) -> None:
    f = tmp_path / "serve.yaml"
    f.write_text("endpoints:\n  GET /a: fa\n  POST /b:\n    function: fb\n    body: req\n    version: v3\n")
    assert [(e.method, e.path, e.function, e.version, e.body) for e in load_file(f)] == [
        ("GET", "/a", "fa", None, None), ("POST", "/b", "fb", "v3", "req")]
    for text, message in (("endpoints: [1]", "expected a mapping `endpoints:`"),
                          ("endpoints:\n  GET /a:\n    body: x\n", "with `function:`"),
                          ("endpoints:\n  /a: f\n", "expected a key 'METHOD /path'"),
                          ("endpoints:\n\tGET /a: f\n", "not YAML")):
        f.write_text(text)
        with pytest.raises(errors.EndpointConfigError, match=message) as info:
            load_file(f)
        assert str(f) in info.value.message
    with pytest.raises(errors.EndpointConfigError, match="cannot be read"):
        load_file(tmp_path / "missing.yaml")


def test_arguments_come_from_path_query_and_body() -> None:
    ep = Endpoint("POST", "/u/{uid:int}", "f")
    assert arguments(ep, {"uid": 3}, [("n", "2"), ("q", "text"), ("flag", "true")], {"x": [1]}) == {
        "uid": 3, "n": 2, "q": "text", "flag": True, "x": [1]}
    assert arguments(Endpoint("POST", "/u", "f", body="req"), {}, [], [1, 2]) == {"req": [1, 2]}
    with pytest.raises(errors.InvalidRequestError, match="given twice"):
        arguments(ep, {"uid": 3}, [("uid", "4")], None)
    with pytest.raises(errors.InvalidRequestError, match="`body: PARAM`"):
        arguments(ep, {"uid": 3}, [], [1])


@given(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                       st.one_of(st.integers(), st.booleans(), st.text(max_size=10), st.none()), max_size=5))
def test_a_json_body_object_is_the_keyword_arguments(body: dict[str, object]) -> None:
    assert arguments(Endpoint("POST", "/x", "f"), {}, [], body) == body


# ------------------------------------------------------------------------------------- token


def test_the_token_file_is_made_once_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert load_token(tmp_path, create=False) is None
    token = load_token(tmp_path)
    assert token is not None and len(token) == 64
    assert stat.S_IMODE(os.stat(tmp_path / "engine.token").st_mode) == 0o600
    assert load_token(tmp_path) == token
    os.chmod(tmp_path / "engine.token", 0o644)
    with pytest.raises(errors.EngineTokenError, match="others may read it"):
        load_token(tmp_path)
    monkeypatch.setenv(TOKEN_ENV, "x" * 40)
    assert load_token(tmp_path) == "x" * 40  # the environment wins
    monkeypatch.setenv(TOKEN_ENV, "short")
    with pytest.raises(errors.EngineTokenError, match=r"the engine's token \(UCODE_ENGINE_TOKEN\) cannot be used"):
        load_token(tmp_path)


def test_a_store_in_memory_has_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert Codebase.in_memory().engine_token() is None


# ----------------------------------------------------------------------------- replayed task id


def test_a_replay_runs_as_the_task_it_replays(tmp_path: Path) -> None:
    src = tmp_path / "app.py"
    src.write_text("from ucode import effects\n\ndef me() -> str | None:\n    return effects.current_task()\n")
    with Codebase(tmp_path / "s") as cb:
        cb.add([src])
        run = cb.run_task("me")
        assert run.result == run.id
        assert cb.replay(run.id).result.identical
        with cb.store.read() as txn:
            assert stored.load_task(txn, run.id) is not None
