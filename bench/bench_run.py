"""Benchmarks for running stored code (issue: resolver and runner).

* ``call overhead``: a call-heavy program (recursion plus helper calls across several stored functions)
  run from the store (``cb.function``) vs the same source imported as a normal module, interleaved in
  this process. Goal: ratio at most 1.05.
* ``cold run``: ``ucode run`` of a trivial stored function in a fresh process, vs ``python -c "import
  lmdb, msgpack"`` and ``python -c pass`` measured interleaved with it. Goal: under 150 ms wall. Also the
  same through the API (``python -c "ucode.run(...)"``), which skips the CLI's typer import.
* ``closure load``: loading (resolving, reading and executing) a module of 1,000 definitions: first time
  in a fresh runtime (compiled code from the store's cache), first time with no cached code (compiles),
  and again when nothing changed (the runtime's cache).
* ``integrity``: the same first load with the load-time integrity checks (the program's hash over its
  stored fields, the digest of each cached code entry and of each statement text read) vs with them
  replaced by unchecked reads, interleaved. Goal: under 5% (issue 10).
* ``mounted import``: importing every module of an installed package of 50+ modules (rich) from the store
  through ``ucode.mount``, vs importing it from its files with bytecode cached, each in a fresh process,
  timing the import statements only (interleaved). Goal: at most 1.5x.
* ``rebinding``: a 1,000-definition codebase of 20 modules, each importing the one before it; in one
  process, the next call after a rebinding: in the last module (it alone runs again), in the middle (10
  modules run again), in the first (all 20), vs the first load. The goal: it pays only for the modules
  executed again.
"""

from __future__ import annotations

import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from _common import PYTHON, WORK_DIR, Row, log, ms, time_call, time_commands, time_pairs, ucode_argv

import ucode
import ucode.runtime._runtime
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
        saved = ucode.runtime._runtime.CACHE_TAG
        ucode.runtime._runtime.CACHE_TAG = "no-cache-bench"  # a Python with nothing cached: compiles every time
        try:
            with Codebase(store) as cb:
                cb.runtime.resolver.save_code = lambda items: None  # type: ignore[method-assign]  # uncached
                return cb.function("chain.f0")
        finally:
            ucode.runtime._runtime.CACHE_TAG = saved

    assert first()(0) == n - 1
    log(f"closure load: {n} definitions")
    s_first = time_call(first, reps * 2, warmup=1)
    s_compile = time_call(compiled, reps, warmup=1)
    with Codebase(store) as cb:
        cb.function("chain.f0")
        s_cached = time_call(lambda: cb.function("chain.f0"), reps * 20, warmup=2)
    # Interleaved pairs, and the median of the per-pair ratios: a difference of a few percent is below the
    # noise of separate medians on a shared machine.
    s_checked, s_unchecked = time_pairs([first, lambda: _unchecked(first)], reps * 8, warmup=1)
    cost = statistics.median(c / u for c, u in zip(s_checked.times, s_unchecked.times, strict=True))
    return [
        Row("run", f"load {n} definitions, first time: integrity checks vs none", ms(s_checked.median),
            ms(s_unchecked.median), f"{cost:.3f}x", "< 1.05x", cost < 1.05,
            {"checked": s_checked.to_dict(), "unchecked": s_unchecked.to_dict(), "ratio": cost}),
        Row("run", f"load a module of {n} definitions, first time (cached code)", ms(s_first.median), "",
            f"{s_first.median / n * 1e6:.0f} us/def", "", None, {"samples": s_first.to_dict(), "n": n}),
        Row("run", f"load a module of {n} definitions, first time, compiling", ms(s_compile.median), "",
            f"{s_compile.median / n * 1e6:.0f} us/def", "", None, {"samples": s_compile.to_dict(), "n": n}),
        Row("run", f"load a module of {n} definitions, again (nothing changed)", ms(s_cached.median), "",
            "", "", None, {"samples": s_cached.to_dict(), "n": n}),
    ]


def _unchecked(fn: Any) -> Any:
    """``fn()`` with the store's load-time integrity checks replaced by plain reads (the baseline of the
    integrity row: what a load costs without them)."""
    from ucode.records import Program
    from ucode.store import _backend, definitions, modules

    saved = modules.load_program, definitions.load_code, definitions.expect_text

    def load_program(txn: Any, h: str) -> Program | None:
        rec = _backend.load_map(txn, "programs", h)
        return None if rec is None else Program.from_stored(h, rec)

    def load_code(txn: Any, code_key: str) -> bytes | None:
        raw = txn.get("code", code_key.encode())
        return None if raw is None else raw[4 + 32:]

    def expect_text(txn: Any, digest: str) -> str:
        found = definitions.load_text(txn, digest)
        assert found is not None
        return found

    modules.load_program, definitions.load_code, definitions.expect_text = load_program, load_code, expect_text
    try:
        return fn()
    finally:
        modules.load_program, definitions.load_code, definitions.expect_text = saved


_IMPORT_TIMER = """
import importlib, sys, time
names = {names!r}
{prelude}
t = time.perf_counter()
for n in names:
    try:
        importlib.import_module(n)
    except Exception:
        pass
dt = time.perf_counter() - t
print(dt, sum(1 for m in sys.modules if m == {top!r} or m.startswith({top!r} + ".")))
"""


def mounted_import(quick: bool, reps: int) -> list[Row]:
    """Import every module of rich, from the store (mounted) vs from its files with bytecode cached."""
    try:
        import rich
    except ImportError:
        return []
    root = Path(rich.__file__).parent
    names = sorted({"rich", *(f"rich.{p.stem}" for p in root.glob("*.py") if p.stem not in ("__init__", "__main__"))})
    d = Path(tempfile.mkdtemp(prefix="ucode-bench-mount-"))
    try:
        store = d / "store"
        with Codebase(store) as cb:
            cb.add([root])
        files = _IMPORT_TIMER.format(names=names, prelude="", top="rich")
        stored = _IMPORT_TIMER.format(names=names, top="rich", prelude=(
            f"import ucode\nucode.mount('rich', store={str(store)!r})"))
        warm = [subprocess.run([PYTHON, "-c", c], capture_output=True, text=True, check=True) for c in (files, stored)]
        count = int(warm[1].stdout.split()[1])
        log(f"mounted import: {count} modules of rich, fresh processes, interleaved x{reps * 2}")
        t_files: list[float] = []
        t_store: list[float] = []
        for _ in range(reps * 2):
            for code, out in ((files, t_files), (stored, t_store)):
                proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
                out.append(float(proc.stdout.split()[0]))
        from _common import Samples

        sf, ss = Samples(t_files), Samples(t_store)
        ratio = ss.median / sf.median
        return [Row("run", f"import {count} modules of rich: mounted vs files (bytecode cached)", ms(ss.median),
                    ms(sf.median), f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5,
                    {"store": ss.to_dict(), "files": sf.to_dict(), "modules": count})]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _layered(modules: int, per: int) -> dict[str, str]:
    """``modules`` modules of ``per`` definitions each; module i imports module i-1 and its functions call
    the previous module's."""
    out = {}
    for i in range(modules):
        lines = [f"import layer{i - 1:02d}\n"] if i else []
        for j in range(per):
            if i:
                lines.append(f"def f{j}(x):\n    return layer{i - 1:02d}.f{j}(x) + {j}\n")
            else:
                lines.append(f"def f{j}(x):\n    return x + {j}\n")
        lines.append(f"TABLE = {{k: k * {i} for k in range({per})}}\n")
        out[f"layer{i:02d}.py"] = "\n".join(lines)
    return out


def rebinding(quick: bool, reps: int) -> list[Row]:
    modules, per = (10, 20) if quick else (20, 50)
    d = WORK_DIR / "rebinding"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for name, text in _layered(modules, per).items():
        (d / name).write_text(text)
    (d / "alt.py").write_text("def g(x):\n    return -x\n")
    store = d / "store"
    with Codebase(store) as cb:
        cb.add(sorted(d.glob("*.py")))
        alt = cb.resolve("alt.g")
    top = f"layer{modules - 1:02d}.f0"
    targets = {"last": modules - 1, "middle": modules // 2, "first": 0}
    rows: list[Row] = []
    samples: dict[str, list[float]] = {"first load": [], **{k: [] for k in targets}}
    executed: dict[str, int] = {}
    import time as _time

    for _ in range(reps):
        with Codebase(store) as cb:
            t = _time.perf_counter()
            cb.function(top)
            samples["first load"].append(_time.perf_counter() - t)
            for label, layer in targets.items():
                name = f"layer{layer:02d}.f1"
                before = len(cb.runtime._instances)
                cb.bind(name, f"#{alt}")
                t = _time.perf_counter()
                fn = cb.function(top)
                samples[label].append(_time.perf_counter() - t)
                executed[label] = len(cb.runtime._instances) - before
                assert fn(1) is not None
                cb.undo()
                cb.function(top)  # back to the shared instances of before
    from _common import Samples

    first = Samples(samples["first load"])
    log(f"rebinding: {modules} modules x {per} definitions")
    rows.append(Row("run", f"first load of {modules * per} definitions in {modules} modules", ms(first.median), "",
                    "", "", None, {"samples": first.to_dict()}))
    for label in targets:
        s = Samples(samples[label])
        n = executed[label]
        case = f"next call after a rebinding in the {label} module ({n} of {modules} modules run again)"
        rows.append(Row("run", case, ms(s.median), ms(first.median), f"{s.median / first.median:.2f}x first load",
                        "pays for what runs again", None, {"samples": s.to_dict(), "executed": n}))
    return rows


def run(quick: bool = False, reps: int = 5) -> list[Row]:
    return [*call_overhead(quick, reps), *cold_run(quick, reps), *closure_load(quick, reps),
            *mounted_import(quick, reps), *rebinding(quick, reps)]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row.case, row.value, row.baseline, row.ratio, row.goal, row.met)
