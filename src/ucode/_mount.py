"""Real packages served from the store: ``ucode.mount("pkg")`` makes ``import pkg`` load stored code.

A mount is the runtime's import hook (:mod:`ucode.runtime`) answering for a namespace: ``import pkg`` and
its submodules are imported by Python's own import system, each module running its stored program as its
file would (every top-level statement, in order, in the module's own namespace), from one snapshot of the
version's names, taken when the mount is made. The stored modules they import are served from the store
too; everything else is imported as usual. Existing code and test suites run against stored code
unchanged (see docs/upstream-suites.md).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ucode.codebase import Codebase
    from ucode.runtime import Snapshot

__all__ = ["Mount", "mount", "unmount"]

# Mounts made with ``store=`` (or the default store) share one codebase per store, so one runtime serves
# them all: ``pb``'s ``from pa import E`` is the ``pa`` that ``import pa`` gives (one module object, as
# with files), not a second copy from a second import hook. real store path -> [codebase, mounts]
_SHARED: dict[str, list[Any]] = {}
_SHARED_LOCK = threading.Lock()


def _shared(store: str | os.PathLike[str] | None) -> tuple[Codebase, str]:
    from ucode.codebase import find_store, open_codebase

    key = os.path.realpath(find_store(store)[0])
    with _SHARED_LOCK:
        entry = _SHARED.get(key)
        if entry is None:
            entry = _SHARED[key] = [open_codebase(store, create=False), 0]
        entry[1] += 1
        return entry[0], key


def _release(key: str) -> None:
    with _SHARED_LOCK:
        entry = _SHARED.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del _SHARED[key]
                entry[0].close()


class Mount:
    """A namespace served from a codebase (``unmount`` it, or ``close()`` it, to stop)."""

    def __init__(self, codebase: Codebase, namespace: str, version: str | None, shared: str | None,
                 snapshot: Snapshot) -> None:
        self.codebase = codebase
        self.namespace = namespace
        self.version = version
        self.snapshot = snapshot
        self._shared = shared  # the store's key in _SHARED when the mount opened the codebase itself

    @property
    def loader(self) -> object:
        """The import hook's loader: ``module.__spec__.loader`` of every module it serves."""
        return self.codebase.runtime.loader

    def __repr__(self) -> str:
        return f"<ucode mount of {self.namespace!r} from {self.codebase.path} ({self.snapshot.version})>"

    def close(self) -> None:
        unmount(self)

    def __enter__(self) -> Mount:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mount(namespace: str, store: str | os.PathLike[str] | None = None, version: str | None = None,
          *, codebase: Codebase | None = None) -> Mount:
    """Serve ``import NAMESPACE`` (and its submodules) from the store. Returns the mount; ``unmount`` it
    (or call ``.close()``) to stop. Modules of that namespace already imported are replaced: imported
    again, from the store. Mounts of one store (by ``store=``, or the default store) share one codebase
    and its runtime; pass ``codebase=`` to serve from a codebase you opened (and close yourself)."""
    from ucode.refs import validate_name

    validate_name(namespace)
    shared = None
    if codebase is None:
        codebase, shared = _shared(store)
    replaced = [m for m in sys.modules if m == namespace or m.startswith(namespace + ".")]
    for name in replaced:
        del sys.modules[name]
    try:
        snap = codebase.runtime.mount(namespace, version)
    except BaseException:
        if shared is not None:
            _release(shared)
        raise
    # What was imported of the namespace is imported again, from the store: the process holds the same
    # modules as before, served from the store (code that imported them keeps the objects it has).
    import contextlib
    import importlib

    for name in sorted(replaced, key=lambda n: (n.count("."), n)):
        if snap.module(name) is not None and name not in sys.modules:
            # as if it were imported for the first time now: whoever imports it next gets the error
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    return Mount(codebase, namespace, version, shared, snap)


def unmount(handle: Mount) -> None:
    """Stop serving a mount's namespace: its modules leave ``sys.modules`` (objects already imported keep
    working)."""
    handle.codebase.runtime.unmount(handle.namespace)
    if handle._shared is not None:
        _release(handle._shared)
        handle._shared = None
