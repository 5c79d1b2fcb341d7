"""Running stored code: resolution semantics, snapshots, hot rebinding, fidelity, errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from ucode import errors
from ucode.codebase import Codebase
from ucode.errors import DefinitionFailedError, MissingImportError

Write = Callable[[str, str], Path]


def test_run_the_memo_walkthrough(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    v1 = cb.run("handleRequest", {"user_id": 1})
    assert v1 == {"user": "Ada", "plan": "pro", "items": ["notebook", "analytical engine"], "count": 2}
    cb.add([EXAMPLES / "app_v2.py"], version="v2")
    cb.bind("lookupUser@v2", "lookupUserV2@v2", create=True)
    assert cb.run("handleRequest", {"user_id": 1}, version="v2") == v1
    assert cb.function("handleRequest", version="v2").__globals__["lookupUser"].__name__ == "lookupUserV2"
    # bind it in the default version: v2 behavior without re-adding handleRequest
    cb.bind("lookupUser", "lookupUserV2@v2")
    assert cb.function("handleRequest").__globals__["lookupUser"].__name__ == "lookupUserV2"
    cb.undo()
    assert cb.function("handleRequest").__globals__["lookupUser"].__name__ == "lookupUser"


def test_wrapper_bound_under_the_name_it_wraps_calls_the_wrapped_version(
    cb: Codebase, capsys: pytest.CaptureFixture[str]
) -> None:
    cb.add([EXAMPLES / "app.py"])
    cb.add([EXAMPLES / "app_v2.py"], version="v2")
    cb.bind("lookupUser@v2", "lookupUserV2@v2", create=True)
    user = cb.run("lookupUser", 2, version="v2")
    assert user.name == "Grace"
    # it logged once and then called v1, rather than calling itself forever
    assert capsys.readouterr().out.count("lookupUserV2 called with 2") == 1


def test_recursion_means_the_definition_itself(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", """
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)
    """), write("m2.py", """
        from m import fact

        def fact_logged(n):
            return ("logged", fact(n))
    """)])
    assert cb.run("fact", 5) == 120
    cb.bind("m.fact", "m2.fact_logged", version="v2", create=True)
    # fact_logged calls fact as written against (m's own fact, which its import took); that fact's
    # recursion is a global lookup in m, so it calls what m.fact is bound to: as in Python, where
    # `m.fact = fact_logged` after the import would make fact(4) inside fact call fact_logged
    assert cb.run("fact", 1, version="v2") == ("logged", 1)
    assert cb.run("fact_logged", 1, version="v2") == ("logged", 1)


def test_a_name_bound_to_another_definition_of_its_own_module_is_an_assignment(cb: Codebase, write: Write) -> None:
    """Inside one module, binding a name to another of its definitions is what ``fact = fact_logged`` at
    the end of the file would do (the module runs as its file would): here, a loop through the name."""
    cb.add([write("m.py", "def fact(n):\n    return n\n\ndef loud(n):\n    return ('loud', fact(n))\n")])
    cb.bind("m.fact", "m.loud", version="v2", create=True)
    assert cb.function("m.fact", version="v2") is cb.function("m.loud", version="v2")


def test_rebinding_changes_callers_without_readding_them(cb: Codebase, write: Write) -> None:
    path = write("svc.py", """
        def lookup(uid):
            return "v1"

        def handle(uid):
            return lookup(uid)
    """)
    cb.add([path])
    assert cb.run("handle", 1) == "v1"
    cb.add([write("alt.py", "def lookup(uid):\n    return 'alt'\n")])
    cb.bind("svc.lookup", "alt.lookup")
    assert cb.run("handle", 1) == "alt"
    assert cb.view("svc.handle").hash == cb.resolve("svc.handle")  # handle itself is untouched


def test_a_run_keeps_its_snapshot_and_the_next_run_sees_the_rebinding(cb: Codebase, write: Write) -> None:
    cb.add([write("svc.py", """
        def helper():
            return "old"

        def handler(during):
            first = helper()
            during()
            return first, helper()
    """), write("alt.py", "def helper():\n    return 'new'\n")])

    def rebind() -> None:
        cb.bind("svc.helper", "alt.helper")

    assert cb.run("handler", rebind) == ("old", "old")
    assert cb.run("handler", lambda: None) == ("new", "new")


def test_versions_side_by_side_share_the_modules_that_run_the_same(cb: Codebase, write: Write) -> None:
    cb.add([write("models.py", "from dataclasses import dataclass\n\n@dataclass\nclass User:\n    id: int\n"),
            write("svc.py", "from models import User\n\ndef lookup(i):\n    return User(i)\n\n"
                            "def handle(i):\n    return lookup(i)\n"),
            write("alt.py", "from models import User\n\ndef lookup(i):\n    return User(-i)\n")])
    cb.bind("svc.lookup@v2", "alt.lookup", create=True)
    h1, h2 = cb.function("handle"), cb.function("handle", version="v2")
    assert h1 is not h2 and (h1(1), h2(1)) == (cb.function("User")(1), cb.function("User")(-1))
    # models runs the same in both versions (same program, nothing rebound in it, nothing it imports
    # differs): one instance, so one User class; svc has lookup rebound in v2: an instance of its own
    assert cb.function("User") is cb.function("User", version="v2")
    assert h1.__globals__ is not h2.__globals__
    assert isinstance(h2(3), cb.function("models.User"))


def test_call_between_stored_functions_is_a_plain_global(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    handle = cb.function("handleRequest")
    assert type(handle).__name__ == "function"
    assert handle.__globals__["lookupUser"] is cb.function("lookupUser")
    assert type(handle.__globals__).__name__ == "dict"


def test_function_is_cheap_and_stable_when_nothing_changed(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    assert cb.function("handleRequest") is cb.function("handleRequest")


FIDELITY = '''
    """Module doc."""
    import asyncio
    import functools
    from dataclasses import dataclass, field


    def twice(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs) * 2
        return wrapper


    @twice
    def decorated(x: int, y: int = 3) -> int:
        """Doubled sum."""
        return x + y


    def counter(start=0):
        count = start
        def inc():
            nonlocal count
            count += 1
            return count
        return inc


    class Base:
        def greet(self):
            return "base"


    class Child(Base):
        kind = "child"

        def greet(self):
            return "child+" + super().greet()

        @classmethod
        def make(cls):
            return cls()


    @dataclass(order=True)
    class Point:
        x: int
        y: int = 0
        tags: list = field(default_factory=list, compare=False)


    def gen(n):
        for i in range(n):
            yield i * i


    async def fetch(x):
        await asyncio.sleep(0)
        return x + 1


    async def agen(n):
        for i in range(n):
            yield i
'''


def test_behavior_is_the_code_as_written(cb: Codebase, write: Write) -> None:
    cb.add([write("fid.py", FIDELITY)])
    decorated = cb.function("decorated")
    assert decorated(1) == 8 and decorated(1, y=1) == 4
    assert decorated.__doc__ == "Doubled sum."
    assert decorated.__name__ == "decorated" and decorated.__qualname__ == "decorated"
    assert decorated.__module__ == "fid"
    assert decorated.__wrapped__.__annotations__ == {"x": int, "y": int, "return": int}
    assert decorated.__wrapped__.__defaults__ == (3,)
    inc = cb.run("counter", 10)
    assert (inc(), inc()) == (11, 12)
    child_cls = cb.function("Child")
    assert child_cls.make().greet() == "child+base"
    assert child_cls.__qualname__ == "Child" and child_cls.greet.__qualname__ == "Child.greet"
    assert issubclass(child_cls, cb.function("Base"))
    point = cb.function("Point")
    assert point(1, 2) < point(1, 3) and point(1, 2, ["a"]) == point(1, 2)
    assert cb.run("gen", 4) == [0, 1, 4, 9]  # generators are collected as run does
    assert cb.run("fetch", 1) == 2  # coroutines run to completion
    assert cb.run("agen", 3) == [0, 1, 2]


def test_value_definitions_run(cb: Codebase, write: Write) -> None:
    cb.add([write("vals.py", "import re\nPATTERN = re.compile(r'a+')\nLIMITS = {'max': 3}\nA = B = [1]\n")])
    assert cb.function("PATTERN").match("aaa")
    assert cb.run("LIMITS") == {"max": 3}
    assert cb.function("A") is cb.function("B")
    with pytest.raises(errors.UcodeError, match="is a value, not a function"):
        cb.run("LIMITS", 1)


def test_wrong_arguments_are_a_clear_error(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    with pytest.raises(errors.UcodeError, match=r"cannot call handleRequest\(request: dict\) -> dict"):
        cb.run("handleRequest", {"user_id": 1}, 2)
    with pytest.raises(errors.UcodeError, match="missing a required argument"):
        cb.run("handleRequest")


def test_missing_import_is_a_clear_error(cb: Codebase, write: Write) -> None:
    cb.add([write("mod.py", "import helper\n\ndef f():\n    return helper.x\n"),
            write("helper.py", "import not_installed_pkg_xyz\nx = 1\n")])
    with pytest.raises(MissingImportError) as exc:
        cb.function("f")
    assert "helper needs `import not_installed_pkg_xyz`" in exc.value.message  # the module that imports it
    assert isinstance(exc.value, ImportError)
    assert "pip install not_installed_pkg_xyz" in (exc.value.hint or "")


def test_a_dependency_unbound_in_the_version_runs_as_it_was_written_against(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def g():\n    return 1\n\ndef f():\n    return g()\n")])
    cb.unbind("m.g")
    assert cb.function("f")() == 1  # removing a name does not break code that used it
    # a fix added in its own version, with a helper only that version has, bound into v1:
    cb.add([write("fix.py", "TABLE = [10, 20]\n\ndef g2():\n    return TABLE[1]\n")], version="fix")
    cb.bind("m.g", "#" + cb.resolve("fix.g2@fix"))
    assert cb.function("f")() == 20  # fix.TABLE is not bound in v1: the one g2 was added with runs
    cb.add([write("m2.py", "TABLE = [30, 40]\n")])
    cb.alias("m2.TABLE", "fix.TABLE")  # bound in v1 now: late binding wins again
    assert cb.function("f")() == 40


def test_traceback_shows_stored_source_qualified_names_and_hashes(cb: Codebase) -> None:
    cb.add([EXAMPLES / "app.py"])
    import traceback

    with pytest.raises(KeyError) as exc:
        cb.run("handleRequest", {"user_id": 99})
    text = "".join(traceback.format_exception(exc.value))
    assert f'File "{EXAMPLES / "app.py"}", line 30, in lookupUser' in text  # the file's path and line
    assert 'raise KeyError(f"no user {user_id}")' in text  # the stored source line


def test_async_entry_point_through_the_api(cb: Codebase, write: Write) -> None:
    cb.add([write("a.py", "import asyncio\n\nasync def main(x):\n    await asyncio.sleep(0)\n    return [x]\n")])
    assert cb.run("main", 5) == [5]


def test_run_never_imports_libcst_and_reuses_compiled_code(tmp_path: Path) -> None:
    store = tmp_path / "s"
    with Codebase(store) as cb:
        cb.add([EXAMPLES / "app.py"])
    code = textwrap.dedent(f"""
        import builtins, sys, ucode
        compiled = []
        real_compile = builtins.compile
        def spy(*a, **k):
            compiled.append(a[1] if len(a) > 1 else k.get("filename"))
            return real_compile(*a, **k)
        builtins.compile = spy
        print(ucode.run("handleRequest", {{"user_id": 2}}, store={str(store)!r})["user"])
        print(len([c for c in compiled if str(c).endswith("app.py")]))
        assert "libcst" not in sys.modules
    """)
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert first.stdout.split() == ["Grace", "0"], first.stderr  # add compiled it for this Python


def test_code_cache_per_python_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another Python version finds no cached code: it compiles once, stores it, then reuses it."""
    import builtins

    with Codebase(tmp_path / "s") as cb:
        cb.add([EXAMPLES / "app.py"])
    import ucode.runtime._runtime

    monkeypatch.setattr(ucode.runtime._runtime, "CACHE_TAG", "other-python-99")
    compiled: list[str] = []
    real_compile = builtins.compile

    def spy(*args: object, **kwargs: object) -> object:
        compiled.append(str(args[1]))
        return real_compile(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "compile", spy)
    for expected in (1, 0):  # the module's program, compiled as one code object
        compiled.clear()
        with Codebase(tmp_path / "s") as cb:
            assert cb.run("handleRequest", {"user_id": 2})["user"] == "Grace"
        assert len([c for c in compiled if c == str(EXAMPLES / "app.py")]) == expected


def test_cross_module_package_code_runs(cb: Codebase, write: Write) -> None:
    write("lib/__init__.py", "from .helpers import slugify\n")
    write("lib/helpers.py",
          "import re\n\n_NON = re.compile(r'[^a-z]+')\n\ndef slugify(s):\n    return _NON.sub('-', s.lower())\n")
    write("lib/views.py", "from . import helpers\nfrom .helpers import slugify as slug\n\n"
          "def page(t):\n    return slug(t) + '|' + helpers.slugify(t)\n")
    cb.add([cb.path.parent / "src" / "lib"])
    assert cb.run("page", "Hi There") == "hi-there|hi-there"
    assert cb.run("lib.slugify", "A B") == "a-b"


def test_old_code_is_dropped_when_nothing_uses_it(cb: Codebase, write: Write) -> None:
    import gc
    import weakref

    path = write("svc.py", "def helper():\n    return 'old'\n\ndef handler():\n    return helper()\n")
    cb.add([path])
    old = cb.function("handler")
    old_ref = weakref.ref(old.__globals__["helper"])
    in_flight = old  # a request still running on the old code keeps it alive
    path.write_text(path.read_text().replace("'old'", "'new'"))
    cb.add([path])
    new = cb.function("handler")
    assert (in_flight(), new()) == ("old", "new")  # current and old code side by side
    assert old.__globals__ is not new.__globals__  # two instances of the module
    del old, in_flight
    assert cb.runtime.collect() == 1  # no snapshot in use holds the old instance of svc
    gc.collect()
    assert old_ref() is None  # the last user of the old code is gone: so is the old code
    assert cb.function("handler") is new  # the current code is kept


def test_a_submodule_imported_beside_its_package_is_loaded(cb: Codebase, write: Write,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import xml.dom.minidom

    # as in a fresh process: the submodule is not loaded, and its package has no attribute for it yet
    monkeypatch.delitem(sys.modules, "xml.dom.minidom")
    monkeypatch.delattr(xml.dom, "minidom")
    cb.add([write("m.py", "import xml\nimport xml.dom.minidom\n\ndef f():\n"
                          "    return xml.dom.minidom.parseString('<a>hi</a>').documentElement.tagName\n")])
    assert cb.function("f")() == "a"


def test_traceback_lines_are_the_files_lines_with_comments_above_and_chains(cb: Codebase, write: Write) -> None:
    import traceback

    src = ("X = 1\n\n# a comment about f\n\n# and more\n@staticmethod\n\n# inner\ndef f():\n"
           "    raise ValueError('x')\n\nREG = {}\nY = 2\nREG['f'] = f.__func__\n")
    path = write("m.py", src)
    cb.add([path, write("bad.py", src + "REG['boom'] = 1 / 0\n")])
    path.write_text("# the file changed since it was added\n" * 20)
    with pytest.raises(ValueError) as exc:
        cb.function("m.f").__func__()
    frames = [f for f in traceback.extract_tb(exc.value.__traceback__) if f.filename == str(path)]
    assert (frames[-1].lineno, frames[-1].line) == (10, "raise ValueError('x')")  # the stored text, not the file
    with pytest.raises(DefinitionFailedError) as failed:  # module code keeps its own lines
        cb.function("bad.REG")
    assert "ZeroDivisionError" in failed.value.message and "line 15: REG['boom'] = 1 / 0" in failed.value.message


def test_statements_that_differ_only_by_name_are_distinct_objects(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "A = []\nB = []\n\nclass FooError(Exception):\n    pass\n\n"
                          "class BarError(Exception):\n    pass\n\ndef one():\n    return 1\n\ndef uno():\n"
                          "    return 1\n\ndef f():\n    A.append(1)\n    try:\n        raise BarError('x')\n"
                          "    except FooError:\n        return 'wrong handler'\n    except BarError:\n"
                          "        return [len(A), len(B)]\n")])
    assert cb.function("f")() == [1, 0]  # two lists, two exception classes
    assert cb.function("FooError") is not cb.function("BarError")
    assert (cb.function("one").__name__, cb.function("uno").__name__) == ("one", "uno")


def test_globals_read_as_data_sees_the_module(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "word = r'[a-z]+'\nline = r'{word}( {word})*'.format(**globals())\n\n"
                          "def lookup(name):\n    return globals()[name]\n\nLATER = 3\n")])
    assert cb.function("line") == "[a-z]+( [a-z]+)*"
    assert cb.function("lookup")("LATER") == 3 and cb.function("lookup")("word") == "[a-z]+"


COMPAT = '''
import sys
if sys.version_info < (3, 0):
    from itertools import imap as map
else:
    from functools import reduce
try:
    import simplejson as json
except ImportError:
    import json

def f(xs):
    return json.dumps(reduce(lambda a, b: a + b, map(abs, xs)))
'''


def test_imports_that_depend_on_the_python_are_decided_when_the_code_runs(cb: Codebase, write: Write) -> None:
    cb.add([write("compat.py", COMPAT)])
    assert cb.function("f")([-1, 2]) == "3"  # map: the builtin; reduce: functools'; json: whichever exists


def test_names_in_string_annotations_resolve_for_type_hints(cb: Codebase, write: Write) -> None:
    import typing

    cb.add([write("m.py", "import dataclasses\nfrom typing import Optional\n\n\nclass User:\n    pass\n\n\n"
                          "def find(user_id: int) -> 'Optional[User]':\n    return None\n\n\n"
                          "@dataclasses.dataclass\nclass Node:\n    value: int\n    next: 'Optional[Node]' = None\n")])
    assert typing.get_type_hints(cb.function("find"))["return"] == cb.function("User") | None
    node = cb.function("Node")  # a dataclass with a string annotation: defined while its module stands in
    assert node(1).next is None and node.__dataclass_fields__["next"].type == "Optional[Node]"
