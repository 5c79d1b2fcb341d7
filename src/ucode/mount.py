"""Real packages served from the store: ``ucode.mount("pkg")`` makes ``import pkg`` load stored code.

The import hook (a :class:`importlib.abc.MetaPathFinder`, first on ``sys.meta_path``) answers for the
mounted namespace and its submodules. Each module it makes is an ordinary module object whose attributes
are the stored definitions bound under that module's name (functions, classes, values, re-exports,
``__all__``), built by the runner from one snapshot of the names (the version's bindings when the module
is imported, like a normal import reads the files once). Submodules are imported on first attribute
access (PEP 562), so ``import pkg; pkg.sub.f`` works as it does with files.

What differs from files, by design (docs/resolution.md):

* A stored function's globals are its own (its dependencies, imports and builtins), not the module's
  ``__dict__``: replacing a module attribute (``monkeypatch.setattr(pkg.mod, "f", ...)``) does not change
  what other stored functions call. Rebinding the name in the store does (for the next snapshot).
* Top-level statements that are not definitions (``if``/``for`` blocks, side-effecting calls) are not
  stored, so they do not run: ``add`` reports them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import linecache
import os
import sys
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ucode.codebase import Codebase

__all__ = ["Mount", "mount", "unmount"]


class Mount(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The import hook for one namespace of one codebase (and one version)."""

    def __init__(self, codebase: Codebase, namespace: str, version: str | None, owns: bool) -> None:
        self.codebase = codebase
        self.namespace = namespace
        self.version = version
        self._owns = owns

    def _covers(self, fullname: str) -> bool:
        return fullname == self.namespace or fullname.startswith(self.namespace + ".")

    def _is_module(self, fullname: str) -> tuple[bool, bool]:
        """(exists, is_package) for a stored module name."""
        info = self.codebase.module_info(fullname)
        subs = self.codebase.submodules(fullname)
        if info is None and not subs:
            return False, False
        return True, bool(subs) or bool(info and info.get("package"))

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not self._covers(fullname):
            return None
        exists, is_pkg = self._is_module(fullname)
        if not exists:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, self, is_package=is_pkg)
        info = self.codebase.module_info(fullname) or {}
        spec.origin = info.get("path") or None
        spec.has_location = False
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default module object

    def get_resource_reader(self, fullname: str) -> Any:
        """``importlib.resources`` for a mounted package: the store holds code, not data files, so they
        are read from the directory the package was added from, when it is still there (certifi's
        ``cacert.pem``); None otherwise (``importlib.resources`` then says the resource is missing)."""
        from importlib.readers import FileReader

        path = (self.codebase.module_info(fullname) or {}).get("path")
        if not path or not os.path.exists(path):
            return None
        return FileReader(types.SimpleNamespace(path=path))  # type: ignore[arg-type]

    def exec_module(self, module: types.ModuleType) -> None:
        fullname = module.__name__
        info = self.codebase.module_info(fullname) or {}
        module.__doc__ = info.get("doc")
        if info.get("path"):
            module.__file__ = info["path"]
        prefix = fullname + "."
        members = [b.name for b in self.codebase.ls(fullname, version=self.version)
                   if "." not in b.name[len(prefix):]]
        subs = {s[len(prefix):] for s in self.codebase.submodules(fullname)}
        # A module made from files also has the names its imports bind (``from itertools import islice``,
        # ``from .recipes import take``): doctests (their globals are the module's ``__dict__``),
        # ``mock.patch("pkg.mod.islice")`` and ``from pkg.mod import take`` rely on them. The store keeps
        # no import table per module, but each definition records how its module-level names resolve
        # (``refs``): bind those that the definitions of this module use (definitions win, as in a file).
        refs: dict[str, tuple[str, str]] = {}
        if members:
            for d in self.codebase.load_closures(members, version=self.version).defs.values():
                if d.module == fullname:
                    for local, ref in d.refs.items():
                        refs.setdefault(local, ref)
        own = {m[len(prefix):] for m in members}
        refs = {k: v for k, v in refs.items() if k not in own and k not in subs}
        bound: set[str] = set()
        for mod in {target.rpartition(".")[0] for kind, target in refs.values() if kind == "dep"}:
            bound.update(b.name for b in self.codebase.ls(mod, version=self.version))
        dep_refs = {local: target for local, (kind, target) in refs.items() if kind == "dep" and target in bound}
        # Importing a file runs its import statements: the stored modules it imports from are imported
        # (and their module code runs) first. Before this module's own names are set: importing
        # `pkg.croniter` sets the attribute `croniter` of `pkg` to the submodule, and the package's own
        # `from .croniter import croniter` (the class) must win, as it does in the file.
        imported = {target if self._is_module(target)[0] else target.rpartition(".")[0]
                    for target in info.get("imports", {}).values()}
        for other in sorted(imported - {fullname}):
            if self._covers(other) and other not in sys.modules and self._is_module(other)[0]:
                importlib.import_module(other)
        objects = self.codebase.runtime.load_many(members + sorted(set(dep_refs.values()) - set(members)),
                                                  version=self.version)
        from ucode.runner import is_unbound

        for name in members:
            if is_unbound(objects[name]):
                continue  # a block that did not bind it here: as in Python, the module has no such attribute
            setattr(module, name[len(prefix):], objects[name])
        lazy_modules: dict[str, str] = {}
        for local, (kind, target) in sorted(refs.items()):
            if kind == "dep":
                if local in dep_refs:
                    setattr(module, local, objects[target])
            elif kind == "import":
                from ucode.runner import _import

                setattr(module, local, _import(target, local, f"{fullname}.{local}"))
            elif kind == "module":
                if target in sys.modules:
                    setattr(module, local, sys.modules[target])
                else:  # may be a stored module not imported yet: import it on first use (no import cycle)
                    lazy_modules[local] = target

        own_getattr = module.__dict__.get("__getattr__")  # the module's own PEP 562 hook, if it has one

        def __getattr__(attr: str) -> Any:  # PEP 562: import submodules on first use
            if attr in subs:
                return importlib.import_module(prefix + attr)
            if attr in lazy_modules:
                return importlib.import_module(lazy_modules[attr])
            if callable(own_getattr):
                return own_getattr(attr)  # `def __getattr__(name)` in the module (`__version__`, ...)
            raise AttributeError(f"module {fullname!r} has no attribute {attr!r}")

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        # Replacing an attribute of a mounted module (``mock.patch("pkg.mod.helper")``) must change what
        # the module's own stored functions call, as it does with files. Their globals are their own
        # dicts, so the module forwards the assignment to every one of them that binds the name.
        module.__dict__["__ucode_globals__"] = _member_globals(objects[name] for name in members)
        module.__class__ = _MountedModule
        # The module's top-level statements that are not definitions (`register_pattern(...)`,
        # `atexit.register(...)`, a loop filling a table) run now, in the module's namespace, as they do
        # when Python imports the file.
        init = info.get("init", [])
        if init:
            # that code sees every name the file's imports bind, not only those its definitions use
            self._bind_imports(module, info)
        from ucode.runner import compile_definition

        for line, source in init:
            filename = f"<ucode {fullname} module code>"
            code = compile_definition(source, line, filename, info.get("futures", []))
            linecache.cache[filename] = (0, None, ("\n" * (line - 1) + source).splitlines(keepends=True), filename)
            exec(code, module.__dict__)

    def _bind_imports(self, module: types.ModuleType, info: dict[str, Any]) -> None:
        """Set the names the module file's top-level imports bind that are not set yet (``Optional``
        from ``from typing import Optional``, ``os`` from ``import os``), as running the file would."""
        from ucode.errors import UcodeError
        from ucode.runner import _import

        fullname = module.__name__
        have = module.__dict__
        for local, target in info.get("plain_imports", {}).items():
            if local not in have and not self._covers(target):
                have[local] = importlib.import_module(target)
        for local, target in info.get("imports", {}).items():
            if local in have:
                continue
            if self._is_module(target)[0]:
                have[local] = importlib.import_module(target)
            elif self._covers(target):
                try:
                    have[local] = self.codebase.runtime.load(target, version=self.version)[0]
                except UcodeError:
                    continue  # not a stored name (a re-export the store does not bind): leave it unset
            else:
                mod, _, name = target.rpartition(".")
                have[local] = _import(f"from {mod} import {name}", local, f"{fullname}.{local}")

    def close(self) -> None:
        unmount(self)


def _member_globals(objects: Any) -> list[dict[str, Any]]:
    """The globals dicts of stored functions a module holds: its functions and its classes' methods."""
    out: dict[int, dict[str, Any]] = {}

    def add(fn: Any) -> None:
        fn = getattr(fn, "__func__", fn)  # classmethod / staticmethod
        while hasattr(fn, "__wrapped__"):  # functools.wraps decorators: the stored function is inside
            g = getattr(fn, "__globals__", None)
            if isinstance(g, dict):
                out[id(g)] = g
            fn = fn.__wrapped__
        g = getattr(fn, "__globals__", None)
        if isinstance(g, dict) and str(getattr(getattr(fn, "__code__", None), "co_filename", "")).startswith("<ucode"):
            out[id(g)] = g

    for obj in objects:
        if isinstance(obj, type):
            for member in vars(obj).values():
                if isinstance(member, property):
                    for accessor in (member.fget, member.fset, member.fdel):
                        add(accessor)
                else:
                    add(member)
        else:
            add(obj)
    return list(out.values())


class _MountedModule(types.ModuleType):
    """A mounted module: setting an attribute also rebinds that name in the globals of the module's
    stored functions (deleting it restores nothing: it only unbinds the module attribute)."""

    def __setattr__(self, name: str, value: Any) -> None:
        for g in self.__dict__.get("__ucode_globals__", ()):
            if name in g:
                g[name] = value
        super().__setattr__(name, value)


def mount(namespace: str, store: str | os.PathLike[str] | None = None, version: str | None = None,
          *, codebase: Codebase | None = None) -> Mount:
    """Serve ``import NAMESPACE`` (and its submodules) from the store. Returns the hook; ``unmount`` it
    (or call ``.close()``) to stop. Modules of that namespace already imported are replaced."""
    from ucode.names import validate_name

    validate_name(namespace)
    owns = codebase is None
    if codebase is None:
        from ucode import open as open_store

        codebase = open_store(store, create=False)
    finder = Mount(codebase, namespace, version, owns)
    for name in [m for m in sys.modules if finder._covers(m)]:
        del sys.modules[name]
    sys.meta_path.insert(0, finder)
    return finder


def unmount(finder: Mount) -> None:
    """Remove a mount's import hook and the modules it made."""
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    # sys.modules may hold objects without a __spec__ (typing.io, None placeholders): getattr twice.
    for name in [m for m, mod in list(sys.modules.items())
                 if getattr(getattr(mod, "__spec__", None), "loader", None) is finder]:
        del sys.modules[name]
    if finder._owns:
        finder.codebase.close()
