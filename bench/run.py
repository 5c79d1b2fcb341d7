"""Run the ucode codebase benchmarks: ``python bench/run.py [--quick] [--only NAME[,NAME]]``.

Benchmarks (see bench/README.md):

* ``add``    ``cb.add`` on large standard-library modules vs bare libcst parse+codegen; where the time goes.
* ``readd``  adding an unchanged ~6,000-line file again: fresh process (CLI and API) and in-process.
* ``store``  ``view`` / ``find`` on a 50,000-definition store; import costs; size on disk per definition.
* ``tasks``  cost per recorded effect per durability mode vs DBOS; replay speed; log size per effect.
* ``run``    call overhead of stored code vs an imported module; cold ``ucode run``; loading a closure of
             1,000 definitions.
* ``route``  per-call cost of a routing decision (primary, percent) vs a plain call; the caller's latency
             with a 100% shadow route vs none; unrouted calls in a module with a routed function.
* ``serve``  the engine (``ucode serve``) under wrk vs a plain Starlette app: requests/s and latency of a
             trivial function and of one with a recorded 1 ms effect; a rebinding under load; 100% shadowing.
             Skipped when wrk is not installed.

Prints a table (medians of repetitions; ratios against baselines measured in the same run) and writes
``bench/results.json``. ``--quick`` uses small sizes (CI smoke run, about a minute) and writes
``bench/.work/results-quick.json`` instead. The exit status is 0 even when a goal is not met: the goals are
reported, not asserted (the machine is noisy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_add
import bench_readd
import bench_route
import bench_run
import bench_serve
import bench_store
import bench_tasks
from _common import BENCH_DIR, WORK_DIR, Row

BENCHMARKS = ("add", "readd", "store", "run", "tasks", "route", "serve")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR, capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {
        "python": platform.python_version(), "implementation": platform.python_implementation(),
        "platform": platform.platform(), "cpus": os.cpu_count(), "loadavg_start": list(os.getloadavg()),
        "versions": {d: _version(d) for d in ("ucode", "libcst", "lmdb", "msgpack", "blake3", "typer", "rich")},
        "git_commit": commit,
    }


def table(rows: list[Row]) -> str:
    head = ["bench", "case", "measured (median)", "baseline", "ratio / total", "goal", "met"]
    cells = [[r.bench, r.case, r.value, r.baseline, r.ratio, r.goal,
              "" if r.met is None else ("yes" if r.met else "NO")] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *cells, strict=True)]
    line = "  ".join("-" * w for w in widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), line, *(fmt.format(*c) for c in cells)])


def markdown(rows: list[Row]) -> str:
    head = ["benchmark", "case", "measured (median)", "baseline", "ratio / total", "goal", "met"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        met = "" if r.met is None else ("**yes**" if r.met else "**no**")
        out.append("| " + " | ".join([r.bench, r.case, r.value, r.baseline, r.ratio, r.goal, met]) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a CI smoke run (< ~60 s)")
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    ap.add_argument("--reps", type=int, default=0, help="repetitions per measurement (default 5, quick 3)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached store of the store benchmark")
    ap.add_argument("--json", type=Path, default=None,
                    help="where to write results (default bench/results.json; with --quick "
                         "bench/.work/results-quick.json, so a CI smoke run never replaces the full results)")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = ap.parse_args(argv)

    only = [x.strip() for x in args.only.split(",") if x.strip()] or list(BENCHMARKS)
    unknown = [x for x in only if x not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    reps = args.reps or (3 if args.quick else 5)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if args.json is None:
        args.json = WORK_DIR / "results-quick.json" if args.quick else BENCH_DIR / "results.json"

    info = machine()
    results: dict[str, bench_add.Result] = {}
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    for name in BENCHMARKS:
        if name not in only:
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        t1 = time.perf_counter()
        if name == "add":
            results[name] = bench_add.run(quick=args.quick, reps=reps)
        elif name == "readd":
            results[name] = bench_readd.run(quick=args.quick, reps=reps)
        elif name == "tasks":
            results[name] = bench_add.Result(rows=bench_tasks.run(quick=args.quick, reps=reps), details={})
        elif name == "run":
            results[name] = bench_add.Result(rows=bench_run.run(quick=args.quick, reps=reps), details={})
        elif name == "route":
            results[name] = bench_add.Result(rows=bench_route.run(quick=args.quick, reps=reps), details={})
        elif name == "serve":
            results[name] = bench_serve.run(quick=args.quick, reps=reps)
        else:
            results[name] = bench_store.run(quick=args.quick, reps=reps, rebuild=args.rebuild)
        timing[name] = time.perf_counter() - t1
    elapsed = time.perf_counter() - t0
    info["loadavg_end"] = list(os.getloadavg())

    rows = [r for res in results.values() for r in res.rows]
    print()
    print(f"ucode benchmarks ({'quick' if args.quick else 'full'}; {reps} reps; medians; "
          f"{info['cpus']} cpus; load {info['loadavg_start'][0]:.1f} -> {info['loadavg_end'][0]:.1f}; "
          f"{elapsed:.0f} s)")
    print(table(rows))
    for res in results.values():
        if res.text:
            print()
            print("\n".join(res.text))
    if args.markdown:
        print()
        print(markdown(rows))

    mode = "quick" if args.quick else "full"
    now = dt.datetime.now().isoformat(timespec="seconds")
    benchmarks: dict[str, Any] = {}
    if set(only) != set(BENCHMARKS) and args.json.exists():  # --only: keep the other benchmarks' results
        try:
            old = json.loads(args.json.read_text(encoding="utf-8"))
            if old.get("mode") == mode:
                benchmarks = {k: v for k, v in old.get("benchmarks", {}).items() if k not in results}
        except (ValueError, AttributeError):
            pass
    for name, res in results.items():
        benchmarks[name] = {"measured_at": now, "reps": reps, "elapsed_s": timing[name], "machine": info,
                            "rows": [r.to_dict() for r in res.rows], "text": res.text, "details": res.details}
    out = {"date": dt.date.today().isoformat(), "mode": mode,
           "benchmarks": {k: benchmarks[k] for k in BENCHMARKS if k in benchmarks}}
    args.json.write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
