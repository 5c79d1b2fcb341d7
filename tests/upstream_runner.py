"""Run a library's upstream unittest suite against the library served from a ucode store (or, with
``--no-mount``, against its files: the baseline).

Used by ``tests/test_upstream.py`` (vendored libraries) and ``tests/test_upstream_stdlib.py`` (CPython's own
suites) in a fresh interpreter (``python -I -B``: no script directory or ``PYTHONPATH`` on ``sys.path``), so
nothing from the parent process and no other copy of the library can stand in for the mounted one::

    python -I -B tests/upstream_runner.py --store S --namespace textwrap [--namespace ...] --out result.json \\
        [--no-mount] [--path DIR ...] [--deselect TEST_ID ...] [--test-module test.test_json ...] [TEST_FILE ...]

It opens the store, mounts the namespaces, loads each test file by path and each test module by name (so
``import textwrap`` in the test resolves through the import hook), checks that the library the tests see
comes from the store, runs the suite and writes a JSON report: provenance, tests run, and one outcome per
test id (subtests and doctests included; a failing subtest fails its test).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import json
import sys
import time
import types
import unittest
from typing import Any


def _covered(name: str, namespace: str) -> bool:
    return name == namespace or name.startswith(namespace + ".")


def _functions_of(obj: Any) -> list[types.FunctionType]:
    """The plain functions a module attribute carries: itself (unwrapped: a decorator's wrapper runs in the
    decorator's module), or the methods defined in a class's body."""
    if inspect.isfunction(obj):
        return [inspect.unwrap(obj)]
    if inspect.isclass(obj):
        out = []
        for v in vars(obj).values():
            v = getattr(v, "__func__", v)  # staticmethod, classmethod
            if isinstance(v, property):
                v = v.fget
            if inspect.isfunction(v):
                v = inspect.unwrap(v)
                if v.__qualname__.startswith(obj.__qualname__ + "."):  # not a function set on it from outside
                    out.append(v)
        return out
    return []


def _generated_by_dataclasses(cls: Any, fn: types.FunctionType) -> bool:
    return dataclasses.is_dataclass(cls) and fn.__name__ in {
        "__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__lt__", "__le__",
        "__gt__", "__ge__", "__getstate__", "__setstate__", "__match_args__"}


def provenance(namespace: str, mount: Any, test_modules: list[types.ModuleType]) -> dict[str, Any]:
    """What the tests see of the library, and whether all of it comes from the store."""
    problems: list[str] = []
    modules = sorted(m for m in sys.modules if _covered(m, namespace) and isinstance(sys.modules[m], types.ModuleType)
                     and getattr(sys.modules[m], "__name__", None) == m)  # not aliases (os.path, typing.io)
    loader = mount.loader
    stored_globals = {id(sys.modules[m].__dict__) for m in modules
                      if getattr(sys.modules[m].__spec__, "loader", None) is loader}
    for name in modules:
        mod = sys.modules[name]
        if getattr(mod.__spec__, "loader", None) is not loader:
            problems.append(f"module {name} was loaded by {getattr(mod.__spec__, 'loader', None)!r}, not the mount")
    checked = 0
    seen: set[int] = set()
    # Everything the library's modules define, and everything the test modules hold of it.
    sources = [sys.modules[m] for m in modules] + test_modules
    for holder in sources:
        for attr, value in list(vars(holder).items()):
            if isinstance(value, types.ModuleType):
                if _covered(value.__name__, namespace) and getattr(value.__spec__, "loader", None) is not loader:
                    problems.append(f"{holder.__name__}.{attr} is module {value.__name__} not from the mount")
                continue
            if not _covered(getattr(value, "__module__", None) or "", namespace) or id(value) in seen:
                continue
            seen.add(id(value))
            for fn in _functions_of(value):
                if fn.__module__ != getattr(value, "__module__", None):
                    continue  # inherited from elsewhere
                if fn.__code__.co_filename in ("<string>", dataclasses.__file__) and _generated_by_dataclasses(
                        value, fn):
                    continue  # dataclasses writes these methods itself: no source to come from
                checked += 1
                if id(fn.__globals__) not in stored_globals and not fn.__code__.co_filename.startswith("<ucode "):
                    problems.append(f"{holder.__name__}.{attr}: {fn.__qualname__} runs in the namespace of "
                                    f"{fn.__globals__.get('__name__')!r} from {fn.__code__.co_filename}, not "
                                    "a module of the store")
    return {
        "modules": modules,
        "loaders_are_mount": all(getattr(getattr(sys.modules[m], "__spec__", None), "loader", None) is loader
                                 for m in modules),
        "mount_first_on_meta_path": sys.meta_path[0] is loader,
        "functions_checked": checked,
        "problems": problems,
    }


class Recorder(unittest.TextTestResult):
    """Records one outcome per test id: pass, fail (failure, error or unexpected success) or skip."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, list[str]] = {}
        self.seconds: dict[str, float] = {}
        self._started = 0.0

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._started = time.perf_counter()

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        self.seconds[test.id()] = time.perf_counter() - self._started

    def _set(self, test: unittest.TestCase, outcome: str, message: str = "") -> None:
        tid = test.id()
        if self.outcomes.get(tid, ["pass"])[0] == "fail":
            return  # a failed subtest fails the whole test (and the first failure is the one reported)
        self.outcomes[tid] = [outcome, message]

    def _message(self, err: Any) -> str:
        exc = err[1]
        lines = str(exc).strip().splitlines()
        if isinstance(exc, AssertionError) and lines and lines[0].startswith("Failed doctest"):
            lines = [ln for ln in lines if "Error:" in ln] or lines  # the exception the example raised
        return f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:300]

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._set(test, "pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._set(test, "fail", self._message(err))

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._set(test, "fail", self._message(err))

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._set(test, "fail", f"{subtest._subDescription()} {self._message(err)}")  # type: ignore[attr-defined]

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._set(test, "skip", reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._set(test, "pass", "expected failure (upstream)")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._set(test, "fail", "unexpected success")


def _iter_tests(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    out: list[unittest.TestCase] = []
    for t in suite:
        out.extend(_iter_tests(t) if isinstance(t, unittest.TestSuite) else [t])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--namespace", action="append", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-mount", action="store_true", help="the baseline: the library from its files")
    ap.add_argument("--path", action="append", default=[], help="put DIR first on sys.path (test helpers)")
    ap.add_argument("--deselect", action="append", default=[], help="do not run this test id")
    ap.add_argument("--test-module", action="append", default=[], help="a test module to import by name")
    ap.add_argument("tests", nargs="*")
    args = ap.parse_args(argv)

    import ucode

    start = time.perf_counter()
    mounts = []
    if not args.no_mount:
        cb = ucode.open(args.store, create=False)
        mounts = [ucode.mount(ns, codebase=cb) for ns in args.namespace]
    sys.path[:0] = args.path
    test_modules = []
    for path in args.tests:
        name = path.rpartition("/")[2].removesuffix(".py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        test_modules.append(module)
    test_modules.extend(importlib.import_module(name) for name in args.test_module)

    suite = unittest.TestSuite()
    for module in test_modules:
        suite.addTests(unittest.defaultTestLoader.loadTestsFromModule(module))
    deselect = set(args.deselect)
    tests = [t for t in _iter_tests(suite) if t.id() not in deselect]
    # Provenance before running (what the tests import) and after (what doctests and lazy imports loaded).
    before = {m.namespace: provenance(m.namespace, m, test_modules) for m in mounts}
    runner = unittest.TextTestRunner(stream=sys.stderr, resultclass=Recorder, verbosity=0)
    result = runner.run(unittest.TestSuite(tests))
    after = {m.namespace: provenance(m.namespace, m, test_modules) for m in mounts}
    assert isinstance(result, Recorder)
    outcomes = result.outcomes
    counts = {k: sum(1 for v in outcomes.values() if v[0] == k) for k in ("pass", "fail", "skip")}
    report = {
        "namespace": args.namespace[0],
        "namespaces": args.namespace,
        "mounted": not args.no_mount,
        "tests_run": result.testsRun,
        "ids": len(outcomes),
        "counts": counts,
        "deselected": sorted(deselect & {t.id() for t in _iter_tests(suite)}),
        "seconds": round(time.perf_counter() - start, 2),
        "slowest": [[t, round(s, 2)] for s, t in sorted(((s, t) for t, s in result.seconds.items()),
                                                        reverse=True)[:10]],
        "provenance": {"before": before, "after": after},
        "outcomes": dict(sorted(outcomes.items())),
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(f"{','.join(args.namespace)}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
