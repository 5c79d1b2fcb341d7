"""Benchmarks for the engine (issue 13: ``ucode serve``), with wrk as the load generator.

Stored code: a generated module ``svc`` added to a fresh store under ``bench/.work/`` twice, ``v1`` (the
default) and ``v2`` (``--version v2``)::

    @ucode.effect
    def io():                 # a recorded 1 ms I/O effect
        time.sleep(0.001)
        return 1

    def hello():              # v2 returns {"hello": "world", "n": 2}
        return {"hello": "world", "n": 1}

    def slow():               # v2: dict(io=io()), the same value written otherwise
        return {"io": io()}

served by ``ucode serve --port 0 --endpoint 'GET /hello=svc.hello' --endpoint 'GET /slow=svc.slow'`` (a
subprocess, default settings: 8 workers, the store's durability, ``batched``; every request is a recorded
task), stopped with SIGTERM after. The baseline is ``bench/serve_plain.py``: the same two functions in a
plain Starlette app on uvicorn with the engine's uvicorn settings, nothing recorded, the sync endpoints on
a thread pool of 8 (the engine's workers). Every load is ``wrk -c 32 -t 2 --latency`` on keep-alive
connections; only the server measured runs (the others are stopped with SIGSTOP meanwhile); runs are
interleaved (a, b, c, c, b, a, ...); figures are medians over the runs of wrk's requests/s and its
p50/p99 latency. Every run's non-2xx responses and socket errors are counted (goal: none).

* ``trivial``: ``GET /hello``, ucode vs plain: requests/s (goal >= 0.7x plain) and p99 (goal <= 2x).
* ``effect``: ``GET /slow`` (``slow`` calls the 1 ms effect, recorded), the same goals.
* ``rebind``: while wrk runs 1 s windows on ``/hello``, ``ucode bind svc.hello '#HASH'`` from another
  process switches it between v1 and v2 (5 times, each in its own window, started 0.1 s into it); a client
  thread polls ``/hello`` as fast as it can (httpx, keep-alive) and timestamps the first answer carrying
  the new value. Figures: wrk's p99 of the window with the swap vs of the steady windows (goal <= 2x), and
  the time from ``ucode bind`` returning to that first answer (median; goal < 100 ms; negative: the
  engine answered with the new code before the ``bind`` process had exited), and from the bind's commit
  (the time of its log event, ``bind --json``) to that answer, to the engine seeing the change (its
  ``/v1/engine`` swaps) and to the engine's first task on the new code. A control window runs ``ucode
  ls`` (the same start-up CPU, no swap) the same way.
* ``shadow``: ``ucode route shadow svc.slow --candidate v2`` (100% shadowing) vs no route, alternating 5 s
  runs on ``/slow`` in one engine: the primary's p50 (goal <= 1.10x); shadow runs dropped, from ``ucode
  route report svc.slow --json`` after each shadowed run. At ``-c 32`` the server is saturated, so the
  p50 is 32 / throughput: what the shadow runs take from the one interpreter shows as latency. So the
  TCP_NODELAY variant is also measured with ``-c 1`` (one request at a time), below saturation.

Also measured, for information: the same with the engine's listening socket given ``TCP_NODELAY`` by a
launcher that wraps ``socket.create_server`` (``ucode serve`` creates it with protocol 0, and asyncio turns
Nagle's algorithm off only on sockets whose protocol is ``IPPROTO_TCP``: without it every keep-alive
response waits for the client's delayed ACK, ~40 ms; see README "Issue 13").

``--quick``: skipped when wrk is not installed; else 1 s runs, one repetition, 2 swaps, no TCP_NODELAY
variant (about 30 s).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, PYTHON, WORK_DIR, Row, _env, log, ms, ucode_argv
from bench_add import Result

SOURCE = '''
import time

import ucode


@ucode.effect
def io():
    time.sleep(0.001)
    return 1


def hello():
    return {HELLO}


def slow():
    return {SLOW}
'''
V1 = SOURCE.replace("{HELLO}", '{"hello": "world", "n": 1}').replace("{SLOW}", '{"io": io()}')
V2 = SOURCE.replace("{HELLO}", '{"hello": "world", "n": 2}').replace("{SLOW}", "dict(io=io())")
ENDPOINTS = ("GET /hello=svc.hello", "GET /slow=svc.slow")
CONNS, THREADS = 32, 2
LOW_CONNS = 1  # the shadow case again below saturation (TCP_NODELAY variant only): one connection

# `ucode` with the engine's listening socket given TCP_NODELAY (accepted sockets inherit it on Linux)
NODELAY = ("import socket, sys\n"
           "_create = socket.create_server\n"
           "def create_server(*args, **kwargs):\n"
           "    sock = _create(*args, **kwargs)\n"
           "    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
           "    return sock\n"
           "socket.create_server = create_server\n"
           "from ucode.cli import main\n"
           "sys.argv[0] = 'ucode'\n"
           "sys.exit(main())\n")

UCODE = "ucode serve"
PATCHED = "ucode serve + TCP_NODELAY"
PLAIN = "plain Starlette"


# ------------------------------------------------------------------------------------------ servers

class Server:
    """A server subprocess whose first line of output names its URL; paused (SIGSTOP) while another is
    measured; stopped with SIGTERM."""

    def __init__(self, label: str, argv: Sequence[str], log_path: Path) -> None:
        self.label = label
        self.argv = list(argv)
        self.log_path = log_path
        self.lines: list[str] = []
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self.paused = False

    def start(self, timeout: float = 60.0) -> Server:
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self._log, text=True, env=_env(),
                                     cwd=BENCH_DIR)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self.lines:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} did not start: {' '.join(self.argv)}\n{self.stderr()[-2000:]}")
            time.sleep(0.02)
        m = re.search(r"http://[0-9.]+:\d+", self.lines[0])
        if m is None:
            raise RuntimeError(f"{self.label}: no URL in its first line {self.lines[0]!r}")
        self.url = m.group(0)
        while True:  # ready: the trivial endpoint answers
            try:
                with urllib.request.urlopen(self.url + "/hello", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} at {self.url} does not answer GET /hello")
            time.sleep(0.05)
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stderr(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        return ""

    def pause(self) -> None:
        if self.proc is not None and not self.paused:
            os.kill(self.proc.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.proc is not None and self.paused:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.paused = False

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.resume()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._log.close()
        return rc


def _json_get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def _ucode(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*ucode_argv(), "--store", str(store), "-q", *args], capture_output=True, text=True,
                          env=_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ucode {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-1000:]}")
    return proc


def _store(d: Path) -> Path:
    for version, text in (("v1", V1), ("v2", V2)):
        (d / version).mkdir(parents=True)
        (d / version / "svc.py").write_text(text, encoding="utf-8")
    store = d / "store"
    _ucode(store, "add", str(d / "v1" / "svc.py"))
    _ucode(store, "add", str(d / "v2" / "svc.py"), "--version", "v2")
    return store


def _engine(label: str, store: Path, d: Path, patched: bool) -> Server:
    head = [PYTHON, "-c", NODELAY] if patched else ucode_argv()
    argv = [*head, "--store", str(store), "serve", "--port", "0"]
    for ep in ENDPOINTS:
        argv += ["--endpoint", ep]
    return Server(label, argv, d / f"{'patched' if patched else 'engine'}.stderr")


# ---------------------------------------------------------------------------------------------- wrk

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _duration(text: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    """wrk's summary (with ``--latency``): requests/s, percentiles (s), requests, errors."""
    res: dict[str, Any] = {"non2xx": 0, "socket_errors": 0}
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        res[f"p{q}"] = _duration(m.group(1)) if m else None
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"^\s+(\d+) requests in ([0-9.]+\w+)", out, re.M)
    res["requests"], res["seconds"] = (int(m.group(1)), _duration(m.group(2))) if m else (0, 0.0)
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["socket_errors"] = sum(int(x) for x in m.groups())
        res["socket_detail"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()),
                                        strict=True))
    return res


def _wrk_argv(url: str, seconds: int, conns: int = CONNS) -> list[str]:
    return ["wrk", f"-c{conns}", f"-t{min(THREADS, conns)}", f"-d{seconds}s", "--latency", "--timeout", "10s", url]


def wrk(url: str, seconds: int, *, during: Callable[[], Any] | None = None, after: float = 0.1,
        conns: int = CONNS) -> dict[str, Any]:
    """One wrk run; ``during()`` is called ``after`` s into it (its result is kept as ``during``)."""
    proc = subprocess.Popen(_wrk_argv(url, seconds, conns), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    t0 = time.perf_counter()
    extra = None
    if during is not None:
        time.sleep(after)
        extra = during()
    out, err = proc.communicate(timeout=seconds + 60)
    res = parse_wrk(out)
    res["started"] = t0
    res["during"] = extra
    if proc.returncode != 0 or res["p99"] is None:
        raise RuntimeError(f"wrk exited {proc.returncode}: {err.strip()[-500:]}\n{out[-1000:]}")
    return res


def _med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _errors(runs: list[dict[str, Any]]) -> tuple[int, int]:
    return sum(r["non2xx"] for r in runs), sum(r["socket_errors"] for r in runs)


def _slim(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("rps", "p50", "p75", "p90", "p99", "requests", "seconds", "non2xx", "socket_errors")
    return [{k: r.get(k) for k in keep} for r in runs]


def compare(servers: dict[str, Server], path: str, seconds: int, reps: int) -> dict[str, list[dict[str, Any]]]:
    """wrk on ``path`` of each server, interleaved (a, b, c, c, b, a, ...), only the measured one running."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
    labels = list(servers)
    for s in servers.values():
        s.pause()
    for label in labels:  # warm-up: code loaded, connections and pools made
        servers[label].resume()
        wrk(servers[label].url + path, 1)
        servers[label].pause()
    for rep in range(reps):
        for label in labels if rep % 2 == 0 else labels[::-1]:
            srv = servers[label]
            srv.resume()
            time.sleep(0.2)
            out[label].append(wrk(srv.url + path, seconds))
            time.sleep(0.2)  # the last tasks finish (and commit) before the process is stopped
            srv.pause()
            r = out[label][-1]
            log(f"{path} {label}: {r['rps']:.0f} req/s, p50 {ms(r['p50'])}, p99 {ms(r['p99'])}"
                + (f", {r['non2xx']} non-2xx, {r['socket_errors']} socket errors"
                   if r["non2xx"] or r["socket_errors"] else ""))
    for s in servers.values():
        s.resume()
    return out


def throughput_rows(case: str, runs: dict[str, list[dict[str, Any]]]) -> list[Row]:
    plain = runs[PLAIN]
    rows = []
    for label in (UCODE, PATCHED):
        if label not in runs:
            continue
        mine = runs[label]
        main = label == UCODE
        rps, base_rps = _med(mine, "rps"), _med(plain, "rps")
        p50, base_p50 = _med(mine, "p50"), _med(plain, "p50")
        p99, base_p99 = _med(mine, "p99"), _med(plain, "p99")
        non2xx, sock = _errors(mine)
        data = {"runs": _slim(mine), "plain": _slim(plain), "rps": rps, "plain_rps": base_rps, "p50": p50,
                "plain_p50": base_p50, "p99": p99, "plain_p99": base_p99}
        tag = "" if main else " (info: TCP_NODELAY)"
        rows += [
            Row("serve", f"{case}: {label} vs {PLAIN}, requests/s{tag}", f"{rps:,.0f} req/s",
                f"{base_rps:,.0f} req/s plain", f"{rps / base_rps:.2f}x", ">= 0.7x" if main else "(info)",
                (rps / base_rps >= 0.7) if main else None, data),
            Row("serve", f"{case}: {label}, p50 latency{tag}", ms(p50), f"{ms(base_p50)} plain",
                f"{p50 / base_p50:.2f}x", "", None, {}),
            Row("serve", f"{case}: {label}, p99 latency{tag}", ms(p99), f"{ms(base_p99)} plain",
                f"{p99 / base_p99:.2f}x", "<= 2x" if main else "(info)", (p99 / base_p99 <= 2.0) if main else None,
                {}),
            Row("serve", f"{case}: {label}, wrk errors over {len(mine)} runs{tag}",
                f"{non2xx} non-2xx, {sock} socket", f"{sum(r['requests'] for r in mine):,} requests", "", "0",
                non2xx == 0 and sock == 0, {"non2xx": non2xx, "socket_errors": sock}),
        ]
    non2xx, sock = _errors(plain)
    if non2xx or sock:
        rows.append(Row("serve", f"{case}: {PLAIN}, wrk errors", f"{non2xx} non-2xx, {sock} socket", "", "", "0",
                        False, {}))
    return rows


# ------------------------------------------------------------------------------------------ rebind

class Poller(threading.Thread):
    """GET ``url`` in a loop (one keep-alive connection): (sent, answered, result["n"]) per request."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True, name="bench-poller")
        self.url = url
        self.samples: list[tuple[float, float, float, int | None]] = []  # sent, answered, answered (wall), n
        self.errors = 0
        self.halt = threading.Event()

    def run(self) -> None:
        import httpx

        with httpx.Client(timeout=10) as client:
            while not self.halt.is_set():
                t0 = time.perf_counter()
                n = None
                try:
                    resp = client.get(self.url)
                    if resp.status_code == 200:
                        n = resp.json()["result"]["n"]
                    else:
                        self.errors += 1
                except (httpx.HTTPError, ValueError, KeyError, TypeError):
                    self.errors += 1
                self.samples.append((t0, time.perf_counter(), time.time(), n))

    def first(self, value: int, since: float) -> tuple[float, float] | None:
        """When (perf_counter, wall clock) the first answer carrying ``value`` arrived after ``since`` (a
        request in flight across the swap may carry either value)."""
        for _, done, wall, n in list(self.samples):
            if done >= since and n == value:
                return done, wall
        return None


def rebind(srv: Server, store: Path, hashes: dict[int, str], reps: int) -> dict[str, Any]:
    url = srv.url + "/hello"
    poller = Poller(url)
    poller.start()
    wrk(url, 1)  # warm-up
    steady: list[dict[str, Any]] = []
    swaps: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    current = 1
    try:
        for _ in range(reps):
            steady.append(wrk(url, 1))
            target = 2 if current == 1 else 1

            def bind(target: int = target) -> dict[str, float]:
                t0, w0 = time.perf_counter(), time.time()
                out = _ucode(store, "bind", "svc.hello", "#" + hashes[target], "--json")
                t1, w1 = time.perf_counter(), time.time()
                committed = float(json.loads(out.stdout)[0]["time"])  # the log event's time, as it was written
                return {"start": t0, "returned": t1, "start_wall": w0, "returned_wall": w1, "committed": committed}

            run = wrk(url, 1, during=bind)
            t = run["during"]
            deadline = time.monotonic() + 5
            first = poller.first(target, t["start"])
            while first is None and time.monotonic() < deadline:
                time.sleep(0.01)
                first = poller.first(target, t["start"])
            engine = _json_get(srv.url + "/v1/engine")
            sw = engine["swaps"][-1] if engine["swaps"] else {}
            run["swap"] = {
                "to": f"v{target}", "bind_s": t["returned"] - t["start"],
                "first_after_return_s": None if first is None else first[0] - t["returned"],
                "first_after_start_s": None if first is None else first[0] - t["start"],
                "first_after_commit_s": None if first is None else first[1] - t["committed"],
                "committed_before_return_s": t["returned_wall"] - t["committed"],
                "engine_seen_after_commit_s": sw["seen"] - t["committed"] if sw else None,
                "engine_first_task_ms": sw.get("first_task_ms"), "engine_loaded_ms": sw.get("loaded_ms"),
                "in_window": bool(sw) and sw["seen"] - t["start_wall"] < 0.9,
            }
            swaps.append(run)
            current = target
            sd = run["swap"]
            log(f"rebind {srv.label}: to v{target}: bind took {ms(sd['bind_s'])} (committed "
                f"{ms(sd['committed_before_return_s'])} before it returned); first new answer "
                + ("never" if first is None else f"{(first[0] - t['returned']) * 1000:.0f} ms after it returned, "
                   f"{(first[1] - t['committed']) * 1000:.1f} ms after the commit")
                + f"; window p99 {ms(run['p99'])} (steady {ms(steady[-1]['p99'])})")
            steady.append(wrk(url, 1))
            controls.append(wrk(url, 1, during=lambda: _ucode(store, "ls")))
    finally:
        poller.halt.set()
        poller.join(timeout=15)
        if current != 1:
            _ucode(store, "bind", "svc.hello", "#" + hashes[1])
    return {"steady": steady, "swaps": swaps, "controls": controls, "poller_errors": poller.errors,
            "polls": len(poller.samples)}


def rebind_rows(label: str, r: dict[str, Any]) -> list[Row]:
    main = label == UCODE
    tag = "" if main else " (info: TCP_NODELAY)"
    steady, swap, ctl = _med(r["steady"], "p99"), _med(r["swaps"], "p99"), _med(r["controls"], "p99")
    delays = [s["swap"]["first_after_return_s"] for s in r["swaps"]]
    seen = [d for d in delays if d is not None]
    delay = statistics.median(seen) if seen else None
    infos = [s["swap"] for s in r["swaps"]]
    from_start = [i["first_after_start_s"] for i in infos if i["first_after_start_s"] is not None]
    first_task = [i["engine_first_task_ms"] for i in infos if i["engine_first_task_ms"] is not None]
    binds = [i["bind_s"] for i in infos]
    commit = [i["first_after_commit_s"] for i in infos if i["first_after_commit_s"] is not None]
    seen_c = [i["engine_seen_after_commit_s"] for i in infos if i["engine_seen_after_commit_s"] is not None]
    before = [i["committed_before_return_s"] for i in infos]
    inside = sum(1 for i in infos if i["in_window"])
    non2xx, sock = _errors(r["steady"] + r["swaps"] + r["controls"])
    n = len(r["swaps"])
    data = {"steady": _slim(r["steady"]), "swaps": [{**_slim([s])[0], **s["swap"]} for s in r["swaps"]],
            "controls": _slim(r["controls"]), "poller_errors": r["poller_errors"], "polls": r["polls"]}
    return [
        Row("serve", f"rebind under load ({label}): p99 of the 1 s with the swap, median of {n}{tag}", ms(swap),
            f"{ms(steady)} steady", f"{swap / steady:.2f}x (max {ms(max(s['p99'] for s in r['swaps']))})",
            "<= 2x" if main else "(info)", (swap / steady <= 2.0) if main else None, data),
        Row("serve", f"rebind control ({label}): p99 of the 1 s with a `ucode ls` (no swap){tag}", ms(ctl),
            f"{ms(steady)} steady", f"{ctl / steady:.2f}x", "", None, {}),
        Row("serve", f"rebind ({label}): `ucode bind` returned -> first answer with the new value, median of "
            f"{len(seen)}/{n}{tag}", "never" if delay is None else f"{delay * 1000:.0f} ms",
            f"bind ran {ms(statistics.median(binds))}; from its start {ms(statistics.median(from_start))}"
            if from_start else "",
            f"engine: first task {statistics.median(first_task):.1f} ms after it saw the change" if first_task else "",
            "< 100 ms" if main else "(info)", (delay is not None and len(seen) == n and delay < 0.1) if main else None,
            {"delays": delays}),
        Row("serve", f"rebind ({label}): the bind's commit -> first answer with the new value, median{tag}",
            f"{statistics.median(commit) * 1000:.1f} ms" if commit else "never",
            f"commit -> engine saw it {statistics.median(seen_c) * 1000:.1f} ms" if seen_c else "",
            f"commit {ms(statistics.median(before))} before `bind` returned; swap inside the window {inside}/{n}",
            "", None, {"after_commit": commit, "seen_after_commit": seen_c, "committed_before_return": before}),
        Row("serve", f"rebind ({label}): errors (wrk; the polling client){tag}",
            f"{non2xx} non-2xx, {sock} socket; {r['poller_errors']} poll errors",
            f"{sum(x['requests'] for x in r['steady'] + r['swaps'] + r['controls']):,} requests, "
            f"{r['polls']:,} polls", "", "0", non2xx == 0 and sock == 0 and r["poller_errors"] == 0, {}),
    ]


# ------------------------------------------------------------------------------------------ shadow

_COUNTS = ("calls", "shadowed", "matched", "diverged", "dropped", "unshadowable", "candidate_errors")


def _report(store: Path) -> dict[str, int]:
    rep = json.loads(_ucode(store, "route", "report", "svc.slow", "--json").stdout)
    return {k: int(rep.get(k) or 0) for k in _COUNTS}


def shadow(srv: Server, store: Path, seconds: int, reps: int, conns: int = CONNS) -> dict[str, Any]:
    url = srv.url + "/slow"
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    counts: list[dict[str, int]] = []
    routed = False
    try:
        wrk(url, 1)  # warm-up
        for rep in range(reps):
            for mode in ("on", "off") if rep % 2 == 0 else ("off", "on"):
                if mode == "on":
                    _ucode(store, "route", "shadow", "svc.slow", "--candidate", "v2")
                    routed = True
                    time.sleep(0.5)  # the engine picks the route up (<= 10 ms) and loads the candidate
                    wrk(url, 1)  # and has run it once before the measured run
                    before = _report(store)
                elif routed:
                    _ucode(store, "route", "clear", "svc.slow")
                    routed = False
                    time.sleep(0.5)
                res = wrk(url, seconds, conns=conns)
                if mode == "on":
                    time.sleep(1.5)  # the engine writes the route's counters every second
                    after = _report(store)
                    counts.append({k: after[k] - before[k] for k in _COUNTS})
                    res["route"] = counts[-1]
                runs[mode].append(res)
                log(f"shadow {srv.label} -c {conns} {mode}: p50 {ms(res['p50'])}, p99 {ms(res['p99'])}, "
                    f"{res['rps']:.0f} req/s" + (f"; {counts[-1]}" if mode == "on" else ""))
    finally:
        if routed:
            _ucode(store, "route", "clear", "svc.slow")
    return {"runs": runs, "counts": counts, "conns": conns}


def shadow_rows(label: str, r: dict[str, Any]) -> list[Row]:
    main = label == UCODE and r["conns"] == CONNS
    info = ([] if label == UCODE else ["TCP_NODELAY"]) + ([] if r["conns"] == CONNS else
                                                         [f"wrk -c {r['conns']}, below saturation"])
    tag = f" (info: {', '.join(info)})" if info else ""
    on, off = r["runs"]["on"], r["runs"]["off"]
    p50, base = _med(on, "p50"), _med(off, "p50")
    total = {k: sum(c[k] for c in r["counts"]) for k in _COUNTS}
    non2xx, sock = _errors(on + off)
    return [
        Row("serve", f"shadow 100% ({label}, GET /slow, 1 ms effect): primary's p50, {len(on)} x "
            f"{on[0]['seconds']:.0f} s{tag}", ms(p50), f"{ms(base)} no route", f"{p50 / base:.3f}x",
            "<= 1.10x" if main else "(info)", (p50 / base <= 1.10) if main else None,
            {"on": _slim(on), "off": _slim(off), "counts": r["counts"]}),
        Row("serve", f"shadow 100% ({label}): p99; requests/s{tag}",
            f"{ms(_med(on, 'p99'))}; {_med(on, 'rps'):,.0f} req/s",
            f"{ms(_med(off, 'p99'))}; {_med(off, 'rps'):,.0f} req/s no route",
            f"{_med(on, 'p99') / _med(off, 'p99'):.2f}x; {_med(on, 'rps') / _med(off, 'rps'):.2f}x", "", None, {}),
        Row("serve", f"shadow 100% ({label}): shadow runs (route report){tag}",
            f"{total['shadowed']:,} shadowed, {total['dropped']:,} dropped", f"{total['calls']:,} calls",
            f"{total['matched']:,} matched, {total['diverged']} diverged, {total['candidate_errors']} errors",
            "(report)", None, {"counts": total}),
        Row("serve", f"shadow ({label}): wrk errors{tag}", f"{non2xx} non-2xx, {sock} socket", "", "", "0",
            non2xx == 0 and sock == 0, {}),
    ]


# --------------------------------------------------------------------------------------------- run

def _skip(note: str) -> Result:
    print(f"serve: skipped: {note}", file=sys.stderr, flush=True)
    return Result(rows=[], details={"skipped": note}, text=[f"serve: skipped ({note})"])


def run(quick: bool = False, reps: int = 5) -> Result:
    if shutil.which("wrk") is None:
        return _skip("wrk is not installed (Debian: apt-get install wrk)")
    missing = [m for m in ("uvicorn", "starlette", "httpx") if importlib.util.find_spec(m) is None]
    if missing:
        return _skip(f"{', '.join(missing)} not installed (the engine's dependencies)")
    seconds, wrk_reps, swaps = (1, 1, 2) if quick else (5, min(reps, 3), 5)
    load_start = os.getloadavg()
    (WORK_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="serve-", dir=WORK_DIR / "tmp"))
    servers: dict[str, Server] = {}
    stops: dict[str, Any] = {}
    rows: list[Row] = []
    details: dict[str, Any] = {}
    try:
        store = _store(d / "a")
        hashes = {n: json.loads(_ucode(store, "view", "svc.hello", "--json", *(["--version", "v2"] if n == 2 else []))
                                .stdout)["hash"] for n in (1, 2)}
        servers[UCODE] = _engine(UCODE, store, d, patched=False).start()
        patched_store = None
        if not quick:
            patched_store = _store(d / "b")
            servers[PATCHED] = _engine(PATCHED, patched_store, d, patched=True).start()
        servers[PLAIN] = Server(PLAIN, [PYTHON, str(BENCH_DIR / "serve_plain.py")], d / "plain.stderr").start()
        log(f"servers: {', '.join(f'{k} {s.url}' for k, s in servers.items())}; wrk -c {CONNS} -t {THREADS}, "
            f"{seconds} s runs x {wrk_reps}")
        for case, path in (("trivial function (GET /hello)", "/hello"), ("1 ms effect (GET /slow)", "/slow")):
            runs = compare(servers, path, seconds, wrk_reps)
            rows += throughput_rows(case, runs)
        plain = servers.pop(PLAIN)
        stops[PLAIN] = plain.stop()
        engines = [(UCODE, store)] + ([(PATCHED, patched_store)] if patched_store is not None else [])
        for label, st in engines:
            for other, srv in servers.items():
                (srv.resume if other == label else srv.pause)()
            r = rebind(servers[label], st, hashes, swaps)
            rows += rebind_rows(label, r)
        for label, st in engines:
            for other, srv in servers.items():
                (srv.resume if other == label else srv.pause)()
            r = shadow(servers[label], st, seconds, wrk_reps if quick else 3)
            rows += shadow_rows(label, r)
            if label == PATCHED:  # without Nagle's ~40 ms, latency below saturation means something
                r = shadow(servers[label], st, seconds, 3, conns=LOW_CONNS)
                rows += shadow_rows(label, r)
        for label, srv in servers.items():
            srv.resume()
            details[f"engine_counters ({label})"] = _json_get(srv.url + "/v1/engine")["counters"]
    finally:
        for label, srv in servers.items():
            stops[label] = srv.stop()
        for label, srv in servers.items():
            details[f"stop ({label})"] = {"exit": stops[label], "output": srv.lines[-3:],
                                          "tracebacks": srv.stderr().count("Traceback")}
        shutil.rmtree(d, ignore_errors=True)
    load_end = os.getloadavg()
    details["loadavg"] = {"start": list(load_start), "end": list(load_end)}
    text = [f"serve: load average {load_start[0]:.2f} -> {load_end[0]:.2f}; wrk -c {CONNS} -t {THREADS}, "
            f"{seconds} s runs"]
    for label in (UCODE, PATCHED):
        c = details.get(f"engine_counters ({label})")
        if c:
            text.append(f"serve: {label}: {c['succeeded']:,} tasks recorded ({c['failed']} failed, {c['rejected']} "
                        f"refused), {c['commits']:,} commits of {c['writes']:,} writes, {c['swaps']} code changes seen")
    for label, stop in ((k, v) for k, v in details.items() if k.startswith("stop (")):
        if stop["exit"] not in (0, None) or stop["tracebacks"]:
            text.append(f"serve: {label}: exit {stop['exit']}, {stop['tracebacks']} traceback(s) on stderr")
    return Result(rows=rows, details=details, text=text)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    res = run(quick=quick, reps=3 if quick else 5)
    for row in res.rows:
        print(row.case, "|", row.value, "|", row.baseline, "|", row.ratio, "|", row.goal, "|", row.met)
    print("\n".join(res.text))
