"""Planning a task: its id, and its record from what the runtime resolved and the arguments it got.

Rule: a plan reads nothing and writes nothing; it turns values into the record that will be stored.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any

from ucode import codec
from ucode.errors import UnknownDurabilityError
from ucode.records import TaskRecord
from ucode.runtime import Entry
from ucode.tasks._process import identity

__all__ = ["DURABILITY", "SETTINGS", "check_durability", "new_task_id", "plan", "wire_result"]

DURABILITY = ("durable", "batched", "off")
"""How a task's effects are recorded (see :mod:`ucode.tasks`)."""
SETTINGS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "durability": ("batched", DURABILITY, "how a run records its effects when it does not say (--durability)"),
    "resume": ("off", ("off", "on"), "whether `ucode serve` resumes the tasks earlier engines left interrupted "
                                     "(--resume)"),
}
"""Store-wide settings (``ucode config``): key -> (default, allowed values, what it does)."""


def check_durability(mode: str) -> str:
    if mode not in DURABILITY:
        raise UnknownDurabilityError(mode, DURABILITY)
    return mode


def new_task_id() -> str:
    """A short, readable, random id: ``t`` + 8 base32 characters (40 bits)."""
    return "t" + base64.b32encode(os.urandom(5)).decode("ascii").lower()


def _wire_arguments(args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, Any, str | None]:
    """The arguments in recorded form; arguments that cannot be recorded (a callback passed through the
    API) are kept as their repr, and the task is then not replayable (the note says why)."""
    try:
        return codec.to_wire(args, where="an argument"), codec.to_wire(kwargs, where="an argument"), None
    except codec.SerializationError as exc:
        return [repr(a) for a in args], {k: repr(v) for k, v in kwargs.items()}, exc.message


def wire_result(value: Any) -> tuple[Any, str | None]:
    """A result in recorded form, or its repr and why it could not be recorded."""
    try:
        return codec.to_wire(value, where="the result"), None
    except codec.SerializationError as exc:
        return repr(value), exc.message


def plan(entry: Entry, ref: str, args: list[Any], kwargs: dict[str, Any], durability: str) -> TaskRecord:
    """The record of a task about to run ``entry`` with these arguments."""
    wargs, wkwargs, note = _wire_arguments(args, kwargs)
    hashes = {**({entry.name: entry.hash} if entry.name and entry.hash else {}), **entry.rebound}
    pid, pid_start, boot = identity()
    return TaskRecord(
        id=new_task_id(), entry=entry.name or ref, hash=entry.hash, closure=entry.closure, version=entry.version,
        position=entry.position, args=wargs, kwargs=wkwargs, status="running", started=time.time(),
        durability=check_durability(durability), pid=pid, modules=dict(entry.modules), hashes=hashes,
        args_note=note, pid_start=pid_start, boot=boot)
