"""A stored module runs exactly as its file would: its program, every statement in file order, in one
namespace. Each pattern below (issue 8's list) is checked against CPython importing the file, through the
path ``ucode run`` takes (``Codebase.function``) and through ``ucode.mount``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._differential import compare
from ucode.normalize import normalize_module

VIAS = ["run", "mount"]


def same(tmp_path: Path, files: dict[str, str], module: str, probe: str, via: str, **kw: bool) -> str:
    """The probe's output, which must be the same from the files and from the store."""
    outcome = compare(tmp_path, files, module, probe, via=via, **kw)
    assert outcome.same(), outcome.explain()
    assert outcome.files.returncode == 0, outcome.explain()
    return outcome.files.stdout


# ------------------------------------------------------------------------ what a program holds


def test_every_statement_is_stored_in_file_order() -> None:
    pm = normalize_module('"""doc"""\nimport os\nX = [1]\nX.append(2)\nif os.sep == "?":\n    X = []\n'
                          'def f():\n    return X\nprint("loaded")\n', path="m.py", module="m")
    assert [s.kind for s in pm.statements] == ["code", "code", "value", "code", "code", "function", "code"]
    assert [s.line for s in pm.statements] == [1, 2, 3, 4, 5, 7, 9]
    assert pm.slots == {"X": 2, "f": 5}  # the definition of X, not the `if` that may rebind it
    assert pm.bindings()["X"] == pm.statements[2].hash


def test_the_last_definition_of_a_name_is_its_binding_and_module_code_names_only_what_nothing_defines() -> None:
    pm = normalize_module("def f():\n    return 1\n_orig = f\ndef f():\n    return _orig() + 1\n"
                          "try:\n    from math import sumprod\nexcept ImportError:\n    def sumprod(a, b):\n"
                          "        return 0\nf = staticmethod(f)\n", path="m.py", module="m")
    assert pm.slots == {"f": 2, "_orig": 1, "sumprod": 3}
    assert pm.statements[4].kind == "code" and pm.statements[4].names == ["f"]  # goes on changing f


def test_statement_hashes_ignore_formatting_the_program_hash_does_not() -> None:
    a = normalize_module("X = 1\ndef f():\n    return X\n", path="m.py", module="m")
    b = normalize_module("X = 1  # one\n\n\ndef f():\n    return X\n", path="m.py", module="m")
    c = normalize_module("X = 2\ndef f():\n    return X\n", path="m.py", module="m")
    assert a.bindings() == b.bindings() and a.bindings()["X"] != c.bindings()["X"]
    assert a.bindings()["f"] == c.bindings()["f"]  # f names X; what X is bound to is not f's hash
    assert a.hash != b.hash  # the text that runs differs (a comment, the lines): another program


# ------------------------------------------------------------------------ the twelve patterns

@pytest.mark.parametrize("via", VIAS)
def test_1_a_later_statement_patches_a_class_with_something_defined_between(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"m.py": """
        class A:
            pass
        class B:
            a = A
        A.b = B
        REG = {}
        REG["a"] = 1
        class C:
            a = REG["a"]
        REG["c"] = C
    """}, "m", "print(m.A.b is m.B, m.B.a is m.A, m.REG['c'] is m.C, m.C.a)", via)
    assert out == "True True True 1\n"


@pytest.mark.parametrize("via", VIAS)
def test_2_values_computed_before_a_change_keep_what_they_saw(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"m.py": """
        X = [1]
        Y = len(X)
        X.append(2)
        class Meta(type):
            pass
        class K(metaclass=Meta):
            pass
        Meta.tag = "patched"
        def tag():
            return type(K).tag
    """}, "m", "print(m.Y, m.X, m.tag())", via)
    assert out == "1 [1, 2] patched\n"


@pytest.mark.parametrize("via", VIAS)
def test_3_a_rebinding_in_a_branch_not_taken_leaves_the_name_as_it_was(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"m.py": """
        import sys
        FLAG = False
        def f():
            return 1
        if sys.platform == "nope":
            def f():
                return 2
        DELIM = ":"
        if FLAG:
            DELIM = "."
        FLAGS = 1
        if not FLAG:
            FLAGS |= 2
    """}, "m", "print(m.f(), m.DELIM, m.FLAGS)", via)
    assert out == "1 : 3\n"


@pytest.mark.parametrize("via", VIAS)
def test_4_alias_then_redefine_wraps_the_first_definition(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"m.py": """
        def f():
            return 1
        _orig = f
        def f():
            return _orig() + 1
    """}, "m", "print(m.f(), m._orig())", via)
    assert out == "2 1\n"


@pytest.mark.parametrize("via", VIAS)
def test_5_global_state_is_the_modules(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"m.py": """
        state = None
        def set_state(v):
            global state
            state = v
        def get_state():
            return state
    """}, "m", "m.set_state(1)\nprint(m.get_state(), m.state)", via)
    assert out == "1 1\n"


@pytest.mark.parametrize("via", VIAS)
def test_6_names_made_through_globals_are_the_modules_names(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"m.py": """
        import enum
        def make(n):
            return n.upper()
        for _n in ("alpha", "beta"):
            globals()[_n] = make(_n)
        class Color(enum.Enum):
            RED = 1
            BLUE = 2
        globals().update(Color.__members__)
        def pick():
            return alpha, beta, RED
    """}, "m", "print(m.pick(), m.BLUE)", via)
    assert out == "('ALPHA', 'BETA', <Color.RED: 1>) Color.BLUE\n"


@pytest.mark.parametrize("via", VIAS)
def test_7_top_level_calls_run_where_they_are(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"m.py": """
        OPTIONFLAGS_BY_NAME = {}
        def register_optionflag(name):
            return OPTIONFLAGS_BY_NAME.setdefault(name, 1 << len(OPTIONFLAGS_BY_NAME))
        DONT_ACCEPT_TRUE_FOR_1 = register_optionflag("DONT_ACCEPT_TRUE_FOR_1")
        DONT_ACCEPT_BLANKLINE = register_optionflag("DONT_ACCEPT_BLANKLINE")
        NORMALIZE_WHITESPACE = register_optionflag("NORMALIZE_WHITESPACE")
        ELLIPSIS = register_optionflag("ELLIPSIS")
        SKIP = register_optionflag("SKIP")
        class Config:
            debug = False
        setattr(Config, "debug", True)
        opmap = {}
        for _i, _name in enumerate(["NOP", "POP_TOP", "ROT_TWO"]):
            opmap[_name] = _i
    """}, "m", "print(m.ELLIPSIS, m.SKIP, m.Config.debug, m.opmap)", via)
    assert out == "8 16 True {'NOP': 0, 'POP_TOP': 1, 'ROT_TWO': 2}\n"


@pytest.mark.parametrize("via", VIAS)
def test_8_reexports_nothing_uses_are_there(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {
        "pkg/__init__.py": "from functools import partial\nfrom .a import *\n",
        "pkg/a.py": "from os.path import join\n__all__ = ['join', 'f']\ndef f():\n    return 1\n",
    }, "pkg", "print(m.partial.__name__, m.join('a', 'b'), m.f())", via)
    assert out == "partial a/b 1\n"


@pytest.mark.parametrize("via", VIAS)
def test_9_relative_imports_inside_a_packages_functions(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {
        "pkg/__init__.py": "def helper():\n    from .sub import value\n    return value\n",
        "pkg/sub.py": "value = 42\n",
    }, "pkg", "print(m.helper(), m.__package__, m.__name__)", via)
    assert out == "42 pkg pkg\n"


@pytest.mark.parametrize("via", VIAS)
def test_10_a_missing_accelerator_falls_back_when_the_module_runs(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {
        "pkg/__init__.py": "try:\n    from ._speedups import escape\nexcept ImportError:\n"
                           "    from ._native import escape\n",
        "pkg/_native.py": "def escape(s):\n    return s.replace('<', '&lt;')\n",
    }, "pkg", "print(m.escape('<b>'), m.escape.__module__)", via)
    assert out == "&lt;b> pkg._native\n"


def test_10_an_accelerator_beside_the_package_is_used_where_it_exists(tmp_path: Path) -> None:
    """A module that is not in the store (a C extension built next to the package; here a .py file the
    store was not given) is found on the package's ``__path__``, as Python finds it."""
    from ucode.codebase import Codebase

    pkg = tmp_path / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("try:\n    from ._speedups import escape\nexcept ImportError:\n"
                                     "    from ._native import escape\n")
    (pkg / "_native.py").write_text("def escape(s):\n    return 'native'\n")
    with Codebase(tmp_path / "store") as cb:
        cb.add([pkg])
    (pkg / "_speedups.py").write_text("def escape(s):\n    return 'speedups'\n")
    from tests._differential import run_python

    out = run_python(f"import ucode\nucode.mount('pkg', store={str(tmp_path / 'store')!r})\nimport pkg\n"
                     "print(pkg.escape('x'), pkg.__spec__.loader.__class__.__name__)", tmp_path)
    assert out.stdout == "speedups StoreLoader\n", out.stderr


@pytest.mark.parametrize("via", VIAS)
def test_11_a_decorator_in_a_cycle_runs_after_what_it_calls(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"m.py": """
        REGISTRY = []
        def register(cls):
            REGISTRY.append(describe(cls))
            return cls
        def describe(cls):
            return cls.__name__ + ":" + ",".join(b.__name__ for b in cls.__bases__)
        @register
        class Zeta:
            def other(self):
                return Alpha
        @register
        class Alpha(Zeta):
            pass
    """}, "m", "print(m.REGISTRY, m.Zeta().other() is m.Alpha)", via)
    assert out == "['Zeta:object', 'Alpha:Zeta'] True\n"


@pytest.mark.parametrize("via", VIAS)
def test_12_a_stored_module_is_a_plain_module_with_the_files_names(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {"pkg/__init__.py": '"""The package."""\n', "pkg/mod.py": '''
        """Module doc."""
        import types
        X = 1
        def doc():
            return __doc__
    '''}, "pkg.mod", """
        import types, os
        print(type(m) is types.ModuleType, m.doc(), m.__doc__)
        print(sorted(k for k in vars(m) if k not in ("__builtins__",)))
        import pkg
        print(os.path.basename(pkg.__path__[0]), os.path.basename(m.__file__), m.__spec__.name)
    """, via)
    assert "True Module doc. Module doc." in out and "'__cached__'" in out and "pkg mod.py pkg.mod" in out


def test_12_python_dash_m_runs_a_mounted_module(tmp_path: Path) -> None:
    from tests._differential import run_python, write_tree
    from ucode.codebase import Codebase

    write_tree(tmp_path / "src", {"pkg/__init__.py": "", "pkg/tool.py": "import sys\nif __name__ == '__main__':\n"
                                  "    print('main of', __spec__.name, sys.argv[1:])\n"})
    with Codebase(tmp_path / "store") as cb:
        cb.add([tmp_path / "src" / "pkg"])
    out = run_python(f"import sys, runpy, ucode\nucode.mount('pkg', store={str(tmp_path / 'store')!r})\n"
                     "sys.argv = ['tool', 'x']\nrunpy.run_module('pkg.tool', run_name='__main__', alter_sys=True)",
                     tmp_path)
    assert out.stdout == "main of pkg.tool ['x']\n", out.stderr


def test_12_tests_shipped_inside_a_package_are_found_on_its_path(tmp_path: Path) -> None:
    from tests._differential import run_python, write_tree
    from ucode.codebase import Codebase

    write_tree(tmp_path / "src", {"pkg/__init__.py": "", "pkg/core.py": "def add(a, b):\n    return a + b\n",
                                  "pkg/tests/__init__.py": "",
                                  "pkg/tests/test_core.py": "import unittest\nfrom pkg.core import add\n"
                                  "class T(unittest.TestCase):\n    def test_add(self):\n"
                                  "        self.assertEqual(add(1, 2), 3)\n"})
    with Codebase(tmp_path / "store") as cb:
        cb.add([tmp_path / "src" / "pkg"])
    out = run_python(f"import sys, unittest, pkgutil, ucode\nucode.mount('pkg', store={str(tmp_path / 'store')!r})\n"
                     "import pkg\nprint(sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)))\n"
                     "s = unittest.defaultTestLoader.loadTestsFromName('pkg.tests.test_core')\n"
                     "r = unittest.TextTestRunner(stream=sys.stderr).run(s)\nprint(r.testsRun, r.wasSuccessful())",
                     tmp_path)
    assert out.stdout == "['core', 'tests']\n1 True\n", out.stderr


# ------------------------------------------------------------------------ more of what files do


@pytest.mark.parametrize("via", VIAS)
def test_import_order_and_side_effects_are_the_files(tmp_path: Path, via: str) -> None:
    out = same(tmp_path, {
        "log.py": "EVENTS = []\n",
        "a.py": "import log\nlog.EVENTS.append('a start')\nimport b\nlog.EVENTS.append('a end')\n",
        "b.py": "import log\nlog.EVENTS.append('b')\nimport a\nHALF = a\n",
    }, "a", "import log\nprint(log.EVENTS)", via)
    assert out == "['a start', 'b', 'a end']\n"


@pytest.mark.parametrize("via", VIAS)
def test_a_module_that_fails_on_import_fails_as_the_file_does(tmp_path: Path, via: str) -> None:
    outcome = compare(tmp_path, {"m.py": "X = 1\nraise RuntimeError('boom')\n"}, "m", "print('unreachable')", via=via)
    assert outcome.files.returncode == outcome.store.returncode == 1
    assert "boom" in outcome.store.stderr


def test_the_modules_of_a_package_added_in_any_order_import_from_the_store(tmp_path: Path) -> None:
    """``add main.py`` then ``add helpers.py``: main's ``import helpers`` resolves through the store at run
    time, whatever order the files were added in."""
    from tests._differential import run_python, write_tree
    from ucode.codebase import Codebase

    write_tree(tmp_path / "src", {"main.py": "import helpers\ndef go():\n    return helpers.slug('A B')\n",
                                  "helpers.py": "def slug(s):\n    return s.lower().replace(' ', '-')\n"})
    with Codebase(tmp_path / "store") as cb:
        cb.add([tmp_path / "src" / "main.py"])
        cb.add([tmp_path / "src" / "helpers.py"])
    (tmp_path / "src" / "helpers.py").unlink()
    (tmp_path / "src" / "main.py").unlink()
    out = run_python(f"import ucode\ncb = ucode.open({str(tmp_path / 'store')!r}, create=False)\n"
                     "print(cb.function('go')(), cb.function('go').__globals__['helpers'].__spec__.loader)",
                     tmp_path / "src")
    assert out.stdout.startswith("a-b <ucode StoreLoader"), out.stderr


@pytest.mark.parametrize("via", VIAS)
def test_a_namespace_package_of_a_source_root(tmp_path: Path, via: str) -> None:
    """``src/`` holds ``ns/`` without ``__init__.py``: ``ns`` is a namespace package, with or without a
    store."""
    out = same(tmp_path, {"ns/mod.py": "def f():\n    return __name__, __package__\n"}, "ns.mod",
               "print(m.f())\nimport ns\nprint(ns.__name__, getattr(ns, '__file__', None))", via, root=True)
    assert out == "('ns.mod', 'ns')\nns None\n"


def test_a_name_bound_to_module_code_is_viewed_as_that_statement(tmp_path: Path) -> None:
    from ucode.codebase import Codebase

    src = tmp_path / "m.py"
    src.write_text("try:\n    from math import no_such_thing as fast\nexcept ImportError:\n"
                   "    def fast(xs):\n        return sum(xs)\n")
    with Codebase(tmp_path / "s") as cb:
        cb.add([src])
        view = cb.view("fast")
        assert view.kind == "code" and view.source.startswith("try:") and view.line == 1
        assert cb.function("fast")([1, 2]) == 3


@pytest.mark.parametrize("via", VIAS)
def test_import_time_warnings_and_tracebacks_show_the_importer_not_the_loader(tmp_path: Path, via: str) -> None:
    """``warnings.warn(stacklevel=2)`` at a module's top level names the line that imported it, and the
    traceback of a module's top-level error holds the importer and the module, no import machinery: as
    CPython hides its own import frames, ucode's loader frames are hidden too."""
    out = same(tmp_path, {
        "m.py": "def load_noisy():\n    import noisy\n\ndef load_broken():\n    import broken\n",
        "noisy.py": "import warnings\nwarnings.warn('noisy is deprecated', DeprecationWarning, stacklevel=2)\n",
        "broken.py": "X = 1\nraise ValueError('broken at import')\n",
    }, "m", """
        import os, traceback, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m.load_noisy()
        print([(os.path.basename(w.filename), w.lineno, str(w.message)) for w in caught])
        try:
            m.load_broken()
        except ValueError as exc:
            print([(os.path.basename(f.filename), f.name, f.lineno) for f in traceback.extract_tb(exc.__traceback__)])
    """, via)
    assert out.splitlines() == ["[('m.py', 2, 'noisy is deprecated')]",
                                "[('<string>', '<module>', 11), ('m.py', 'load_broken', 5), "
                                "('broken.py', '<module>', 2)]"]


@pytest.mark.parametrize("deleted", [False, True], ids=["files-there", "files-gone"])
@pytest.mark.parametrize("via", VIAS)
def test_pkgutil_lists_a_stored_packages_submodules_even_once_its_files_are_gone(tmp_path: Path, via: str,
                                                                                   deleted: bool) -> None:
    """Plugin discovery by ``pkgutil.iter_modules(pkg.__path__)`` / ``walk_packages`` finds what the files
    held, also when the store is all there is."""
    out = same(tmp_path, {
        "plug/__init__.py": "",
        "plug/alpha.py": "NAME = 'alpha'\n",
        "plug/beta/__init__.py": "",
        "plug/beta/inner.py": "NAME = 'inner'\n",
        "plug/a_b.py": "NAME = 'a_b'\n",
    }, "plug", """
        import pkgutil
        print([(i.name, i.ispkg) for i in pkgutil.iter_modules(m.__path__)])
        print([i.name for i in pkgutil.walk_packages(m.__path__, "plug.")])
    """, via, delete_sources=deleted)
    assert out.splitlines() == ["[('a_b', False), ('alpha', False), ('beta', True)]",
                                "['plug.a_b', 'plug.alpha', 'plug.beta', 'plug.beta.inner']"]
