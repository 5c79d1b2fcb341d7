"""The traceback of a failed task: the frames of the user's code, each with the stored qualified name of
its function, the hash of the stored statement or definition it runs in, the file and line of the source,
and the line's text.

Rule: what a task records of where it failed holds no values (frames, not locals: a secret never appears
in one), and no frame of ucode's own machinery: the frames that called the entry point (ucode's, and the
event loop's for a coroutine), ucode's frames between the user's (an effect's handler) and the loader's
frames (shown as the import system's) are counted, not recorded. Which stored code a frame runs is read
from the code object: a module's program is compiled with the module's ``__file__`` (``co_filename``), and
the statement is the last one starting at or before the frame's line; a definition compiled on its own
(rebound into a module that is not its own) has a file name of its own, ``<ucode MODULE.NAME #HASH>``.
Imported only when a task fails.
"""

from __future__ import annotations

import linecache
import types
from pathlib import Path

from ucode.records import Program, Trace, TraceFrame
from ucode.resolver import SnapshotSource
from ucode.runtime import Entry, Runtime

__all__ = ["trace"]

_UCODE = str(Path(__file__).resolve().parents[1])  # the ucode package: its frames are machinery
_MACHINERY = ("<frozen importlib._bootstrap",)  # the import system (ucode's loader frames carry its name)


def _machinery(code: types.CodeType) -> bool:
    name = code.co_filename
    return name.startswith(_MACHINERY) or name.startswith(_UCODE)


class _Origins:
    """Which stored code a frame runs, read from the runtime's programs and definitions (cached)."""

    def __init__(self, runtime: Runtime, entry: Entry | None) -> None:
        self.runtime = runtime
        self.entry = entry
        self._source: SnapshotSource | None = None

    def source(self) -> SnapshotSource | None:
        if self._source is None and self.entry is not None:
            e = self.entry
            self._source = self.runtime.resolver.snapshot_source(e.version, e.position, e.overrides or None)
        return self._source

    def program(self, frame: types.FrameType) -> Program | None:
        """The stored program whose code the frame runs (its module's, loaded by a ucode loader)."""
        spec = frame.f_globals.get("__spec__")
        loader = getattr(spec, "loader", None)
        ph = getattr(spec, "loader_state", None)
        runtime = getattr(loader, "runtime", None)
        source = self.source()
        if not isinstance(ph, str) or not isinstance(runtime, Runtime) or source is None:
            return None
        try:
            prog = runtime.program(source, ph)
        except Exception:  # a traceback is shown as well as it can be: it never fails the task
            return None
        return prog if prog.path == frame.f_code.co_filename else None

    def definition(self, filename: str) -> tuple[str, str, str] | None:
        """(hash, module, path) of a definition compiled on its own (``<ucode MODULE.NAME #HASH>``)."""
        short = filename.rstrip(">").rpartition(" ")[2].lstrip("#")
        source = self.source()
        if not short or source is None or self.entry is None:
            return None
        known = [*self.entry.rebound.values(), *self.entry.overrides.values()]
        full = next((h for h in known if h.startswith(short)), None)
        try:
            if full is None:
                full = source.resolve("#" + short)[1]
            if full is None:
                return None
            d = self.runtime.definition(source, full)
        except Exception:
            return None
        return full, d.module, d.path


def _statement(prog: Program, line: int) -> str | None:
    """The hash of the statement of ``prog`` that holds ``line`` (the last one starting at or before it)."""
    found = None
    for s in prog.statements:
        if s.line > line:
            break
        found = s.hash
    return found


def trace(runtime: Runtime, entry: Entry | None, exc: BaseException) -> Trace:
    """The user's frames of ``exc``'s traceback, most recent call last, and how many were left out."""
    origins = _Origins(runtime, entry)
    frames: list[TraceFrame] = []
    hidden = 0
    reached = False  # the entry point's frame (the first stored one) has been seen
    tb = exc.__traceback__
    steps: list[tuple[types.FrameType, int]] = []
    while tb is not None:
        steps.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    stored_any = any(origins.program(f) is not None or f.f_code.co_filename.startswith("<ucode ")
                     for f, _ in steps)
    for frame, line in steps:
        code = frame.f_code
        filename = code.co_filename
        qualname = getattr(code, "co_qualname", code.co_name)
        h: str | None = None
        path = filename
        module = str(frame.f_globals.get("__name__") or "")
        prog = origins.program(frame)
        stored = prog is not None or filename.startswith("<ucode ")
        if prog is not None:
            h, module = _statement(prog, line), prog.module
        elif filename.startswith("<ucode "):
            found = origins.definition(filename)
            if found is not None:
                h, module, path = found
        if _machinery(code) or (stored_any and not reached and not stored):
            hidden += 1  # ucode's, the import system's, or what called the entry point (an event loop)
            continue
        reached = reached or stored
        text = linecache.getline(filename, line).strip()
        frames.append(TraceFrame(f"{module}.{qualname}" if module else qualname, h, path, line, text))
    return Trace(tuple(frames), hidden)
