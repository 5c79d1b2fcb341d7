"""Generate ``hash_vectors.json``: fixed sources and the full hash of each of their definitions.

!!! DO NOT RERUN THIS SCRIPT TO MAKE A FAILING ``tests/test_golden.py`` PASS. !!!

The vectors pin the hash scheme: every stored definition in every existing codebase is addressed by
these hashes, so a change is a breaking change to the store format. Rerun only when the hash scheme is
deliberately changed (bump ``hashing.DEF_SCHEME`` at the same time) and say so in the commit message::

    python tests/golden/make_vectors.py

When ``test_golden.py`` fails without such a deliberate change, the normalizer or the encoding changed
by accident (or behaves differently on this Python version or platform): that is the bug to fix.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from ucode import hashing, normalize

OUT = Path(__file__).with_name("hash_vectors.json")


def case(name: str, source: str, *, module: str = "app", modules: tuple[str, ...] = (),
         is_package: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "module": module,
        "is_package": is_package,
        "modules": sorted({module, *modules}),
        "source": textwrap.dedent(source).lstrip("\n"),
    }


CASES = [
    case("recursive function", '''
        def factorial(n):
            """n!"""
            if n <= 1:
                return 1
            return n * factorial(n - 1)
    '''),
    case("async def", '''
        import asyncio

        async def fetch_all(urls, fetch):
            results = []
            async with asyncio.timeout(10):
                async for chunk in fetch(urls):
                    results.append(await chunk)
            return results
    '''),
    case("class with methods, decorators, nested class", '''
        import functools

        class Account(object):
            """A bank account."""
            rate = 0.05
            kind: str = "checking"

            class Meta:
                ordering = ["-id"]

            def __init__(self, owner, balance=0):
                self.owner = owner
                self.balance = balance

            @property
            def interest(self):
                return self.balance * self.rate

            @staticmethod
            def parse(text):
                owner, _, amount = text.partition(":")
                return Account(owner, int(amount))

            @classmethod
            def empty(cls):
                return cls("nobody")

            @functools.lru_cache(maxsize=None)
            def score(self, k):
                return super().score(k) + 1
    '''),
    case("values", '''
        MAX_RETRIES = 10
        LOW = HIGH = (1, 2.5, -3j, None, True)
        NAMES = {"a": [1, 2], "b": {3, 4}}
        EMPTY = ()
    '''),
    case("annotated assignments", '''
        from typing import Final

        TIMEOUT: float = 1.5
        LIMIT: Final[int] = 3
        pending: "list[str]" = []
    '''),
    case("__all__", '''
        __all__ = ["greet", "Greeter"]

        def greet(name):
            return "hello " + name
    '''),
    case("imports under aliases", '''
        import numpy as np
        from os.path import join as j
        from collections import OrderedDict as OD

        def stats(xs, base):
            arr = np.asarray(xs)
            return OD(mean=arr.mean(), path=j(base, "out.csv"))
    '''),
    case("dotted imports", '''
        import os.path
        import xml.etree.ElementTree as ET
        from email import message as msg

        def parse(path):
            if not os.path.exists(path):
                return None
            return ET.parse(path).getroot(), msg.Message()
    '''),
    case("codebase deps", '''
        import lib
        import lib.text as text
        from lib import helper
        from lib.text import slugify as slug

        def local_helper(x):
            return x + 1

        def handle(request):
            user = lib.lookup_user(request.user_id)
            return helper(slug(text.clean(user.name))), local_helper(1)
    ''', modules=("lib", "lib.text")),
    case("f-strings", '''
        def render(item, width, precision=2):
            label = item.name
            return f"{label!r:>{width}} | {item.price:.{precision}f} | {{literal}} | {'nested'}" f"-{label}"
    '''),
    case("f-string = specifier", '''
        def debug(x, y):
            total = x + y
            return f"{total=}, {x = }, {(y)=!s}"
    '''),
    case("bytes", r'''
        MAGIC = b"\x89PNG\r\n" b"\x1a\n"
        PATTERN = rb"\d+"

        def header(data):
            return data[:8] == MAGIC and data.startswith(b'\x89')
    '''),
    case("numbers in various spellings", '''
        def numbers():
            return [0x10, 0o17, 0b101, 1_000_000, 1e3, 1.5j, 0.1, 10., .5, 1E-3, 0, -7, 2**64]
    '''),
    case("lambdas", '''
        def top(counts, n=3, key=lambda kv: (-kv[1], kv[0])):
            ordered = sorted(counts.items(), key=key)
            pick = lambda i, *, default=None: ordered[i] if i < len(ordered) else default
            return [pick(i) for i in range(n)]
    '''),
    case("comprehensions", '''
        def shapes(rows):
            flat = [cell for row in rows for cell in row if cell]
            uniq = {cell % 7 for cell in flat}
            index = {cell: pos for pos, cell in enumerate(flat)}
            total = sum(cell * 2 for cell in flat)
            return flat, uniq, index, total
    '''),
    case("walrus", '''
        import re

        def first_match(lines):
            if (n := len(lines)) > 3:
                lines = lines[:n]
            hits = [m for line in lines if (m := re.match(r"\\d+", line))]
            found = [last := h.group(0) for h in hits]
            return hits, found, last if found else None
    '''),
    case("match statement", '''
        class Point:
            __match_args__ = ("x", "y")

            def __init__(self, x, y):
                self.x, self.y = x, y

        def describe(shape):
            match shape:
                case Point(x=0, y=0):
                    return "origin"
                case Point(x=0, y=yy) | Point(x=yy, y=0):
                    return f"axis {yy}"
                case [first, *rest] if rest:
                    return f"seq {first} {rest}"
                case {"kind": "circle", "r": radius, **extra}:
                    return f"circle {radius} {extra}"
                case str() as text:
                    return text
                case 1 | 2 | -3.5 | None:
                    return "literal"
                case _:
                    return "unknown"
    '''),
    case("try/except", '''
        import json

        def load(text, fallback):
            try:
                value = json.loads(text)
            except (ValueError, TypeError) as exc:
                raise RuntimeError("bad json") from exc
            except Exception:
                raise
            else:
                return value
            finally:
                fallback.close()

        def group(fn):
            try:
                fn()
            except* KeyError as eg:
                return eg.exceptions
    '''),
    case("with", '''
        import contextlib

        def copy(src, dst):
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
            with contextlib.suppress(OSError):
                pass
    '''),
    case("global and nonlocal", '''
        counter = 0

        def bump():
            global counter
            counter += 1
            return counter

        def make_counter():
            count = 0
            def inc(step=1):
                nonlocal count
                count += step
                return count
            return inc
    '''),
    case("parameters: star-args, keyword-only, positional-only", '''
        def call(fn, /, a, b=2, *args, key, flag=False, **kwargs):
            return fn(a, b, *args, key=key, flag=flag, **kwargs)

        def only_kw(*, x, y=1):
            return x - y
    '''),
    case("type annotations", '''
        from typing import Optional

        class Node:
            pass

        def walk(node: Node, depth: int = 0, *rest: str, **kw: "Optional[int]") -> list[tuple[Node, int]]:
            out: list[tuple[Node, int]] = [(node, depth)]
            return out
    '''),
    case("locals()", '''
        def fmt(template, a, b):
            total = a + b
            ratio = a / b
            return template.format(**locals())
    '''),
    case("generators and loops", '''
        def gen(xs):
            i = 0
            while i < len(xs):
                if xs[i] is None:
                    i += 1
                    continue
                elif xs[i] == "stop":
                    break
                yield xs[i]
                i += 1
            else:
                yield from range(3)
            for j in xs:
                assert j is not None, "no None"
            else:
                del i
    '''),
    case("strings", r"""
        def strings():
            return ['single', "double", '''triple
        quoted''', r"raw \n", "esc\taped\u00e9", "implicit " 'concat', "\N{BULLET}"]
    """),
    case("package re-export and relative import", '''
        from .helpers import slugify
        from . import models

        def title(text):
            return slugify(text).title(), models.User
    ''', module="pkg", modules=("pkg.helpers", "pkg.models"), is_package=True),
    case("hidden effects", '''
        import time
        import random as rnd

        CACHE = {}

        def stamp(key):
            CACHE[key] = (time.time(), rnd.randint(1, 6))
            return CACHE[key]
    '''),
]


def main() -> None:
    vectors = []
    for c in CASES:
        ctx = normalize.Context(modules=frozenset(c["modules"]))
        pm = normalize.normalize_module(c["source"], path=f"{c['module']}.py", module=c["module"],
                                        is_package=c["is_package"], ctx=ctx)
        hashes: dict[str, str] = {}
        for d in pm.definitions:
            for n in d.names:
                assert n not in hashes, (c["name"], n)
                hashes[n] = d.hash
        assert hashes, c["name"]
        vectors.append({**c, "hashes": hashes})
    OUT.write_text(json.dumps({"def_scheme": hashing.DEF_SCHEME, "vectors": vectors}, indent=2,
                              ensure_ascii=False) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUT}")


if __name__ == "__main__":
    main()
