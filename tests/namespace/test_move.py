"""A move carries its callers, as a rename does in Unison (references are by hash there): stored code that
calls the old name keeps its text and hash and runs what the new name is bound to, then and after later
binds; ``deps`` and ``dependents`` follow the move; ``undo`` reverses it; binding the old name again
ends it; versions inherit moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import Write
from ucode.cli import app
from ucode.codebase import Codebase

CATALOG = """
def tax_rate(region):
    return 0.2 if region == "eu" else 0.1


def price(amount, region):
    return round(amount * (1 + tax_rate(region)), 2)
"""
FIX = """
def rate_fixed(region):
    return 0.25 if region == "eu" else 0.1
"""


@pytest.fixture
def shop(cb: Codebase, write: Write) -> Codebase:
    write("shop/__init__.py", "")
    pkg = write("shop/catalog.py", CATALOG).parent
    cb.add([pkg, write("fix.py", FIX)])
    return cb


def test_callers_follow_a_move_and_later_binds_of_the_new_name(shop: Codebase) -> None:
    assert shop.run("shop.catalog.price", 100, "eu") == 120.0
    price_hash = shop.resolve("shop.catalog.price")
    shop.move("shop.catalog.tax_rate", "shop.catalog.rate_for")
    assert shop.run("shop.catalog.price", 100, "eu") == 120.0, "the same code: nothing changed yet"
    shop.bind("rate_for", "rate_fixed")
    assert shop.run("shop.catalog.price", 100, "eu") == 125.0, "the caller runs what rate_for is bound to"
    assert shop.resolve("shop.catalog.price") == price_hash, "the caller keeps its hash"
    assert [b.name for b in shop.dependents("rate_for")] == ["shop.catalog.price"]
    assert [(b.name, b.hash) for b in shop.deps("shop.catalog.price")] == [
        ("shop.catalog.rate_for", shop.resolve("fix.rate_fixed"))]
    assert shop.verify().ok


def test_undo_reverses_a_move_and_binding_the_old_name_ends_it(shop: Codebase) -> None:
    shop.move("shop.catalog.tax_rate", "shop.catalog.rate_for")
    shop.bind("rate_for", "rate_fixed")
    shop.undo()
    shop.undo()  # the move
    assert shop.run("shop.catalog.price", 100, "eu") == 120.0
    assert shop.resolve("shop.catalog.tax_rate")
    shop.move("shop.catalog.tax_rate", "shop.catalog.rate_for")
    shop.bind("shop.catalog.tax_rate", "rate_fixed")  # bound again: the move ends, callers run this
    shop.bind("rate_for", "#" + shop.resolve("shop.catalog.tax_rate@v1"))
    assert shop.run("shop.catalog.price", 100, "eu") == 125.0
    assert shop.verify().ok


def test_moving_twice_and_back(shop: Codebase) -> None:
    shop.move("shop.catalog.tax_rate", "shop.catalog.rate_for")
    shop.move("shop.catalog.rate_for", "shop.catalog.vat")
    shop.bind("vat", "rate_fixed")
    assert shop.run("shop.catalog.price", 100, "eu") == 125.0, "a chain of moves is followed"
    shop.move("shop.catalog.vat", "shop.catalog.tax_rate")
    assert shop.resolve("shop.catalog.tax_rate") == shop.resolve("fix.rate_fixed")
    assert shop.run("shop.catalog.price", 100, "eu") == 125.0
    assert shop.verify().ok


def test_a_child_version_inherits_the_move_and_can_rebind_on_its_own(shop: Codebase) -> None:
    shop.move("shop.catalog.tax_rate", "shop.catalog.rate_for")
    shop.create_version("v2")
    shop.bind("rate_for@v2", "rate_fixed")
    assert shop.run("shop.catalog.price", 100, "eu", version="v2") == 125.0
    assert shop.run("shop.catalog.price", 100, "eu", version="v1") == 120.0
    shop.rename_version("v2", "next")
    assert shop.run("shop.catalog.price", 100, "eu", version="next") == 125.0
    assert shop.verify().ok


def test_a_task_replays_with_the_move_as_it_was(shop: Codebase) -> None:
    shop.move("shop.catalog.tax_rate", "shop.catalog.rate_for")
    shop.bind("rate_for", "rate_fixed")
    run = shop.run_task("shop.catalog.price", 100, "eu")
    shop.undo()  # rate_for back to the original: later runs give 120.0
    assert shop.run("shop.catalog.price", 100, "eu") == 120.0
    replayed = shop.replay(run.id)
    assert run.result == 125.0 and replayed.change == "identical", "replay uses the names of the task's start"


def test_move_through_the_cli_says_what_callers_do(store: Path, write: Write) -> None:
    write("shop/__init__.py", "")
    pkg = write("shop/catalog.py", CATALOG).parent
    runner = CliRunner()

    def ucode(*args: str) -> str:
        res = runner.invoke(app, ["--store", str(store), *args])
        assert res.exit_code == 0, res.output
        return res.stdout

    ucode("add", str(pkg), str(write("fix.py", FIX)))
    out = ucode("move", "shop.catalog.tax_rate", "shop.catalog.rate_for")
    assert "shop.catalog.tax_rate@v1: callers follow it to shop.catalog.rate_for" in out
    ucode("bind", "rate_for", "rate_fixed")
    assert ucode("run", "shop.catalog.price", "100", '"eu"').strip() == "125.0"
    assert "shop.catalog.price" in ucode("dependents", "rate_for")


def test_adding_the_unchanged_file_again_keeps_the_move_and_an_edit_ends_it(shop: Codebase, write: Write) -> None:
    shop.move("shop.catalog.tax_rate", "shop.catalog.rate_for")
    shop.bind("rate_for", "rate_fixed")
    catalog = write("shop/catalog.py", CATALOG)
    result = shop.add([catalog.parent])
    assert {n.name: n.status for n in result.names}["shop.catalog.tax_rate"] == "moved"
    assert shop.run("shop.catalog.price", 100, "eu") == 125.0, "the move stands"
    catalog.write_text(CATALOG.replace("0.2 if", "0.3 if"))
    result = shop.add([catalog.parent])
    assert {n.name: n.status for n in result.names}["shop.catalog.tax_rate"] == "added"
    assert shop.run("shop.catalog.price", 100, "eu") == 130.0, "the file's new code is bound: it wins"
    assert shop.verify().ok
