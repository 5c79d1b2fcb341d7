"""The manifest: which PyPI packages' upstream test suites run from files and from a ucode store, and how.

Each package is pure Python (a C accelerator, where it has one, is optional), pinned to an exact version
whose sdist ships the test suite, and chosen for something real code does at import time that a store
has to reproduce (``covers``). ``run_suite.py`` runs one entry; ``tests/test_upstream_pypi.py`` runs them
all and asserts that the store run has the baseline's outcome for every test id.

Paths are relative to the root of the extracted sdist (its single top directory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["SUITES", "Suite"]


@dataclass(frozen=True)
class Suite:
    """One package's upstream suite: what to fetch, store, delete, mount and run, and what to expect."""

    name: str  # the PyPI project
    version: str  # exact: the sdist, and so the upstream tests, are fixed
    sha256: str  # of the sdist, checked after the download and on every run from the cache
    namespaces: tuple[str, ...]  # top-level import names served from the store (mounted)
    packages: tuple[str, ...]  # added to the store, then deleted: package directories, module files
    expected: int  # test ids the baseline records, less `deselect` and `slow`: a silently empty run fails
    covers: str  # what the package does at import time that the store has to reproduce
    tests: tuple[str, ...] = ("tests",)  # pytest's path arguments
    path: tuple[str, ...] = (".",)  # first on sys.path, as the package's own test setup expects
    keep: tuple[str, ...] = ()  # tests inside `packages`: not stored, not deleted (imported from files)
    args: tuple[str, ...] = ()  # extra pytest arguments (both runs)
    markers: tuple[str, ...] = ()  # markers a pytest plugin that upstream runs with would register
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment (both runs)
    deps: tuple[str, ...] = ()  # extra test requirements, pinned; installed for this suite alone
    doctests: tuple[str, ...] = ()  # modules whose doctests run (`pkg.*`: all), as `--doctest-modules` would
    native: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # C accelerator -> its C sources
    # test id, id prefix or file -> why: fails from files here (always left out)
    deselect: Mapping[str, str] = field(default_factory=dict)
    # test id, id prefix or file -> how slow: left out unless UCODE_UPSTREAM_FULL=1
    slow: Mapping[str, str] = field(default_factory=dict)
    # test id -> why it fails from the store but passes from files (strict: reported once it passes)
    xfail: Mapping[str, str] = field(default_factory=dict)


SUITES: dict[str, Suite] = {s.name: s for s in [
    Suite(
        "attrs", "26.1.0", "d03ceb89cb322a8fd706d4fb91940737b6642aa36998fe130a9bc96c985eff32",
        namespaces=("attr", "attrs"), packages=("src/attr", "src/attrs"), path=("src",), expected=1361,
        covers="two namespaces, `attrs` re-exporting `attr`; PEP 562 `__getattr__` (`attr.__version__`); "
               "`global` state (`attr._config`); classes built at run time from generated source that "
               "looks up the defining module in `sys.modules`; pickling and `inspect` of stored classes",
        deselect={
            "tests/test_converters.py::TestPipe::test_wrapped_annotation": "fails from files on Python 3.11.7 "
                                                                          "(the return annotation is not copied)",
        },
        slow={t: "hypothesis: 0.4-1.7 s" for t in [
            "tests/test_make.py::TestMetadata::test_not_none_metadata",
            "tests/test_funcs.py::TestAsTuple::test_recurse_retain",
            "tests/test_funcs.py::TestAsDict::test_recurse_property",
            "tests/test_funcs.py::TestAsTuple::test_recurse_property",
            "tests/test_funcs.py::TestAsDict::test_roundtrip",
            "tests/test_make.py::TestFieldsDict::test_fields_dict",
            "tests/test_funcs.py::TestAsTuple::test_roundtrip",
            "tests/test_funcs.py::TestEvolve::test_change",
            "tests/test_funcs.py::TestAssoc::test_change",
            "tests/test_make.py::TestMetadata::test_metadata_present",
            "tests/test_make.py::TestMetadata::test_empty_metadata_singleton",
            "tests/test_make.py::TestFields::test_fields_properties",
            "tests/test_make.py::TestMetadata::test_metadata_immutability",
            "tests/test_funcs.py::TestAssoc::test_no_changes",
            "tests/test_make.py::TestFields::test_fields",
            "tests/test_make.py::TestAttributes::test_immutable",
            "tests/test_funcs.py::TestAssoc::test_unknown",
            "tests/test_make.py::TestFieldsDict::test_instance",
            "tests/test_make.py::TestFields::test_instance",
            "tests/test_funcs.py::TestEvolve::test_unknown",
            "tests/test_funcs.py::TestAsDict::test_asdict_preserve_order",
            "tests/test_funcs.py::TestEvolve::test_no_changes",
            "tests/test_make.py::TestMetadata::test_empty_countingattr_metadata_independent",
        ]},
    ),
    Suite(
        "boltons", "26.2.0", "d39cfd15c1a1c3bd4d705c82252fa9edb8e4f5e8cc039f8e39afac7b1b47e92c",
        namespaces=("boltons",), packages=("boltons",), doctests=("boltons.*",), expected=672,
        covers="doctests of every module, found in the stored source (upstream runs `--doctest-modules`); "
               "`globals()[name] = func` in a top-level loop (statsutils); a module that replaces itself "
               "in `sys.modules` (deprutils); functions built with `exec` from `inspect` signatures (funcutils)",
        xfail={t: "lists the package's own .py files on disk (`iter_find_files(boltons dir, '*.py')`): the store "
                  "run deleted them; the store serves modules, not a directory of sources" for t in [
            "boltons/fileutils.py::boltons.fileutils.iter_find_files",
            "tests/test_fileutils.py::test_iter_find_files",
            "tests/test_fileutils.py::test_iter_find_files_pathlike",
        ]},
    ),
    Suite(
        "cachetools", "8.0.2", "30ac523adfc118b51d2b2e7bad8a0ddb31370dfe2700c7f10ca224f36ccf81e0",
        namespaces=("cachetools",), packages=("src/cachetools",), path=("src",), expected=476,
        covers="decorators and descriptors defined across private modules and re-exported by `__init__`; "
               "class hierarchies whose methods call overridden `__missing__`/`popitem`",
    ),
    Suite(
        "click", "8.5.1", "9bbfada76703fd1d784b83eea012e3e8c6a001a876543ef104fa56aaaeb072b4",
        namespaces=("click",), packages=("src/click",), path=("src",), expected=2435,
        covers="PEP 562 `__getattr__` deprecation shims returning `globals()[f'_{name}']` (click, core, parser, "
               "utils); a metaclass faking subclass checks; `global` caches (termui); version from "
               "`importlib.metadata`; subprocesses that import click (served from the store there too)",
        slow={"tests/test_stream_lifecycle.py": "~4 s to collect its 30,000 stress tests (which upstream's "
                                                "`-m 'not stress'` deselects) for 24 others"},
    ),
    Suite(
        "colorama", "0.4.6", "08695f5cb7ed6e0531a20572697297273c47b8cae5a63ffc6d6ed5c201be6e44",
        namespaces=("colorama",), packages=("colorama",), tests=("colorama/tests",), keep=("colorama/tests",),
        args=("-o", "python_files=*_test.py"), expected=52,
        covers="module state rebound with `global` by `init()`/`deinit()` (the wrapped streams, an `atexit` "
               "hook), a `try: ... except ImportError/AttributeError: ... else:` block defining the Windows API "
               "or its stand-ins (`windll = None`, lambdas); tests inside the package that patch its module "
               "globals with mock",
    ),
    Suite(
        "jinja2", "3.1.6", "0137fb05990d35f1275a587e9aee6d56da821fc83491a0fb838183be43f66d6d",
        namespaces=("jinja2",), packages=("src/jinja2",), path=("src",), expected=909,
        deps=("markupsafe==3.0.3", "trio==0.27.0", "outcome==1.3.0.post0", "sniffio==1.3.1", "attrs==26.1.0"),
        covers="a metaclass (`nodes.NodeType`) and classes patched after definition "
               "(`NodeType.__new__ = staticmethod(...)`, `Environment.template_class = Template`); registries "
               "filled at module level (filters, tests); code generated and compiled at run time; async",
    ),
    Suite(
        "markupsafe", "3.0.4", "2e9ad7dd851bf45fab9f75cbff4cb493fee9979e8d8c7c9c3ee119022518edd6",
        namespaces=("markupsafe",), packages=("src/markupsafe",), path=("src",), expected=80,
        native={"markupsafe._speedups": ("src/markupsafe/_speedups.c",)},
        covers="a C accelerator beside the stored pure-Python fallback: `try: from ._speedups import ... "
               "except ImportError: from ._native import ...` (the C module is built, so the store run "
               "finds it on `__path__`); the tests switch implementations by patching a module attribute",
    ),
    Suite(
        "pyparsing", "3.3.3", "928ae7e20211f3b6f3915a72f06a0cfd29ab9d24279dd6346b6b1a7146397d36",
        namespaces=("pyparsing",), packages=("pyparsing",), expected=818,
        deps=("railroad-diagrams==3.0.1", "jinja2==3.1.6", "markupsafe==3.0.3"),
        covers="classes patched after definition (`ParserElement._literalStringClass = Literal`) and class-level "
               "mode switches (packrat replaces methods of `ParserElement`); `if ... not in globals()`; a large "
               "package of mutually importing modules; the examples grammars (imported from the sdist)",
        slow={
            # test_unit.py runs the ~330 tests of Test02_WithoutPackrat again in each parsing mode; the
            # packrat one (Test04) is kept: it switches the mode by replacing methods of ParserElement.
            **{f"tests/test_unit.py::{c}": "~10-15 s: Test02 again in another parsing mode" for c in [
                "Test06_WithBoundedPackrat", "Test08_WithUnboundedPackrat", "Test09_WithLeftRecursionParsing",
                "Test10_WithLeftRecursionParsingBoundedMemo"]},
            **{f"tests/test_unit.py::{c}::{t}": "1-4 s" for c in ["Test02_WithoutPackrat", "Test04_WithPackrat"]
               for t in ["testNestedExpressionRandom", "testNumericExpressions", "testUpcaseDowncaseUnicode",
                         "testWordWithIdentChars", "testCStyleCommentParser"]},
            "tests/test_util.py::test_make_compressed_re_random": "~6 s",
            "tests/test_examples.py::TestExamples::test_roman_numerals": "~2 s",
            "tests/test_examples.py::TestExamples::test_select_parser": "~1 s",
            "tests/test_examples.py::TestExamples::test_booleansearchparser": "~1 s",
        },
    ),
    Suite(
        "python-dateutil", "4.0.0", "d7295ff14fdc0f92f662100bfb6c551d160ca090f2939f1ec5b9794265c03f06",
        namespaces=("dateutil",), packages=("src/dateutil",), path=("src",), expected=2400,
        deps=("freezegun==1.5.5", "tzdata==2026.6", "attrs==26.1.0"),
        markers=("no_cover: pytest-cov's marker (upstream runs with pytest-cov)",),
        covers="PEP 562 lazy submodule imports (`dateutil.__getattr__`, `tz.__getattr__`); singleton metaclasses "
               "(`tzutc`, `tzoffset`); a module that warns when imported, its stacklevel computed from the "
               "frames of the import; freezegun importing dateutil from the store; tzdata read as package data",
        deselect={
            "tests/test_tz.py::test_gettz_link[tzpath-Europe/Monaco-Europe/Paris]":
                "this machine's /usr/share/zoneinfo is older than tzdata 2026.6 (Monaco is no link to Paris)",
            "tests/test_tzfile.py::test_gettz_local_abbreviation_without_time_zone_data":
                "fails from files here: the machine's local time zone data",
            "tests/test_tzpath_data.py::test_dst_matches_tzdata_zi[tzpath]":
                "this machine's /usr/share/zoneinfo differs from tzdata 2026.6 (Guernsey, Monaco)",
        },
        slow={
            "tests/test_tzfile.py": "~12 s: 2,900 tests, every zone of the tz database",
            "tests/test_tzpath_data.py": "~16 s: every zone against tzdata.zi",
            "tests/property/test_rrule_prop.py": "~7 s: hypothesis",
        },
    ),
    Suite(
        "simplejson", "4.3.0", "ffe34ab51a0d37e6d1c661a5672df00d2d5e18804e38eac07abffb83fa5ec3d7",
        namespaces=("simplejson",), packages=("simplejson",), tests=("simplejson/tests",),
        keep=("simplejson/tests",), expected=282,
        native={"simplejson._speedups": ("simplejson/_speedups.c",)},
        covers="tests shipped inside the package (files, beside the stored modules); a C accelerator with "
               "pure-Python fallbacks chosen at import time; `_toggle_speedups` rebinding module globals of "
               "other modules with `global`; `python -m simplejson.tool` in subprocesses",
    ),
    Suite(
        "six", "1.17.0", "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
        namespaces=("six",), packages=("six.py",), tests=("test_six.py",), expected=200,
        covers="a single-module package whose import installs its own meta path importer (`six.moves`, "
               "lazy modules put in `sys.modules`); `globals().get('__spec__')`; `with_metaclass`",
    ),
    Suite(
        "tabulate", "0.10.0", "e2cfde8f79420f6deeffdeda9aaec3b6bc5abce947655d17ac662b126e48a60d",
        namespaces=("tabulate",), packages=("tabulate",), tests=("test",), doctests=("tabulate.*",), expected=335,
        deps=("wcwidth==0.2.13",),
        covers="an optional dependency chosen at import time (`try: import wcwidth`) and module-level flags the "
               "tests set (`tabulate.PRESERVE_WHITESPACE`, `WIDE_CHARS_MODE`) that functions read as globals; "
               "the doctests of the module",
        xfail={f"test/test_cli.py::test_script_{t}": "runs `python tabulate/__init__.py` by path: the store run "
                                                    "deleted that file" for t in [
            "floatfmt_option", "format_option", "from_file_to_file", "from_file_to_stdout",
            "from_stdin_to_stdout", "header_option", "sep_option"]},
    ),
    Suite(
        "toolz", "1.2.0", "9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490",
        namespaces=("toolz", "tlz"), packages=("toolz", "tlz"), tests=("toolz",),
        keep=("toolz/tests", "toolz/sandbox/tests"), expected=193,
        covers="tests inside the package; `tlz`, whose import installs a meta path finder that builds "
               "modules from toolz's and runs `loader.exec_module(sys.modules['tlz'])`; PEP 562 `__getattr__` "
               "caching into `globals()`; `toolz.curried` built by a top-level loop; pickling curried functions",
    ),
    Suite(
        "wrapt", "2.5.2", "551cb49e88b3722faad780303833bc4fa70685fb1773270fb98b40d39d9fddbf",
        namespaces=("wrapt",), packages=("src/wrapt",), path=("src",), tests=("tests/core",), expected=1381,
        covers="its pure-Python implementation (the C extension is not built): proxies with a metaclass, "
               "descriptors and `__getattr__`; post-import hooks that patch `sys.meta_path` and wrap modules "
               "as they are imported; monkey patching by module name",
    ),
]}
