"""Short names (suffixes) that match several names bound to one definition are that definition, not an
ambiguity; the defining module's name is the one shown. Different definitions under one short name stay
ambiguous. Through the Python API and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import Write
from ucode import errors
from ucode.cli import app
from ucode.codebase import Codebase

SHOP = {
    "shop/__init__.py": "from .pricing import quote\n",
    "shop/pricing.py": """
        from shop.catalog import price_of

        def quote(item, qty):
            return price_of(item) * qty
    """,
    "shop/catalog.py": """
        PRICES = {"apple": 2, "pear": 3}

        def price_of(item):
            return PRICES[item]
    """,
}


def _shop(write: Write) -> Path:
    for rel, text in SHOP.items():
        path = write(rel, text)
    return path.parent


def test_names_of_one_definition_are_not_ambiguous(cb: Codebase, write: Write) -> None:
    cb.add([_shop(write)])
    cb.alias("shop.pricing.quote", "shop.quote")  # a package's re-export, bound as a name of its own
    h = cb.resolve("shop.pricing.quote")
    assert cb.resolve("shop.quote") == h
    assert cb.resolve("quote") == h
    assert cb.resolve_name("quote") == "shop.pricing.quote"  # the name its module defines
    v = cb.view("quote")
    assert v.name == "shop.pricing.quote"
    assert v.names == ["shop.pricing.quote", "shop.quote"]
    assert cb.view("shop.quote").name == "shop.quote"  # a full name is what was asked for
    assert cb.function("quote")("pear", 2) == 6
    assert [m.name for m in cb.find("quote")] == ["shop.pricing.quote", "shop.quote"]


def test_the_defining_name_wins_over_a_shorter_alias_elsewhere(cb: Codebase, write: Write) -> None:
    cb.add([_shop(write)])
    cb.alias("shop.catalog.price_of", "a.price_of")
    assert cb.resolve_name("price_of") == "shop.catalog.price_of"
    assert cb.find("price_of")[0].name == "shop.catalog.price_of"


def test_different_definitions_under_one_short_name_stay_ambiguous(cb: Codebase, write: Write) -> None:
    cb.add([_shop(write), write("other.py", "def quote(item, qty):\n    return 0\n")])
    cb.alias("shop.pricing.quote", "shop.quote")
    with pytest.raises(errors.AmbiguousNameError) as exc:
        cb.resolve("quote")
    assert exc.value.candidates == ["other.quote", "shop.pricing.quote", "shop.quote"]


# ------------------------------------------------------------------------------------ the CLI


def _cli(store: Path, *args: str, code: int = 0) -> Result:
    res = CliRunner().invoke(app, ["--store", str(store), *args])
    assert "Traceback" not in res.output
    assert res.exit_code == code, f"exit {res.exit_code}\n{res.stdout}\n{res.stderr}"
    return res


def _json(store: Path, *args: str) -> Any:
    return json.loads(_cli(store, *args, "--json").stdout)


def test_cli_view_run_find_a_re_exported_name(store: Path, write: Write) -> None:
    _cli(store, "add", str(_shop(write)))
    _cli(store, "alias", "shop.pricing.quote", "shop.quote")
    out = _cli(store, "view", "quote").stdout
    assert "ambiguous" not in out
    assert "name        shop.pricing.quote" in out
    assert "also named  shop.quote" in out
    assert _json(store, "view", "quote")["name"] == "shop.pricing.quote"
    ran = _json(store, "run", "quote", '"apple"', "3")
    assert ran["result"] == 6
    assert _json(store, "task", "show", ran["task"])["name"] == "shop.pricing.quote"
    assert _cli(store, "run", "quote", '"apple"', "3").stdout.strip() == "6"
    found = [m["name"] for m in _json(store, "find", "quote")]
    assert found == ["shop.pricing.quote", "shop.quote"]


def test_cli_two_definitions_stay_ambiguous(store: Path, write: Write) -> None:
    _cli(store, "add", str(_shop(write)), str(write("other.py", "def quote(item, qty):\n    return 0\n")))
    res = _cli(store, "view", "quote", code=errors.AmbiguousNameError.exit_code)
    assert "ambiguous" in res.output and "other.quote" in res.output and "shop.pricing.quote" in res.output
