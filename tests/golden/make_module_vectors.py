"""Generate ``module_vectors.json``: fixed modules and the full hashes of their programs and statements.

!!! DO NOT RERUN THIS SCRIPT TO MAKE A FAILING ``tests/test_golden.py`` PASS. !!!

The vectors pin the schemes of module code (``ucode/stmt/1``) and of programs (``ucode/module/1``): every
stored module is addressed by these hashes. Rerun only when a scheme is deliberately changed (bump
``hashing.STMT_SCHEME`` / ``hashing.MODULE_SCHEME`` at the same time) and say so in the commit message::

    python tests/golden/make_module_vectors.py
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from ucode import hashing, normalize

OUT = Path(__file__).with_name("module_vectors.json")
PATH = "/golden/src/app.py"  # the path a program runs as is part of its hash: fixed here


def case(name: str, source: str, *, module: str = "app", is_package: bool = False) -> dict[str, Any]:
    return {"name": name, "module": module, "is_package": is_package, "path": PATH,
            "source": textwrap.dedent(source).lstrip("\n")}


CASES = [
    case("module code between definitions", '''
        """A module."""
        import functools
        REGISTRY = {}

        def register(name):
            def deco(fn):
                REGISTRY[name] = fn
                return fn
            return deco

        @register("a")
        def a():
            return 1

        a = functools.lru_cache(maxsize=None)(a)
        REGISTRY["b"] = lambda: 2
        for _k in ("c", "d"):
            REGISTRY[_k] = len
    '''),
    case("conditional definitions and fallbacks", '''
        import sys
        try:
            from math import sumprod
        except ImportError:
            def sumprod(a, b):
                return sum(x * y for x, y in zip(a, b))
        FLAGS = 1
        if sys.platform == "nope":
            FLAGS |= 2
        LOW, HIGH = 1, 10
        if __name__ == "__main__":
            print(sumprod([1], [2]))
    '''),
    case("future annotations and a package", '''
        from __future__ import annotations
        from .models import User
        __all__ = ["find"]

        def find(user_id: int) -> User | None:
            return None
    ''', module="shop", is_package=True),
]


def hashes_of(vector: dict[str, Any]) -> dict[str, Any]:
    ctx = normalize.Context(modules=frozenset({vector["module"], f"{vector['module']}.models"}))
    pm = normalize.normalize_module(vector["source"], path="golden.py", module=vector["module"],
                                    is_package=vector["is_package"], ctx=ctx, origin=vector["path"])
    return {"program": pm.hash, "statements": [[s.kind, s.names, s.hash] for s in pm.statements]}


def main() -> None:
    vectors = [{**c, **hashes_of(c)} for c in CASES]
    doc = {"stmt_scheme": hashing.STMT_SCHEME, "module_scheme": hashing.MODULE_SCHEME, "vectors": vectors}
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {OUT}")


if __name__ == "__main__":
    main()
