"""Differential runs: the same probe program, once importing the files, once importing from a store.

CPython is the oracle: a probe (Python code that prints what it observes of a module ``m``) runs in a fresh
interpreter twice, once with the files' directory on ``sys.path`` and once with the store serving the module,
either through ``ucode.mount`` or through ``Codebase.function`` (the path ``ucode run`` takes). The outputs
must be equal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ucode.codebase import Codebase

_STORE_VIA = {
    "mount": "import ucode\nucode.mount({top!r}, store={store!r})\nimport {module} as m\n",
    "run": "import ucode\n_cb = ucode.open({store!r}, create=False)\nm = _cb.function({module!r})\n",
}


@dataclass(frozen=True)
class Outcome:
    files: subprocess.CompletedProcess[str]
    store: subprocess.CompletedProcess[str]

    def same(self) -> bool:
        return (self.files.returncode, self.files.stdout) == (self.store.returncode, self.store.stdout)

    def explain(self) -> str:
        return (f"files (exit {self.files.returncode}):\n{self.files.stdout}{self.files.stderr[-2000:]}\n"
                f"store (exit {self.store.returncode}):\n{self.store.stdout}{self.store.stderr[-2000:]}")


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PYTHONHASHSEED": "0"}
    env.pop("UCODE_STORE", None)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def compare(tmp_path: Path, files: dict[str, str], module: str, probe: str, *, via: str = "run",
            delete_sources: bool = False, root: bool = False) -> Outcome:
    """Write ``files`` (relative path -> source) under ``tmp_path/src``, add every top-level entry to a
    fresh store (with ``root``, the directory itself, as a source root), and run ``probe`` (which sees the
    module as ``m``) against the files and the store."""
    src = tmp_path / "src"
    write_tree(src, files)
    store = tmp_path / "store"
    with Codebase(store) as cb:
        cb.add([src] if root else sorted(src.iterdir()))
    probe = textwrap.dedent(probe)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    files_run = run_python(f"import sys\nsys.path.insert(0, {str(src)!r})\nimport {module} as m\n{probe}", work)
    if delete_sources:
        import shutil

        shutil.rmtree(src)
    top = module.split(".")[0]
    prelude = _STORE_VIA[via].format(top=top, store=str(store), module=module)
    store_run = run_python(prelude + probe, work)
    return Outcome(files_run, store_run)
