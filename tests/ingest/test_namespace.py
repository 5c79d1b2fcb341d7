"""``add shop --namespace vendor``: the package's own absolute imports (``from shop.catalog import x``,
``import shop``, in function bodies too) are rewritten to import ``vendor.shop``, so the vendored copy
runs its own code, in a fresh store and in one that also holds another ``shop``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from tests.conftest import Write
from ucode.cli import app
from ucode.codebase import Codebase

SHOP = {
    "__init__.py": "from .pricing import quote\n",
    "catalog.py": """
        PRICES = {"apple": 2, "pear": 3}

        def price_of(item):
            return PRICES[item]
    """,
    "pricing.py": """
        from shop.catalog import price_of
        import shop
        import shop.catalog
        import shop.catalog as cat
        from shop import catalog
        import json, shop.catalog as again

        def quote(item, qty):
            return price_of(item) * qty

        def every_way(item):
            return [price_of(item), shop.catalog.price_of(item), cat.price_of(item), catalog.price_of(item),
                    again.price_of(item)]

        def modules():
            import shop.catalog
            from shop.catalog import PRICES
            return [shop.__name__, shop.catalog.__name__, cat.__name__, catalog.__name__, PRICES is cat.PRICES]

        def own_names():
            return sorted(k for k in globals() if not k.startswith("__"))
    """,
    "tax.py": """
        import shop.catalog

        def taxed(item):
            return shop.catalog.price_of(item) * 10
    """,
}

OTHER = {  # another `shop`, not vendored
    "__init__.py": "",
    "catalog.py": "PRICES = {}\n\ndef price_of(item):\n    return -1\n",
    "pricing.py": "def quote(item, qty):\n    return 'other'\n",
}


def _tree(write: Write, root: str, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = write(f"{root}/shop/{rel}", text)
    return path.parent


def _check_vendored(cb: Codebase) -> None:
    assert cb.function("vendor.shop.pricing.quote")("apple", 3) == 6
    assert cb.function("vendor.shop.quote")("pear", 1) == 3
    assert cb.function("vendor.shop.pricing.every_way")("pear") == [3] * 5
    assert cb.function("vendor.shop.pricing.modules")() == [
        "vendor.shop", "vendor.shop.catalog", "vendor.shop.catalog", "vendor.shop.catalog", True]
    # the imports bind the names the file's imports bind, no others (`vendor` is not one of them)
    assert cb.function("vendor.shop.pricing.own_names")() == [
        "again", "cat", "catalog", "every_way", "json", "modules", "own_names", "price_of", "quote", "shop"]


def test_the_rewrite_binds_the_same_names() -> None:
    from ucode import normalize

    src = textwrap.dedent("""\
        import shop
        import shop.catalog, os
        import shop.catalog as c, shopping
        from shop.catalog import (
            price_of,
        )
        from shop import *
        from . import x
        from .shop import y

        def f():
            import shop.pricing
            return shop.pricing
    """)
    mod = normalize.parse_source(src, path="m.py")
    assert normalize.remap_imports(mod, {"other": "vendor.other"}) is None
    moved = normalize.remap_imports(mod, {"shop": "vendor.shop"})
    assert moved is not None
    assert moved.code == textwrap.dedent("""\
        import vendor.shop as shop
        import vendor.shop.catalog as shop, vendor.shop as shop, os
        import vendor.shop.catalog as c, shopping
        from vendor.shop.catalog import (
            price_of,
        )
        from vendor.shop import *
        from . import x
        from .shop import y

        def f():
            import vendor.shop.pricing as shop, vendor.shop as shop
            return shop.pricing
    """)


def test_vendored_package_in_a_fresh_store(cb: Codebase, write: Write) -> None:
    res = cb.add([_tree(write, "a", SHOP)], namespace="vendor")
    assert "vendor.shop.pricing.quote" in {n.name for n in res.names}
    assert cb.view("vendor.shop.pricing.quote").deps.keys() == {"vendor.shop.catalog.price_of"}
    # `shop.catalog.price_of` after `import shop.catalog` is the vendored definition
    assert set(cb.view("vendor.shop.pricing.every_way").deps) == {"vendor.shop.catalog.price_of"}
    assert set(cb.view("vendor.shop.tax.taxed").deps) == {"vendor.shop.catalog.price_of"}
    assert cb.function("vendor.shop.tax.taxed")("apple") == 20
    _check_vendored(cb)
    # the stored text is what runs: the rewritten imports, on the file's lines
    v = cb.view("vendor.shop.pricing.quote")
    assert v.line == 8
    again = cb.add([_tree(write, "a", SHOP)], namespace="vendor")
    assert not again.wrote and {n.status for n in again.names} == {"unchanged"}


def test_the_same_files_without_a_namespace_bind_the_same_local_names(cb: Codebase, write: Write) -> None:
    cb.add([_tree(write, "a", SHOP)])
    assert cb.function("shop.pricing.own_names")() == [
        "again", "cat", "catalog", "every_way", "json", "modules", "own_names", "price_of", "quote", "shop"]
    assert cb.function("shop.pricing.modules")() == ["shop", "shop.catalog", "shop.catalog", "shop.catalog", True]


def test_vendored_package_beside_another_shop(cb: Codebase, write: Write) -> None:
    cb.add([_tree(write, "other", OTHER)])
    cb.add([_tree(write, "a", SHOP)], namespace="vendor")
    _check_vendored(cb)
    assert cb.function("shop.pricing.quote")("apple", 3) == "other"
    assert cb.view("vendor.shop.pricing.quote").deps.keys() == {"vendor.shop.catalog.price_of"}


def test_another_shop_added_after_the_vendored_one(cb: Codebase, write: Write) -> None:
    cb.add([_tree(write, "a", SHOP)], namespace="vendor")
    cb.add([_tree(write, "other", OTHER)])
    _check_vendored(cb)
    assert cb.function("shop.catalog.price_of")("apple") == -1


def test_one_file_of_a_vendored_package_is_remapped_too(cb: Codebase, write: Write) -> None:
    shop = _tree(write, "a", SHOP)
    whole = {n.name: n.hash for n in cb.add([shop], namespace="vendor").names}
    one = cb.add([shop / "pricing.py"], namespace="vendor")
    assert {n.name: n.hash for n in one.names} == {k: h for k, h in whole.items() if ".pricing." in k}
    assert {n.status for n in one.names} == {"unchanged"}


def test_a_source_root_remaps_every_top_level_module(cb: Codebase, write: Write) -> None:
    write("lib/util.py", "def double(x):\n    return 2 * x\n")
    write("lib/app.py", "import util\nfrom util import double\n\ndef f(x):\n    return util.double(double(x))\n")
    write("lib/outside.py", "import json\n\ndef g():\n    return json.dumps(1)\n")
    cb.add([write("util.py", "def double(x):\n    return 0\n")])  # another `util`
    cb.add([cb.path.parent / "src" / "lib"], namespace="vendor")
    assert cb.function("vendor.app.f")(3) == 12
    assert cb.function("vendor.outside.g")() == "1"  # imports of other modules are left as they are


# ------------------------------------------------------------------------------------ the CLI


def _cli(store: Path, *args: str, code: int = 0) -> Result:
    res = CliRunner().invoke(app, ["--store", str(store), *args])
    assert "Traceback" not in res.output
    assert res.exit_code == code, f"exit {res.exit_code}\n{res.stdout}\n{res.stderr}"
    return res


def _json(store: Path, *args: str) -> Any:
    return json.loads(_cli(store, *args, "--json").stdout)


def test_cli_run_vendored_in_a_fresh_store(store: Path, write: Write) -> None:
    shop = _tree(write, "a", SHOP)
    names = {n["name"] for n in _json(store, "add", str(shop), "--namespace", "vendor")}
    assert "vendor.shop.pricing.quote" in names
    assert _json(store, "run", "vendor.shop.pricing.quote", '"apple"', "3")["result"] == 6
    assert _cli(store, "run", "vendor.shop.pricing.every_way", '"pear"').stdout.strip() == "[3, 3, 3, 3, 3]"
    out = _cli(store, "view", "vendor.shop.pricing.quote").stdout
    assert "vendor.shop.catalog.price_of" in out


def test_cli_run_vendored_beside_another_shop(store: Path, write: Write) -> None:
    _cli(store, "add", str(_tree(write, "other", OTHER)))
    _cli(store, "add", str(_tree(write, "a", SHOP)), "--namespace", "vendor")
    assert _json(store, "run", "vendor.shop.pricing.quote", '"apple"', "3")["result"] == 6
    assert _json(store, "run", "vendor.shop.pricing.modules")["result"] == [
        "vendor.shop", "vendor.shop.catalog", "vendor.shop.catalog", "vendor.shop.catalog", True]
    assert _json(store, "run", "shop.pricing.quote", '"apple"', "3")["result"] == "other"
