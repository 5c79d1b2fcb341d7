"""Benchmark 1: ``cb.add([file])`` on large real modules against bare libcst on the same file.

* ``add``: end-to-end ``Codebase.add`` of one standard-library module into a fresh (empty) store.
* ``bare``: ``libcst.parse_module(src).code`` (parse + codegen) of the same text, in the same process,
  interleaved with ``add`` so both see the same machine noise.
* Goal: ``add`` costs at most 3x ``bare``.

Then two ways of finding where the time goes:

* a phase breakdown, without a profiler (profilers inflate visitor-heavy code unevenly): the libcst
  passes ``normalize_module`` makes, each timed alone on the same parsed module;
* a cProfile of one ``add`` (the largest file): the functions of ``ucode.normalize`` by cumulative time,
  and the functions with the most own time overall. The raw profile goes to ``bench/.work/``.
"""

from __future__ import annotations

import ast
import cProfile
import pstats
import shutil
import statistics
import symtable
import sysconfig
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gen
from _common import WORK_DIR, GcTimer, Row, log, secs, time_pairs

import ucode

FULL_FILES = ("_pydecimal.py", "argparse.py", "typing.py")
QUICK_FILES = ("argparse.py",)
GOAL_RATIO = 3.0


@dataclass
class Result:
    rows: list[Row]
    details: dict[str, Any]
    text: list[str] = field(default_factory=list)  # extra report sections, already formatted


def stdlib_file(name: str) -> Path:
    return Path(sysconfig.get_paths()["stdlib"]) / name


def _fresh_store() -> Path:
    (WORK_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="add-", dir=WORK_DIR / "tmp"))


def _warm_up() -> None:
    """Import everything ``add`` imports lazily and run each libcst pass once, on a small module."""
    path = WORK_DIR / "tmp" / "warmup.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    hazard = "\n\ndef clock():\n    import time\n    return time.time() + undefined\n"  # warnings: positions
    path.write_text(gen.module_source(0, 20) + hazard, encoding="utf-8")
    store = _fresh_store()
    with ucode.open(store) as cb:
        cb.add([path])
    shutil.rmtree(store, ignore_errors=True)


def _private(module: str, name: str) -> Any:
    """A private function or class of the normalizer, or None when it is not there (anymore)."""
    import importlib

    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return found if callable(found) and not isinstance(found, type(importlib)) else None


def measure_add(path: Path, reps: int) -> tuple[Row, dict[str, Any]]:
    """``add`` and bare libcst, and each libcst pass ``normalize_module`` makes timed alone on the same
    parsed module: all timed round-robin (one of each per repetition) so that they share the noise."""
    import libcst as cst
    from libcst.metadata import ExpressionContextProvider, MetadataWrapper, PositionProvider, ScopeProvider

    from ucode import hashing, normalize

    src = path.read_text(encoding="utf-8")
    lines = len(src.splitlines())
    mod = cst.parse_module(src)
    results: list[Any] = []
    gc_times: list[float] = []

    def add() -> None:
        store = _fresh_store()
        with ucode.open(store) as cb, GcTimer() as g:
            results.append(cb.add([path]))
        gc_times.append(g.seconds)
        shutil.rmtree(store, ignore_errors=True)

    def wrapper() -> MetadataWrapper:
        return MetadataWrapper(mod, unsafe_skip_copy=True)

    phases: dict[str, Callable[[], object]] = {
        "bare": lambda: cst.parse_module(src).code,
        "add": add,
        "parse (libcst parse_module)": lambda: cst.parse_module(src),
        "codegen (Module.code)": lambda: mod.code,
        "libcst ScopeProvider (reference, not used)": lambda: wrapper().resolve(ScopeProvider),
        "libcst ExpressionContextProvider (reference, not used)": lambda: wrapper().resolve(ExpressionContextProvider),
        "PositionProvider (a full codegen)": lambda: wrapper().resolve(PositionProvider),
        "code_for_node per top-level stmt": lambda: [mod.code_for_node(s) for s in mod.body],
    }
    # The normalizer's private passes, each timed alone; one that moved is skipped, not an error.
    scope_index = _private("ucode.normalize._scope", "_ScopeIndex")
    if scope_index is not None:
        phases["scope analysis (_ScopeIndex)"] = lambda: scope_index(mod)
    walk = _private("ucode.normalize._walk", "_walk")
    if walk is not None:
        phases["_walk per stmt"] = lambda: [list(walk(s)) for s in mod.body]
    encoder = _private("ucode.normalize._encode", "_Encoder")
    if encoder is not None:
        def encode_all() -> None:
            enc = encoder({}, set())
            for s in mod.body:
                hashing.definition_hash("value", enc.encode(s), [], [], name="app.x")

        phases["_Encoder.encode + hash per stmt"] = encode_all
    norm: list[Any] = []
    phases["normalize_module"] = lambda: norm.append(normalize.normalize_module(mod, path=str(path),
                                                                                  module=path.stem))
    phases["stdlib ast.parse (reference, not used)"] = lambda: ast.parse(src)
    phases["stdlib symtable (reference, not used)"] = lambda: symtable.symtable(src, path.name, "exec")

    samples = dict(zip(phases, time_pairs(list(phases.values()), reps, warmup=0), strict=True))
    med = {k: v.median for k, v in samples.items()}
    a, b = samples["add"], samples["bare"]
    defs = len(results[0].names)
    ratio = a.median / b.median
    row = Row(
        bench="add", case=f"add {path.name} ({lines:,} lines, {defs} defs)",
        value=f"{secs(a.median)}  ({lines / a.median:,.0f} lines/s, {defs / a.median:,.0f} defs/s)",
        baseline=f"{secs(b.median)} bare libcst", ratio=f"{ratio:.1f}x", goal=f"<= {GOAL_RATIO:.0f}x bare",
        met=ratio <= GOAL_RATIO,
        data={"file": str(path), "lines": lines, "defs": defs, "add": a.to_dict(), "bare": b.to_dict(),
              "ratio": ratio, "lines_per_s": lines / a.median, "defs_per_s": defs / a.median,
              "bare_lines_per_s": lines / b.median},
    )
    warnings = sum(len(d.warnings) for d in norm[0].definitions)
    passes = {k: v for k, v in med.items() if k not in ("bare", "add", "normalize_module") and "reference" not in k}
    accounted = sum(v for k, v in passes.items() if not k.startswith(("parse", "codegen", " ")))
    if not warnings:
        accounted -= passes["PositionProvider (a full codegen)"]
    detail = {
        "file": path.name, "bare": med["bare"], "add": med["add"], "normalize_module": med["normalize_module"],
        "phases": passes, "reference": {k: v for k, v in med.items() if "reference" in k},
        "warnings": warnings, "positions_computed": warnings > 0,
        "normalize_unaccounted": med["normalize_module"] - accounted,
        "add_minus_parse_normalize": med["add"] - med["normalize_module"] - med["parse (libcst parse_module)"],
        "gc_in_add": statistics.median(gc_times),
        "samples": {k: v.to_dict() for k, v in samples.items()},
    }
    return row, detail


def format_breakdown(b: dict[str, Any]) -> list[str]:
    bare = b["bare"]
    out = [f"Phase breakdown, {b['file']} (each pass timed alone, round-robin with add; x = multiple of bare "
           f"parse+codegen {secs(bare)}):"]
    rows = [*b["phases"].items(),
            ("normalize_module total (on a parsed module)", b["normalize_module"]),
            ("  residual: not in the passes above (noisy, can be < 0)", b["normalize_unaccounted"]),
            ("add total (parse + normalize + store)", b["add"]),
            ("  add - parse - normalize_module (store, GC, noise)", b["add_minus_parse_normalize"]),
            ("  cyclic GC during add (gc.callbacks)", b["gc_in_add"]),
            *b["reference"].items()]
    for name, t in rows:
        out.append(f"  {name:<56} {secs(t):>9} {t / bare:6.2f}x")
    note = (f"PositionProvider is resolved by normalize_module here ({b['warnings']} warnings need a line)"
            if b["positions_computed"] else "PositionProvider is not needed here (no warnings)")
    out.append(f"  note: {note}")
    return out


def profile_add(path: Path, top: int = 15) -> dict[str, Any]:
    """cProfile one ``add`` into a fresh store; the ``ucode`` functions by cumulative time and the
    functions with the most own time. Writes ``bench/.work/profile-<file>.prof`` and ``.txt``."""
    store = _fresh_store()
    cb = ucode.open(store)
    prof = cProfile.Profile()
    prof.enable()
    cb.add([path])
    prof.disable()
    cb.close()
    shutil.rmtree(store, ignore_errors=True)
    stem = WORK_DIR / f"profile-{path.stem}"
    prof.dump_stats(str(stem) + ".prof")
    stats = pstats.Stats(prof)
    with open(str(stem) + ".txt", "w", encoding="utf-8") as fh:
        pstats.Stats(str(stem) + ".prof", stream=fh).sort_stats("cumulative").print_stats(80)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in raw.values())

    def label(key: tuple[str, int, str]) -> str:
        filename, line, func = key
        if filename == "~":
            return func
        parts = Path(filename).parts
        short = "/".join(parts[parts.index("ucode"):]) if "ucode" in parts else "/".join(parts[-2:])
        return f"{short}:{line}({func})"

    def entry(key: tuple[str, int, str]) -> dict[str, Any]:
        _cc, nc, tt, ct, _callers = raw[key]
        return {"function": label(key), "calls": nc, "tottime": tt, "cumtime": ct, "cum_share": ct / total}

    ours = sorted((k for k in raw if "/ucode/normalize/" in k[0]),
                  key=lambda k: -raw[k][3])
    own = sorted(raw, key=lambda k: -raw[k][2])
    return {"file": path.name, "total": total, "profile": str(stem) + ".prof",
            "normalize_by_cumtime": [entry(k) for k in ours[:top]],
            "all_by_tottime": [entry(k) for k in own[:top]]}


def format_profile(p: dict[str, Any]) -> list[str]:
    out = [f"cProfile of one add of {p['file']} (total {secs(p['total'])} under the profiler; "
           f"raw: {p['profile']}):", "  ucode.normalize by cumulative time:"]
    for e in p["normalize_by_cumtime"]:
        out.append(f"    {e['cumtime']:7.2f} s {e['cum_share']:6.1%}  {e['calls']:>8} calls  {e['function']}")
    out.append("  all functions by own time:")
    for e in p["all_by_tottime"]:
        out.append(f"    {e['tottime']:7.2f} s own  {e['calls']:>8} calls  {e['function']}")
    return out


def run(*, quick: bool, reps: int) -> Result:
    files = [stdlib_file(n) for n in (QUICK_FILES if quick else FULL_FILES)]
    _warm_up()
    rows: list[Row] = []
    breakdowns = []
    for path in files:
        log(f"add: {path.name}: add, bare libcst and each pass, round-robin x{reps}")
        row, detail = measure_add(path, reps)
        rows.append(row)
        breakdowns.append(detail)
    biggest = max(files, key=lambda p: p.stat().st_size)
    log(f"add: profiling {biggest.name}")
    prof = profile_add(biggest)
    text = []
    for b in breakdowns:
        text += [*format_breakdown(b), ""]
    text += format_profile(prof)
    return Result(rows, {"breakdown": breakdowns, "profile": prof}, text)
