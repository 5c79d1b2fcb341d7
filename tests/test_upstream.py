"""Real code nobody here wrote, served from the store: vendored libraries pass their own test suites.

For each library in ``tests/vendored`` (see the README there): add its source to a fresh store, then, in a
fresh interpreter (``tests/upstream_runner.py``, run with ``python -I``), mount its namespace and run its
upstream unittest suite (doctests included where upstream runs them) against the mounted modules. The
runner checks that every module of the library is made by the mount and every function the tests can
reach runs in the namespace of a module made by the mount: for ``textwrap`` and ``fractions`` the
mount shadows the standard library, for ``more_itertools`` nothing is installed to fall back on.

A test that cannot pass is listed in ``XFAIL`` with its reason and reported as an xfail here, one pytest
test per upstream test (strict: when it starts passing, remove it from the list and from
``docs/upstream-suites.md``). Any other upstream failure fails ``test_upstream_suite``.

The three suites run in parallel subprocesses; ``UCODE_UPSTREAM_FULL=1`` also runs the slow upstream
tests deselected by default (``SLOW``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ucode

HERE = Path(__file__).resolve().parent
VENDORED = HERE / "vendored"
RUNNER = HERE / "upstream_runner.py"
FULL = os.environ.get("UCODE_UPSTREAM_FULL") == "1"

# more_itertools 11.2.1 tests that fail when served from the store: none. (Were 37: 36 from definitions
# made in top-level `try`/`if` blocks, fixed by block definitions; 1 from `mock.patch` of a module
# attribute, fixed by mounted modules forwarding attribute assignments to their functions' globals.)
MORE_ITERTOOLS_XFAIL: dict[str, str] = {}


@dataclass(frozen=True)
class Suite:
    namespace: str
    source: Path  # what is added to the store
    tests: tuple[Path, ...]  # upstream test files, loaded by path
    total: int  # upstream test ids (doctests and tests; subtests count with their test)
    skipped: tuple[tuple[int, str], ...]  # what add reports as not stored: (line, reason)
    paths: tuple[Path, ...] = ()  # first on sys.path in the runner (test helpers)
    xfail: dict[str, str] = field(default_factory=dict)
    slow: dict[str, str] = field(default_factory=dict)  # deselected unless UCODE_UPSTREAM_FULL=1

    @property
    def deselected(self) -> dict[str, str]:
        return {} if FULL else self.slow


_MI = VENDORED / "more_itertools"
SUITES = {
    s.namespace: s
    for s in [
        Suite(
            "textwrap", VENDORED / "textwrap" / "textwrap.py", (VENDORED / "textwrap" / "test_textwrap.py",),
            total=66, skipped=(),
        ),
        Suite(
            "fractions", VENDORED / "fractions" / "fractions.py", (VENDORED / "fractions" / "test_fractions.py",),
            total=33, skipped=(), paths=(VENDORED / "fractions" / "shim",),
        ),
        Suite(
            "more_itertools", _MI / "more_itertools",
            (_MI / "tests" / "test_more.py", _MI / "tests" / "test_recipes.py"),
            total=929,
            skipped=(),
            xfail=MORE_ITERTOOLS_XFAIL,
            slow={
                "test_recipes.PrimeFunctionTests.test_primes": "~30 s: is_prime and nth_prime for every prime < 10**5",
                "test_recipes.PrimeFunctionTests.test_nth_prime_approximate": "~5 s: nth_prime(2_000_000)",
            },
        ),
    ]
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Add each library to its own store, then run the upstream suites in parallel subprocesses."""
    out: dict[str, dict[str, Any]] = {}
    procs = {}
    for ns, suite in SUITES.items():
        work = tmp_path_factory.mktemp(ns)
        store = work / "store"
        with ucode.open(store) as cb:
            result = cb.add([suite.source])
        out[ns] = {"add": result, "json": work / "report.json"}
        cmd = [sys.executable, "-I", "-B", str(RUNNER), "--store", str(store), "--namespace", ns,
               "--out", str(work / "report.json")]
        for p in suite.paths:
            cmd += ["--path", str(p)]
        for t in suite.deselected:
            cmd += ["--deselect", t]
        cmd += [str(t) for t in suite.tests]
        procs[ns] = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for ns, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=600 if FULL else 240)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        out[ns]["returncode"] = proc.returncode
        out[ns]["output"] = stdout + stderr[-5000:]
        path = out[ns]["json"]
        out[ns]["report"] = json.loads(path.read_text()) if path.exists() else None
    return out


def _report(reports: dict[str, dict[str, Any]], ns: str) -> dict[str, Any]:
    r = reports[ns]
    assert r["returncode"] == 0 and r["report"] is not None, f"the {ns} runner failed:\n{r['output']}"
    report: dict[str, Any] = r["report"]
    return report


@pytest.mark.parametrize("ns", SUITES)
def test_add_stores_the_library(reports: dict[str, dict[str, Any]], ns: str) -> None:
    """``add`` stores every definition and reports exactly the statements it cannot store."""
    result = reports[ns]["add"]
    assert len(result.names) >= 5
    assert sorted((s.line, s.reason) for s in result.skipped) == sorted(SUITES[ns].skipped)


@pytest.mark.parametrize("ns", SUITES)
def test_served_from_store(reports: dict[str, dict[str, Any]], ns: str) -> None:
    """What the upstream tests import is the mounted library, not the standard library or site-packages."""
    report = _report(reports, ns)
    for when in ("before", "after"):
        prov = report["provenance"][when][ns]
        assert prov["problems"] == [], when
        assert prov["loaders_are_mount"] and prov["mount_first_on_meta_path"], when
        assert ns in prov["modules"], when
        assert prov["functions_checked"] >= 10, when


@pytest.mark.parametrize("ns", SUITES)
def test_upstream_suite(reports: dict[str, dict[str, Any]], ns: str) -> None:
    """Every upstream test passes, but the listed known failures (see test_upstream_known_failure)."""
    suite = SUITES[ns]
    report = _report(reports, ns)
    outcomes: dict[str, list[str]] = report["outcomes"]
    # All of the suite ran (the doctests too), less the deselected slow tests.
    assert report["ids"] == suite.total - len(suite.deselected), report["counts"]
    assert sorted(report["deselected"]) == sorted(suite.deselected)
    assert not set(suite.xfail) - set(outcomes), "XFAIL names tests that do not exist"
    unexpected = {t: o[1] for t, o in outcomes.items() if o[0] != "pass" and t not in suite.xfail}
    assert unexpected == {}, f"{len(unexpected)} upstream {ns} tests failed:\n" + "\n".join(
        f"  {t}: {m}" for t, m in unexpected.items())


_KNOWN = [
    pytest.param(ns, tid, marks=pytest.mark.xfail(reason=reason, strict=True), id=f"{ns}::{tid}")
    for ns, suite in SUITES.items() for tid, reason in suite.xfail.items()
]


@pytest.mark.parametrize(("ns", "tid"), _KNOWN)
def test_upstream_known_failure(reports: dict[str, dict[str, Any]], ns: str, tid: str) -> None:
    outcome, message = _report(reports, ns)["outcomes"][tid]
    assert outcome == "pass", message


# ------------------------------------------------------------- mount fixes the upstream suites needed


def test_mounted_module_has_the_names_its_imports_bind(tmp_path: Path) -> None:
    """As with files, ``pkg.mod.islice`` exists after ``from itertools import islice`` in ``pkg/mod.py``
    (doctests run in the module's ``__dict__``; ``mock.patch`` needs the attribute to exist)."""
    pkg = tmp_path / "src" / "upkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .mod import first\n")
    (pkg / "helpers.py").write_text("def take(n, it):\n    return list(islice(it, n))\n\n"
                                    "from itertools import islice\n")
    (pkg / "mod.py").write_text(
        "import json\nfrom itertools import islice, count as counter\nfrom .helpers import take\n"
        "from . import helpers\nimport upkg.helpers\n\n\n"
        "def first(it):\n    return take(1, islice(it, 5)), json.dumps(1), counter, helpers, upkg\n"
    )
    with ucode.open(tmp_path / "store") as cb:
        cb.add([pkg])
        finder = ucode.mount("upkg", codebase=cb)
        try:
            import itertools
            import json

            import upkg.mod as mod  # type: ignore[import-not-found]

            assert mod.islice is itertools.islice and mod.counter is itertools.count and mod.json is json
            assert mod.upkg is sys.modules["upkg"]
            assert mod.helpers is sys.modules["upkg.helpers"]  # imported with mod, as running mod.py does
            assert mod.take is mod.helpers.take  # a dependency: the same object
            assert mod.take.__globals__ is vars(mod.helpers)  # the namespace of the module it is in
            assert mod.first(iter("abc"))[0] == ["a"]
            assert not hasattr(sys.modules["upkg"], "islice")  # only names the module's own code uses
        finally:
            ucode.unmount(finder)
    assert "upkg" not in sys.modules and "upkg.mod" not in sys.modules


def test_unmount_skips_sys_modules_entries_without_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sys.modules`` can hold objects that are not modules (``typing.io``) or None: unmount ignores them."""

    class NoSpec:
        def __getattr__(self, name: str) -> Any:
            raise AttributeError(name)

    monkeypatch.setitem(sys.modules, "_ucode_no_spec", NoSpec())
    monkeypatch.setitem(sys.modules, "_ucode_none", None)
    (tmp_path / "umod.py").write_text("X = 1\n")
    with ucode.open(tmp_path / "store") as cb:
        cb.add([tmp_path / "umod.py"])
        finder = ucode.mount("umod", codebase=cb)
        try:
            import umod  # type: ignore[import-not-found]

            assert umod.X == 1
        finally:
            ucode.unmount(finder)  # raised AttributeError on the entries without __spec__
    assert "umod" not in sys.modules
