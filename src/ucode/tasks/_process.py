"""Which process runs a task: its PID, its start time and the boot it runs in, so that a PID reused by
another process after the task's one died does not make the task look running.

On Linux the start time is field 22 of ``/proc/PID/stat`` (clock ticks since boot) and the boot is
``/proc/sys/kernel/random/boot_id`` (one per host and boot). Where neither can be read (other systems),
both are None and a task's process is known by its PID alone, as tasks recorded before these fields were.

Rule: reads the process table, never the store.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["alive", "boot_id", "identity", "start_time"]

_PROC = Path("/proc")
_boot: str | None = None
_boot_read = False
_self: tuple[int, int | None] | None = None  # (pid, start time) of this process, read once per pid


def _stat(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` from the third on (state, ppid, ...), or None (no such process, one
    we may not look at, or no /proc)."""
    try:
        data = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; the fields go on after the last ")"
    fields = data[data.rfind(b")") + 2:].split()
    return fields if len(fields) > 19 and fields[19].isdigit() else None


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (field 22 of ``/proc/PID/stat``: clock ticks since boot), or None when
    there is no such process or the system does not say."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])


def boot_id() -> str | None:
    """This host's current boot (Linux: a random id made at boot), or None where it cannot be read."""
    global _boot, _boot_read
    if not _boot_read:
        try:
            _boot = (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip() or None
        except OSError:
            _boot = None
        _boot_read = True
    return _boot


def identity() -> tuple[int, int | None, str | None]:
    """This process: (pid, start time, boot), what a task records (read once per process)."""
    global _self
    pid = os.getpid()
    if _self is None or _self[0] != pid:  # a forked child is another process
        _self = (pid, start_time(pid))
    return pid, _self[1], boot_id()


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, and belongs to another user
    except OSError:
        return False
    return True


def alive(pid: int | None, started: int | None, boot: str | None) -> bool:
    """Whether the process that recorded (``pid``, ``started``, ``boot``) still runs: a process with that
    PID exists, started at that time, in this boot. Without a recorded start time or boot (an older
    record, or a system that does not say), by the PID alone."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if started is None or boot is None:
        return _pid_exists(pid)
    now = boot_id()
    if now is None:
        return _pid_exists(pid)  # recorded where boots are known, read where they are not: PID alone
    if now != boot:
        return False  # another boot (or host): the process that ran it is gone
    fields = _stat(pid)
    if fields is None:
        return _pid_exists(pid)  # gone; or there, but hidden from us (/proc mounted hidepid): by its PID
    return fields[0] not in (b"Z", b"X") and int(fields[19]) == started  # a zombie has finished
