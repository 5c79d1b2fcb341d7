"""The namespace: versions (copy-on-write), bind/unbind/alias/move, history and undo, and any past state
as the fold of the log."""


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES, FakeClock, Write
from ucode import errors
from ucode.codebase import Codebase
from ucode.namespace import fold
from ucode.store import names as stored_names


def test_versions_are_copy_on_write(cb: Codebase, write: Write) -> None:
    cb.add([EXAMPLES / "app.py"])
    r = cb.add([EXAMPLES / "app_v2.py"], version="v2")
    assert r.created_version
    v2 = {v.name: v for v in cb.versions()}["v2"]
    assert v2.parent == "v1" and v2.own_bindings == 1
    # v2 sees v1's names through its parent
    assert cb.resolve("handleRequest@v2") == cb.resolve("handleRequest@v1")
    cb.bind("lookupUser@v2", "lookupUserV2@v2", create=True)
    assert cb.resolve("lookupUser@v2") == cb.resolve("lookupUserV2@v2")
    assert cb.resolve("lookupUser@v1") != cb.resolve("lookupUser@v2")
    # a later change in v1 shows through in v2 where v2 has no binding of its own
    cb.add([write("extra.py", "def newfn():\n    return 1\n")])
    assert cb.resolve("newfn@v2") == cb.resolve("newfn@v1")
    diff = cb.diff("v1", "v2")
    assert [d.name for d in diff] == ["app.lookupUser", "app_v2.lookupUserV2"]
    assert "+    print(f\"lookupUserV2 called" in diff[0].diff


def test_default_version_and_unknown_version(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.create_version("v2")
    cb.use_version("v2")
    assert cb.default_version() == "v2"
    assert cb.ls()[0].version == "v2"
    with pytest.raises(errors.VersionError, match="no version 'v9'"):
        cb.view("handleRequest@v9")
    with pytest.raises(errors.VersionError, match="already exists"):
        cb.create_version("v2")


def test_unbind_in_child_version_hides_parent_binding(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.create_version("slim")
    cb.unbind("listItems@slim")
    with pytest.raises(errors.NameNotFoundError):
        cb.resolve("listItems@slim")
    assert cb.resolve("listItems@v1")
    cb.undo()
    assert cb.resolve("listItems@slim") == cb.resolve("listItems@v1")


def test_alias_and_move_are_free(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def f():\n    return 1\n")])
    h = cb.resolve("m.f")
    n_defs = cb.verify().checked
    cb.alias("m.f", "m.g")
    assert cb.resolve("m.g") == h
    cb.move("m.g", "other.h")
    assert cb.resolve("other.h") == h
    with pytest.raises(errors.NameNotFoundError):
        cb.resolve("m.g")
    assert cb.verify().checked == n_defs  # nothing new was hashed or stored
    assert sorted(b.name for b in cb.names("#" + h)) == ["m.f", "other.h"]


def test_renaming_locals_keeps_the_hash_and_move_keeps_it_for_a_new_name(cb: Codebase, write: Write) -> None:
    cb.add([write("a.py", "def total(xs):\n    acc = 0\n    for x in xs:\n        acc += x\n    return acc\n")])
    h = cb.resolve("a.total")
    res = cb.add([write("a.py", "def total(xs):\n    s = 0\n    for item in xs:\n        s += item\n    return s\n")])
    assert cb.resolve("a.total") == h and [n.status for n in res.names] == ["reformatted"]
    cb.move("a.total", "a.sum_all")  # a new name for the same definition: no new hash
    assert cb.resolve("a.sum_all") == h
    # the same code in another module is another definition (another function object in Python)
    cb.add([write("b.py", "def total(xs):\n    acc = 0\n    for x in xs:\n        acc += x\n    return acc\n")])
    assert cb.resolve("b.total") != h


def test_history_and_undo_append_inverse_events(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def f():\n    return 1\n")])
    h1 = cb.resolve("m.f")
    cb.add([write("m.py", "def f():\n    return 2\n")])
    h2 = cb.resolve("m.f")
    hist = cb.history("f")
    assert [(e.old, e.new) for e in hist] == [(h1, h2), (None, h1)]
    undo = cb.undo()
    assert cb.resolve("m.f") == h1
    assert undo.events[0].undoes == undo.undone_op
    hist = cb.history("f")
    assert [(e.old, e.new) for e in hist] == [(h2, h1), (h1, h2), (None, h1)]
    cb.undo()
    with pytest.raises(errors.NameNotFoundError):
        cb.resolve("m.f")
    with pytest.raises(errors.NothingToUndoError):
        cb.undo()
    assert len(cb.history("m.f")) == 4  # nothing erased


def test_bindings_as_of_any_log_position(cb: Codebase, write: Write) -> None:
    path = write("m.py", "def f():\n    return 1\n")
    cb.add([path])
    at1 = cb.log_position()
    snap1 = cb.bindings()
    path.write_text("def f():\n    return 2\n\ndef g():\n    return 3\n")
    cb.add([path])
    assert cb.bindings(at=at1) == snap1
    assert cb.bindings(at=cb.log_position()) == cb.bindings()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["bind", "unbind", "undo", "alias", "version", "delete", "rename", "use",
                                           "route", "unroute"]),
                          st.integers(0, 3), st.integers(0, 3)), max_size=14))
def test_state_is_the_fold_of_the_log(tmp_path_factory: pytest.TempPathFactory,
                                      ops: list[tuple[str, int, int]]) -> None:
    """Whatever sequence of binds, unbinds, aliases, versions (created, deleted, renamed, made the
    default), routes (set, cleared) and undos: the materialized names and routes equal the fold of the log,
    in every version and at every earlier position."""
    root = tmp_path_factory.mktemp("fold")
    src = root / "m.py"
    src.write_text("".join(f"def f{i}():\n    return {i}\n\n" for i in range(4)))
    with Codebase(root / "store", clock=FakeClock()) as cb:
        cb.add([src])
        hashes = [cb.resolve(f"m.f{i}") for i in range(4)]
        positions: list[tuple[int, dict[str, dict[str, str]]]] = []
        defaults: list[str] = []
        routes: list[dict[str, str]] = []
        for op, a, b in ops:
            versions = [v.name for v in cb.versions()]
            v = versions[b % len(versions)]
            try:
                if op == "bind":
                    cb.bind(f"m.n{a}@{v}", "#" + hashes[b], new=True)
                elif op == "unbind":
                    cb.unbind(f"m.f{a}@{v}")
                elif op == "undo":
                    cb.undo()
                elif op == "alias":
                    cb.alias(f"m.f{a}@{v}", f"m.alias{b}")
                elif op == "delete":
                    cb.delete_version(v)
                elif op == "rename":
                    cb.rename_version(v, f"r{a}{b}")
                elif op == "use":
                    cb.use_version(v)
                elif op == "route":
                    cb.route_primary(f"m.f{a}", v)
                elif op == "unroute":
                    cb.route_clear(f"m.f{a}")
                else:
                    cb.create_version(f"x{a}{b}", parent=v)
            except errors.UcodeError:
                pass
            positions.append((cb.log_position(), {v.name: cb.bindings(v.name) for v in cb.versions()}))
            defaults.append(cb.default_version())
            routes.append({r.name: r.policy.to_text() for r in cb.routes()})
            assert cb.verify().ok
        for (at, snapshot), default, routed in zip(positions, defaults, routes, strict=True):
            with cb.store.read() as txn:
                state = fold(stored_names.events(txn), at=at)
            assert (set(state.parents), state.default) == (set(snapshot), default)
            assert state.routes("") == routed
            for vname, binds in snapshot.items():
                assert cb.bindings(vname, at=at) == binds


def test_history_of_name_at_version_is_that_version_only(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.add([EXAMPLES / "app_v2.py"], version="v2")
    cb.bind("lookupUser@v2", "lookupUserV2@v2", create=True)
    assert [e.version for e in cb.history("lookupUser@v2")] == ["v2"]
    assert [e.version for e in cb.history("lookupUser")] == ["v2", "v1"]
    assert [b.hash for b in cb.deps("lookupUserV2@v2")] == [cb.resolve("User"), cb.resolve("lookupUser@v1")]
