"""A stored package's directory as a path entry: what ``pkgutil.iter_modules(pkg.__path__)`` lists.

A package imported from the store has the ``__path__`` its file would have (the directory it was added
from), so package data and C extensions beside it are found there. Code that *lists* a package's
submodules by that path (plugin discovery: ``pkgutil.iter_modules``, ``pkgutil.walk_packages``, Django's
management commands) asks the path entry finder of the directory, which only sees the files on disk.

Rule: a stored package's directory gets a path entry finder that lists the package's stored submodules
(in the snapshot in use) together with what the directory holds, and finds everything else as the
directory's own finder would (it delegates to it: a C accelerator beside a stored fallback is still
found). Every other path is left to the hooks after this one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ucode.runtime._runtime import Runtime

__all__ = ["PackageDirectory", "path_hook"]



def _iter_importer_modules(finder: Any, prefix: str) -> Iterator[tuple[str, bool]]:
    """What pkgutil.iter_modules lists of one path entry's finder (a FileFinder: the directory's files).
    Undocumented, but in pkgutil since Python 2.5; imported when a package is listed, not at start-up."""
    import pkgutil

    found: Iterator[tuple[str, bool]] = pkgutil.iter_importer_modules(finder, prefix)  # type: ignore[attr-defined]
    return found


class PackageDirectory:
    """The path entry finder of a stored package's directory."""

    def __init__(self, runtime: Runtime, package: str, path: str, fallback: Any) -> None:
        self.runtime = runtime
        self.package = package
        self.path = path
        self.fallback = fallback  # the finder the directory would have had (None: it does not exist)

    def __repr__(self) -> str:
        return f"<ucode PackageDirectory {self.package} at {self.path!r}>"

    def find_spec(self, fullname: str, target: Any = None) -> Any:
        finder = getattr(self.fallback, "find_spec", None)
        return finder(fullname, target) if finder is not None else None

    def invalidate_caches(self) -> None:
        invalidate = getattr(self.fallback, "invalidate_caches", None)
        if invalidate is not None:
            invalidate()

    def iter_modules(self, prefix: str = "") -> Iterator[tuple[str, bool]]:
        """(prefix + name, is a package) for each submodule, stored or on disk, in file-name order."""
        found: dict[str, tuple[str, bool]] = {}
        if self.fallback is not None:
            for name, ispkg in _iter_importer_modules(self.fallback, ""):
                found[name] = (name, ispkg)
        snap = self.runtime.current()
        if snap is not None:
            here = self.package + "."
            for module in snap.modules():
                if module.startswith(here) and "." not in module[len(here):]:
                    leaf = module[len(here):]
                    prog = snap.program(module)
                    ispkg = prog.package if prog is not None else True
                    found[leaf] = (leaf if ispkg or prog is None else os.path.basename(prog.path), ispkg)
            for module in snap.modules():  # namespace packages below: listed by their directory
                if module.startswith(here) and "." in module[len(here):]:
                    leaf = module[len(here):].split(".")[0]
                    found.setdefault(leaf, (leaf, True))
        for name, (_key, ispkg) in sorted(found.items(), key=lambda kv: kv[1][0]):
            if name.isidentifier():
                yield prefix + name, ispkg


def path_hook(runtime: Runtime) -> Callable[[str], PackageDirectory]:
    """The ``sys.path_hooks`` entry for ``runtime``: answers only for its stored packages' directories."""

    def hook(path: str) -> PackageDirectory:
        package = runtime.package_dirs.get(path)
        if package is None:
            raise ImportError("not a stored package's directory", path=path)
        fallback = None
        for other in sys.path_hooks:
            if getattr(other, "ucode_runtime", None) is not None:
                continue  # a ucode hook (this one, or another runtime's)
            try:
                fallback = other(path)
                break
            except ImportError:
                continue
        return PackageDirectory(runtime, package, path, fallback)

    hook.ucode_runtime = runtime  # type: ignore[attr-defined]
    return hook
