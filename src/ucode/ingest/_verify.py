"""``verify``: every stored program and definition hashed again from its text, the names rebuilt from the
log, and compared with what the store holds.

Rule: verify only reads. A problem is reported with the hash it concerns and what is wrong; a record
that cannot be decoded is one problem, and the others are still checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ucode import hashing
from ucode.errors import SourceError, StoreCorruptError, UcodeError
from ucode.model import VerifyResult
from ucode.namespace import StoredNamespace, fold
from ucode.records import DefinitionRecord, ImportSpec, Program, SourceRecord
from ucode.store import Store, Txn, definitions, modules
from ucode.store import names as stored
from ucode.store._backend import unpack

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["verify"]


def verify(store: Store) -> VerifyResult:
    from ucode import normalize

    problems: list[dict[str, str]] = []
    checked = 0
    older = 0
    with store.read() as txn:
        defs: dict[str, tuple[DefinitionRecord, SourceRecord]] = {}
        for h, raw in definitions.iter_definitions(txn):
            checked += 1
            try:
                rec = DefinitionRecord.from_stored(unpack(raw, "defs", h))
                src = definitions.load_source(txn, h)
            except StoreCorruptError as exc:
                problems.append({"hash": h, "problem": exc.message})
                continue
            if src is None:
                problems.append({"hash": h, "problem": "no source stored"})
                continue
            defs[h] = (rec, src)
        texts_of: dict[str, set[str]] = {}  # statement hash -> the digests of its texts in programs
        for ph, raw in modules.iter_programs(txn):
            try:
                prog = Program.from_stored(ph, unpack(raw, "programs", ph))
                problems.extend(_rehash_program(normalize, txn, prog, defs))
            except StoreCorruptError as exc:
                problems.append({"hash": ph, "problem": exc.message})
                continue
            except UcodeError as exc:
                problems.append({"hash": ph, "problem": f"a program does not parse: {exc.message}"})
                continue
            for st in prog.statements:
                texts_of.setdefault(st.hash, set()).add(st.digest)
        for h, (rec, src) in defs.items():
            if h in texts_of:
                # the source `view` shows is the text of one of the programs it was added with
                if hashing.text_digest(src.source) not in texts_of[h]:
                    problems.append({"hash": h, "problem": "the source stored for it is not the text of any "
                                                           "program it is in (edited in the store?)"})
                continue
            if rec.scheme != hashing.DEF_SCHEME or rec.kind == "block":
                older += 1  # hashed by an older ucode (a per-name block, a chain): not reproducible here
                continue
            try:
                got = _rehash(normalize, rec, src)
            except UcodeError as exc:
                problems.append({"hash": h, "problem": f"source does not parse: {exc.message}"})
                continue
            if got != h:
                problems.append({"hash": h, "problem": f"source hashes to {hashing.short(got)}"})
        problems.extend(_check_names(txn))
    return VerifyResult(checked, problems, older)


def _check_names(txn: Txn) -> list[dict[str, str]]:
    """Bindings that point at nothing stored, and materialized tables that differ from the fold of the
    log."""
    problems: list[dict[str, str]] = []
    try:
        state = fold(stored.events(txn))
    except StoreCorruptError as exc:
        problems.append({"hash": "", "problem": exc.message})
        state = None
    ns = StoredNamespace(txn)
    for v in stored.version_names(txn):
        actual = ns.bindings(v)
        for name, h in actual.items():
            if not definitions.has_definition(txn, h):
                problems.append({"hash": h, "problem": f"{name}@{v} is bound to a hash that is not stored"})
        if state is not None and state.bindings(v) != actual:
            diff = set(state.bindings(v).items()) ^ set(actual.items())
            problems.append({"hash": "", "problem": f"names in {v} differ from the fold of the log: "
                             + ", ".join(sorted(n for n, _ in diff)[:5])})
        mods = ns.module_bindings(v)
        for m, ph in mods.items():
            if not modules.has_program(txn, ph):
                problems.append({"hash": ph, "problem": f"module {m}@{v} is bound to a program that is not stored"})
        if state is not None and state.module_bindings(v) != mods:
            diff = set(state.module_bindings(v).items()) ^ set(mods.items())
            problems.append({"hash": "", "problem": f"modules in {v} differ from the fold of the log: "
                             + ", ".join(sorted(n for n, _ in diff)[:5])})
    return problems


def _rehash_program(normalize: ModuleType, txn: Txn, prog: Program,
                    defs: dict[str, tuple[DefinitionRecord, SourceRecord]]) -> list[dict[str, str]]:
    """Normalize a stored program's text again, in the context it was added in (which names were
    definitions of the codebase and where its imports led, as its statements' records say), and compare
    the program's hash and each statement's."""
    from ucode.runtime import program_text

    texts = [(st.line, definitions.expect_text(txn, st.digest)) for st in prog.statements]
    module = prog.module
    cb_modules: set[str] = {module}
    names: set[str] = {f"{module}.{n}" for n in prog.slots}
    follows: dict[str, str] = {}
    for st in prog.statements:
        if st.hash in defs:
            rec, src = defs[st.hash]
            cb_modules.update(rec.codebase_modules)
            names.update(rec.deps)
            for local, written in prog.from_imports.items():
                kind_target = src.refs.get(local)
                if kind_target is not None and kind_target[0] != "import":
                    follows[written] = kind_target[1]
    closed: set[str] = set()
    for m in cb_modules:
        parts = m.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    ctx = normalize.Context(frozenset(closed), lambda fqn: fqn in names, lambda fqn: follows.get(fqn, fqn))
    pm = normalize.normalize_module(program_text(texts), path=prog.path, module=module, is_package=prog.package,
                                    ctx=ctx, origin=prog.path)
    out: list[dict[str, str]] = []
    for st, got in zip(prog.statements, pm.statements, strict=False):
        if got.hash != st.hash:
            out.append({"hash": st.hash, "problem": f"a statement of {module} (line {got.line}) hashes to "
                                                    f"{hashing.short(got.hash)}"})
    if len(pm.statements) != len(prog.statements):
        out.append({"hash": prog.hash, "problem": f"the program of {module} has {len(pm.statements)} statements, "
                                                  f"its record {len(prog.statements)}"})
    elif pm.hash != prog.hash and not out:
        out.append({"hash": prog.hash, "problem": f"the program of {module} hashes to {hashing.short(pm.hash)}"})
    return out


def _rehash(normalize: ModuleType, rec: DefinitionRecord, src: SourceRecord) -> str:
    """Hash a definition that is in no program (added by an older ucode) again from its source, with a
    prelude that binds its free names as they were bound when it was added."""
    module = src.module
    prelude: list[str] = []
    cb_modules: set[str] = set(rec.codebase_modules)
    for local, (kind, target) in src.refs.items():
        if kind == "import":
            spec = ImportSpec.parse(target)[0]
            if spec.name is not None:
                prelude.append(f"from {spec.module} import {spec.name} as {local}")
            elif "." in spec.module and local == spec.module.split(".")[0]:
                prelude.append(f"import {spec.module}")
            else:
                prelude.append(f"import {spec.module} as {local}")
        elif kind == "dep":
            mod, _, leaf = target.rpartition(".")
            if mod == module:
                prelude.append(f"{local} = None")
            else:
                cb_modules.add(mod)
                prelude.append(f"from {mod} import {leaf} as {local}")
        elif kind == "module":
            cb_modules.add(target)
            prelude.append(f"import {target} as {local}" if local != target else f"import {target}")
    cb_modules.add(module)
    closed: set[str] = set()
    for m in cb_modules:
        parts = m.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    deps = set(rec.deps)
    ctx = normalize.Context(frozenset(closed), lambda fqn: fqn in deps)
    futures = "".join(f"from __future__ import {f}\n" for f in src.futures)
    text = futures + "\n".join(prelude) + "\n" + src.source
    pm = normalize.normalize_module(text, path=src.path or "<store>", module=module, ctx=ctx)
    want = src.names[0] if src.names else ""
    for d in pm.definitions:
        if want in d.names:
            return str(d.hash)
    raise SourceError(f"{want} not found in its stored source", path=src.path or "<store>")

