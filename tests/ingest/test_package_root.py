"""A file (or subpackage) inside a package is named from its package root, found by walking up the
directories that have an ``__init__.py``: ``add shop/pricing.py`` stores ``shop.pricing``, as adding all
of ``shop/`` does, and says which module name it used."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.conftest import Write
from ucode.cli import app
from ucode.codebase import Codebase


def _shop(write: Write) -> Path:
    write("shop/__init__.py", "from .pricing import quote\n")
    write("shop/catalog.py", "PRICES = {'apple': 2}\n\ndef price_of(item):\n    return PRICES[item]\n")
    write("shop/sub/__init__.py", "")
    write("shop/sub/tax.py", "def rate():\n    return 0.2\n")
    return write("shop/pricing.py", """
        from .catalog import price_of

        def quote(item, qty):
            return price_of(item) * qty
    """)


def test_one_file_of_a_package_is_named_from_the_package_root(cb: Codebase, write: Write) -> None:
    pricing = _shop(write)
    res = cb.add([pricing])
    assert [n.name for n in res.names] == ["shop.pricing.quote"]
    assert [(m.name, m.root) for m in res.modules] == [("shop.pricing", str(pricing.parent.parent))]
    assert [b.name for b in cb.ls()] == ["shop.pricing.quote"]  # no top-level `pricing.quote`
    cb.add([pricing.parent / "catalog.py"])
    assert cb.function("quote")("apple", 3) == 6


def test_a_whole_package_then_one_file_gives_the_same_names(cb: Codebase, write: Write) -> None:
    pricing = _shop(write)
    whole = cb.add([pricing.parent])
    assert all(m.root is None for m in whole.modules)  # named from the directory given, as before
    names = {b.name: b.hash for b in cb.ls()}
    assert "shop.pricing.quote" in names and "shop.sub.tax.rate" in names
    again = cb.add([pricing])
    assert [(n.name, n.status) for n in again.names] == [("shop.pricing.quote", "unchanged")]
    assert {b.name: b.hash for b in cb.ls()} == names
    sub = cb.add([pricing.parent / "sub"])  # a subpackage directory
    assert {m.name for m in sub.modules} == {"shop.sub", "shop.sub.tax"}
    assert cb.add([pricing.parent / "sub" / "__init__.py"]).modules[0].name == "shop.sub"
    assert {b.name: b.hash for b in cb.ls()} == names


def test_one_file_first_then_the_package(cb: Codebase, write: Write) -> None:
    pricing = _shop(write)
    cb.add([pricing])
    cb.add([pricing.parent])
    assert not [b.name for b in cb.ls() if not b.name.startswith("shop.")]


def test_namespace_applies_to_the_package_name(cb: Codebase, write: Write) -> None:
    pricing = _shop(write)
    res = cb.add([pricing], namespace="vendor")
    assert [m.name for m in res.modules] == ["vendor.shop.pricing"]


def test_files_outside_packages_keep_their_names(cb: Codebase, write: Write, tmp_path: Path) -> None:
    res = cb.add([write("app.py", "def f():\n    return 1\n")])
    assert [(m.name, m.root) for m in res.modules] == [("app", None)]
    # the walk stops below a directory whose name `import` cannot use, as pytest's does
    write("my-repo/__init__.py", "")
    write("my-repo/pkg/__init__.py", "")
    res = cb.add([write("my-repo/pkg/mod.py", "def g():\n    return 2\n")])
    assert [m.name for m in res.modules] == ["pkg.mod"]
    assert cb.function("pkg.mod.g")() == 2
    res = cb.add([write("my-repo/tool.py", "def h():\n    return 3\n")])  # in such a package: as before
    assert [(m.name, m.root) for m in res.modules] == [("tool", None)]


# ------------------------------------------------------------------------------------ the CLI


def _cli(store: Path, *args: str) -> Result:
    res = CliRunner().invoke(app, ["--store", str(store), *args])
    assert "Traceback" not in res.output
    assert res.exit_code == 0, f"exit {res.exit_code}\n{res.stdout}\n{res.stderr}"
    return res


def test_cli_add_one_file_says_which_module(store: Path, write: Write) -> None:
    pricing = _shop(write)
    root = pricing.parent.parent
    out = _cli(store, "add", str(pricing)).stdout
    assert f"{pricing} is module shop.pricing (named from {root}, the package root)" in out
    again = _cli(store, "add", str(pricing)).stdout  # unchanged: answered from the store, and said again
    assert f"{pricing} is module shop.pricing" in again and "nothing written" in again
    out = _cli(store, "add", str(pricing.parent / "sub")).stdout
    assert f"2 files are modules of shop.sub (named from {root}, the package root)" in out
    names = [b["name"] for b in json.loads(_cli(store, "ls", "--json").stdout)]
    assert names == ["shop.pricing.quote", "shop.sub.tax.rate"]
    out = _cli(store, "add", str(pricing.parent)).stdout
    assert "package root" not in out  # the package itself: named from the directory given
    assert all(b["name"].startswith("shop.") for b in json.loads(_cli(store, "ls", "--json").stdout))
