"""Running a module's program: its statements in file order, in the module's own namespace.

Rule: a stored module executes as its file does. Nothing is reordered, and the namespace is the real
``module.__dict__``: ``global``, ``globals()``, patches, conditional redefinitions, registries and values
computed from what came before behave as in CPython because they *are* CPython running the same
statements. The only thing a snapshot changes is what a rebound name is:

* A name the version binds to another revision of the same definition (the same module and name: the
  definition as an older or newer add had it) runs that definition *instead of* the statement, at the
  statement's place, in the module's namespace, as if the file had it there.
* A name bound to a definition written elsewhere (``lookupUser@v2`` bound to ``app_v2.lookupUserV2``)
  runs the statement as written (so the module's own definition exists: the replacement was written
  against it and may import it), then the name is set to the replacement, taken from its own module. That
  module is imported right there if it can be (its ``from M import ...`` names are all defined by then);
  else once this module's program has ended; and if it is the module being imported that led here (a
  cycle), once it has ended. Its own ``from app import lookupUser`` therefore gets the definition it was
  written against: a definition never calls itself through the name it is bound to.
* A name bound under the module that its program does not define (``ucode alias``, a name bound with
  ``ucode bind``) is set once the program has ended.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ucode.runtime._compile import program_text, register_lazy_source
from ucode.runtime._frames import as_import_frame, run_module_code

if TYPE_CHECKING:
    from ucode.records import Program
    from ucode.runtime._runtime import Runtime
    from ucode.runtime._snapshot import Snapshot

__all__ = ["execute", "object_in"]

_END = 1 << 30


@as_import_frame  # a module's code sees the import system's frames, not ucode's (see _frames)
def execute(rt: Runtime, snap: Snapshot, module: types.ModuleType, prog: Program, key: str) -> None:
    """Run ``prog`` in ``module`` (a new module object the import system made), as its file would run."""
    d = module.__dict__
    name = prog.module
    source = snap.source

    def text() -> str:  # the program's text: read only to compile it, or to show its lines
        return program_text([(s.line, rt.text(source, s.digest)) for s in prog.statements])

    register_lazy_source(prog.path, text)
    objs = rt.objects(key)
    over, extras = snap.rebound(name)
    if not over:
        run_module_code(rt.program_code(snap.source, prog, text), d)
        for n, i in prog.slots.items():
            if n in d:
                objs.setdefault((prog.statements[i].hash, n), d[n])
    else:
        run = _Rebinding(rt, snap, module, prog, objs)
        codes = rt.statement_codes(snap.source, prog, text)
        if prog.annotations:
            d.setdefault("__annotations__", {})  # what SETUP_ANNOTATIONS does first in a module's code
        by_statement: dict[int, list[str]] = {}
        for n in over:
            by_statement.setdefault(prog.slots[n], []).append(n)
        for i, st in enumerate(prog.statements):
            rebound = by_statement.get(i, [])
            if rebound and st.kind != "code" and len(st.names) == 1:
                h = over[rebound[0]]
                home = snap.home(h)
                if home.module == name and st.names[0] in home.names:
                    run_module_code(rt.definition_code(snap.source, h), d)  # another revision of this definition
                    objs[(h, st.names[0])] = d[st.names[0]]
                    continue
            code = codes[i]
            if code is not None:
                run_module_code(code, d)
            for n in st.names:
                if prog.slots.get(n) == i and n in d:
                    objs.setdefault((st.hash, n), d[n])
            for n in rebound:
                run.apply(n, over[n], i)
        for n, h in extras.items():
            run.apply(n, h, _END)
        run.finish()
        return
    if extras:
        run = _Rebinding(rt, snap, module, prog, objs)
        for n, h in extras.items():
            run.apply(n, h, _END)
        run.finish()


def object_in(rt: Runtime, snap: Snapshot, module: types.ModuleType, key: str, h: str, want: str) -> Any:
    """The object definition ``h`` gives under the name ``want`` in ``module`` (its home module's
    instance): what the module's own program made, else (a definition the module's program no longer
    holds: an older revision) the definition run in the module's namespace, leaving the module's own names
    as they are."""
    objs = rt.objects(key)
    found = objs.get((h, want), objs)
    if found is not objs:
        return found
    d = module.__dict__
    home = snap.home(h)
    saved = {k: d[k] for k in home.names if k in d}
    try:
        exec(rt.definition_code(snap.source, h), d)
        obj = d[want]
    finally:
        for k in home.names:
            if k in saved:
                d[k] = saved[k]
            else:
                d.pop(k, None)
    objs[(h, want)] = obj
    return obj


class _Rebinding:
    """Applies the rebound names of one module while its program runs (see the module docstring)."""

    def __init__(self, rt: Runtime, snap: Snapshot, module: types.ModuleType, prog: Program,
                 objs: dict[tuple[str, str], Any]) -> None:
        self.rt = rt
        self.snap = snap
        self.module = module
        self.prog = prog
        self.objs = objs
        self.at_end: list[tuple[str, str]] = []

    def _set(self, name: str) -> Callable[[Any], None]:
        d = self.module.__dict__

        def put(value: Any) -> None:
            d[name] = value

        return put

    def apply(self, name: str, h: str, index: int) -> None:
        snap, rt = self.snap, self.rt
        home = snap.home(h)
        want = name if name in home.names else (home.names[0] if home.names else name)
        here = self.prog.module
        if home.module == here:
            found = self.objs.get((h, want), self.objs)
            if found is not self.objs:
                self.module.__dict__[name] = found
                return
            slot = self.prog.slots.get(want)
            if index != _END and slot is not None and slot > index:
                self.at_end.append((name, h))  # its own statement comes later in the program
                return
            self.module.__dict__[name] = object_in(rt, snap, self.module, snap.key(here), h, want)
            return
        other = home.module
        if snap.module(other) is None:
            from ucode.errors import ReboundToModuleWithoutProgramError

            raise ReboundToModuleWithoutProgramError(f"{here}.{name}", f"{other}.{want}", h, other)
        inst = snap.registry.get(other)
        if inst is not None:
            put = self._set(name)
            key = snap.key(other)
            # done: now; being imported (this module's import started from there): once it has ended
            snap.when_complete(other, lambda: put(object_in(rt, snap, inst, key, h, want)))
            return
        if index != _END and not self._can_import_now(other):
            self.at_end.append((name, h))
            return
        mod = importlib.import_module(other)
        self.module.__dict__[name] = object_in(rt, snap, mod, snap.key(other), h, want)

    def _can_import_now(self, other: str) -> bool:
        """Whether module ``other`` can be imported in the middle of this module's program: every name its
        ``from THIS import ...`` statements take is defined by now."""
        prog = self.snap.program(other)
        if prog is None:
            return True
        d = self.module.__dict__
        here = self.prog.module + "."
        return all(target[len(here):] in d for target in prog.from_imports.values()
                   if target.startswith(here) and "." not in target[len(here):])

    def finish(self) -> None:
        todo, self.at_end = self.at_end, []
        for name, h in todo:
            self.apply(name, h, _END)
