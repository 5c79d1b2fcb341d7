"""Benchmark 2: adding a ~6,000-line file again, unchanged.

The file is added once (untimed) into a fresh store; then, with nothing changed:

* ``CLI``: ``ucode --store S add F`` in a fresh process, minus ``python -c pass`` measured interleaved
  with it. Goal: under 50 ms beyond Python start-up.
* ``API, fresh process``: ``python -c "ucode.open(S).add([F])"``, minus ``python -c pass``: the same
  work without the CLI's own imports (typer, rich).
* ``API, in-process``: ``cb.add([F])`` in this (warm) process.

Every timed run must write nothing (checked: the namespace log does not move).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gen
from _common import PYTHON, WORK_DIR, Row, cli_available, log, ms, secs, time_call, time_commands, ucode_argv
from bench_add import Result, stdlib_file

import ucode

GOAL_S = 0.050
API_ADD = ("import sys, ucode\ncb = ucode.open(sys.argv[1])\nr = cb.add([sys.argv[2]])\ncb.close()\n"
           "sys.exit(3 if r.wrote else 0)")


def _files(quick: bool) -> list[Path]:
    d = WORK_DIR / "readd"
    d.mkdir(parents=True, exist_ok=True)
    lines = 1000 if quick else 6000
    synth = d / f"synth{lines}.py"
    text = gen.module_with_lines(lines)
    if not synth.exists() or synth.read_text(encoding="utf-8") != text:
        synth.write_text(text, encoding="utf-8")
    return [synth] if quick else [stdlib_file("_pydecimal.py"), synth]


def measure(path: Path, reps: int, cli: bool) -> list[Row]:
    (WORK_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    store = Path(tempfile.mkdtemp(prefix="readd-", dir=WORK_DIR / "tmp"))
    lines = len(path.read_text(encoding="utf-8").splitlines())
    label = f"{path.name} ({lines:,} lines)"
    try:
        with ucode.open(store) as cb:
            first = time_call(lambda: cb.add([path]), 1)
            defs = len(cb.bindings())
            seq = cb.log_position()
            log(f"re-add: {path.name}, first add {secs(first.median)}; in-process re-add x{reps}")
            results = []
            inproc = time_call(lambda: results.append(cb.add([path])), reps)
            assert not any(r.wrote for r in results), "an unchanged re-add wrote to the store"
        commands = {"api": [PYTHON, "-c", API_ADD, str(store), str(path)]}
        if cli:
            commands["cli"] = [*ucode_argv(), "--store", str(store), "add", str(path)]
        log(f"re-add: {path.name}, fresh processes x{reps}")
        t = time_commands(commands, reps, warmup=1)
        with ucode.open(store) as cb:
            assert cb.log_position() == seq, "an unchanged re-add (subprocess) wrote to the store"
    finally:
        shutil.rmtree(store, ignore_errors=True)

    start = t["startup"].median
    common = {"file": str(path), "lines": lines, "defs": defs, "first_add": first.median,
              "startup": t["startup"].to_dict()}
    rows = []
    if cli:
        beyond = t["cli"].median - start
        rows.append(Row("re-add", f"CLI `ucode add`, fresh process, {label}", f"{ms(beyond)} beyond start-up",
                        f"start-up {ms(start)}", f"total {ms(t['cli'].median)}", f"< {ms(GOAL_S)} beyond",
                        beyond < GOAL_S, {**common, "cli": t["cli"].to_dict(), "beyond_startup": beyond}))
    else:
        rows.append(Row("re-add", f"CLI `ucode add`, fresh process, {label}", "not run: CLI not ready",
                        goal=f"< {ms(GOAL_S)} beyond", met=None, data=common))
    beyond = t["api"].median - start
    rows.append(Row("re-add", f"API `cb.add`, fresh process, {label}", f"{ms(beyond)} beyond start-up",
                    f"start-up {ms(start)}", f"total {ms(t['api'].median)}", "(info)", None,
                    {**common, "api_process": t["api"].to_dict(), "beyond_startup": beyond}))
    rows.append(Row("re-add", f"API `cb.add`, in-process, {label}", ms(inproc.median),
                    f"first add {secs(first.median)}", f"{inproc.median / first.median:.2f}x first add",
                    "(info)", None, {**common, "in_process": inproc.to_dict()}))
    return rows


def run(*, quick: bool, reps: int) -> Result:
    cli, why = cli_available()
    if not cli:
        log(f"re-add: CLI part skipped: {why}")
    rows: list[Row] = []
    for path in _files(quick):
        rows.extend(measure(path, reps, cli))
    return Result(rows, {"cli_available": cli, "cli_missing_reason": why})
