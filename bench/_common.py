"""Shared helpers: timing (medians of repetitions), subprocess timing against a start-up baseline
measured in the same run, the ``ucode`` command line, and the rows of the summary table.

The machine is shared and noisy: nothing here asserts an absolute time. Every figure is the median of
several repetitions, and every subprocess figure is reported next to ``python -c pass`` measured
interleaved with it (baseline, target, baseline, target, ...), so both see the same noise.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / ".work"  # git-ignored: generated sources, cached stores, profiles
PYTHON = sys.executable
STARTUP_ARGV = [PYTHON, "-c", "pass"]


@dataclass
class Row:
    """One line of the summary table (and of ``results.json``)."""

    bench: str
    case: str
    value: str  # the measured figure, formatted
    baseline: str = ""  # what it is compared to, formatted
    ratio: str = ""  # value / baseline, or value - baseline, formatted
    goal: str = ""
    met: bool | None = None  # None: no goal for this row
    data: dict[str, Any] = field(default_factory=dict)  # raw numbers (seconds unless named otherwise)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Samples:
    """Repeated timings of one thing, in seconds."""

    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the repetitions were."""
        m = self.median
        return (max(self.times) - min(self.times)) / m if m else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": min(self.times), "max": max(self.times), "n": len(self.times),
                "times": self.times}


class GcTimer:
    """Accumulates the time spent in cyclic garbage collection while active (``with GcTimer() as g``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def log(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


def time_call(fn: Callable[[], object], reps: int, *, warmup: int = 0,
              setup: Callable[[], object] | None = gc.collect) -> Samples:
    """Time ``fn()`` ``reps`` times (after ``warmup`` untimed calls); ``setup()`` runs untimed before each
    (by default a full garbage collection, so one run does not pay for the previous run's garbage)."""
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    out = []
    for _ in range(reps):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return Samples(out)


def time_pairs(fns: Sequence[Callable[[], object]], reps: int, *, warmup: int = 1,
               setup: Callable[[], object] | None = gc.collect) -> list[Samples]:
    """Time several callables interleaved (a, b, c, a, b, c, ...), so that they share the machine's noise;
    ``setup()`` (default: a garbage collection) runs untimed before each call."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for i, fn in enumerate(fns):
            if setup is not None:
                setup()
            t0 = time.perf_counter()
            fn()
            out[i].append(time.perf_counter() - t0)
    return [Samples(t) for t in out]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("UCODE_STORE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # start-up as users see it: with cached bytecode
    return env


def run_cmd(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(argv), capture_output=True, env=_env(), check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n"
                           + proc.stderr.decode(errors="replace")[-2000:])
    return proc


def cmd_runner(argv: Sequence[str]) -> Callable[[], object]:
    return lambda: run_cmd(argv)


def time_commands(commands: dict[str, Sequence[str]], reps: int, *, warmup: int = 1) -> dict[str, Samples]:
    """Median wall time of each command, with ``python -c pass`` (key ``startup``) interleaved."""
    names = ["startup", *commands]
    argvs = [STARTUP_ARGV, *commands.values()]
    samples = time_pairs([cmd_runner(a) for a in argvs], reps, warmup=warmup)
    return dict(zip(names, samples, strict=True))


def cli_available() -> tuple[bool, str]:
    """Whether ``ucode.cli`` exists and ``ucode --help`` runs (another helper writes it)."""
    if importlib.util.find_spec("ucode.cli") is None:
        return False, "src/ucode/cli.py does not exist yet"
    proc = run_cmd([*ucode_argv(), "--help"], check=False)
    if proc.returncode != 0:
        return False, "`ucode --help` failed: " + proc.stderr.decode(errors="replace").strip()[-300:]
    return True, ""


def ucode_argv() -> list[str]:
    """How to run the ``ucode`` CLI as a user would: the console script next to this interpreter."""
    script = Path(PYTHON).with_name("ucode")
    if script.exists():
        return [str(script)]
    return [PYTHON, "-c", "import sys; from ucode.cli import main; sys.argv[0] = 'ucode'; sys.exit(main())"]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else ms(seconds)
