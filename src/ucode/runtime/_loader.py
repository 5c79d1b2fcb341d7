"""The import hook: stored modules are imported by Python's own import system, from the store.

Rule: the import system does the importing (``sys.modules``, import locks, circular imports, parent
packages, ``__spec__``, relative imports, ``importlib.reload``, ``runpy``); this module only answers
"is that a stored module, and what is its code" for the snapshot in use (see :class:`Runtime.current`).

A module object is made by the import system (a real ``types.ModuleType``) and holds what its file would
put in it: ``__name__``, ``__doc__``, ``__file__`` (the path it was added from), ``__cached__``,
``__loader__``, ``__spec__``, ``__package__``, ``__path__`` for a package (the directory it was added from,
so package data, C extensions built beside it and tests shipped inside it are found there), ``__builtins__``
and the names its statements bind. A submodule that is not in the store is found the way Python finds it
(on ``__path__``): a C accelerator next to its pure-Python fallback is used where it exists.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import threading
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ucode.runtime._exec import execute
from ucode.runtime._frames import as_import_frame

if TYPE_CHECKING:
    from ucode.runtime._runtime import Runtime

__all__ = ["StoreLoader"]


class StoreLoader:
    """Finder and loader of one runtime's stored modules (first on ``sys.meta_path`` while in use): the
    protocols of ``importlib.abc.MetaPathFinder`` and ``InspectLoader``, without importing ``importlib.abc``
    (it pulls ``importlib.resources``: start-up counts)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._reused: set[int] = set()
        self._finding = threading.local()  # reading the store may import (lazily): never answer for that

    def __repr__(self) -> str:
        return f"<ucode StoreLoader for {self.runtime.resolver!r}>"

    # ------------------------------------------------------------------------------ finding

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if getattr(self._finding, "on", False):
            return None
        self._finding.on = True
        try:
            return self._find(fullname)
        finally:
            self._finding.on = False

    def _find(self, fullname: str) -> importlib.machinery.ModuleSpec | None:
        rt = self.runtime
        snap = rt.current()
        if snap is None or not rt.covers(fullname, snap):
            return None
        ph = snap.module(fullname)
        if ph is None:
            if not snap.is_package_prefix(fullname):
                return None
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)  # type: ignore[arg-type]
        prog = rt.program(snap.source, ph)
        spec = importlib.machinery.ModuleSpec(fullname, self, origin=prog.path,  # type: ignore[arg-type]
                                              is_package=prog.package, loader_state=ph)
        spec.has_location = True
        if prog.package:
            where = os.path.dirname(prog.path)
            spec.submodule_search_locations = [where]
            if rt.package_dirs.get(where) != fullname:
                # its directory lists its stored submodules (runtime._paths): drop the finder the
                # directory had before, so that the hook makes one
                rt.package_dirs[where] = fullname
                sys.path_importer_cache.pop(where, None)
        return spec

    # ------------------------------------------------------------------------------ loading

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        snap = self.runtime.current()
        if snap is None or spec.loader_state is None:
            return None
        shared = self.runtime.instance(snap.key(spec.name))
        if shared is None or snap.registry.get(spec.name) is shared:
            # Imported again in the same snapshot (its entry was removed from sys.modules:
            # importlib.reload, test.support.import_fresh_module): it runs again, as in Python.
            return None
        self._reused.add(id(shared))  # the same program, rebindings and imports in another snapshot
        return shared

    @as_import_frame  # between the import system and the module's code: shown as the import system's
    def exec_module(self, module: types.ModuleType) -> None:
        rt = self.runtime
        snap = rt.current()
        name = module.__name__
        if snap is None:
            raise ImportError(f"no ucode snapshot is in use to import {name!r} from", name=name)
        snap.registry[name] = module
        spec = module.__spec__
        if spec is None or spec.loader_state is None:  # a namespace package
            snap.completed(name)
            return
        if id(module) in self._reused:
            self._reused.discard(id(module))
            snap.completed(name)
            return
        prog = rt.program(snap.source, spec.loader_state)
        snap.reached.update(m for m in prog.used if snap.module(m) is not None)
        key = snap.key(name)
        rt.remember(key, module)
        try:
            execute(rt, snap, module, prog, key)
            routed = snap.routes_under(name)
            if routed and rt.router is not None:  # a routed name becomes its dispatcher (ucode.routing)
                rt.router.install(snap, module, routed)
        except BaseException:
            rt.forget(key, module)
            snap.registry.pop(name, None)
            raise
        snap.completed(name)

    # ------------------------------------------------------------------------------ inspecting

    def _program(self, fullname: str) -> Any:
        snap = self.runtime.current()
        mod = sys.modules.get(fullname)
        spec = getattr(mod, "__spec__", None)
        ph = getattr(spec, "loader_state", None) if getattr(spec, "loader", None) is self else None
        if ph is None and snap is not None:
            ph = snap.module(fullname)
        if ph is None or snap is None:
            raise ImportError(f"{fullname!r} is not a stored module here", name=fullname)
        return snap, self.runtime.program(snap.source, ph)

    def get_source(self, fullname: str) -> str:
        """The module's text as it runs (``inspect``, ``doctest``, ``linecache`` read it)."""
        from ucode.runtime._compile import program_text

        snap, prog = self._program(fullname)
        return program_text([(s.line, self.runtime.text(snap.source, s.digest)) for s in prog.statements])

    def get_code(self, fullname: str) -> types.CodeType:
        """The module's code as one code object (``python -m``, ``runpy``): its program as written."""
        snap, prog = self._program(fullname)
        return self.runtime.program_code(snap.source, prog, lambda: self.get_source(fullname))

    def is_package(self, fullname: str) -> bool:
        return bool(self._program(fullname)[1].package)

    def get_filename(self, fullname: str) -> str:
        return str(self._program(fullname)[1].path)

    def get_resource_reader(self, fullname: str) -> Any:
        """``importlib.resources`` for a stored package: the store holds code, not data files, so they are
        read from the directory the package was added from, when it is still there (certifi's
        ``cacert.pem``); None otherwise (``importlib.resources`` then says the resource is missing)."""
        from importlib.readers import FileReader

        try:
            path = self.get_filename(fullname)
        except ImportError:
            return None
        if not os.path.exists(path):
            return None
        return FileReader(types.SimpleNamespace(path=path))  # type: ignore[arg-type]
