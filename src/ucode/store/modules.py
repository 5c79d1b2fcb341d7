"""Modules: their programs, what was added of each, and the records that let an unchanged re-add skip
parsing.

Rule as in :mod:`.definitions`: ``load_*`` may find nothing, ``expect_*`` must, ``save_*`` writes; programs
are immutable by hash.

==============  ================================================================================
``programs``    program hash -> a module's program (``records.Program``)
``modules``     module -> {path, package, imports, program}: every module ever added (``records.ModuleRecord``)
``files``       module -> what its last add produced (``records.FileRecord``)
==============  ================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator

from ucode import hashing
from ucode.errors import StoreCorruptError
from ucode.records import FileRecord, ModuleRecord, Program
from ucode.store._backend import Txn, load_map, pack

__all__ = ["expect_program", "has_program", "iter_programs", "load_file", "load_module", "load_program",
           "module_names", "save_file", "save_module", "save_program"]


def load_program(txn: Txn, h: str) -> Program | None:
    rec = load_map(txn, "programs", h)
    return None if rec is None else Program.from_stored(h, rec)


def expect_program(txn: Txn, h: str) -> Program:
    found = load_program(txn, h)
    if found is None:
        raise StoreCorruptError(f"program {hashing.short(h)} is bound but not stored",
                                hint="add the module again (ucode add PATH), or run ucode verify")
    return found


def has_program(txn: Txn, h: str) -> bool:
    return txn.get("programs", h.encode()) is not None


def save_program(txn: Txn, prog: Program) -> None:
    if not has_program(txn, prog.hash):
        txn.put("programs", prog.hash.encode(), pack(prog.to_stored()))


def iter_programs(txn: Txn) -> Iterator[tuple[str, bytes]]:
    for k, raw in txn.items("programs"):
        yield k.decode(), raw


def load_module(txn: Txn, module: str) -> ModuleRecord | None:
    rec = load_map(txn, "modules", module)
    return None if rec is None else ModuleRecord.from_stored(rec)


def save_module(txn: Txn, module: str, rec: ModuleRecord) -> None:
    txn.put("modules", module.encode(), pack(rec.to_stored()))


def module_names(txn: Txn) -> set[str]:
    """Every module ever added, in any version."""
    return {k.decode() for k, _ in txn.items("modules")}


def load_file(txn: Txn, module: str) -> FileRecord | None:
    rec = load_map(txn, "files", module)
    return None if rec is None else FileRecord.from_stored(rec)


def save_file(txn: Txn, module: str, rec: FileRecord) -> None:
    txn.put("files", module.encode(), pack(rec.to_stored()))
