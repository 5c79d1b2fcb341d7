"""The runtime: stored modules imported and run as their files would be.

Rule: a stored module executes as its file does, by construction: its program (every top-level statement,
in file order) runs in one namespace, the real ``module.__dict__``, imported by Python's own import system
through a hook that serves the store. ``ucode run``, ``Codebase.function`` and ``ucode.mount`` are the same
model: import the module from a snapshot of the names, take the attribute. Names are bindings: a name
bound in a version to another definition than its module's program gives it is rebound *in* the module
while its program runs (:mod:`ucode.runtime._exec`); calls stay plain global lookups. Snapshots share
module instances when nothing they run differs (:mod:`ucode.runtime._snapshot`), and one of them is in
``sys.modules`` at a time (:mod:`ucode.runtime._runtime`). This package never imports the store: it reads
through the resolver's :class:`~ucode.resolver.SnapshotSource`, and never imports libcst.
"""

from __future__ import annotations

from ucode.resolver import SnapshotFactory, SnapshotSource
from ucode.runtime._call import call, check_arguments
from ucode.runtime._compile import (
    code_filename,
    compile_definition,
    compile_program,
    compile_statements,
    program_text,
)
from ucode.runtime._runtime import CACHE_TAG, Entry, RouteHook, Runtime, code_key, precompiled
from ucode.runtime._snapshot import Snapshot

__all__ = [
    "CACHE_TAG", "Entry", "RouteHook", "Runtime", "Snapshot", "SnapshotFactory", "SnapshotSource", "call",
    "check_arguments", "code_filename", "code_key", "compile_definition", "compile_program", "compile_statements",
    "precompiled", "program_text",
]
