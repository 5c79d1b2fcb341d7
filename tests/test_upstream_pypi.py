"""Real packages nobody here wrote, from PyPI: their own test suites pass from the store as from their files.

For each package in ``tests/upstream_pypi/suites.py`` (pure Python, pinned, sdists that ship their tests),
``tests/upstream_pypi/run_suite.py`` runs the upstream suite twice in fresh isolated interpreters: on the
extracted sdist (the baseline), then with the package added to a ucode store, its sources deleted and
its namespaces mounted (``ucode.mount``) before any test is collected. This test asserts, per suite:

* the baseline is clean and has exactly the number of test ids the manifest expects (a silently empty
  or shrunken run fails);
* every test id has the same outcome from the store as from the files (passed, skipped, xfailed...),
  except the manifest's ``xfail`` entries, which must pass from files and fail from the store (strict:
  one that starts passing is reported, so that it gets removed);
* provenance: every module of the package that the run imported was made by ucode's ``StoreLoader``
  (tests shipped inside the package and C accelerators built beside it excepted), and every function of
  the package the test modules hold runs in such a module's namespace; in the baseline, all of it came
  from the work tree, none from an installed copy.

The suites run through ``run_suite.py`` in subprocesses, two at a time (the machines have two cores).
The sdists and the suites' own test requirements are downloaded once into ``$UCODE_UPSTREAM_CACHE``
(default ``/tmp/ucode-upstream-pypi``), so a first run needs PyPI. ``UCODE_UPSTREAM_PYPI=0`` skips them
(offline); ``UCODE_UPSTREAM_FULL=1`` also runs the slow upstream tests the manifest deselects.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.upstream_pypi.run_suite import FULL, cache_dir, summary_line
from tests.upstream_pypi.suites import SUITES

HERE = Path(__file__).resolve().parent
RUN_SUITE = HERE / "upstream_pypi" / "run_suite.py"
WORKERS = 2
TIMEOUT = 1200 if FULL else 600  # seconds per suite (both runs), downloads included

pytestmark = pytest.mark.skipif(os.environ.get("UCODE_UPSTREAM_PYPI") == "0",
                                reason="UCODE_UPSTREAM_PYPI=0: upstream PyPI suites skipped")


def _run(name: str, out: Path) -> dict[str, Any]:
    """One suite through run_suite.py; its JSON report, or what went wrong instead of one."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(RUN_SUITE), name, "--out", str(out)], capture_output=True,
                              text=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL,
                              cwd=HERE.parent)  # not a test's temporary directory (tests chdir there)
    except subprocess.TimeoutExpired as exc:
        return {"suite": name, "error": f"run_suite.py {name} timed out after {exc.timeout:.0f} s"}
    if not out.exists():
        return {"suite": name, "error": f"run_suite.py {name} exited {proc.returncode} without a report:\n"
                                        f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}"}
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    report["wall"] = round(time.perf_counter() - start, 1)
    if "error" in report:
        report["error"] += f"\n{proc.stderr[-3000:]}"
    return report


Runs = dict[str, Future[dict[str, Any]]]


def _order(names: set[str]) -> list[str]:
    """The longest suites first (as the cache last measured them, else by test count), so that the two
    workers finish close together."""
    try:
        last = json.loads((cache_dir() / "seconds.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last = {}
    return sorted(names, key=lambda n: (-float(last.get(n, 0)), -SUITES[n].expected))


def _remember_seconds(futures: Runs) -> None:
    path = cache_dir() / "seconds.json"
    try:
        last = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last = {}
    for name, fut in futures.items():
        if fut.done() and not fut.cancelled() and "seconds" in fut.result():
            last[name] = fut.result()["seconds"].get("total", 0)
    with contextlib.suppress(OSError):
        path.write_text(json.dumps(last, indent=1, sort_keys=True), encoding="utf-8")


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Start every selected suite at once on a pool of two workers; each test waits for its own."""
    wanted: set[str] = {
        str(item.callspec.params["name"]) for item in request.session.items
        if isinstance(item, pytest.Function) and item.module is request.module
        and hasattr(item, "callspec") and "name" in item.callspec.params}
    out = tmp_path_factory.mktemp("upstream_pypi")
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="upstream-pypi")
    futures = {name: pool.submit(_run, name, out / f"{name}.json") for name in _order(wanted)}
    start = time.perf_counter()
    try:
        yield futures
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _remember_seconds(futures)
        _print_summary(request.config, futures, time.perf_counter() - start)


class _Summary:
    """Prints the suites' summary lines in pytest's terminal summary (a test module cannot define hooks,
    and output written during the fixture's teardown would be captured)."""

    def __init__(self, lines: list[str], title: str) -> None:
        self.lines = lines
        self.title = title

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", self.title)
        for line in self.lines:
            terminalreporter.write_line(line)


def _print_summary(config: pytest.Config, futures: Runs, wall: float) -> None:
    lines = []
    for name in sorted(futures):
        fut = futures[name]
        if not fut.done() or fut.cancelled():
            continue
        report = fut.result()
        lines.append(f"{name}: {report['error'].splitlines()[0]}" if "error" in report else summary_line(report))
    if lines:
        config.pluginmanager.register(
            _Summary(lines, f"upstream PyPI suites, files vs store: {wall:.0f} s, {WORKERS} at a time"),
            "upstream-pypi-summary")


def _report(runs: Runs, name: str) -> dict[str, Any]:
    report = runs[name].result()
    assert "error" not in report, report["error"]
    return report


@pytest.mark.parametrize("name", sorted(SUITES))
def test_upstream_pypi_suite(runs: Runs, name: str) -> None:
    """The store run has the baseline's outcome for every test id (but the listed xfails), the expected
    number of tests ran, and everything the package's tests used came from the store."""
    report = _report(runs, name)
    problems = report["problems"]
    assert problems == {}, f"{name}: the store does not behave as the files:\n" + json.dumps(problems, indent=1)[
        :8000] + f"\nwork directory (kept): {report['work']}"


_KNOWN = [
    pytest.param(name, tid, marks=pytest.mark.xfail(reason=reason, strict=True), id=f"{name}::{tid}")
    for name, suite in SUITES.items() for tid, reason in suite.xfail.items()
]


@pytest.mark.parametrize(("name", "tid"), _KNOWN)
def test_upstream_pypi_known_difference(runs: Runs, name: str, tid: str) -> None:
    """Each listed difference, one xfail (strict) each: it fails while the store run differs from the files."""
    report = _report(runs, name)
    files, store = report["files"]["outcomes"][tid], report["store"]["outcomes"].get(tid, ["absent", ""])
    assert store[0] == files[0], store[1]


# ------------------------------------------------------------------------------------------ the manifest


def test_manifest_is_consistent() -> None:
    """Cheap checks of suites.py that need no download: pins are exact, an xfail is neither deselected nor
    slow, every suite says what it covers, and requirements.txt lists exactly the suites' test deps."""
    for name, suite in SUITES.items():
        assert len(suite.sha256) == 64 and suite.expected > 0 and suite.covers, name
        assert all("==" in d for d in suite.deps), name
        left_out = tuple([*suite.deselect, *suite.slow])
        assert not [t for t in suite.xfail if t.startswith(left_out)], f"{name}: an xfail is left out"
    lines = (HERE / "upstream_pypi" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    listed = {ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")}
    assert listed == {d for s in SUITES.values() for d in s.deps}
