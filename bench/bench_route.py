"""Benchmarks for routing (issue 12: primary, percent and shadow routes).

Stored code from small generated modules, each added twice: version ``v1`` (the default) and ``v2`` (a
variant of ``lookupUser``). Each case has its own module (same code, another name), so that every route
lives in one codebase and the cases can be timed interleaved.

* ``decision``: the per-call cost of a routing decision outside a task: ``cb.function("handleRequest")``
  called in a tight loop over prepared requests; it calls ``lookupUser``, which is unrouted (plain), or
  routed ``primary`` to v2, or ``percent`` 50% to v2 by ``user_id`` (1,000 distinct keys, so decisions
  come from the dispatcher's memo; and a new key on every call, so every call hashes its key). Each loop
  is timed interleaved with the plain loop over the same requests; the figure is the median of the
  per-pair differences, per call. Goal (issue 12): under 2 us added for primary and percent.
* ``decision in a task``: the same, inside one recorded task (``cb.run_task("handleMany", n, keys)``
  calls ``handleRequest`` n times), where a decision is also recorded as a ``route`` effect (once per task
  and key): n / 10 keys (each used 10 times), and a new key on every call. (info)
* ``shadow``: the caller's latency of ``cb.run_task("handleRequest", req)`` when ``lookupUser`` does a ~1 ms
  I/O effect (``effects.sleep(0.001)``), with a 100% shadow route to v2 vs the same code unrouted. Batches of
  calls, alternating (shadowed, plain, plain, shadowed, ...), with ``cb.drain_shadows()`` after each (so the
  256-job queue never fills; the dropped count is reported from ``cb.route_report``). Figure: p50 of every
  call's latency. Goal: within 10% (ratio <= 1.10). The same outside a task (``cb.function``; the effect is
  performed directly, no task record is written), for information.
* ``unrouted``: the call-heavy program of ``bench_run`` (``callheavy``) in a module where another function
  is routed (``primary``), from the store vs the same file imported, interleaved with the same module stored
  without a route. Goal: <= 1.05x, as ``run``'s call overhead row (which has no route at all).
"""

from __future__ import annotations

import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Row, Samples, log, ms, time_pairs
from bench_run import CALL_HEAVY, _import_file

from ucode.codebase import Codebase

try:
    from ucode.routing._dispatch import _MEMO  # decisions a dispatcher remembers before it starts again
except ImportError:  # renamed: the figure it guards is the "new key every call" loop's length
    _MEMO = 4096

CALLS = '''
def lookupUser(user_id):
    return {LOOKUP}


def handleRequest(req):
    return lookupUser(req["user_id"])


def handleMany(n, keys):
    total = 0
    for i in range(n):
        total += handleRequest({"user_id": i % keys})["id"]
    return total
'''

SLOW = '''
from ucode import effects


def lookupUser(user_id):
    effects.sleep(0.001)
    return {LOOKUP}


def handleRequest(req):
    return lookupUser(req["user_id"])
'''

# v1 and v2 of each module: lookupUser differs (the shadow's v2 returns the same value, written otherwise:
# the shadow runs match, which is the common case of a shadow route).
V1 = {"route_plain": (CALLS, '{"id": user_id}'), "route_primary": (CALLS, '{"id": user_id}'),
      "route_percent": (CALLS, '{"id": user_id}'), "route_noshadow": (SLOW, '{"id": user_id}'),
      "route_shadow": (SLOW, '{"id": user_id}'),
      "callheavy_routed": (CALL_HEAVY + "\n\ndef unused(x):\n    return x\n", "")}
V1["callheavy_unrouted"] = V1["callheavy_routed"]  # the same module, no route in it
V2 = {"route_plain": (CALLS, '{"id": user_id, "v": 2}'), "route_primary": (CALLS, '{"id": user_id, "v": 2}'),
      "route_percent": (CALLS, '{"id": user_id, "v": 2}'), "route_noshadow": (SLOW, 'dict(id=user_id)'),
      "route_shadow": (SLOW, 'dict(id=user_id)'),
      "callheavy_routed": (CALL_HEAVY + "\n\ndef unused(x):\n    return x + 1\n", "")}
V2["callheavy_unrouted"] = V2["callheavy_routed"]


def _write(d: Path, files: dict[str, tuple[str, str]]) -> list[Path]:
    d.mkdir(parents=True)
    out = []
    for name, (template, lookup) in files.items():
        p = d / f"{name}.py"
        p.write_text(template.replace("{LOOKUP}", lookup))
        out.append(p)
    return out


def _setup(d: Path) -> Codebase:
    cb = Codebase(d / "store")
    cb.add(_write(d / "v1", V1))
    cb.add(_write(d / "v2", V2), version="v2")
    cb.route_primary("route_primary.lookupUser", "v2")
    cb.route_percent("route_percent.lookupUser", "v2", 50, key="user_id")
    cb.route_shadow("route_shadow.lookupUser", "v2")
    cb.route_primary("callheavy_routed.unused", "v2")
    return cb


def _loop(fn: Callable[[dict[str, int]], Any], reqs: list[dict[str, int]]) -> Callable[[], None]:
    def go() -> None:
        for r in reqs:
            fn(r)

    return go


def _pair_diff(case: Samples, plain: Samples, n: int) -> float:
    """The median of the per-pair differences (case - plain), per call, in seconds."""
    return statistics.median(c - p for c, p in zip(case.times, plain.times, strict=True)) / n


def decision(cb: Codebase, quick: bool, reps: int) -> list[Row]:
    n = 5_000 if quick else 50_000
    # a new key on every call: more distinct keys than the dispatcher's memo holds (it is cleared when full),
    # so that no call of any repetition finds its key's decision memoized
    assert n > _MEMO
    plain = cb.function("route_plain.handleRequest")
    primary = cb.function("route_primary.handleRequest")
    percent = cb.function("route_percent.handleRequest")
    assert plain({"user_id": 1}) == {"id": 1} and primary({"user_id": 1}) == {"id": 1, "v": 2}
    assert getattr(primary.__globals__["lookupUser"], "__ucode_route__", None) is not None
    assert getattr(plain.__globals__["lookupUser"], "__ucode_route__", None) is None
    few = [{"user_id": i % 1000} for i in range(n)]  # 1,000 keys: decisions from the dispatcher's memo
    many = [{"user_id": i} for i in range(n)]  # a new key on every call (see above)
    shares = sum(1 for r in few[:1000] if "v" in percent(r)) / 10
    log(f"decision: the candidate answered {shares:.1f}% of 1,000 keys (route: 50%)")
    loops = [_loop(plain, many), _loop(primary, many), _loop(percent, many), _loop(plain, few),
             _loop(percent, few)]
    rounds = reps * 2 if quick else reps * 3
    log(f"decision: {n:,} calls per loop, 5 loops interleaved x{rounds}")
    s = time_pairs(loops, rounds, warmup=1)
    cases = [("primary route (-> v2)", s[1], s[0]),
             ("percent route (50% by user_id), a new key every call", s[2], s[0]),
             ("percent route (50% by user_id), 1,000 keys (memoized)", s[4], s[3])]
    rows = [Row("route", "plain call, no route: handleRequest -> lookupUser, outside a task",
                f"{s[0].median / n * 1e9:.0f} ns/call", "", "", "", None,
                {"samples": s[0].to_dict(), "calls": n, "few_keys": s[3].to_dict()})]
    for label, case, base in cases:
        added = _pair_diff(case, base, n)
        rows.append(Row("route", f"{label}, outside a task", f"{case.median / n * 1e9:.0f} ns/call",
                        f"{base.median / n * 1e9:.0f} ns/call plain", f"+{added * 1e6:.2f} us/call",
                        "< 2 us added", added < 2e-6,
                        {"samples": case.to_dict(), "plain": base.to_dict(), "calls": n, "added": added,
                         "candidate_share_1000_keys_percent": shares if "percent" in label else None}))
    return rows


def decision_in_task(cb: Codebase, quick: bool, reps: int) -> list[Row]:
    n = 500 if quick else 10_000
    names = {"plain": "route_plain.handleMany", "primary": "route_primary.handleMany",
             "percent": "route_percent.handleMany"}

    def task(name: str, keys: int) -> Callable[[], None]:
        def go() -> None:
            run = cb.run_task(name, n, keys)
            assert run.error is None, run.error

        return go

    keys = n // 10  # each key used 10 times per task: 1 recorded decision, 9 from the memo
    loops = [task(names["plain"], keys), task(names["primary"], keys), task(names["percent"], keys),
             task(names["percent"], n)]
    log(f"decision in a task: {n:,} calls per task, 4 tasks interleaved x{reps * 2}")
    s = time_pairs(loops, reps * 2, warmup=1)
    rows = [Row("route", f"plain call, no route, inside a task (task time / {n:,} calls)",
                f"{s[0].median / n * 1e9:.0f} ns/call", "", "", "", None, {"samples": s[0].to_dict(), "calls": n})]
    for label, case in (("primary route (-> v2)", s[1]), (f"percent route, {keys:,} keys", s[2]),
                        ("percent route, a new key every call", s[3])):
        added = _pair_diff(case, s[0], n)
        rows.append(Row("route", f"{label}, inside a task (each decision recorded once per key)",
                        f"{case.median / n * 1e9:.0f} ns/call", f"{s[0].median / n * 1e9:.0f} ns/call plain",
                        f"+{added * 1e6:.2f} us/call", "(info)", None,
                        {"samples": case.to_dict(), "plain": s[0].to_dict(), "calls": n, "added": added}))
    return rows


def _percentile(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))]


def _shadow_latencies(cb: Codebase, call: Callable[[str, dict[str, int]], Any], batches: int,
                      size: int) -> tuple[dict[str, list[float]], dict[str, Any], int]:
    """Per-call latencies of ``call(name, req)`` for the shadowed and the unrouted module, in alternating
    batches (drained after each); the route's counters over the timed batches; the most left after a drain."""
    routed, unrouted = "route_shadow.handleRequest", "route_noshadow.handleRequest"
    route = "route_shadow.lookupUser"
    lat: dict[str, list[float]] = {routed: [], unrouted: []}
    left: list[int] = []
    next_id = [0]

    def batch(name: str, out: list[float] | None) -> None:
        gc.collect()
        for _ in range(size):
            req = {"user_id": next_id[0]}
            next_id[0] += 1
            t0 = time.perf_counter()
            result = call(name, req)
            dt = time.perf_counter() - t0
            assert result == {"id": req["user_id"]}, result
            if out is not None:
                out.append(dt)
        left.append(cb.drain_shadows())

    batch(routed, None)  # warm-up: loads both versions, starts the shadow worker
    batch(unrouted, None)
    before = cb.route_report(route)
    for i in range(batches):
        for name in ((routed, unrouted) if i % 2 == 0 else (unrouted, routed)):
            batch(name, lat[name])
    rep = cb.route_report(route)
    counts = {k: rep[k] - before.get(k, 0) for k in ("calls", "shadowed", "matched", "diverged", "dropped",
                                                     "unshadowable", "candidate_errors")}
    counts["primary_mean_ms"], counts["candidate_mean_ms"] = rep["primary_mean_ms"], rep["candidate_mean_ms"]
    return {"shadowed": lat[routed], "unrouted": lat[unrouted]}, counts, max(left)


def shadow(cb: Codebase, quick: bool, reps: int) -> list[Row]:
    batches, size = (reps, 20) if quick else (reps * 2, 100)

    def in_task(name: str, req: dict[str, int]) -> Any:
        run = cb.run_task(name, req)
        assert run.error is None, run.error
        return run.result

    functions = {n: cb.function(n) for n in ("route_shadow.handleRequest", "route_noshadow.handleRequest")}

    def outside(name: str, req: dict[str, int]) -> Any:
        return functions[name](req)

    rows: list[Row] = []
    for label, call in (("run_task", in_task), ("outside a task", outside)):
        log(f"shadow ({label}): {batches} x 2 batches of {size} calls with a 1 ms effect, alternating")
        lat, counts, left = _shadow_latencies(cb, call, batches, size)
        p50s, p50p = statistics.median(lat["shadowed"]), statistics.median(lat["unrouted"])
        p90s, p90p = _percentile(lat["shadowed"], 0.9), _percentile(lat["unrouted"], 0.9)
        ratio = p50s / p50p
        log(f"shadow ({label}): p50 {p50s * 1e3:.3f} vs {p50p * 1e3:.3f} ms ({ratio:.3f}x); {counts}")
        total = len(lat["shadowed"])
        main = label == "run_task"
        rows += [
            Row("route", f"shadow 100% (1 ms effect, {label}): caller's p50, {total:,} calls", ms(p50s),
                f"{ms(p50p)} unrouted", f"{ratio:.3f}x", "<= 1.10x" if main else "(info)",
                (ratio <= 1.10) if main else None,
                {"shadowed": _summary(lat["shadowed"]), "unrouted": _summary(lat["unrouted"]),
                 "counts": counts, "left_after_drain": left, "batch": size, "batches": batches}),
            Row("route", f"shadow 100% ({label}): caller's p90", ms(p90s), f"{ms(p90p)} unrouted",
                f"{p90s / p90p:.3f}x", "", None, {}),
            Row("route", f"shadow 100% ({label}): shadow runs, drained after each batch",
                f"{counts['shadowed']:,} shadowed, {counts['dropped']} dropped", f"{counts['calls']:,} calls",
                f"{counts['matched']:,} matched, {counts['diverged']} diverged", "0 dropped",
                counts["dropped"] == 0, {"counts": counts}),
        ]
    return rows


def unrouted(cb: Codebase, d: Path, quick: bool, reps: int) -> list[Row]:
    routed = cb.function("callheavy_routed.work")
    same = cb.function("callheavy_unrouted.work")
    assert getattr(routed.__globals__["unused"], "__ucode_route__", None) is not None, "unused is not routed"
    assert getattr(same.__globals__["unused"], "__ucode_route__", None) is None
    assert cb.function("callheavy_routed.unused")(1) == 2  # the route answers: v2
    src = d / "callheavy_plain_route.py"
    src.write_text(CALL_HEAVY)
    plain = _import_file(src, "callheavy_plain_route").work
    n = 20 if quick else 60
    assert routed(n) == same(n) == plain(n)
    log(f"unrouted: work({n}) imported, stored, stored in a module with a routed function, interleaved x{reps * 4}")
    s_plain, s_same, s_routed = time_pairs([lambda: plain(n), lambda: same(n), lambda: routed(n)], reps * 4,
                                           warmup=2)
    ratio = s_routed.median / s_plain.median
    vs_same = s_routed.median / s_same.median
    return [Row("route", f"call-heavy work({n}), unrouted names of a module with a routed function: stored vs "
                "imported", ms(s_routed.median), ms(s_plain.median), f"{ratio:.3f}x ({vs_same:.3f}x no route)",
                "<= 1.05x", ratio <= 1.05,
                {"stored": s_routed.to_dict(), "plain": s_plain.to_dict(), "no_route": s_same.to_dict(),
                 "ratio": ratio, "vs_no_route": vs_same})]


def run(quick: bool = False, reps: int = 5) -> list[Row]:
    d = Path(tempfile.mkdtemp(prefix="ucode-bench-route-"))
    try:
        with _setup(d) as cb:
            # What the set-up allocated (libcst's parser, the stored modules) moves to the permanent
            # generation: the untimed gc.collect() before each timed call then takes ~1 ms, not ~35 ms.
            gc.collect()
            gc.freeze()
            rows = decision(cb, quick, reps)
            rows += decision_in_task(cb, quick, reps)
            rows += shadow(cb, quick, reps)
            rows += unrouted(cb, d, quick, reps)
        return rows
    finally:
        gc.unfreeze()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    for row in run(quick=quick, reps=3 if quick else 5):
        print(row.case, "|", row.value, "|", row.baseline, "|", row.ratio, "|", row.goal, "|", row.met)


def _summary(times: list[float]) -> dict[str, Any]:
    """Latencies as results.json keeps them: their quantiles, not every call (1,000 per case)."""
    d = Samples(times).to_dict()
    qs = statistics.quantiles(times, n=10) if len(times) > 1 else times
    d["times"] = None
    d["deciles"] = qs
    return d
