"""``verify``: every stored program and definition hashed again from its text, the names rebuilt from the
log, every cached code object checked against its digest and against what its source compiles to, every
task, event and state record decoded; and compared with what the store holds.

Rule: verify reads; a problem is reported with the hash (or key) it concerns and what is wrong, and a
record that cannot be decoded is one problem while the others are still checked. Only ``repair`` writes,
and only what can be rebuilt: damaged cache entries are dropped (the code is compiled again from its
verified source on the next run); a damaged source or program needs its file added again.
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


def verify(store: Store, *, repair: bool = False) -> VerifyResult:
    from ucode import normalize

    problems: list[dict[str, str]] = []
    checked = 0
    older = 0
    with store.read() as txn:
        bad_code, code_count = _check_code(txn)
        records, record_problems = _check_records(txn)
        problems.extend(record_problems)
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
        for ph, _raw in modules.iter_programs(txn):
            try:
                prog = modules.expect_program(txn, ph)  # its hash checked (StoreIntegrityError)
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
    repaired: list[dict[str, str]] = []
    if repair and bad_code:
        with store.write() as txn:
            for key, _problem in bad_code:
                definitions.drop_code(txn, key)
        repaired = [{"hash": key, "problem": f"{problem}: dropped (compiled again on the next run)"}
                    for key, problem in bad_code]
    else:
        problems.extend({"hash": key, "problem": problem} for key, problem in bad_code)
    return VerifyResult(checked, problems, older, repaired, records, code_count)


def _check_code(txn: Txn) -> tuple[list[tuple[str, str]], int]:
    """Cached code entries that are damaged (digest) or are not what their source compiles to on this
    Python: (key, problem); and how many entries were checked. Entries written before entries carried a
    digest are never loaded (compiled again instead): not a problem."""
    import marshal

    from ucode.runtime import CACHE_TAG

    bad: list[tuple[str, str]] = []
    count = 0
    for key, _raw in definitions.iter_code(txn):
        count += 1
        try:
            blob = definitions.load_code(txn, key)
        except StoreCorruptError as exc:
            bad.append((key, exc.message))
            continue
        if blob is None or not key.endswith(" " + CACHE_TAG):
            continue  # a legacy entry (never run), or another Python's: its digest is all we can check
        try:
            cached = marshal.loads(blob)
            fresh = _compile_again(txn, key)
        except StoreCorruptError as exc:
            bad.append((key, f"cached code whose source cannot be read: {exc.message}"))
            continue
        except (ValueError, EOFError, TypeError, SyntaxError):
            bad.append((key, "cached code that cannot be loaded"))
            continue
        if fresh is not None and cached != fresh:
            bad.append((key, "cached code that is not what its source compiles to (altered in the store?)"))
    return bad, count


def _compile_again(txn: Txn, key: str) -> object:
    """What the cache entry ``key`` would hold if compiled now from the store's (verified) texts; None when
    its source is gone (nothing would run it)."""
    from ucode.runtime import code_filename, compile_definition, compile_program, compile_statements, program_text

    kind, h = key.split(" ")[:2]
    if kind in ("program", "statements"):
        prog = modules.load_program(txn, h)
        if prog is None:
            return None
        text = program_text([(st.line, definitions.expect_text(txn, st.digest)) for st in prog.statements])
        if kind == "program":
            return compile_program(text, prog.path)
        return compile_statements(text, prog.path, prog.futures, [st.line for st in prog.statements])
    rec, src = definitions.load_definition(txn, h), definitions.load_source(txn, h)
    if rec is None or src is None or hashing.text_digest(src.source)[:16] != key.split(" ")[2]:
        return None  # compiled from another text of the definition (a comment edit since)
    filename = code_filename(src.module, src.names[0] if src.names else "<module code>", h)
    return compile_definition(src.source, src.line, filename, src.futures)


def _check_records(txn: Txn) -> tuple[int, list[dict[str, str]]]:
    """Decode every task, event and state record: (how many, the damaged ones)."""
    from ucode.records import TaskRecord
    from ucode.store import tasks as stored_tasks

    problems: list[dict[str, str]] = []
    count = 0
    for table in ("tasks", "statelog", "state"):
        for k, raw in txn.items(table):
            count += 1
            try:
                rec = unpack(raw, table, k)
                if table == "tasks":
                    TaskRecord.from_stored(rec)
                elif table == "statelog" and not {"seq", "key", "new", "delete"} <= set(rec):
                    raise TypeError(table)
            except (StoreCorruptError, TypeError, KeyError, ValueError, AttributeError):
                shown = k.decode("utf-8", "replace") if table != "statelog" else str(int.from_bytes(k, "big"))
                problems.append({"hash": shown, "problem": f"a {table} record that cannot be decoded"})
    for k, _raw in txn.items("tasks"):
        for ev in stored_tasks.event_rows(txn, k.decode()):
            count += 1
            if isinstance(ev, dict):
                problems.append({"hash": k.decode(), "problem": ev["corrupt"]})
    return count, problems


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
        if state is not None and state.moves(v) != ns.moves(v):
            diff = set(state.moves(v).items()) ^ set(ns.moves(v).items())
            problems.append({"hash": "", "problem": f"moves in {v} differ from the fold of the log: "
                             + ", ".join(sorted(n for n, _ in diff)[:5])})
    if state is not None:
        from ucode.store import routes as stored_routes

        materialized = stored_routes.route_scopes(txn)
        folded = {scope: table for scope, table in state.own_routes.items() if table}
        if folded != materialized:
            diff = {(s, n) for s in set(folded) | set(materialized)
                    for n in set(folded.get(s, {})) | set(materialized.get(s, {}))
                    if folded.get(s, {}).get(n) != materialized.get(s, {}).get(n)}
            problems.append({"hash": "", "problem": "routes differ from the fold of the log: "
                             + ", ".join(sorted(f"{n} ({s or 'every call'})" for s, n in diff)[:5])})
    if state is not None and set(state.parents) != set(stored.version_names(txn)):
        problems.append({"hash": "", "problem": "the versions differ from the fold of the log: "
                         + ", ".join(sorted(set(state.parents) ^ set(stored.version_names(txn))))})
    return problems


def _rehash_program(normalize: ModuleType, txn: Txn, prog: Program,
                    defs: dict[str, tuple[DefinitionRecord, SourceRecord]]) -> list[dict[str, str]]:
    """Normalize a stored program's text again, in the context it was added in (which names were
    definitions of the codebase and where its imports led, as its statements' records say), and compare
    the program's hash and each statement's."""
    from ucode.runtime import program_text

    module = prog.module
    texts: list[tuple[int, str]] = []
    altered: list[dict[str, str]] = []
    for st in prog.statements:
        text = definitions.load_text(txn, st.digest)
        if text is None:
            altered.append({"hash": st.hash, "problem": f"the text of a statement of {module} (line {st.line}) "
                                                        "is missing"})
        elif hashing.text_digest(text) != st.digest:
            altered.append({"hash": st.hash, "problem": f"the text of a statement of {module} (line {st.line}) "
                                                        "does not hash to its digest (edited in the store?)"})
        else:
            texts.append((st.line, text))
    if altered:
        return altered
    cb_modules: set[str] = {module}
    names: set[str] = {f"{module}.{n}" for n in prog.slots}
    follows: dict[str, str] = {}
    seen: set[str] = {module}  # modules the records show were in the codebase when the program was added
    for st in prog.statements:
        if st.hash in defs:
            rec, src = defs[st.hash]
            cb_modules.update(rec.codebase_modules)
            names.update(rec.deps)
            for local, written in prog.from_imports.items():
                kind_target = src.refs.get(local)
                if kind_target is not None and kind_target[0] != "import":
                    follows[written] = kind_target[1]
                    # the module it was imported from was in the codebase (the record names where the
                    # import led: ``from io import StringIO`` -> ``_io.StringIO``)
                    seen.add(written.rpartition(".")[0])
            for local, (kind, target) in src.refs.items():
                if kind == "module":
                    seen.add(target)
                elif kind == "dep" and prog.from_imports.get(local) in (None, target):
                    seen.add(target.rpartition(".")[0])
    # A record's codebase modules include the modules its followed imports led to, which need not have
    # been in the codebase (``from distutils.sysconfig import get_config_vars`` -> ``sysconfig``): such a
    # module counts only when the records show it was (else its own ``import sysconfig`` would be read as
    # a codebase import, and hash differently).
    led_to = {t.rpartition(".")[0] for w, t in follows.items() if t.rpartition(".")[0] != w.rpartition(".")[0]}
    cb_modules = (cb_modules - (led_to - seen)) | seen
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

