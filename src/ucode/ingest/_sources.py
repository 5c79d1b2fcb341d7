"""Which files an ``add`` reads and which module each one is.

* ``app.py`` is module ``app``.
* A directory *with* ``__init__.py`` is a package named after the directory: ``pkg/sub/mod.py`` is
  ``pkg.sub.mod`` and ``pkg/__init__.py`` is ``pkg``.
* A directory *without* ``__init__.py`` is a source root (like ``src/``): the modules and packages in it
  are named relative to it.
* A file or a package directory that is itself inside a package is named from its package root, found by
  walking up the directories that have an ``__init__.py`` (as pytest and mypy name a file they are given):
  ``shop/pricing.py`` is ``shop.pricing`` when ``shop/__init__.py`` exists, whether the file or the whole
  ``shop/`` is added (``ModuleFile.root`` says which directory the name was found from).
* ``--namespace NS`` puts all of it under ``NS`` (``NS.app``, ``NS.pkg.sub.mod``).

Hidden directories, ``__pycache__`` and virtual environments are skipped. A file found in a directory is
passed over, with a note (``AddResult.skipped``), when Python's ``import`` could not load it by that name or
it is not part of the tree: a name that is not an identifier or is a keyword (``class.py``), something
that is not a regular file (a FIFO named ``x.py``: reading it would block), or a symlink leading outside the
directory being added (only what is inside the added tree is stored). No libcst here.

CPython is the oracle for what a file *is*: :func:`read_source` decodes it as the import system does (PEP
263 coding declaration, UTF-8 by default) and :func:`check_compiles` accepts it exactly when ``compile()``
does.
"""

from __future__ import annotations

import codecs
import io
import keyword
import os
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path

from ucode.errors import SourceError

__all__ = ["ModuleFile", "check_compiles", "collect", "file_digest", "read_source"]

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", ".venv"})


@dataclass(frozen=True)
class ModuleFile:
    path: Path
    module: str
    is_package: bool
    # the directory the module name is relative to, when it was found by walking up ``__init__.py`` files
    # from the path given (``shop/pricing.py`` -> ``shop.pricing``, named from the directory above
    # ``shop/``); None when the name comes from the path itself
    root: Path | None = None


def _package_of(directory: Path) -> tuple[list[str], Path]:
    """The dotted parts of the package ``directory`` (resolved) is, found by walking up the directories
    that have an ``__init__.py`` (``/w/shop/sub`` -> ``["shop", "sub"]`` when ``/w/shop/__init__.py`` and
    ``/w/shop/sub/__init__.py`` exist but not ``/w/__init__.py``; ``[]`` for a directory without one), and
    the first directory up without one: the root the name is relative to. The walk also stops at a
    directory whose name ``import`` cannot use (``my-project/``), as pytest's does."""
    parts: list[str] = []
    d = directory
    while d.parent != d and (d / "__init__.py").is_file() and _importable(d.name):
        parts.append(d.name)
        d = d.parent
    return parts[::-1], d


def _module_for(rel: Path) -> tuple[str, bool]:
    parts = list(rel.with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _importable(module: str) -> bool:
    """Whether ``import module`` can name it: every part an identifier and not a keyword (``class.py`` is
    a file Python can only load by a computed name, as ``importlib.import_module("class")``)."""
    return bool(module) and all(p.isidentifier() and not keyword.iskeyword(p) for p in module.split("."))


def _check(path: Path, module: str) -> None:
    if not _importable(module):
        what = "a Python keyword" if any(keyword.iskeyword(p) for p in module.split(".")) else "not a valid module name"
        raise SourceError(
            f"{module!r} is {what}: `import` cannot name it",
            path=str(path),
            hint="Python module and package names are identifiers and not keywords: rename the file "
                 "(e.g. my-app.py -> my_app.py, class.py -> class_.py)",
        )


def _passed_over(full: Path, root: Path) -> str | None:
    """Why a ``.py`` entry found under ``root`` (resolved) is not stored, or None when it is."""
    try:
        st = full.stat()  # follows symlinks: what reading the file would read
    except OSError:
        return "a broken symlink or unreadable entry: file not stored"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a FIFO, socket or device): file not stored"
    if full.is_symlink():
        target = full.resolve()
        if not target.is_relative_to(root):
            return f"a symlink to {target}, outside the tree being added: file not stored"
    return None


def collect(paths: list[str | os.PathLike[str]], namespace: str | None = None,
            passed_over: list[tuple[Path, str]] | None = None) -> list[ModuleFile]:
    """The module files named by ``paths`` (files and directories), in a stable order. A file found in a
    directory whose name is not a module name (``unicode10-0-0.py``: Python loads such files only by
    computed names, never by ``import``; ``class.py``), that is not a regular file, or that is a symlink
    leading outside the directory being added is passed over, with the reason, into ``passed_over``; a
    file named explicitly must have a valid name."""
    out: dict[str, ModuleFile] = {}
    prefix = f"{namespace}." if namespace else ""
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SourceError("no such file or directory", path=str(path), hint="check the path")
        if path.is_file() or (not path.is_dir() and path.suffix == ".py"):
            if not path.is_file():
                raise SourceError("not a regular file (a FIFO, socket or device)", path=str(path),
                                  hint="ucode adds .py files and packages")
            if path.suffix != ".py":
                raise SourceError("not a Python file", path=str(path), hint="ucode adds .py files and packages")
            outer, root = _package_of(path.resolve().parent)
            is_pkg = path.name == "__init__.py"
            if is_pkg and not outer:  # a package whose name `import` cannot use: refused by _check
                outer = [path.resolve().parent.name]
            module = ".".join(outer if is_pkg else [*outer, path.stem])
            walked = len(outer) > (1 if is_pkg else 0)  # the name goes above the directory given
            _check(path, module)
            out[prefix + module] = ModuleFile(path, prefix + module, is_pkg, root if walked else None)
            continue
        # Paths are reported as given (relative stays relative); the package name needs the real one.
        is_package_dir = (path / "__init__.py").exists()
        top, dir_root = _package_of(path.resolve()) if is_package_dir else ([], path)
        if is_package_dir and not top:  # a package whose name `import` cannot use: its files are passed over
            top = [path.resolve().name]
        walked_root = dir_root if len(top) > 1 else None
        root = path.resolve()
        found = False
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
            for fn in sorted(filenames):
                if not fn.endswith(".py"):
                    continue
                full = Path(dirpath) / fn
                module, is_pkg = _module_for(Path(*top, full.relative_to(path)))
                if passed_over is not None and module and not _importable(module):
                    passed_over.append((full, f"{module!r} is not a module name `import` can use: file not stored"))
                    continue
                why = _passed_over(full, root)
                if why is not None:
                    if passed_over is None:
                        raise SourceError(why, path=str(full), hint="remove it from the tree, or add its target")
                    passed_over.append((full, why))
                    continue
                _check(full, module)
                out[prefix + module] = ModuleFile(full, prefix + module, is_pkg, walked_root)
                found = True
        if not found:
            raise SourceError("no .py files found", path=str(path), hint="point ucode add at a file or package")
    return sorted(out.values(), key=lambda m: m.module)


def file_digest(text: str) -> str:
    """The digest of a file's decoded text kept in its ``files`` record: an unchanged re-add and
    ``status`` compare it (hex, not the base32 of hashes: compared, never shown)."""
    import blake3

    return blake3.blake3(text.encode("utf-8")).hexdigest()[:16]


def read_source(path: Path) -> str:
    """The text of a module file, decoded as Python's import system decodes it: a UTF-8 BOM or a PEP 263
    coding declaration (``# -*- coding: latin-1 -*-``) on one of the first two lines names the encoding,
    else UTF-8. Only a regular file is read (a FIFO would block)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror}", path=str(path), hint="check permissions") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceError("not a regular file (a FIFO, socket or device)", path=str(path),
                              hint="ucode adds .py files and packages")
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            data = fh.read()
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror}", path=str(path), hint="check permissions") from None
    finally:
        if fd >= 0:
            os.close(fd)
    return _decode(data, path)


def _decode(data: bytes, path: Path) -> str:
    try:
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # an unknown encoding, or a BOM with another declaration: Python refuses it
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            encoding = "utf-8"  # not UTF-8 in its first lines, and no declaration: said below, with the line
        else:
            raise SourceError(f"bad coding declaration: {exc.msg}", path=str(path), line=_cookie_line(data),
                              hint="declare an encoding Python knows (or none: UTF-8)") from None
    if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):  # the BOM is not part of the text
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        if encoding == "utf-8-sig":
            raise SourceError("file is not valid UTF-8", path=str(path), line=line,
                              hint="save the file as UTF-8") from None
        raise SourceError(f"file is not valid {encoding} (its coding declaration)", path=str(path), line=line,
                          hint="fix the coding declaration or the file's bytes") from None


def _cookie_line(data: bytes) -> int:
    first = data.split(b"\n", 2)
    return 2 if len(first) > 1 and b"coding" in first[1] and b"coding" not in first[0] else 1


def check_compiles(text: str, path: Path) -> None:
    """CPython is the oracle: a file is added exactly when ``compile()`` of it succeeds (as importing it
    would compile it: its own ``from __future__`` imports apply, ucode's do not). Otherwise a
    :class:`SourceError` says why, at file:line:column: a syntax error, a ``return`` or ``yield`` outside a
    function, a NUL byte, an expression nested too deeply for the compiler."""
    try:
        compile(text, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # IndentationError and TabError too; ValueError: NUL (older 3.11s)
        msg = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        line = exc.lineno if isinstance(exc, SyntaxError) else None
        column = exc.offset if isinstance(exc, SyntaxError) else None
        nul = text.find("\0")
        if line is None and nul >= 0:  # "source code string cannot contain null bytes": no position given
            line = text.count("\n", 0, nul) + 1
            column = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise SourceError(f"syntax error: {msg}", path=str(path), line=line, column=column,
                          hint="fix the syntax and add again; nothing was stored") from None
    except (RecursionError, MemoryError) as exc:
        raise SourceError(f"Python cannot compile it: {type(exc).__name__} ({exc})", path=str(path),
                          hint="an expression or block is nested too deeply for CPython's compiler: split it; "
                               "nothing was stored") from None
