"""CPython's own test suites of standard-library modules, run against those modules served from a store.

For each suite: the module (or package) is added to a fresh store from the standard library's files; the
suite (``test.test_X`` from the installed ``test`` package) runs twice in fresh interpreters
(``tests/upstream_runner.py``): once against the files (the baseline), once with the module mounted from
the store. Every test must have the same outcome both times. Several of these modules have a C
accelerator and a pure-Python fallback that their suites test both of (``heapq``/``_heapq``, ``bisect``,
``functools``, ``operator``, ``json``, ``decimal``/``_pydecimal``, ``abc``/``_py_abc``, ``datetime``'s
style ``import_fresh_module(..., blocked=[...])``): the fallback comes from the store, the accelerator from
the interpreter, as Python finds them. Known differences would be listed in ``KNOWN`` (strict xfails,
with the reason, counting against issue 8 in docs/upstream-suites.md); there are none.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ucode

RUNNER = Path(__file__).resolve().parent / "upstream_runner.py"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
HAVE_TESTS = (STDLIB / "test" / "support" / "__init__.py").exists()


@dataclass(frozen=True)
class Suite:
    test: str  # test.test_X
    modules: tuple[str, ...]  # what is added to the store and mounted (top-level names)
    minimum: int  # test ids the suite has at least (a silently empty run fails): measured, rounded down
    deselect: dict[str, str] = field(default_factory=dict)


SUITES = [Suite(f"test.{t}", tuple(m.split()), n) for t, m, n in [
    ("test_string", "string", 38), ("test_shlex", "shlex", 18), ("test_difflib", "difflib", 51),
    ("test_heapq", "heapq", 51), ("test_bisect", "bisect", 42), ("test_colorsys", "colorsys", 7),
    ("test_fnmatch", "fnmatch", 17), ("test_graphlib", "graphlib", 15), ("test_ipaddress", "ipaddress", 204),
    ("test_pprint", "pprint", 44), ("test_quopri", "quopri", 11), ("test_reprlib", "reprlib", 23),
    ("test_sched", "sched", 11), ("test_tabnanny", "tabnanny", 20), ("test_tomllib", "tomllib", 13),
    ("test_wave", "wave", 90), ("test_base64", "base64", 36), ("test_calendar", "calendar", 72),
    ("test_copy", "copy", 76), ("test_dataclasses", "dataclasses", 223), ("test_enum", "enum", 600),
    ("test_functools", "functools", 251), ("test_operator", "operator", 94), ("test_json", "json", 160),
    ("test_configparser", "configparser", 343), ("test_argparse", "argparse", 1706),
    ("test_contextlib", "contextlib", 89), ("test_gettext", "gettext", 43), ("test_uu", "uu", 14),
    ("test_optparse", "optparse", 152), ("test_plistlib", "plistlib", 57), ("test_secrets", "secrets", 11),
    ("test_uuid", "uuid", 62), ("test_zipapp", "zipapp", 31), ("test_mimetypes", "mimetypes", 22),
    ("test_http_cookies", "http", 27), ("test_urlparse", "urllib", 72), ("test_typing", "typing", 583),
    ("test_types", "types", 112), ("test_dis", "dis", 104), ("test_abstract_numbers", "numbers", 3),
    ("test_decimal", "decimal _pydecimal", 700), ("test_pathlib", "pathlib", 456),
    ("test_tempfile", "tempfile", 104), ("test_ast", "ast", 148), ("test_abc", "abc _py_abc", 36),
]]
# Tests that fail the same way from files here are still compared: both runs must agree. None needed.
KNOWN: dict[str, dict[str, str]] = {}


def _source(module: str) -> Path:
    path = STDLIB / f"{module}.py"
    return path if path.exists() else STDLIB / module


def _run(suite: Suite, work: Path, mounted: bool) -> dict[str, Any]:
    out = work / ("store.json" if mounted else "files.json")
    cmd = [sys.executable, "-I", "-B", str(RUNNER), "--store", str(work / "store"), "--out", str(out)]
    cmd += [a for m in suite.modules for a in ("--namespace", m)]
    cmd += [] if mounted else ["--no-mount"]
    cmd += [a for t in suite.deselect for a in ("--deselect", t)]
    cmd += ["--test-module", suite.test]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0 or not out.exists():
        return {"error": f"exit {proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}"}
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _both(suite: Suite, work: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    with ucode.open(work / "store") as cb:
        cb.add([_source(m) for m in suite.modules])
    return _run(suite, work, False), _run(suite, work, True)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {s.test: pool.submit(_both, s, tmp_path_factory.mktemp(s.test)) for s in SUITES}
        return {name: fut.result() for name, fut in futures.items()}


def test_at_least_twenty_standard_library_suites() -> None:
    assert len(SUITES) >= 20 and len({s.test for s in SUITES}) == len(SUITES)


@pytest.mark.skipif(not HAVE_TESTS, reason="this Python was installed without its test package")
@pytest.mark.parametrize("suite", SUITES, ids=[s.test for s in SUITES])
def test_a_standard_library_suite_passes_from_the_store_what_it_passes_from_files(
        reports: dict[str, tuple[dict[str, Any], dict[str, Any]]], suite: Suite) -> None:
    files, store = reports[suite.test]
    assert "error" not in files, files.get("error")
    assert "error" not in store, store.get("error")
    assert files["ids"] >= suite.minimum and store["ids"] == files["ids"]
    for ns in suite.modules:
        for when in ("before", "after"):
            prov = store["provenance"][when][ns]
            assert prov["problems"] == [] and prov["loaders_are_mount"], (when, prov["problems"])
    known = KNOWN.get(suite.test, {})
    differ = {t: (files["outcomes"].get(t), store["outcomes"].get(t))
              for t in set(files["outcomes"]) | set(store["outcomes"])
              if (files["outcomes"].get(t) or [""])[0] != (store["outcomes"].get(t) or [""])[0] and t not in known}
    assert differ == {}, f"{len(differ)} tests differ (files, store):\n" + "\n".join(
        f"  {t}: {o}" for t, o in sorted(differ.items())[:30])
