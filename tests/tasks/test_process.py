"""A task's process is known by its PID, start time and boot: a PID reused by another process does not make
a dead task look running (and `task resume` then works); records without the identity fall back to the PID."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ucode.codebase import Codebase
from ucode.records import TaskRecord
from ucode.store import tasks as stored
from ucode.tasks import _process, status

Write = Callable[[str, str], Path]

linux = pytest.mark.skipif(not Path("/proc/self/stat").exists() or _process.boot_id() is None,
                           reason="process start times and boot ids are read from /proc")


def running(**identity: object) -> TaskRecord:
    return TaskRecord(id="tabc", entry="m.f", hash=None, closure=None, version="v1", position=0, args=[], kwargs={},
                      status="running", started=0.0, durability="batched", **identity)  # type: ignore[arg-type]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@linux
def test_this_process_identity_is_its_start_time_and_boot() -> None:
    pid, started, boot = _process.identity()
    assert pid == os.getpid() and isinstance(started, int) and started > 0
    assert boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert _process.start_time(pid) == started and _process.start_time(dead_pid()) is None


@linux
def test_a_live_pid_with_another_start_time_is_interrupted() -> None:
    pid, started, boot = _process.identity()
    assert started is not None
    assert status(running(pid=pid, pid_start=started, boot=boot)) == "running"
    assert status(running(pid=pid, pid_start=started + 1, boot=boot)) == "interrupted"  # the PID was reused
    assert status(running(pid=pid, pid_start=started, boot="another-boot")) == "interrupted"  # rebooted since


def test_a_record_without_the_identity_falls_back_to_the_pid() -> None:
    assert status(running(pid=os.getpid())) == "running"
    assert status(running(pid=dead_pid())) == "interrupted"
    assert status(running()) == "interrupted"  # no process recorded at all
    assert status(running(pid=os.getpid())._replace(status="succeeded")) == "succeeded"


def test_a_task_records_its_process_identity(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def f() -> int:\n    return 1\n")])
    rec = cb.task(cb.run_task("f").id)
    pid, started, boot = _process.identity()
    assert rec["pid"] == pid and rec.get("pid_start") == started and rec.get("boot") == boot


def test_old_task_records_without_the_fields_still_load(cb: Codebase, write: Write) -> None:
    cb.add([write("m.py", "def f() -> int:\n    return 1\n")])
    tid = cb.run_task("f").id
    with cb.store.write() as txn:  # the record as an older ucode stored it: no start time, no boot
        rec = stored.load_task(txn, tid)
        assert rec is not None
        old = {k: v for k, v in rec.to_stored().items() if k not in ("pid_start", "boot")}
        stored.save_task(txn, TaskRecord.from_stored({**old, "status": "running"}))
    (listed,) = cb.task_list()
    assert listed["status"] == "running"  # our PID is alive: PID alone says running
    assert cb.task(tid).get("pid_start") is None


JOB = '''
from ucode import effects

def job() -> list:
    return [effects.randint(1, 10**9), effects.randint(1, 10**9)]
'''


@linux
def test_resume_works_when_the_dead_tasks_pid_was_reused(cb: Codebase, write: Write) -> None:
    cb.add([write("job.py", JOB)])
    run = cb.run_task("job", durability="durable")
    pid, started, boot = _process.identity()
    assert started is not None
    with cb.store.write() as txn:  # as if it had died after its first effect and its PID were now ours
        rec = stored.load_task(txn, run.id)
        assert rec is not None
        stored.save_task(txn, rec._replace(status="running", pid=pid, pid_start=started - 1, boot=boot,
                                           finished=None, result=None))
        first = stored.event_rows(txn, run.id)[0]
        for k, _ in list(txn.items("events", run.id.encode() + b"\0")):
            txn.delete("events", k)
        stored.append_events(txn, run.id, [first])
    assert cb.task_list()[0]["status"] == "interrupted"
    done = cb.resume(run.id)
    assert done.error is None and done.result[0] == run.result[0]  # its first effect was served, not performed
    assert cb.task(run.id)["status"] == "succeeded" and cb.task(run.id)["pid_start"] == started  # claimed


@linux
def test_resume_refuses_a_task_whose_process_still_runs(cb: Codebase, write: Write) -> None:
    from ucode import errors

    cb.add([write("job.py", JOB)])
    run = cb.run_task("job", durability="durable")
    pid, started, boot = _process.identity()
    with cb.store.write() as txn:
        rec = stored.load_task(txn, run.id)
        assert rec is not None
        stored.save_task(txn, rec._replace(status="running", pid=pid, pid_start=started, boot=boot))
    with pytest.raises(errors.TaskNotResumableError, match="it is running, not interrupted"):
        cb.resume(run.id)


@linux
def test_a_zombie_is_not_running() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    import time

    deadline = time.time() + 10
    while time.time() < deadline:  # not waited for: it stays a zombie until reaped
        fields = _process._stat(proc.pid)
        if fields is not None and fields[0] == b"Z":
            break
        time.sleep(0.02)
    started = _process.start_time(proc.pid)
    try:
        assert started is not None
        assert status(running(pid=proc.pid, pid_start=started, boot=_process.boot_id())) == "interrupted"
    finally:
        proc.wait()


def test_a_resume_claims_the_task_so_a_second_one_cannot(cb: Codebase, write: Write) -> None:
    from ucode.tasks import TaskLog

    cb.add([write("job.py", JOB)])
    run = cb.run_task("job", durability="durable")
    with cb.store.write() as txn:  # as if its process had died
        rec = stored.load_task(txn, run.id)
        assert rec is not None
        stored.save_task(txn, rec._replace(status="running", pid=dead_pid(), pid_start=None, boot=None))
    log = TaskLog(cb.store, run.id, "durable")

    def free(r: TaskRecord) -> bool:
        return status(r) == "interrupted"

    claimed = log.claim(free, *_process.identity())
    assert claimed is not None and claimed.pid == os.getpid() and status(claimed) == "running"
    assert log.claim(free, *_process.identity()) is None  # ours now, and we are alive
