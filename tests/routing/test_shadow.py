"""Shadow routes through the API: the primary answers, the candidate runs in a sandbox and is compared."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.conftest import EXAMPLES
from tests.routing.conftest import V1
from ucode import errors
from ucode.codebase import Codebase

Routed = Callable[..., Codebase]

SAME = V1.replace('"user%d" % user_id', '"user" + str(user_id)')  # another hash, the same behavior
DIFFERENT = V1.replace('"user%d" % user_id', '("USER%d" if user_id == 2 else "user%d") % user_id')


def test_a_matching_candidate_matches_and_the_caller_sees_the_primary(routed: Routed) -> None:
    cb = routed(SAME)
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    results = [cb.run("handleRequest", {"user_id": i}) for i in (1, 2, 3)]
    assert results == [{"user": "user1"}, {"user": "user2"}, {"user": "user3"}]
    assert cb.drain_shadows() == 0
    rep = cb.route_report("lookupUser")
    assert (rep["calls"], rep["shadowed"], rep["matched"], rep["diverged"], rep["candidate_errors"]) == (3, 3, 3, 0, 0)
    assert rep["divergences"] == []


def test_ignore_rules_decide_what_is_compared(routed: Routed) -> None:
    cb = routed(SAME.replace('effects.now().isoformat()', '"never"'))
    cb.route_shadow("lookupUser", "v2")  # fetched_at differs: the candidate does not read the time
    cb.run("handleRequest", {"user_id": 1})
    cb.drain_shadows()
    assert cb.route_report("lookupUser")["diverged"] == 1
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])  # a new revision: counters start again
    cb.run("handleRequest", {"user_id": 1})
    cb.drain_shadows()
    rep = cb.route_report("lookupUser")
    assert (rep["shadowed"], rep["matched"]) == (1, 1)


def test_a_diverging_candidate_is_recorded_and_a_replay_with_it_agrees(routed: Routed) -> None:
    cb = routed(DIFFERENT)
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    tasks = {i: cb.run_task("handleRequest", {"user_id": i}).id for i in (1, 2)}
    cb.drain_shadows()
    rep = cb.route_report("lookupUser")
    assert (rep["matched"], rep["diverged"]) == (1, 1)
    [d] = rep["divergences"]
    assert d["task"] == tasks[2] and d["args"] == [2] and d["kinds"] == ["result"]
    full = cb.divergence(d["id"])
    assert full["primary"]["result"]["name"] == "user2" and full["candidate"]["result"]["name"] == "USER2"
    assert "-" in full["diff"] and "USER2" in full["diff"]
    assert full["primary"]["duration"] > 0 and full["candidate"]["duration"] > 0
    # replay + swap reproduces it; the matching call's task replays identically with the candidate too
    assert cb.replay(tasks[2], use={"lookupUser": "v2"}).change == "different result"
    assert cb.replay(tasks[1], use={"lookupUser": "v2"}).change == "identical"
    assert cb.replay(tasks[2]).change == "identical"  # a replay starts no shadow runs
    cb.drain_shadows()
    assert cb.route_report("lookupUser")["shadowed"] == 2


def test_classes_of_two_versions_with_equal_fields_compare_equal(routed: Routed) -> None:
    v1 = "from dataclasses import dataclass\n\n@dataclass\nclass User:\n    id: int\n\n" \
         "def lookupUser(user_id: int) -> User:\n    return User(user_id)\n"
    cb = routed(v1.replace("return User(user_id)", "return User(id=user_id)"), v1=v1)
    cb.route_shadow("lookupUser", "v2")
    assert cb.run("lookupUser", 4).id == 4
    cb.drain_shadows()
    assert cb.route_report("lookupUser")["matched"] == 1


def test_a_candidate_that_raises_is_a_candidate_error(routed: Routed) -> None:
    cb = routed(V1.replace('    effects.log("lookup", user_id=user_id)\n',
                           '    if user_id == 2:\n        raise ValueError("bad user")\n'))
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    assert cb.run("handleRequest", {"user_id": 2}) == {"user": "user2"}  # the caller never sees it
    cb.drain_shadows()
    rep = cb.route_report("lookupUser")
    assert (rep["candidate_errors"], rep["diverged"]) == (1, 1)
    d = cb.divergence(rep["divergences"][0]["id"])
    assert d["candidate"]["error"]["type"] == "ValueError" and d["primary"]["error"] is None


def test_both_raising_the_same_error_is_a_match(routed: Routed) -> None:
    raising = V1.replace('    effects.log("lookup", user_id=user_id)\n',
                         '    if user_id < 0:\n        raise KeyError(f"no user {user_id}")\n')
    cb = routed(raising.replace('"user%d" % user_id', '"user" + str(user_id)'), v1=raising)
    cb.route_shadow("lookupUser", "v2")
    with pytest.raises(KeyError):
        cb.run("lookupUser", -1)
    cb.drain_shadows()
    rep = cb.route_report("lookupUser")
    assert (rep["shadowed"], rep["matched"], rep["primary_errors"], rep["candidate_errors"]) == (1, 1, 1, 0)


def test_a_candidate_never_writes_and_what_it_would_write_diverges(routed: Routed) -> None:
    writes = V1.replace('    effects.log("lookup", user_id=user_id)\n',
                        '    effects.state.put("last", user_id)\n'
                        '    effects.http.post("http://127.0.0.1:9/audit", json={"user": user_id})\n')
    cb = routed(writes)
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    cb.run("handleRequest", {"user_id": 7})
    cb.drain_shadows()
    assert cb.state_get("last") is None  # not written: the candidate's state.put was withheld
    rep = cb.route_report("lookupUser")
    # the same value, but other writes: diverged; the http.post was never performed (it would have failed)
    assert (rep["diverged"], rep["candidate_errors"]) == (1, 0)
    d = cb.divergence(rep["divergences"][0]["id"])
    assert d["kinds"] == ["writes"]
    hows = {e["name"]: e["how"] for e in d["candidate"]["effects"]}
    assert hows == {"state.put": "withheld", "http.post": "withheld", "time.now": "served"}
    assert "state.put('last', 7)" in d["effects_diff"]


def test_writes_the_primary_made_are_served_not_made_again(routed: Routed) -> None:
    v1 = V1.replace('    effects.log("lookup", user_id=user_id)\n', '    effects.state.put("count", user_id)\n')
    cb = routed(v1.replace('"user%d" % user_id', '"user" + str(user_id)'), v1=v1)
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    cb.run("handleRequest", {"user_id": 3})
    cb.drain_shadows()
    assert cb.state_at() == {"count": 3}
    with cb.store.read() as txn:
        from ucode.store import state as stored_state

        assert len(list(stored_state.state_log(txn))) == 1  # written once: by the primary
    rep = cb.route_report("lookupUser")
    assert rep["matched"] == 1


def test_reads_the_primary_did_not_make_are_performed_or_refused(routed: Routed) -> None:
    reads = V1.replace('    effects.log("lookup", user_id=user_id)\n', '    effects.env("HOME")\n')
    cb = routed(reads)
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    cb.run("lookupUser", 1)
    cb.drain_shadows()
    assert cb.route_report("lookupUser")["matched"] == 1
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"], reads="refuse")
    cb.run("lookupUser", 1)
    cb.drain_shadows()
    rep = cb.route_report("lookupUser")
    assert rep["candidate_errors"] == 1
    d = cb.divergence(rep["divergences"][0]["id"])
    assert d["candidate"]["error"]["type"] == "ShadowReadRefusedError"


def test_the_caller_does_not_wait_for_the_shadow(routed: Routed) -> None:
    cb = routed(V1.replace('    effects.log("lookup", user_id=user_id)\n', '    import time\n    time.sleep(0.5)\n'))
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    t0 = time.perf_counter()
    cb.run("lookupUser", 1)
    assert cb.route_report("lookupUser")["shadowed"] == 0  # still running in the background
    assert time.perf_counter() - t0 < 0.5
    cb.drain_shadows()
    assert cb.route_report("lookupUser")["shadowed"] == 1


def test_shadows_are_dropped_and_counted_when_the_worker_falls_behind(routed: Routed) -> None:
    cb = routed(V1.replace('    effects.log("lookup", user_id=user_id)\n', '    import time\n    time.sleep(0.2)\n'))
    cb.runtime  # noqa: B018 (makes the route hook)
    assert cb._router is not None
    cb._router.get().capacity = 1
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    runs = [cb.run_task("lookupUser", i) for i in range(5)]
    cb.drain_shadows()
    rep = cb.route_report("lookupUser")
    assert rep["calls"] == 5 and rep["dropped"] >= 2 and rep["shadowed"] + rep["dropped"] == 5
    # each task's log says what became of its shadow run, and replays take it as recorded
    notes = [[e["result"] for e in cb.task_events(r.id) if e["name"] == "route.shadow"] for r in runs]
    assert sorted(n for [n] in notes) == sorted(["queued"] * rep["shadowed"] + ["dropped"] * rep["dropped"])
    assert all(cb.replay(r.id).change == "identical" for r in runs)


def test_a_version_2_that_wraps_version_1_does_not_call_itself(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.add([EXAMPLES / "app_v2.py"], version="v2")
    cb.bind("lookupUser@v2", "#" + cb.resolve("lookupUserV2@v2"))
    cb.route_shadow("lookupUser", "v2")
    assert cb.run("handleRequest", {"user_id": 1})["user"] == "Ada"
    cb.drain_shadows()
    rep = cb.route_report("lookupUser")
    assert (rep["shadowed"], rep["matched"]) == (1, 1)


def test_unrouted_names_are_plain_functions(routed: Routed) -> None:
    cb = routed(SAME)
    plain = cb.function("lookupUser")
    assert not hasattr(plain, "__ucode_route__")
    cb.route_shadow("lookupUser", "v2")
    routed_fn = cb.function("lookupUser")
    assert routed_fn.__ucode_route__.mode == "shadow"
    assert cb.function("handleRequest").__globals__["lookupUser"] is routed_fn  # callers go through it
    cb.route_clear("lookupUser")
    assert not hasattr(cb.function("lookupUser"), "__ucode_route__")


def test_routing_a_name_that_is_not_a_function_or_not_bound(routed: Routed) -> None:
    cb = routed(SAME + "\nLIMIT = 3\n")
    with pytest.raises(errors.RouteError, match="no function nosuch"):
        cb.route_shadow("nosuch", "v2")
    with pytest.raises(errors.RouteError, match="there is no version 'v9'"):
        cb.route_shadow("lookupUser", "v9")
    cb.create_version("empty")
    cb.unbind("app.lookupUser@empty")
    with pytest.raises(errors.RouteError, match=r"version empty does not bind app\.lookupUser"):
        cb.route_shadow("lookupUser", "empty")
    with pytest.raises(errors.RouteError, match="percent must be"):
        cb.route_percent("lookupUser", "v2", 101)
    with pytest.raises(errors.RouteError, match="not a parameter"):
        cb.route_percent("lookupUser", "v2", 10, key="uid")
    assert cb.routes() == []  # nothing was written


def test_a_candidate_with_other_parameters_is_a_warning(routed: Routed) -> None:
    cb = routed(V1.replace("def lookupUser(user_id: int)", "def lookupUser(user_id: int, verbose: bool = False)"))
    change = cb.route_shadow("lookupUser", "v2")
    [w] = change.warnings
    assert "only the candidate takes verbose" in w


def test_replays_are_not_counted_and_a_fixed_candidate_starts_its_counters_again(routed: Routed,
                                                                                  write: Callable[..., object]) -> None:
    cb = routed(DIFFERENT)
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    tid = cb.run_task("handleRequest", {"user_id": 2}).id
    cb.drain_shadows()
    cb.replay(tid)
    cb.replay(tid, use={"lookupUser": "v2"})
    rep = cb.route_report("lookupUser")
    assert (rep["calls"], rep["shadowed"], rep["diverged"]) == (1, 1, 1)
    cb.add([write("v2/app.py", SAME)], version="v2")  # the fix: v2 is bound to another hash
    rep = cb.route_report("lookupUser")
    assert (rep["calls"], rep["shadowed"], rep["divergences"]) == (0, 0, [])
    cb.run("handleRequest", {"user_id": 2})
    cb.drain_shadows()
    rep = cb.route_report("lookupUser")
    assert (rep["calls"], rep["matched"], rep["diverged"]) == (1, 1, 0)


def test_the_candidate_runs_as_promote_and_replay_would_run_it(routed: Routed) -> None:
    """A candidate that needs a module-level name only its own version has fails in the shadow run as it
    would in a replay with it swapped in, and once promoted: all three run its definition bound in the
    caller's version."""
    cb = routed("PLANS = {2: 'gold'}\n\n" + V1.replace('"user%d" % user_id', 'PLANS.get(user_id, "x")'))
    cb.route_shadow("lookupUser", "v2", ignore=["fetched_at"])
    tid = cb.run_task("handleRequest", {"user_id": 2}).id
    cb.drain_shadows()
    d = cb.divergence(cb.route_report("lookupUser")["divergences"][0]["id"])
    assert d["candidate"]["error"]["type"] == "NameError" and "PLANS" in d["candidate"]["error"]["message"]
    replayed = cb.replay(tid, use={"lookupUser": "v2"})
    assert replayed.change != "identical" and (replayed.result.error or {}).get("type") == "NameError"
    cb.route_promote("lookupUser")
    with pytest.raises(NameError, match="PLANS"):
        cb.run("handleRequest", {"user_id": 2})


def test_concurrent_tasks_keep_their_own_decisions(routed: Routed) -> None:
    import threading

    loop = V1 + ("\ndef many(user_id: int, n: int) -> list:\n"
                 "    return [lookupUser(user_id)['name'] for _ in range(n)]\n")
    cb = routed(loop.replace('"user%d" % user_id', '"v2-%d" % user_id'), v1=loop)
    cb.route_percent("lookupUser", "v2", 50, key="user_id")
    cb.function("many")  # imported once, before the threads
    ids: list[str] = []
    barrier = threading.Barrier(4)

    def work(uid: int) -> None:
        barrier.wait()
        ids.append(cb.run_task("many", uid, 20).id)

    threads = [threading.Thread(target=work, args=(u,)) for u in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for tid in ids:
        assert [e["name"] for e in cb.task_events(tid)].count("route") == 1
        assert cb.replay(tid).change == "identical"


def test_a_route_to_the_same_definition_is_a_warning(routed: Routed) -> None:
    cb = routed(V1 + "\n# a comment changes no hash\n")
    [w] = cb.route_shadow("lookupUser", "v2").warnings
    assert "runs the same definition as the primary" in w
