"""ucode: a content-addressed code store and runtime for Python.

Typical use::

    import ucode

    with ucode.open() as cb:              # the nearest .ucode/ store, or a new one here
        cb.add(["app.py"])                # normalize, hash, store, bind names in the default version
        print(cb.view("handleRequest").hash)
        cb.bind("lookupUser", "#k3v7q2a", version="v2")

Every CLI command is one call on :class:`Codebase`; see ``docs/architecture.md``.
"""

from __future__ import annotations

import os
from typing import Any

from ucode.codebase import Codebase, find_store
from ucode.errors import (
    AmbiguousNameError,
    HashNotFoundError,
    NameNotFoundError,
    SourceError,
    StoreError,
    UcodeError,
)

__version__ = "0.1.0"

__all__ = [
    "AmbiguousNameError",
    "Codebase",
    "HashNotFoundError",
    "NameNotFoundError",
    "SourceError",
    "StoreError",
    "UcodeError",
    "__version__",
    "effect",
    "find_store",
    "mount",
    "open",
    "run",
    "unmount",
]


def __getattr__(name: str) -> Any:
    # `ucode.effect`, `ucode.mount` and `ucode.unmount` are imported on first use: most commands never touch
    # them, and start-up counts. (The mount lives in `ucode._mount`, so `ucode.mount` is always the function.)
    if name == "effect":
        from ucode.effects import effect

        return effect
    if name in ("mount", "unmount", "Mount"):
        from ucode import _mount

        globals().update(mount=_mount.mount, unmount=_mount.unmount, Mount=_mount.Mount)
        return globals()[name]
    raise AttributeError(f"module 'ucode' has no attribute {name!r}")


def open(store: str | os.PathLike[str] | None = None, *, create: bool = True) -> Codebase:
    """Open the codebase at ``store`` (default: ``$UCODE_STORE``, else the nearest ``.ucode/`` from the
    current directory upward, else a new ``.ucode/`` here when ``create`` is true)."""
    from ucode.codebase import open_codebase

    return open_codebase(store, create=create)


def run(name: str, *args: Any, version: str | None = None, store: str | os.PathLike[str] | None = None,
        **kwargs: Any) -> Any:
    """Run the stored function ``name`` once and return its result (opens and closes the store)."""
    with open(store, create=False) as cb:
        return cb.run(name, *args, version=version, **kwargs)
