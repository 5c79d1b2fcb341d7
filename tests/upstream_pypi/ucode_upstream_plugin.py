"""The pytest side of one upstream run: mount the package (store run), record every outcome, check provenance.

``run_suite.py`` runs this file as the child interpreter's script, ``python -I -B ucode_upstream_plugin.py
--path DIR ... -- PYTEST_ARGS``. ``-I`` keeps ``PYTHONPATH``, the script's directory and the current
directory off ``sys.path``, so the package can come only from the ``--path`` entries that its own test
setup expects (``src`` for a src layout, the project root for a flat one), or from the store. The script
puts those first on ``sys.path`` and hands over to ``pytest.main(args, plugins=[this module])``: the
plugin is registered before pytest parses anything, as ``-p`` would, but without ``-p``'s import by name
(which needs the harness directory on ``sys.path``, and makes pytest warn that it cannot rewrite an
already imported module: fatal under upstream's ``filterwarnings = error``). Nothing of ucode's test tree
is importable in the child: a package's own ``tests`` package must not meet ucode's.

Everything else comes from environment variables (JSON where structured), so the same file serves the
baseline run on the files and the run from the store:

``UCODE_UPSTREAM_REPORT``
    where to write the JSON report (outcomes, counts, provenance).
``UCODE_UPSTREAM_NAMESPACES``
    the package's top-level import names (JSON list).
``UCODE_UPSTREAM_PACKAGE_DIRS``
    where the package's sources are (were) in the work tree (JSON list of paths).
``UCODE_UPSTREAM_TEST_ROOTS``
    the test paths (JSON list): their modules are where the provenance check looks for the package's
    functions.
``UCODE_UPSTREAM_KEEP``
    test files and directories inside the package directories: not stored, imported from files in both
    runs (JSON list of paths).
``UCODE_UPSTREAM_NATIVE``
    modules of the package that are C extensions built beside the sources (JSON list): loaded from their
    ``.so`` in both runs, as a stored package finds them on ``__path__``.
``UCODE_UPSTREAM_DOCTEST_MODULES``
    modules of the package whose doctests run as tests (JSON list), as upstream's ``--doctest-modules``
    does. pytest collects doctests by file path, and the store run has no files: so in both runs they are
    collected by module name (imported with ``importlib.import_module``), with pytest's own doctest items,
    finder, option flags and ``doctest_namespace``.
``UCODE_UPSTREAM_MARKERS``
    markers to register (JSON list), as the plugin upstream runs with would (pytest-cov's ``no_cover``).
``UCODE_UPSTREAM_STORE``
    set for the store run: the store to mount the namespaces from. The mount is made in
    ``pytest_load_initial_conftests``, after pytest's ``pythonpath`` setting and before any conftest or
    test module is imported, after checking that nothing else could provide the package.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
import time
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from _pytest.doctest import DoctestModule
from _pytest.subtests import SubtestReport

_START = time.perf_counter()
_NAMESPACES: list[str] = json.loads(os.environ.get("UCODE_UPSTREAM_NAMESPACES", "[]"))
_PACKAGE_DIRS: list[str] = [os.path.realpath(p) for p in json.loads(os.environ.get("UCODE_UPSTREAM_PACKAGE_DIRS",
                                                                                    "[]"))]
_KEEP: list[str] = [os.path.realpath(p) for p in json.loads(os.environ.get("UCODE_UPSTREAM_KEEP", "[]"))]
_TEST_ROOTS: list[str] = [os.path.realpath(p) for p in json.loads(os.environ.get("UCODE_UPSTREAM_TEST_ROOTS", "[]"))]
_NATIVE: set[str] = set(json.loads(os.environ.get("UCODE_UPSTREAM_NATIVE", "[]")))
_DOCTEST_MODULES: list[str] = json.loads(os.environ.get("UCODE_UPSTREAM_DOCTEST_MODULES", "[]"))
_MARKERS: list[str] = json.loads(os.environ.get("UCODE_UPSTREAM_MARKERS", "[]"))
_STORE = os.environ.get("UCODE_UPSTREAM_STORE")
_REPORT = os.environ.get("UCODE_UPSTREAM_REPORT")

# Per test id: phase outcomes as pytest reports them, folded into one outcome by _fold.
_phases: dict[str, dict[str, tuple[str, str]]] = {}
_subtests_failed: dict[str, list[str]] = {}
_collect_errors: dict[str, str] = {}
_deselected: list[str] = []
_before_mount: dict[str, Any] = {}
_mounts: list[Any] = []


def _covered(name: str) -> bool:
    return any(name == ns or name.startswith(ns + ".") for ns in _NAMESPACES)


def _under(path: str | None, roots: Iterable[str]) -> bool:
    if not path:
        return False
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r + os.sep) for r in roots)


# ------------------------------------------------------------------------------------------ mounting


class _HideInstalled:
    """A meta path finder, first: the package as installed in this interpreter's site-packages (click is
    a dependency of uvicorn, ucode's engine's server, so it is installed beside ucode) cannot be imported
    in the runs, so the baseline finds the sdist's files and the store run only the store (whose mount
    goes before this finder)."""

    def __init__(self) -> None:
        import site
        import sysconfig

        dirs = {*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        self.dirs = [os.path.realpath(d) for d in dirs]

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if not _covered(name):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and _under(spec.origin if spec.origin != "namespace" else None, self.dirs):
            raise ModuleNotFoundError(f"No module named {name!r} (its installed copy is hidden in upstream runs)",
                                      name=name)
        return None


def _importable_elsewhere(ns: str) -> str | None:
    """Why ``import ns`` would find something without the mount (None: it would not). An emptied package
    directory that still holds tests is a namespace package candidate on ``sys.path``: that is no copy."""
    try:
        spec = importlib.util.find_spec(ns)
    except (ImportError, ValueError) as exc:
        return None if isinstance(exc, ModuleNotFoundError) else f"find_spec raised {exc!r}"
    if spec is None:
        return None
    if spec.origin in (None, "namespace") and all(_under(p, _PACKAGE_DIRS)
                                                  for p in spec.submodule_search_locations or ()):
        return None
    return f"{ns} is importable from {spec.origin or list(spec.submodule_search_locations or ())}"


@pytest.hookimpl
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Store runs: check that only the store can provide the package, then mount it (before conftests)."""
    if not _STORE:
        return
    problems = []
    for ns in _NAMESPACES:
        held = [m for m in sys.modules if m == ns or m.startswith(ns + ".")]
        if held:
            problems.append(f"{ns} already imported before the mount: {held}")
        why = _importable_elsewhere(ns)
        if why:
            problems.append(why)
    _before_mount["problems"] = problems
    if problems:
        raise pytest.UsageError("ucode upstream: the package would not come from the store only: "
                                + "; ".join(problems))
    import ucode

    cb = ucode.open(_STORE, create=False)  # one codebase for all namespaces: one runtime, one import hook
    for ns in _NAMESPACES:
        _mounts.append(ucode.mount(ns, codebase=cb))


@pytest.hookimpl
def pytest_configure(config: pytest.Config) -> None:
    """Markers a plugin upstream runs with would register (pytest-cov's ``no_cover``), where the suite
    uses them without it and upstream's ``filterwarnings = error`` would stop on the unknown mark."""
    for marker in _MARKERS:
        config.addinivalue_line("markers", marker)


# ------------------------------------------------------------------------------------------ recording


def _message(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).strip().splitlines()[0][:300] if str(crash.message).strip() else ""
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        return str(report.longrepr[2])[:300]
    text = str(report.longrepr or "").strip().splitlines()
    return text[-1][:300] if text else ""


@pytest.hookimpl
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record each phase's outcome (an xfail as ``xfailed``/``xpassed``); subtests apart."""
    if isinstance(report, SubtestReport):  # one of several reports of the call: a failed one fails the test
        if report.failed:
            _subtests_failed.setdefault(report.nodeid, []).append(_message(report))
        return
    if report.passed and report.when != "call":
        return
    outcome: str = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    _phases.setdefault(report.nodeid, {})[report.when] = (outcome, "" if report.passed else _message(report))


@pytest.hookimpl
def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    """A test that started and reported nothing (the process died in it) is recorded as an error."""
    _phases.setdefault(nodeid, {})


@pytest.hookimpl
def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _collect_errors[report.nodeid or "<session>"] = _message(report)


@pytest.hookimpl
def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(i.nodeid for i in items)


class _DoctestsByName(DoctestModule):
    """pytest's doctest collector for one module, imported by name instead of by path."""

    module_name: str = ""

    def _getobj(self) -> Any:
        return importlib.import_module(self.module_name)


@pytest.hookimpl(tryfirst=True)  # before pytest's own, which applies --deselect
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Collect the doctests of ``DOCTEST_MODULES`` by module name (see the module docstring)."""
    for name in _DOCTEST_MODULES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None and spec.origin else name.replace(".", os.sep) + ".py"
        node = _DoctestsByName.from_parent(session, path=Path(origin))
        node.module_name = name
        try:
            items.extend(node.collect())
        except Exception as exc:  # an import error: recorded as a collection error of that module
            _collect_errors[node.nodeid] = f"{type(exc).__name__}: {exc}"[:300]


def _fold(phases: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """One outcome per test: an error in setup or teardown is ``error`` (as pytest's summary counts it),
    a skip in setup is ``skipped``, else the call's outcome."""
    setup = phases.get("setup")
    call = phases.get("call")
    teardown = phases.get("teardown")
    if setup is not None and setup[0] == "failed":
        return "error", setup[1]
    if setup is not None and setup[0] in ("skipped", "xfailed"):
        return setup
    if call is None:
        return "error", "did not run to completion"
    if teardown is not None and teardown[0] == "failed":
        return "error", "teardown: " + teardown[1]
    return call


# ------------------------------------------------------------------------------------------ provenance


def _loader_name_of(spec: Any) -> str:
    return type(getattr(spec, "loader", None)).__name__


def _loader_name(mod: types.ModuleType) -> str:
    return _loader_name_of(getattr(mod, "__spec__", None))


def provenance() -> dict[str, Any]:
    """Where every module of the namespaces in ``sys.modules`` came from, and what is wrong with that.

    Store run: each module is made by ucode's ``StoreLoader``, except test modules shipped inside the
    package (``KEEP``, from files in both runs) and the C accelerators built beside the sources (found on
    ``__path__``); and every function of the package that a test module holds runs in the namespace of a
    module the store made. Baseline: each module is a file of the work tree (not an installed copy)."""
    problems: list[str] = []
    modules: dict[str, str] = {}
    for name, mod in sorted(sys.modules.items()):
        if mod is None or not _covered(name) or not isinstance(mod, types.ModuleType):
            continue
        loader = _loader_name(mod)
        where = getattr(mod, "__file__", None)
        owner = type(getattr(getattr(mod, "__spec__", None), "loader", None)).__module__
        if _covered(owner):  # made by the package's own importer (six.moves): its own code, counted with it
            modules[name] = f"importer {owner}"
            if _STORE and _loader_name(sys.modules[owner]) != "StoreLoader":
                problems.append(f"{name}: made by an importer of {owner}, which is not from the store")
        elif _under(where, _KEEP):
            modules[name] = "tests"
        elif name in _NATIVE and isinstance(getattr(mod.__spec__, "loader", None),
                                            importlib.machinery.ExtensionFileLoader):
            modules[name] = "native"
            if not _under(where, _PACKAGE_DIRS):
                problems.append(f"{name}: C extension from {where}, not the package directory")
        elif _STORE:
            modules[name] = loader
            if loader != "StoreLoader":
                problems.append(f"{name}: loaded by {loader} from {where}, not by ucode's StoreLoader")
        else:
            modules[name] = loader
            locations = getattr(mod.__spec__, "submodule_search_locations", None)
            if where is None and locations:
                where = next(iter(locations), None)  # a namespace package
            if not _under(where, _PACKAGE_DIRS):
                problems.append(f"{name}: loaded from {where}, not the package in the work tree")
    checked = 0
    seen: set[int] = set()
    for tname, tmod in list(sys.modules.items()):
        if tmod is None or not _under(getattr(tmod, "__file__", None), _KEEP + _TEST_ROOTS):
            continue
        for attr, value in list(vars(tmod).items()):
            for fn in _functions_of(value):
                code_file = fn.__code__.co_filename
                # The package's functions; not code it generates at run time (attrs' `__init__`: `<attrs
                # generated init ...>`) nor the tests' own.
                if id(fn) in seen or not _covered(str(fn.__globals__.get("__name__", ""))) \
                        or code_file.startswith("<") or _under(code_file, _KEEP):
                    continue
                seen.add(id(fn))
                checked += 1
                home = fn.__globals__
                if _STORE and _loader_name_of(home.get("__spec__")) != "StoreLoader":
                    problems.append(f"{tname}.{attr}: {fn.__qualname__} runs in the namespace of "
                                    f"{home.get('__name__')!r}, not of a module the store made")
                elif not _STORE and not _under(home.get("__file__"), _PACKAGE_DIRS):
                    problems.append(f"{tname}.{attr}: {fn.__qualname__} runs in the namespace of "
                                    f"{home.get('__name__')!r} from {home.get('__file__')}, not the work tree")
    return {"modules": modules, "problems": problems, "functions_checked": checked}


def _functions_of(value: Any) -> list[types.FunctionType]:
    """The plain functions a test module's attribute carries: itself, or the methods of a class."""
    if isinstance(value, types.FunctionType):
        return [value]
    if isinstance(value, type):
        out = []
        for v in list(vars(value).values()):
            v = getattr(v, "__func__", v)
            if isinstance(v, property):
                v = v.fget
            if isinstance(v, types.FunctionType):
                out.append(v)
        return out
    return []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the report: one outcome per test id, counts, provenance at the end of the session."""
    if not _REPORT:
        return
    outcomes = {tid: list(_fold(p)) for tid, p in _phases.items()}
    for tid, msgs in _subtests_failed.items():
        if outcomes.get(tid, ["passed"])[0] == "passed":
            outcomes[tid] = ["failed", f"{len(msgs)} subtests failed: {msgs[0]}"]
    for tid, msg in _collect_errors.items():
        outcomes[tid] = ["error", "collection: " + msg]
    counts: dict[str, int] = {}
    for o, _ in outcomes.values():
        counts[o] = counts.get(o, 0) + 1
    report = {
        "mode": "store" if _STORE else "files",
        "exitstatus": int(exitstatus),
        "collected": session.testscollected,
        "deselected": len(_deselected),
        "deselected_ids": sorted(_deselected),
        "ids": len(outcomes),
        "counts": dict(sorted(counts.items())),
        "seconds": round(time.perf_counter() - _START, 2),
        "before_mount": _before_mount,
        "mounts": [repr(m) for m in _mounts],
        "provenance": provenance(),
        "outcomes": dict(sorted(outcomes.items())),
    }
    with open(_REPORT, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)


def main(argv: list[str]) -> int:
    """The child interpreter's entry point: ``--path DIR`` (repeatable) then ``--`` and pytest's arguments."""
    paths: list[str] = []
    while argv and argv[0] == "--path":
        paths.append(argv[1])
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    sys.path[:0] = paths
    sys.meta_path.insert(0, _HideInstalled())
    # Registered as an object, not with `-p NAME`: pytest would then warn that it cannot rewrite the
    # asserts of a module already imported, and suites with `filterwarnings = error` stop on that.
    return int(pytest.main(argv, plugins=[sys.modules[__name__]]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
