"""ucode.mount: stored packages imported as modules."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest

import ucode
from ucode.codebase import Codebase

Write = Callable[[str, str], Path]


@pytest.fixture
def pkg(cb: Codebase, write: Write) -> Iterator[Codebase]:
    write("mpkg/__init__.py", '"""A package."""\nfrom .core import greet\n__all__ = ["greet"]\n')
    write("mpkg/core.py", "def name():\n    return 'world'\n\ndef greet():\n    return 'hello ' + name()\n\n"
                          "class Greeter:\n    def say(self):\n        return greet()\n")
    cb.add([cb.path.parent / "src" / "mpkg"])
    hook = ucode.mount("mpkg", codebase=cb)
    yield cb
    ucode.unmount(hook)


def test_import_gives_modules_built_from_the_store(pkg: Codebase) -> None:
    import mpkg
    import mpkg.core

    assert mpkg.__doc__ == "A package." and mpkg.__all__ == ["greet"]
    assert mpkg.greet() == "hello world" and mpkg.greet is mpkg.core.greet
    assert type(mpkg.__spec__.loader).__name__ == "StoreLoader"
    assert mpkg.core.greet.__globals__ is vars(mpkg.core)  # the module's own namespace, as with files
    assert mpkg.core.greet.__code__.co_filename == mpkg.core.__file__


def test_patching_a_module_attribute_reaches_its_stored_functions(pkg: Codebase) -> None:
    import mpkg.core

    with mock.patch("mpkg.core.name", return_value="patched"):
        assert mpkg.core.greet() == "hello patched"
        assert mpkg.core.Greeter().say() == "hello patched"
    assert mpkg.core.greet() == "hello world"  # restored


def test_unmount_removes_the_hook_and_the_modules(pkg: Codebase) -> None:
    import mpkg

    hook = ucode.mount("mpkg", codebase=pkg)
    ucode.unmount(hook)
    assert "mpkg" not in sys.modules
    with pytest.raises(ImportError):
        import mpkg  # noqa: F401


H11_EXCHANGE = '''
import sys
import ucode

ucode.mount("h11", store=sys.argv[1])
import h11

assert type(h11._connection.__spec__.loader).__name__ == "StoreLoader"
assert h11.Connection.__init__.__globals__ is vars(h11._connection)
client, server = h11.Connection(our_role=h11.CLIENT), h11.Connection(our_role=h11.SERVER)
server.receive_data(client.send(h11.Request(method="GET", target="/", headers=[("Host", "example.com")]))
                    + client.send(h11.EndOfMessage()))
events = [type(server.next_event()).__name__, type(server.next_event()).__name__]
reply = server.send(h11.Response(status_code=200, headers=[("Content-Length", "2")]))
client.receive_data(reply + server.send(h11.Data(data=b"ok")) + server.send(h11.EndOfMessage()))
got = [client.next_event(), client.next_event(), client.next_event()]
assert h11.IDLE is not h11.SEND_BODY and h11.CLIENT is not h11.SERVER  # sentinels: one class each
print(events, got[0].status_code, bytes(got[1].data), type(got[2]).__name__, client.our_state, server.our_state)
'''


def test_an_installed_package_runs_from_the_store(tmp_path: Path) -> None:
    """h11 (installed with httpx): sentinel classes, a state machine as tables, `"...".format(**globals())`
    at module level; stored, mounted in a fresh process, and a request/response exchanged."""
    import os
    import subprocess

    import h11

    store = tmp_path / "s"
    with Codebase(store) as cb:
        cb.add([Path(h11.__file__).parent])
    out = subprocess.run([sys.executable, "-c", H11_EXCHANGE, str(store)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['Request',", "'EndOfMessage']", "200", "b'ok'", "EndOfMessage", "DONE",
                                  "DONE"]


def test_module_code_runs_when_the_module_is_imported(cb: Codebase, write: Write) -> None:
    # a registry in one module, filled by a top-level call in another (pathspec's register_pattern), and a
    # Windows-only import with a fallback (dateutil's `from .win import tzwin`)
    write("rpkg/__init__.py", "from .api import lookup\nfrom . import plugins\n")
    write("rpkg/api.py", "_REGISTRY = {}\n\ndef register(name, value):\n    _REGISTRY[name] = value\n\n"
                         "def lookup(name):\n    return _REGISTRY[name]\n")
    write("rpkg/plugins.py", "import sys\nfrom .api import register\n\ndef shout(s):\n    return s.upper()\n\n"
                             "try:\n    from .win import handle\nexcept ImportError:\n    handle = None\n\n"
                             "register('shout', shout)\nfor n in ('a', 'b'):\n    register(n, len)\n")
    write("rpkg/win.py", "import winreg_that_does_not_exist\n\ndef handle():\n"
                         "    return winreg_that_does_not_exist.x\n")
    cb.add([cb.path.parent / "src" / "rpkg"])
    hook = ucode.mount("rpkg", codebase=cb)
    try:
        import rpkg
        import rpkg.plugins

        assert rpkg.lookup("shout")("hi") == "HI" and rpkg.lookup("b")("xyz") == 3
        assert rpkg.plugins.handle is None  # the missing import is an ImportError: the fallback ran
    finally:
        ucode.unmount(hook)


def test_a_name_a_block_did_not_bind_is_absent_and_the_modules_getattr_answers(cb: Codebase, write: Write) -> None:
    write("gpkg/__init__.py", "import sys\n\nif sys.version_info < (3, 0):\n    legacy = 1\n\n"
                              "def __getattr__(name):\n    if name == '__version__':\n        return '1.0'\n"
                              "    raise AttributeError(name)\n")
    cb.add([cb.path.parent / "src" / "gpkg"])
    hook = ucode.mount("gpkg", codebase=cb)
    try:
        import gpkg

        assert gpkg.__version__ == "1.0"  # the module's own PEP 562 hook is consulted
        assert not hasattr(gpkg, "legacy")  # as in Python: the branch that binds it did not run
    finally:
        ucode.unmount(hook)


def test_mounts_of_one_store_share_its_modules(tmp_path: Path) -> None:
    """``pb`` does ``from pa import E``: mounted one after the other with ``store=``, ``pb.E`` is ``pa.E``
    (one module object, as with files), and the store is closed when the last mount goes."""
    from tests._differential import run_python, write_tree

    write_tree(tmp_path / "src", {"pa/__init__.py": "class E(Exception):\n    pass\n",
                                  "pb/__init__.py": "from pa import E\n"})
    with Codebase(tmp_path / "store") as cb:
        cb.add([tmp_path / "src" / "pa", tmp_path / "src" / "pb"])
    out = run_python(
        "import sys, ucode\nfrom ucode import _mount\n"
        f"a = ucode.mount('pa', store={str(tmp_path / 'store')!r})\nimport pa\n"
        f"b = ucode.mount('pb', store={str(tmp_path / 'store')!r})\nimport pb\n"
        "print(pb.E is pa.E, sys.modules['pa'] is pa, a.codebase is b.codebase)\n"
        "ucode.unmount(a)\nprint(len(_mount._SHARED))\nucode.unmount(b)\nprint(len(_mount._SHARED))\n",
        tmp_path)
    assert out.stdout.split() == ["True", "True", "True", "1", "0"], out.stderr
