"""The loader's frames, shown as the import system's own.

CPython hides its import machinery from the code being imported, and a stored module must see what its
file would see: ``warnings.warn(..., stacklevel=2)`` at a module's top level names the *importer* (the
warnings machinery skips frames whose file name contains ``importlib`` and ``_bootstrap``), and the
traceback of an error in a module's top-level code shows no import frames (``import.c`` cuts a chunk of
``<frozen importlib._bootstrap...>`` frames that ends in a frame named ``_call_with_frames_removed``; an
``ImportError`` loses them all). Between the machinery and a stored module's code sit the frames of
ucode's loader (``StoreLoader.exec_module``, ``execute``), so their code objects carry importlib's file
name, and a module's code is run through :func:`_call_with_frames_removed`, named as importlib's.

The cost: in a traceback of a bug *in the loader itself*, these frames show as
``<frozen importlib._bootstrap_external>`` with ucode's function names and line numbers, but no source
line (as CPython's own frozen import frames do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["IMPORT_FRAME", "as_import_frame", "run_module_code"]

IMPORT_FRAME = "<frozen importlib._bootstrap_external>"

F = TypeVar("F", bound=Callable[..., Any])


def as_import_frame(fn: F) -> F:
    """Give ``fn``'s frames the import system's file name (see the module docstring)."""
    fn.__code__ = fn.__code__.replace(co_filename=IMPORT_FRAME)
    return fn


@as_import_frame
def _call_with_frames_removed(f: Callable[..., Any], *args: Any) -> Any:
    return f(*args)


@as_import_frame
def run_module_code(code: Any, namespace: dict[str, Any]) -> None:
    """``exec(code, namespace)`` for a module's top-level code, as the import system runs it."""
    _call_with_frames_removed(exec, code, namespace)
