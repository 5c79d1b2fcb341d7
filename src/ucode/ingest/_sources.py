"""Which files an ``add`` reads and which module each one is.

* ``app.py`` is module ``app``.
* A directory *with* ``__init__.py`` is a package named after the directory: ``pkg/sub/mod.py`` is
  ``pkg.sub.mod`` and ``pkg/__init__.py`` is ``pkg``.
* A directory *without* ``__init__.py`` is a source root (like ``src/``): the modules and packages in it
  are named relative to it.
* ``--namespace NS`` puts all of it under ``NS`` (``NS.app``, ``NS.pkg.sub.mod``).

Hidden directories, ``__pycache__`` and virtual environments are skipped. No libcst here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ucode.errors import SourceError

__all__ = ["ModuleFile", "collect", "read_source"]

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", ".venv"})


@dataclass(frozen=True)
class ModuleFile:
    path: Path
    module: str
    is_package: bool


def _module_for(rel: Path) -> tuple[str, bool]:
    parts = list(rel.with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _check(path: Path, module: str) -> None:
    if not module or not all(p.isidentifier() for p in module.split(".")):
        raise SourceError(
            f"{module!r} is not a valid module name",
            path=str(path),
            hint="Python module and package names are identifiers: rename the file (e.g. my-app.py -> my_app.py)",
        )


def collect(paths: list[str | os.PathLike[str]], namespace: str | None = None,
            passed_over: list[tuple[Path, str]] | None = None) -> list[ModuleFile]:
    """The module files named by ``paths`` (files and directories), in a stable order. A file found in a
    directory whose name is not a module name (``unicode10-0-0.py``: Python loads such files only by
    computed names, never by ``import``) is passed over, with the reason, into ``passed_over``; a file
    named explicitly must have a valid name."""
    out: dict[str, ModuleFile] = {}
    prefix = f"{namespace}." if namespace else ""
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SourceError("no such file or directory", path=str(path), hint="check the path")
        if path.is_file():
            if path.suffix != ".py":
                raise SourceError("not a Python file", path=str(path), hint="ucode adds .py files and packages")
            if path.name == "__init__.py":
                module, is_pkg = path.resolve().parent.name, True
            else:
                module, is_pkg = path.stem, False
            _check(path, module)
            out[prefix + module] = ModuleFile(path, prefix + module, is_pkg)
            continue
        # Paths are reported as given (relative stays relative); the package name needs the real one.
        is_package_dir = (path / "__init__.py").exists()
        top = [path.resolve().name] if is_package_dir else []
        found = False
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
            for fn in sorted(filenames):
                if not fn.endswith(".py"):
                    continue
                full = Path(dirpath) / fn
                module, is_pkg = _module_for(Path(*top, full.relative_to(path)))
                if passed_over is not None and module and not all(p.isidentifier() for p in module.split(".")):
                    passed_over.append((full, f"{module!r} is not a module name `import` can use: file not stored"))
                    continue
                _check(full, module)
                out[prefix + module] = ModuleFile(full, prefix + module, is_pkg)
                found = True
        if not found:
            raise SourceError("no .py files found", path=str(path), hint="point ucode add at a file or package")
    return sorted(out.values(), key=lambda m: m.module)


def read_source(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror}", path=str(path), hint="check permissions") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError("file is not valid UTF-8", path=str(path), line=line,
                          hint="save the file as UTF-8") from None
