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
