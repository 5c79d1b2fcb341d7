"""Block definitions: top-level `if`/`try` statements and unpacking assignments that bind names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ucode.codebase import Codebase
from ucode.normalize import normalize_module
from ucode.runner import UnboundDependencyError

Write = Callable[[str, str], Path]

FEATURE_DETECTION = '''
import sys

try:
    from math import no_such_function_in_math as fast_sum
except ImportError:
    def helper(xs):
        return list(xs)

    def fast_sum(xs):
        return sum(helper(xs))

if sys.version_info >= (99,):
    def newer():
        return "future"
else:
    def older():
        return "today"

LOW, HIGH = 1, 10

def total(xs):
    return fast_sum(xs) + LOW
'''


def test_each_name_a_block_binds_is_a_definition_of_its_own() -> None:
    pm = normalize_module(FEATURE_DETECTION, path="m.py", module="m")
    kinds = {d.names[0]: d.kind for d in pm.definitions}
    assert kinds == {"fast_sum": "block", "helper": "block", "newer": "block", "older": "block",
                     "LOW": "block", "HIGH": "block", "total": "function"}
    by = {d.names[0]: d for d in pm.definitions}
    assert by["fast_sum"].hash != by["helper"].hash  # same block, different selected name
    assert by["fast_sum"].source == by["helper"].source
    assert by["total"].deps == ["m.LOW", "m.fast_sum"]
    assert pm.skipped == []


def test_block_hash_ignores_formatting_but_not_meaning() -> None:
    a = normalize_module("try:\n    import x\nexcept ImportError:\n    x = None\n", path="m.py", module="m")
    b = normalize_module("try:  # fast path\n    import x\nexcept ImportError:\n\n    x = None  # fallback\n",
                         path="m.py", module="m")
    c = normalize_module("try:\n    import x\nexcept ImportError:\n    x = 0\n", path="m.py", module="m")
    assert a.definitions[0].hash == b.definitions[0].hash != c.definitions[0].hash


def test_main_guard_and_nameless_blocks_are_still_skipped() -> None:
    pm = normalize_module("if True:\n    print('x')\n\nif __name__ == '__main__':\n    main()\n",
                          path="m.py", module="m")
    assert pm.definitions == [] and len(pm.skipped) == 2


def test_blocks_run_and_the_branch_is_chosen_by_the_running_python(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", FEATURE_DETECTION)])
    assert cb.run("total", [1, 2, 3]) == 7
    assert cb.run("older") == "today"
    assert cb.run("HIGH") == 10
    assert cb.verify().ok
    newer = cb.function("newer")  # bound, but its branch did not run here: a clear error when used
    with pytest.raises(UnboundDependencyError, match="did not bind it on this Python"):
        newer()


# ------------------------------------------------------------------ chains: statements that go on defining a name


CHAINS = '''
import functools

def slow(n):
    return n * 2

slow = functools.lru_cache(maxsize=None)(slow)

LIMITS = [1, 2]
LIMITS = LIMITS + [3]
LIMITS += [4]

HANDLERS = {}

def handle_a(x):
    return x + 1

HANDLERS["a"] = handle_a
HANDLERS.update(b=lambda x: x * 2)

class Config:
    debug = False

Config.debug = True

def use(key, n):
    return HANDLERS[key](slow(n)) + sum(LIMITS) + Config.debug
'''


def test_statements_that_go_on_defining_a_name_are_stored_with_it(cb: Codebase, write: Write) -> None:
    import importlib.util

    path = write("chains.py", CHAINS)
    result = cb.add([path])
    kinds = {n.name: n.kind for n in result.names}
    assert kinds == {"chains.slow": "block", "chains.LIMITS": "block", "chains.HANDLERS": "block",
                     "chains.Config": "block", "chains.handle_a": "function", "chains.use": "function"}
    assert result.skipped == []  # nothing "shadowed" or "not stored"
    spec = importlib.util.spec_from_file_location("chains_direct", path)
    assert spec is not None and spec.loader is not None
    direct = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(direct)
    use = cb.function("use")
    for key, n in (("a", 3), ("b", 5)):
        assert use(key, n) == direct.use(key, n)  # the module as Python runs it
    assert cb.function("slow").cache_info().hits >= 0  # slow is the cached function
    assert cb.view("LIMITS").source.splitlines()[:3] == ["LIMITS = [1, 2]", "LIMITS = LIMITS + [3]", "LIMITS += [4]"]


def test_a_chain_hashes_its_statements_not_what_lies_between_them() -> None:
    from tests.test_normalize import h

    one = "X = {}\nX['a'] = 1\n"
    two = "X = {}\n\ndef g():\n    return 2\n\n# a comment\nX['a'] = 1\n"
    assert h(one, "X") == h(two, "X")
    assert h(one, "X") != h("X = {}\nX['a'] = 2\n", "X")


def test_what_is_not_a_chain() -> None:
    from tests.test_normalize import parse

    # a function that calls itself is recursion, not a chain; a later plain rebinding shadows
    pm = parse("def f(n):\n    return 0\n\ndef f(n):\n    return f(n - 1) if n else 1\n\nX = [1]\nX = [2]\n")
    assert [(d.names, d.kind) for d in pm.definitions] == [(["f"], "function"), (["X"], "value")]
    assert len(pm.skipped) == 2 and all("shadowed" in s.reason for s in pm.skipped)
    # a mutation of a name that is not a definition of this module is not stored
    pm = parse("import logging\nlogging.basicConfig()\nY.append(1)\n")
    assert pm.definitions == [] and len(pm.skipped) == 2
