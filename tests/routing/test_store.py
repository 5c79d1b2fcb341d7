"""Routes in the store: a schema-5 store's per-task routes become route events, and ``verify`` checks the
routes table against the fold of the log."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import EXAMPLES
from ucode.codebase import Codebase
from ucode.store import routes as stored_routes
from ucode.store._backend import key, pack


def test_a_schema_5_store_s_per_task_routes_become_route_events(tmp_path: Path) -> None:
    with Codebase(tmp_path / "s") as cb:
        cb.add([EXAMPLES / "app.py"])
        tid = cb.run_task("handleRequest", {"user_id": 1}).id
        h = cb.resolve("lookupUser")
        with cb.store.write() as txn:  # the store as ucode with schema 5 left it
            txn.put("overrides", key(tid, "app.lookupUser"), h.encode())
            txn.put("meta", b"schema", pack(5))
    with Codebase(tmp_path / "s") as cb:
        assert cb.task_routes(tid)[1] == {"app.lookupUser": h}
        [ev] = cb.history(limit=1)
        assert (ev.kind, ev.version, ev.name, ev.new) == ("route", f"task:{tid}", "app.lookupUser", h)
        with cb.store.read() as txn:
            assert list(txn.items("overrides")) == []
        assert cb.verify().ok
        cb.undo()
        assert cb.task_routes(tid)[1] == {}


def test_verify_finds_a_routes_table_that_differs_from_the_log(tmp_path: Path) -> None:
    with Codebase(tmp_path / "s") as cb:
        cb.add([EXAMPLES / "app.py"])
        cb.route_primary("lookupUser", "v1")
        assert cb.verify().ok
        with cb.store.write() as txn:
            stored_routes.set_own_route(txn, "", "app.listItems", '{"mode":"primary","primary":"v1"}')
        problems = [p["problem"] for p in cb.verify().to_dict()["problems"]]
        assert any("routes differ from the fold of the log: app.listItems" in p for p in problems)
