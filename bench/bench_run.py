"""Benchmarks for running stored code (issue: resolver and runner).

* ``call overhead``: a call-heavy program (recursion plus helper calls across several stored functions)
  run from the store (``cb.function``) vs the same source imported as a normal module, interleaved in
  this process. Goal: ratio at most 1.05.
* ``cold run``: ``ucode run`` of a trivial stored function in a fresh process, vs ``python -c "import
  lmdb, msgpack"`` and ``python -c pass`` measured interleaved with it. Goal: under 150 ms wall. Also the
  same through the API (``python -c "ucode.run(...)"``), which skips the CLI's typer import.
* ``closure load``: loading (resolving, reading and executing) a closure of 1,000 definitions: first time
  in a fresh runtime (compiled code from the store's cache), first time with no cached code (compiles),
  and again when nothing changed (the runtime's cache).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from _common import PYTHON, WORK_DIR, Row, log, ms, time_call, time_commands, time_pairs, ucode_argv

import ucode
import ucode.codebase
from ucode.codebase import Codebase

CALL_HEAVY = '''
def add(a, b):
    return a + b


def is_small(n):
    return n < 2


def fib(n):
    if is_small(n):
        return n
    return add(fib(n - 1), fib(n - 2))


class Acc:
    def __init__(self):
        self.total = 0

    def push(self, x):
        self.total = add(self.total, x)
        return self


def work(n):
    acc = Acc()
    for i in range(n):
        acc.push(fib(12 + i % 3))
    return acc.total
'''


def _chain(n: int) -> str:
    """n functions, each calling the next: a closure of n definitions."""
    out = [f"def f{i}(x):\n    return f{i + 1}(x) + 1\n" for i in range(n - 1)]
    out.append(f"def f{n - 1}(x):\n    return x\n")
    return "\n".join(out)


def _import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def call_overhead(quick: bool, reps: int) -> list[Row]:
    d = Path(tempfile.mkdtemp(prefix="ucode-bench-run-"))
    try:
        src = d / "callheavy.py"
        src.write_text(CALL_HEAVY)
        with Codebase(d / "store") as cb:
            cb.add([src])
            stored = cb.function("callheavy.work")
        plain = _import_file(src, "callheavy_plain").work
        n = 20 if quick else 60
        assert stored(n) == plain(n)
        log(f"call overhead: work({n}) from the store vs imported, interleaved x{reps * 3}")
        s_plain, s_stored = time_pairs([lambda: plain(n), lambda: stored(n)], reps * 3, warmup=2)
        ratio = s_stored.median / s_plain.median
        return [Row("run", f"call-heavy work({n}): stored vs imported module", ms(s_stored.median),
                    ms(s_plain.median), f"{ratio:.3f}x", "<= 1.05x", ratio <= 1.05,
                    {"stored": s_stored.to_dict(), "plain": s_plain.to_dict(), "ratio": ratio})]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def cold_run(quick: bool, reps: int) -> list[Row]:
    d = Path(tempfile.mkdtemp(prefix="ucode-bench-cold-"))
    try:
        src = d / "trivial.py"
        src.write_text("def hello(name):\n    return 'hello ' + name\n")
        store = d / "store"
        with Codebase(store) as cb:
            cb.add([src])
        commands = {
            "import lmdb, msgpack": [PYTHON, "-c", "import lmdb, msgpack"],
            "ucode run (CLI)": [*ucode_argv(), "--store", str(store), "run", "hello", '"world"'],
            "ucode.run (API)": [PYTHON, "-c", f"import ucode; ucode.run('hello', 'world', store={str(store)!r})"],
        }
        log("cold run: fresh processes, interleaved with python -c pass")
        t = time_commands(commands, reps * 2)
        base = t["import lmdb, msgpack"].median
        rows = [Row("run", "python -c 'import lmdb, msgpack'", ms(base), ms(t["startup"].median), "", "", None,
                    {"samples": t["import lmdb, msgpack"].to_dict()})]
        for name in ("ucode run (CLI)", "ucode.run (API)"):
            m = t[name].median
            rows.append(Row("run", f"cold {name}, trivial function", ms(m), ms(base), f"{m / base:.2f}x",
                            "< 150 ms wall" if "CLI" in name else "", (m < 0.150) if "CLI" in name else None,
                            {"samples": t[name].to_dict(), "startup": t["startup"].median}))
        return rows
    finally:
        shutil.rmtree(d, ignore_errors=True)


def closure_load(quick: bool, reps: int) -> list[Row]:
    n = 200 if quick else 1000
    d = WORK_DIR / "closure"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    src = d / "chain.py"
    src.write_text(_chain(n))
    store = d / "store"
    with Codebase(store) as cb:
        cb.add([src])
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * n))

    def first() -> Any:
        with Codebase(store) as cb:
            return cb.function("chain.f0")

    def compiled() -> Any:
        saved = ucode.codebase._CACHE_TAG
        ucode.codebase._CACHE_TAG = "no-cache-bench"  # a Python with nothing cached: compiles every time
        try:
            with Codebase(store) as cb:
                cb.store_code = lambda items: None  # type: ignore[method-assign]  # keep it uncached
                return cb.function("chain.f0")
        finally:
            ucode.codebase._CACHE_TAG = saved

    assert first()(0) == n - 1
    log(f"closure load: {n} definitions")
    s_first = time_call(first, reps * 2, warmup=1)
    s_compile = time_call(compiled, reps, warmup=1)
    with Codebase(store) as cb:
        cb.function("chain.f0")
        s_cached = time_call(lambda: cb.function("chain.f0"), reps * 20, warmup=2)
    return [
        Row("run", f"load a closure of {n} definitions, first time (cached code)", ms(s_first.median), "",
            f"{s_first.median / n * 1e6:.0f} us/def", "", None, {"samples": s_first.to_dict(), "n": n}),
        Row("run", f"load a closure of {n} definitions, first time, compiling", ms(s_compile.median), "",
            f"{s_compile.median / n * 1e6:.0f} us/def", "", None, {"samples": s_compile.to_dict(), "n": n}),
        Row("run", f"load a closure of {n} definitions, again (nothing changed)", ms(s_cached.median), "",
            "", "", None, {"samples": s_cached.to_dict(), "n": n}),
    ]


def run(quick: bool = False, reps: int = 5) -> list[Row]:
    return [*call_overhead(quick, reps), *cold_run(quick, reps), *closure_load(quick, reps)]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row.case, row.value, row.baseline, row.ratio, row.goal, row.met)
