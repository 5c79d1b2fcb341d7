"""Installed packages, stored and run from the store: the same program, imported directly and mounted.

Each package is one ucode already depends on (directly or through its dev tools), so it is installed
wherever the tests run. They cover what real code does at import time and ucode has to reproduce:
sentinel classes, registries filled at module level, ``"...".format(**globals())``, ``from __future__
import annotations`` with names imported only under ``TYPE_CHECKING``, version-dependent imports, class
hierarchies in cycles, dataclasses, a package attribute shadowing its submodule.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ucode.codebase import Codebase

PROGRAMS = {
    "h11": "import h11\nc = h11.Connection(h11.CLIENT)\n"
           "print(c.send(h11.Request(method='GET', target='/', headers=[('Host', 'a')])), c.our_state)",
    "idna": "import idna\nprint(idna.encode('ドメイン.テスト'), idna.decode('xn--eckwd4c7c.xn--zckzah'))",
    "markdown_it": "from markdown_it import MarkdownIt\nprint(MarkdownIt('commonmark').render('# hi *there*'))",
    "packaging": "from packaging.version import Version\nfrom packaging.specifiers import SpecifierSet\n"
                 "print(Version('1.2.3') < Version('1.10'), Version('2.0') in SpecifierSet('>=1.0,<3'))",
    "sortedcontainers": "from sortedcontainers import SortedList, SortedDict\ns = SortedList([3, 1, 2])\n"
                        "s.add(0)\nprint(list(s), list(SortedDict(b=1, a=2)), s.bisect_left(2))",
    "pluggy": "import pluggy\nspec, impl = pluggy.HookspecMarker('p'), pluggy.HookimplMarker('p')\n"
              "class S:\n    @spec\n    def f(self, x): pass\nclass P:\n    @impl\n    def f(self, x): return x * 2\n"
              "pm = pluggy.PluginManager('p')\npm.add_hookspecs(S)\npm.register(P())\nprint(pm.hook.f(x=3))",
    "rich": "from rich.console import Console\nfrom rich.table import Table\n"
            "c = Console(width=40, force_terminal=False, color_system=None)\nt = Table('a', 'b')\n"
            "t.add_row('1', '2')\nc.print(t)\nc.print('[bold]hi[/bold] there')",
    # data files (cacert.pem) read through importlib.resources, from where the package was added
    "certifi": "import certifi, os\nprint(os.path.basename(certifi.where()), len(certifi.contents()) > 1000)",
    # a registry in one module filled by a top-level call in another, run when the package is imported
    "pathspec": "import pathspec\ns = pathspec.PathSpec.from_lines('gitwildmatch', ['*.py', '!a.py'])\n"
                "print(sorted(s.match_files(['a.py', 'b.py', 'c.txt'])))",
    "iniconfig": "import iniconfig\nprint(iniconfig.IniConfig('x.ini', data='[a]\\nb = 1\\n')['a']['b'])",
    # not always installed (skipped then): dbos, in the benchmarks' environment, brings them
    "click": "import click\n@click.command()\n@click.option('--n', default=2)\ndef hi(n):\n    click.echo('hi' * n)\n"
             "hi(['--n', '3'], standalone_mode=False)",
    "dateutil": "from dateutil import parser, relativedelta, tz\n"
                "print(parser.parse('2026-11-27 10:00') + relativedelta.relativedelta(months=1), tz.tzwin)",
    "croniter": "from croniter import croniter\nfrom datetime import datetime\n"
                "print(croniter('*/5 * * * *', datetime(2026, 1, 1)).get_next(datetime))",
}


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


@pytest.mark.parametrize("package", sorted(PROGRAMS))
def test_an_installed_package_runs_the_same_from_the_store(package: str, tmp_path: Path) -> None:
    mod = pytest.importorskip(package)
    store = tmp_path / "s"
    with Codebase(store) as cb:
        cb.add([Path(mod.__file__).parent])  # type: ignore[arg-type]
    direct = _run(PROGRAMS[package])
    assert direct.returncode == 0, direct.stderr
    mounted = _run(f"import ucode\nucode.mount({package!r}, store={str(store)!r})\n" + PROGRAMS[package]
                   + f"\nimport {package}\nassert {package}.__spec__.loader.__class__.__name__ == 'StoreLoader'")
    assert mounted.returncode == 0, mounted.stderr
    assert mounted.stdout == direct.stdout
