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
from ucode.errors import StoreCorruptError, StoreIntegrityError
from ucode.records import FileRecord, ModuleRecord, Program
from ucode.store._backend import Txn, load_map, pack, unpack

__all__ = ["expect_program", "has_program", "iter_files", "iter_programs", "load_file", "load_module", "load_program",
           "module_names", "program_hash", "save_file", "save_module", "save_program", "seal"]


def load_program(txn: Txn, h: str) -> Program | None:
    """The program with hash ``h``, checked: a record whose hashed fields do not hash to ``h`` is refused.
    A sealed record (schema 4) is checked with one blake3 over the bytes it stores; one written before
    (never sealed by the upgrade because it did not match) is encoded again to be checked."""
    rec = load_map(txn, "programs", h)
    if rec is None:
        return None
    try:
        sealed = rec.get("sealed")
        if isinstance(sealed, bytes):
            got: str | None = hashing.seal_hash(sealed)
        else:
            got = hashing.module_hash_of_rows(rec["module"], package=rec["package"], path=rec["path"],
                                              futures=rec.get("futures", ()), rows=rec["statements"])
        prog: Program | None = Program.from_stored(h, rec)
    except (KeyError, TypeError, ValueError, IndexError):
        got = prog = None
    if prog is None or got != h:
        module = prog.module if prog is not None else rec.get("module", "?")
        raise StoreIntegrityError(f"the program of module {module}", f"programs/{hashing.short(h)}",
                                  hint=f"add the file of module {module} again (ucode add PATH)")
    return prog


def seal(txn: Txn, h: str) -> bool:
    """Rewrite a schema-3 program record sealed (schema 4), when it hashes to its key; True when it was
    rewritten. One that does not match is left as it is, so that loading it still fails."""
    rec = load_map(txn, "programs", h)
    if rec is None or "sealed" in rec:
        return False
    try:
        ok = hashing.module_hash_of_rows(rec["module"], package=rec["package"], path=rec["path"],
                                         futures=rec.get("futures", ()), rows=rec["statements"]) == h
    except (KeyError, TypeError, ValueError, IndexError):
        ok = False
    if ok:
        txn.put("programs", h.encode(), pack(Program.from_stored(h, rec).to_stored()))
    return ok


def program_hash(prog: Program) -> str:
    """What ``prog``'s stored fields hash to (its key, when nothing was altered)."""
    return hashing.module_hash(prog.module, package=prog.package, path=prog.path, futures=prog.futures,
                               statements=[(s.hash, s.digest, s.line) for s in prog.statements])


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


def iter_files(txn: Txn) -> Iterator[tuple[str, FileRecord]]:
    """Every module's last add record, by module name."""
    for k, raw in txn.items("files"):
        yield k.decode(), FileRecord.from_stored(unpack(raw, "files", k.decode()))


def save_file(txn: Txn, module: str, rec: FileRecord) -> None:
    txn.put("files", module.encode(), pack(rec.to_stored()))
