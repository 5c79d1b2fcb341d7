"""Names are bindings: what a rebinding does to a module that runs as its file would.

A name bound to another revision of its own definition runs that revision in its place; a name bound to a
definition written in another module gets that definition from its own module (which imports the name it
wraps as it was written); names bound under a module that its file does not define are set after it ran.
Modules whose instance key did not change are shared between snapshots (same objects); the others run
again."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from ucode.codebase import Codebase

Write = Callable[[str, str], Path]


def test_the_wrapper_as_entry_point_logs_once(cb: Codebase, capsys: pytest.CaptureFixture[str]) -> None:
    """``lookupUserV2`` run directly in v2, where ``lookupUser`` is bound to it: importing app_v2 imports
    app, whose rebound name waits for app_v2 to finish; app_v2's own import took the written lookupUser."""
    cb.add([EXAMPLES / "app.py"])
    cb.add([EXAMPLES / "app_v2.py"], version="v2")
    cb.bind("lookupUser@v2", "lookupUserV2@v2", create=True)
    assert cb.run("lookupUserV2", 1, version="v2").name == "Ada"
    assert capsys.readouterr().out.count("lookupUserV2 called with 1") == 1
    app = cb.function("app", version="v2")
    assert app.lookupUser is cb.function("lookupUserV2", version="v2")
    assert cb.function("app_v2", version="v2").lookupUser is not app.lookupUser  # the one it wraps


def test_another_revision_of_a_definition_runs_in_its_place(cb: Codebase, write: Write) -> None:
    path = write("svc.py", "RATE = 2\n\ndef price(x):\n    return x * RATE\n\ndef total(xs):\n"
                           "    return sum(price(x) for x in xs)\n")
    cb.add([path])
    old = cb.resolve("svc.price")
    path.write_text(path.read_text().replace("x * RATE", "x * RATE + 1").replace("RATE = 2", "RATE = 10"))
    cb.add([path], version="v2")
    assert cb.function("total", version="v2")([1]) == 11
    cb.bind("svc.price@v2", f"#{old}", create=True)  # v2's file, with v1's price: it runs in v2's namespace
    svc = cb.function("svc", version="v2")
    assert svc.total([1]) == 10 and svc.RATE == 10
    assert svc.price.__globals__ is vars(svc)


def test_a_definition_asked_for_by_hash_is_that_definition_whatever_its_name_is_bound_to(
        cb: Codebase, write: Write) -> None:
    path = write("m.py", "K = 3\n\ndef f():\n    return K\n")
    cb.add([path])
    first = cb.resolve("m.f")
    path.write_text("K = 3\n\ndef f():\n    return K * 2\n")
    cb.add([path])
    assert cb.function("m.f")() == 6
    old = cb.function(f"#{first}")
    assert old() == 3 and old.__globals__ is vars(cb.function("m"))  # run in m's namespace ...
    assert cb.function("m.f")() == 6  # ... without replacing what m binds


def test_names_bound_under_a_module_that_its_file_does_not_define_are_set_after_it_ran(
        cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.alias("app.lookupUser", "app.getUser")
    app = cb.function("app")
    assert app.getUser is app.lookupUser
    assert cb.function("app.getUser")(1).name == "Ada"


def test_a_replacement_is_in_place_for_the_module_code_after_its_statement(cb: Codebase, write: Write) -> None:
    cb.add([write("web.py", "def lookup(uid):\n    return 'v1'\n\nROUTES = {'/u': lookup}\n\n"
                            "def handle(path):\n    return ROUTES[path](1)\n"),
            write("web2.py", "from web import lookup\n\ndef lookup2(uid):\n    return 'v2+' + lookup(uid)\n")])
    cb.bind("web.lookup@v2", "web2.lookup2", create=True)
    assert cb.function("handle", version="v2")("/u") == "v2+v1"  # ROUTES captured the replacement


def test_a_replacement_that_needs_later_names_is_set_once_the_module_has_run(cb: Codebase, write: Write) -> None:
    cb.add([write("web.py", "def lookup(uid):\n    return 'v1'\n\ndef handle():\n    return lookup(1)\n\n"
                            "LATER = '!'\n"),
            write("web2.py", "from web import lookup, LATER\n\ndef lookup2(uid):\n    return lookup(uid) + LATER\n")])
    cb.bind("web.lookup@v2", "web2.lookup2", create=True)
    assert cb.function("handle", version="v2")() == "v1!"


def test_only_the_rebound_module_and_its_importers_run_again(cb: Codebase, write: Write) -> None:
    cb.add([write("models.py", "class User:\n    pass\n"),
            write("svc.py", "import models\n\ndef lookup():\n    return models.User()\n"),
            write("web.py", "import svc\n\ndef handle():\n    return svc.lookup()\n"),
            write("report.py", "import models\n\ndef count():\n    return 0\n"),
            write("alt.py", "import models\n\ndef lookup():\n    return [models.User()]\n")])
    before = {m: cb.function(m) for m in ("models", "svc", "web", "report")}
    cb.bind("svc.lookup", "alt.lookup")
    after = {m: cb.function(m) for m in ("models", "svc", "web", "report")}
    assert after["models"] is before["models"] and after["report"] is before["report"]  # shared
    assert after["svc"] is not before["svc"] and after["web"] is not before["web"]  # executed again
    assert isinstance(after["web"].handle()[0], before["models"].User)  # one User class throughout
    assert sys.modules["svc"] is after["svc"]  # the newest snapshot is the one `import` sees


def test_code_already_running_keeps_its_module_and_imports_at_call_time_get_the_current_one(
        cb: Codebase, write: Write) -> None:
    cb.add([write("dep.py", "VALUE = 'old'\n"),
            write("user.py", "import dep\n\ndef direct():\n    return dep.VALUE\n\ndef late():\n"
                             "    import dep as d\n    return d.VALUE\n"),
            write("dep2.py", "VALUE = 'new'\n")])
    old_direct, old_late = cb.function("direct"), cb.function("late")
    cb.bind("dep.VALUE", "dep2.VALUE")
    new_direct = cb.function("direct")
    assert (old_direct(), new_direct()) == ("old", "new")  # old and new code side by side
    assert old_late() == "new"  # as an Erlang fully qualified call: the current module


def test_adding_an_edited_file_runs_it_again_and_undo_brings_the_old_program_back(cb: Codebase, write: Write) -> None:
    path = write("m.py", "print_count = []\nprint_count.append(1)\n\ndef f():\n    return len(print_count)\n")
    cb.add([path])
    first = cb.function("m")
    path.write_text(path.read_text().replace("append(1)", "extend([1, 2])"))
    cb.add([path])  # module code only: every name unchanged, the program is new
    assert cb.function("m.f")() == 2 and cb.function("m") is not first
    cb.undo()
    assert cb.function("m.f")() == 1 and cb.function("m") is first  # the same instance: same key again


def test_statement_by_statement_keeps_what_the_whole_module_does(cb: Codebase, write: Write) -> None:
    """With a name rebound, a module runs statement by statement: its docstring, an attribute docstring
    after a value, ``from __future__ import annotations`` and ``__annotations__`` are as with the file."""
    cb.add([write("m.py", '"""The doc."""\nfrom __future__ import annotations\n\nX: int = 1\n"""X is one."""\n\n'
                          "def f(a: Undefined) -> int:\n    return X\n\ndef g():\n    return 'g'\n"),
            write("n.py", "def g():\n    return 'n.g'\n")])
    cb.bind("m.g@v2", "n.g", create=True)
    for version in ("v1", "v2"):
        m = cb.function("m", version=version)
        assert (m.__doc__, m.__annotations__, m.f.__annotations__) == ("The doc.", {"X": "int"},
                                                                       {"a": "Undefined", "return": "int"})
    assert cb.function("m", version="v2").g() == "n.g"


def test_importing_again_after_removing_it_from_sys_modules_runs_it_again(cb: Codebase, write: Write) -> None:
    """Within one snapshot the module is Python's: removing it from ``sys.modules`` and importing it again
    (``test.support.import_fresh_module``) executes it again; only another snapshot shares it."""
    import importlib

    cb.add([write("counter.py", "import itertools\nSTAMP = object()\n")])
    first = cb.function("counter")
    del sys.modules["counter"]
    again = importlib.import_module("counter")
    assert again is not first and again.STAMP is not first.STAMP
    assert type(again.__spec__.loader).__name__ == "StoreLoader"
