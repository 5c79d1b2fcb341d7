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
    assert mpkg.core.greet.__code__.co_filename.startswith("<ucode mpkg.core.greet")


def test_patching_a_module_attribute_reaches_its_stored_functions(pkg: Codebase) -> None:
    import mpkg.core

    with mock.patch("mpkg.core.name", return_value="patched"):
        assert mpkg.core.greet() == "hello patched"
        assert mpkg.core.Greeter().say() == "hello patched"
    assert mpkg.core.greet() == "hello world"  # restored


def test_unmount_removes_the_hook_and_the_modules(pkg: Codebase) -> None:
    import mpkg

    (hook,) = [f for f in sys.meta_path if isinstance(f, ucode.mount.__globals__["Mount"])]
    ucode.unmount(hook)
    assert "mpkg" not in sys.modules and hook not in sys.meta_path
    with pytest.raises(ImportError):
        import mpkg  # noqa: F401
