"""What results, records and failures look like as JSON: one form, which the CLI's ``--json`` and the
HTTP API (``ucode serve``) both print, so a script can switch between them.

Rule: pure functions of values; nothing here reads the store or prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ucode import codec, hashing

if TYPE_CHECKING:
    from ucode.records import Trace

__all__ = ["dicts", "failure_json", "failure_lines", "jsonable", "route_json", "trace_lines"]


def dicts(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [item.to_dict() for item in items]


def jsonable(value: Any) -> Any:
    """A JSON-ready form of a result: dataclasses as dicts, sets and tuples as lists; datetimes, dates and
    times as ISO 8601 strings, Decimals, UUIDs and timedeltas as their ``str``, enums as their value; a
    recorded value in wire form (a tagged msgpack extension) decoded first (a secret is ``<secret>``);
    anything else as its ``repr``."""
    import dataclasses
    import datetime as dt
    import enum

    import msgpack

    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, msgpack.ExtType):  # a recorded value in wire form (an ExtType is a tuple: first)
        return jsonable(codec.from_wire(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, codec.Record):  # a recorded dataclass whose type is not loaded: its fields
        return jsonable(value.fields)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    t = type(value)
    if isinstance(value, (dt.timedelta, codec.Secret, PurePath)) or (
            t.__name__ in ("Decimal", "UUID") and t.__module__ in ("decimal", "_decimal", "_pydecimal", "uuid")):
        return str(value)  # what a reader wants (and no import of decimal or uuid to find out)
    return repr(value)


def trace_lines(frames: Sequence[Any], hidden: int = 0, indent: str = "") -> list[str]:
    """A failure's frames (``--json``'s ``traceback``: name, hash, path, line, text) as Python shows a
    traceback, most recent call last, with the short hash of the stored statement beside each stored
    frame, and how many frames of ucode's own machinery were left out. No frames (the code raised from
    ucode's machinery alone): no lines."""
    if not frames:
        return []
    out = [f"{indent}Traceback (most recent call last):"]
    for f in frames:
        h = f" {hashing.short(f['hash'])}" if f.get("hash") else ""
        out.append(f'{indent}  File "{f["path"]}", line {f["line"]}, in {f["name"]}{h}')
        if f.get("text"):
            out.append(f"{indent}    {f['text']}")
    if hidden:
        out.append(f"{indent}  ({hidden} frame{'' if hidden == 1 else 's'} of ucode's own machinery not shown)")
    return out


def failure_lines(exc: BaseException, trace: Trace | None) -> list[str]:
    """What ``ucode run`` (and ``task resume``) print when the stored code raised: the task's recorded
    traceback (the user's frames, :func:`trace_lines`), then the exception as Python's last line says it."""
    import traceback

    frames = [f.to_dict() for f in trace.frames] if trace is not None else []
    lines = [ln + "\n" for ln in trace_lines(frames, trace.hidden if trace is not None else 0)]
    return lines + traceback.format_exception_only(type(exc), exc)


def failure_json(task: str, exc: BaseException, trace: Trace | None, lines: Sequence[str]) -> dict[str, Any]:
    """The ``--json`` output of a run whose stored code raised: the task, the exception (with the
    traceback as text) and the traceback as frames (as ``task show --json`` has them)."""
    return {"task": task, "error": {"type": type(exc).__name__, "message": str(exc), "traceback": "".join(lines)},
            "traceback": [f.to_dict() for f in trace.frames] if trace is not None else None,
            "traceback_hidden": trace.hidden if trace is not None else 0}


def route_json(view: dict[str, Any], report: dict[str, Any]) -> Any:
    """``route show --json``: the route, with the counters of its report."""
    return jsonable({**view, "counters": {k: v for k, v in report.items() if isinstance(v, int)}})
