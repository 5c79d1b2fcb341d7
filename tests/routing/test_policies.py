"""Primary and percent routes, stickiness, decisions in the task log, promote and undo, per-task routes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.routing.conftest import V1
from ucode.codebase import Codebase
from ucode.routing import BUCKETS, bucket, in_share

Routed = Callable[..., Codebase]
V2 = V1.replace('"user%d" % user_id', '"v2-user%d" % user_id')


def _who(cb: Codebase, user_id: int, **kw: object) -> str:
    return str(cb.run("handleRequest", {"user_id": user_id}, **kw)["user"])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ buckets


def test_buckets_are_fixed_by_salt_and_key() -> None:
    # golden values: blake3, never hash(); the same on every machine and Python
    assert bucket("salt", "1") == bucket("salt", "1")
    assert [bucket("s", str(k)) for k in range(3)] == [bucket("s", "0"), bucket("s", "1"), bucket("s", "2")]
    assert bucket("8c2f", "user-1") == 3048  # (first 8 bytes of blake3(b"8c2f\0user-1") * 10000) >> 64
    assert bucket("", "") == 1766


@given(st.text(max_size=8), st.lists(st.text(max_size=12), max_size=40),
       st.floats(0, 100), st.floats(0, 100))
def test_raising_the_percent_only_adds_keys(salt: str, keys: list[str], p: float, q: float) -> None:
    lo, hi = sorted((p, q))
    at_lo = {k for k in keys if in_share(bucket(salt, k), lo)}
    at_hi = {k for k in keys if in_share(bucket(salt, k), hi)}
    assert at_lo <= at_hi
    assert all(0 <= bucket(salt, k) < BUCKETS for k in keys)


def test_zero_and_hundred_percent() -> None:
    keys = [str(i) for i in range(200)]
    assert not any(in_share(bucket("s", k), 0) for k in keys)
    assert all(in_share(bucket("s", k), 100) for k in keys)


# ------------------------------------------------------------------------------------ routes


def test_primary_routes_whatever_version_the_caller_runs_in(routed: Routed) -> None:
    cb = routed(V2)
    assert _who(cb, 1) == "user1"
    cb.route_primary("lookupUser", "v2")
    assert _who(cb, 1) == "v2-user1"
    cb.route_primary("lookupUser", "v1")
    assert _who(cb, 1, version="v2") == "user1"  # a caller running v2 gets v1's lookupUser
    cb.route_primary("lookupUser", "#" + cb.resolve("lookupUser@v2"))
    assert _who(cb, 1) == "v2-user1"


def test_percent_routes_are_sticky_and_ramp_monotonically(routed: Routed) -> None:
    cb = routed(V2)
    cb.route_percent("lookupUser", "v2", 30, key="user_id")
    salt = cb.route("lookupUser").policy.salt
    first = {u: _who(cb, u) for u in range(40)}
    assert {u: _who(cb, u) for u in range(40)} == first  # sticky: the same key, the same version
    to_v2 = {u for u, who in first.items() if who.startswith("v2")}
    assert to_v2 == {u for u in range(40) if in_share(bucket(salt, str(u)), 30)}
    assert 0 < len(to_v2) < 40
    cb.route_percent("lookupUser", "v2", 70, key="user_id")
    assert cb.route("lookupUser").policy.salt == salt  # the salt stays: raising only adds keys
    later = {u for u in range(40) if _who(cb, u).startswith("v2")}
    assert to_v2 < later
    rep = cb.route_report("lookupUser")
    assert rep["calls"] == 40 and rep["candidate"] == len(later)


def test_a_key_path_into_an_argument_and_calls_without_the_key(routed: Routed) -> None:
    v1 = V1 + "\ndef greet(req: dict) -> str:\n    return 'hello ' + lookupUser(req.get('id', 0))['name']\n"
    cb = routed(v1.replace("'hello '", "'hi '"), v1=v1)
    cb.route_percent("greet", "v2", 100, key="req.id")
    assert cb.run("greet", {"id": 3}) == "hi user3"
    assert cb.run("greet", {}) == "hello user0"  # no key: the primary answers, and it is counted
    rep = cb.route_report("greet")
    assert (rep["calls"], rep["candidate"], rep["primary"], rep["no_key"]) == (2, 1, 1, 1)


def test_the_default_key_is_the_task_id(routed: Routed) -> None:
    cb = routed(V2)
    cb.route_percent("lookupUser", "v2", 50)
    salt = cb.route("lookupUser").policy.salt
    for _ in range(12):
        run = cb.run_task("handleRequest", {"user_id": 1})
        assert run.result["user"].startswith("v2") == in_share(bucket(salt, run.id), 50)


def test_decisions_are_recorded_and_replayed(routed: Routed) -> None:
    cb = routed(V2)
    cb.route_percent("lookupUser", "v2", 50, key="user_id")
    runs = [cb.run_task("handleRequest", {"user_id": u}) for u in range(8)]
    for run in runs:
        [ev] = [e for e in cb.task_events(run.id) if e["name"] == "route"]
        assert ev["args"] == ["app.lookupUser", str(run.result["user"].rpartition("user")[2])]
        assert ev["result"]["to"] == ("candidate" if run.result["user"].startswith("v2") else "primary")
        assert isinstance(ev["result"]["bucket"], int)
        assert cb.replay(run.id).change == "identical"
    # --use overrides a routed name: the recorded decision is taken, the swapped-in code answers
    primary_run = next(r for r in runs if not r.result["user"].startswith("v2"))
    replayed = cb.replay(primary_run.id, use={"lookupUser": "v2"})
    assert replayed.change == "different result" and replayed.result.result["user"].startswith("v2")


def test_a_decision_is_recorded_once_per_task_and_key(routed: Routed) -> None:
    loop = V1 + "\ndef many(n: int) -> list:\n    return [lookupUser(1)['name'] for _ in range(n)]\n"
    cb = routed(loop, v1=loop)
    cb.route_primary("lookupUser", "v2")
    run = cb.run_task("many", 5)
    assert [e["name"] for e in cb.task_events(run.id)].count("route") == 1
    assert cb.route_report("lookupUser")["calls"] == 5


def test_promote_binds_the_candidate_and_undo_takes_it_back(routed: Routed) -> None:
    cb = routed(V2)
    before = cb.resolve("lookupUser")
    cb.route_shadow("lookupUser", "v2")
    change = cb.route_promote("lookupUser")
    assert {e.kind for e in change.events} == {"bind", "route"} and len({e.op for e in change.events}) == 1
    assert cb.resolve("lookupUser") == cb.resolve("lookupUser@v2") and cb.routes() == []
    assert _who(cb, 1) == "v2-user1"
    cb.undo()
    assert cb.resolve("lookupUser") == before
    assert [r.policy.mode for r in cb.routes()] == ["shadow"]
    cb.undo()
    assert cb.routes() == [] and _who(cb, 1) == "user1"
    assert cb.verify().ok


def test_routes_are_in_history_and_snapshots_of_old_positions(routed: Routed) -> None:
    cb = routed(V2)
    at = cb.log_position()
    cb.route_primary("lookupUser", "v2")
    [ev] = cb.history(limit=1)
    assert (ev.kind, ev.name, ev.version) == ("route", "app.lookupUser", "")
    assert cb.function("lookupUser", at=at)(1)["name"] == "user1"  # the names as they were: no route
    assert cb.function("lookupUser")(1)["name"] == "v2-user1"


def test_async_functions_are_routed(routed: Routed) -> None:
    v1 = "async def lookupUser(user_id: int) -> str:\n    return 'v1'\n"
    cb = routed(v1.replace("'v1'", "'v2'"), v1=v1)
    cb.route_primary("lookupUser", "v2")
    assert cb.run("lookupUser", 1) == "v2"
    assert asyncio.run(cb.function("lookupUser")(1)) == "v2"


def test_per_task_routes_are_namespace_events_that_undo_takes_back(routed: Routed) -> None:
    cb = routed(V2)
    run = cb.run_task("handleRequest", {"user_id": 1})
    cb.route_task(run.id, "lookupUser", "v2")
    [ev] = cb.history(limit=1)
    assert (ev.kind, ev.version) == ("route", f"task:{run.id}")
    assert cb.replay(run.id).change == "different result"
    cb.undo()
    assert cb.task_routes(run.id)[1] == {}
    assert cb.replay(run.id).change == "identical"
    cb.route_task(run.id, "lookupUser", "v2")
    assert cb.task_prune(older_than=2e9) == 1  # pruning the task clears its routes, with an event
    assert cb.verify().ok
    with pytest.raises(Exception, match="no task"):
        cb.task_routes(run.id)


def test_a_mounted_package_serves_its_routes_and_shadows_off_any_task(tmp_path: object, write: object) -> None:
    """A long-lived process importing a stored package (ucode.mount) gets the routes: a shadow runs on the
    background worker with no task around it."""
    import sys

    import ucode
    from tests.conftest import FakeClock

    assert callable(write)
    root = tmp_path  # type: ignore[assignment]
    cb = Codebase(root / "store", clock=FakeClock())  # type: ignore[operator]
    try:
        cb.add([write("rpkg/__init__.py", "from .core import greet\n"),
                write("rpkg/core.py", "def name(n):\n    return 'world'\n\n"
                                      "def greet(n):\n    return 'hello ' + name(n)\n")])
        cb.add([write("v2/rpkg/__init__.py", "from .core import greet\n"),
                write("v2/rpkg/core.py", "def name(n):\n    return 'WORLD' if n else 'world'\n\n"
                                         "def greet(n):\n    return 'hello ' + name(n)\n")], version="v2")
        cb.route_shadow("rpkg.core.name", "v2")
        hook = ucode.mount("rpkg", codebase=cb)
        try:
            import rpkg  # type: ignore[import-not-found]

            assert [rpkg.greet(n) for n in (0, 1)] == ["hello world", "hello world"]
            cb.drain_shadows()
            rep = cb.route_report("name")
            assert (rep["calls"], rep["matched"], rep["diverged"]) == (2, 1, 1)
            assert rep["divergences"][0]["task"] is None
        finally:
            ucode.unmount(hook)
            sys.modules.pop("rpkg", None)
    finally:
        cb.close()


def test_a_version_a_route_runs_cannot_be_deleted_or_renamed(routed: Routed) -> None:
    from ucode import errors

    cb = routed(V2)
    cb.route_shadow("lookupUser", "v2")
    with pytest.raises(errors.VersionInUseError, match=r"the route of app\.lookupUser runs it") as exc:
        cb.delete_version("v2")
    assert "ucode route clear app.lookupUser" in (exc.value.hint or "")
    with pytest.raises(errors.VersionInUseError):
        cb.rename_version("v2", "v3")
    cb.route_clear("lookupUser")
    cb.delete_version("v2")
    assert "v2" not in [v.name for v in cb.versions()]
