"""Benchmarks for tasks and replay (issue: typed effects, tasks and the event log).

* ``per effect``: the cost of one recorded effect inside a task, per durability mode, as
  (task with N effects - task with 0 effects) / N, against DBOS (``pip install dbos``; SQLite system
  database, the default): a workflow of N trivial steps vs a workflow of 0 steps, / N. Goals: ``durable``
  at least 5x cheaper per step than DBOS, ``batched`` at least 100x cheaper. The guarantees differ and are
  stated side by side in bench/README.md. DBOS runs in a subprocess (``--dbos-python``, default: this
  interpreter); without it the DBOS rows are skipped.
* ``replay speed``: a task of 10,000 effects, live vs replayed, once with trivial effects
  (``random.randint``) and once with effects that take 0.5 ms each (``sleep(0.0005)``, about a fast local
  database call). Goal: replay at least 10x faster than live.
* ``log size``: bytes on disk per recorded effect.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _common import PYTHON, Row, log, ms, time_call, time_pairs

from ucode.codebase import Codebase

WORK = '''
from ucode import effects


def work(n: int) -> int:
    total = 0
    for i in range(n):
        total += effects.randint(0, 1)
    return total


def slow(n: int) -> int:
    for i in range(n):
        effects.sleep(0.0005)
    return n
'''

DBOS_SCRIPT = textwrap.dedent('''
    import json, sys, time
    from dbos import DBOS

    @DBOS.step()
    def step(i):
        return i

    @DBOS.workflow()
    def wf(n):
        t = 0
        for i in range(n):
            t += step(i)
        return t

    DBOS(config={"name": "ucode-bench", "system_database_url": "sqlite:///" + sys.argv[1]})
    DBOS.launch()
    n, reps = int(sys.argv[2]), int(sys.argv[3])
    wf(0); wf(min(n, 20))  # warm up
    out = {"zero": [], "n": []}
    for _ in range(reps):
        t0 = time.perf_counter(); wf(0); out["zero"].append(time.perf_counter() - t0)
        t0 = time.perf_counter(); wf(n); out["n"].append(time.perf_counter() - t0)
    DBOS.destroy()
    print(json.dumps(out))
''')


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def per_effect(d: Path, cb: Codebase, n: int, reps: int, dbos_python: str) -> list[Row]:
    rows: list[Row] = []
    per: dict[str, float] = {}
    for mode in ("off", "batched", "durable"):
        zero = time_call(lambda m=mode: cb.run_task("work", 0, durability=m), reps * 2, warmup=1)  # type: ignore[misc]
        full = time_call(lambda m=mode: cb.run_task("work", n, durability=m), reps, warmup=1)  # type: ignore[misc]
        per[mode] = max(full.median - zero.median, 0.0) / n
    plain = time_call(lambda: cb.function("work")(n), reps, warmup=1).median / n  # no task: effects perform
    log(f"per effect: ucode off {per['off'] * 1e6:.1f} us, batched {per['batched'] * 1e6:.1f} us, "
        f"durable {per['durable'] * 1e6:.1f} us, no task {plain * 1e6:.1f} us")
    dbos: float | None = None
    dbos_note = ""
    try:
        proc = subprocess.run([dbos_python, "-c", DBOS_SCRIPT, str(d / "dbos.sqlite"), str(max(n // 10, 50)),
                               str(reps)], capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode == 0:
            data = json.loads(proc.stdout.strip().splitlines()[-1])
            dbos = (_median(data["n"]) - _median(data["zero"])) / max(n // 10, 50)
            log(f"per effect: DBOS step {dbos * 1e6:.0f} us")
        else:
            dbos_note = proc.stderr.strip().splitlines()[-1][:120] if proc.stderr.strip() else "failed"
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        dbos_note = str(exc)[:120]
    if dbos is not None:
        rows.append(Row("tasks", "DBOS step (SQLite), per step", f"{dbos * 1e6:.0f} us", "", "", "", None,
                        {"seconds": dbos}))
    else:
        rows.append(Row("tasks", "DBOS step: not measured", dbos_note or "dbos not installed", "", "", "", None))
    goals = {"durable": 5.0, "batched": 100.0}
    for mode in ("durable", "batched", "off"):
        ratio = (dbos / per[mode]) if dbos and per[mode] > 0 else None
        goal = goals.get(mode)
        rows.append(Row(
            "tasks", f"ucode effect in a task, --durability {mode}, per effect", f"{per[mode] * 1e6:.1f} us",
            f"{dbos * 1e6:.0f} us DBOS" if dbos else "", f"{ratio:.0f}x cheaper" if ratio else "",
            f">= {goal:.0f}x cheaper" if goal else "", (ratio >= goal) if (ratio and goal) else None,
            {"seconds": per[mode], "dbos": dbos}))
    rows.append(Row("tasks", "the same effect outside a task (no handler), per effect", f"{plain * 1e6:.1f} us",
                    "", "", "", None, {"seconds": plain}))
    return rows


def replay_speed(cb: Codebase, n: int, reps: int) -> list[Row]:
    rows = []
    for entry, label in (("work", "trivial effects"), ("slow", "0.5 ms effects")):
        count = n if entry == "work" else max(n // 10, 200) if reps < 3 else n
        # Live and replay are timed alike: interleaved, medians, after one untimed warm-up of each (a first
        # run pays for imports and loading the closure; neither side should be charged for that).
        cb.replay(cb.run_task(entry, 1).id)  # the warm-up: a short task, run and replayed
        runs: list[str] = []

        def live_run(e: str = entry, c: int = count, out: list[str] = runs) -> None:
            out.append(cb.run_task(e, c).id)

        def replay_run(out: list[str] = runs) -> None:
            cb.replay(out[0])

        lives = max(reps // 2, 1) if entry == "work" else 1  # one live run of 0.5 ms effects takes seconds
        samples = time_pairs([live_run, replay_run], lives, warmup=0)
        live, replayed = samples[0].median, samples[1]
        assert cb.replay(runs[-1]).result.identical
        ratio = live / replayed.median
        rows.append(Row("tasks", f"replay of a task of {count:,} {label}: live vs replay", ms(replayed.median),
                        ms(live), f"{ratio:.1f}x faster", ">= 10x faster", ratio >= 10,
                        {"live": live, "live_samples": samples[0].to_dict(), "replay": replayed.to_dict(),
                         "effects": count}))
        if entry == "work":
            # Replay serves an effect in (replay / n); live pays (live / n) + what the effect itself costs.
            # So replay is 10x faster than live for effects that cost at least 10 * replay/n - live/n.
            per_live, per_replay = live / count, replayed.median / count
            breakeven = max(10 * per_replay - per_live, 0.0)
            rows.append(Row("tasks", "replay >= 10x faster than live for effects that cost at least",
                            f"{breakeven * 1e6:.1f} us", f"{per_replay * 1e6:.2f} us/effect replay", "", "", None,
                            {"seconds": breakeven, "replay_per_effect": per_replay, "live_per_effect": per_live}))
    return rows


def log_size(d: Path, n: int) -> list[Row]:
    store = d / "size-store"
    src = d / "size_src" / "tasks_bench.py"
    with Codebase(store) as cb:
        cb.add([src])
        before = cb.stats()["bytes"]
        for _ in range(5):
            cb.run_task("work", n)
        after = cb.stats()["bytes"]
    per = (after - before) / (5 * n)
    return [Row("tasks", "event log size on disk, per recorded effect", f"{per:.0f} B", "", "", "", None,
                {"bytes_per_effect": per})]


def run(quick: bool = False, reps: int = 5, dbos_python: str = PYTHON) -> list[Row]:
    d = Path(tempfile.mkdtemp(prefix="ucode-bench-tasks-"))
    try:
        (d / "size_src").mkdir()
        src = d / "size_src" / "tasks_bench.py"
        src.write_text(WORK)
        n = 500 if quick else 10_000
        with Codebase(d / "store") as cb:
            cb.add([src])
            rows = per_effect(d, cb, 200 if quick else 2000, reps, dbos_python)
            rows += replay_speed(cb, n, reps)
        rows += log_size(d, 200 if quick else 2000)
        return rows
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row.case, "|", row.value, "|", row.baseline, "|", row.ratio, "|", row.goal, "|", row.met)
