"""``add``: files in, programs and bindings stored.

Rule: everything is computed in a read transaction first (parse, normalize, compare with the version's
bindings), then written in one write transaction, or none when nothing changed; a syntax error or a
refused ``--strict`` stores nothing. An unchanged file is answered from its ``files`` record without
parsing it (and without importing libcst).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ucode import hashing
from ucode.errors import StrictModeError
from ucode.ingest._sources import ModuleFile, check_compiles, collect, file_digest, read_source
from ucode.model import AddedModule, AddedName, AddResult, SkippedStatement, Warning
from ucode.namespace import StoredNamespace, commit, ensure_version, remove_binding, set_binding, set_module
from ucode.records import DefinitionRecord, FileRecord, ModuleRecord, Program, SourceRecord, Statement
from ucode.refs import validate_name, validate_version
from ucode.store import Store, Txn, definitions, modules

if TYPE_CHECKING:
    from ucode.normalize import ParsedModule

__all__ = ["ProgressFn", "add"]

ProgressFn = Callable[[int, int, str], None]


class _Plan:
    """What one ``add`` will write, computed before any write begins."""

    def __init__(self) -> None:
        self.new_defs: dict[str, DefinitionRecord] = {}
        self.sources: dict[str, SourceRecord] = {}
        self.binds: list[tuple[str, str | None]] = []  # (name, hash); None: unbind
        self.modules: dict[str, ModuleRecord] = {}
        self.texts: dict[str, str] = {}  # digest -> text
        self.programs: dict[str, tuple[Program, tuple[str, bytes] | None]] = {}  # -> (program, compiled code)
        self.module_binds: list[tuple[str, str]] = []  # (module, program)
        self.files: dict[str, FileRecord] = {}

    def writes(self) -> bool:
        return bool(self.new_defs or self.sources or self.binds or self.modules or self.programs
                    or self.module_binds or self.files)


def add(store: Store, paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], *, version: str | None = None,
        namespace: str | None = None, strict: bool = False, progress: ProgressFn | None = None) -> AddResult:
    """Store the program of every module in ``paths``; bind each module and each name it defines in
    ``version`` (created from the default version when new). See the module docstring."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if namespace is not None:
        validate_name(namespace)
    if version is not None:
        validate_version(version)
    passed_over: list[tuple[Path, str]] = []
    files = collect(list(paths), namespace, passed_over)
    texts = [(f, read_source(f.path)) for f in files]
    skipped = [SkippedStatement(str(p), 1, reason, "") for p, reason in passed_over]
    remap = _namespace_remap(files, namespace)
    fast = _unchanged(store, texts, version, remap)
    if fast is not None:
        if strict:  # unchanged files are not parsed again: their stored warnings say what --strict refuses
            offenders = [(n.name, f"{w.message} (line {w.line})") for n in fast.names for w in n.warnings
                         if w.code != "unresolved"]
            if offenders:
                raise StrictModeError(offenders)
        fast.skipped.extend(skipped)
        return fast
    for f, text in texts:  # CPython is the oracle: what compile() refuses is refused, before libcst
        check_compiles(text, f.path)

    from ucode import normalize  # the write path is the only one that needs libcst

    # Parsing builds millions of short-lived objects and no cycles worth collecting: the cyclic collector
    # would otherwise run hundreds of times during a large add (measured: 0.6-0.8x of a bare libcst
    # parse). Everything is freed by reference counting when the add returns.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        parsed = [(f, text, normalize.parse_source(text, path=str(f.path))) for f, text in texts]
        if remap:  # `add shop --namespace vendor`: shop's own absolute imports are of vendor.shop
            for i, (f, _text, mod) in enumerate(parsed):
                moved = normalize.remap_imports(mod, remap)
                if moved is not None:  # what runs and is stored is the rewritten text
                    parsed[i] = (f, moved.code, moved)
        with store.read() as txn:
            ns = StoredNamespace(txn)
            target = version or ns.default()
            version_exists = ns.exists(target)
            seen_as = target if version_exists else ns.default()  # a new version starts as the default one
            batch_modules: set[str] = set()
            for f, _text, _mod in parsed:
                parts = f.module.split(".")
                batch_modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            store_modules = modules.module_names(txn)
            batch_names: set[str] = set()
            batch_imports: dict[str, dict[str, str]] = {}
            for f, _text, mod in parsed:
                batch_names.update(f"{f.module}.{n}" for n in normalize.top_level_names(
                    mod, module=f.module, is_package=f.is_package, modules=batch_modules | store_modules))
                batch_imports[f.module] = normalize.import_map(mod, f.module, f.is_package)

            def is_name(fqn: str) -> bool:
                return fqn in batch_names or ns.lookup(seen_as, fqn) is not None

            def follow(fqn: str) -> str:
                # ``pluggy._hooks.HookspecMarker`` -> ``pluggy._decorators.HookspecMarker``: Python's ``from
                # ._hooks import HookspecMarker`` gets whatever ``_hooks`` holds under that name
                seen = {fqn}
                while not is_name(fqn):
                    module, _, leaf = fqn.rpartition(".")
                    imports = batch_imports.get(module)
                    if imports is None:
                        rec = modules.load_module(txn, module)
                        imports = dict(rec.imports) if rec else {}
                    nxt = imports.get(leaf)
                    if nxt is None or nxt in seen:
                        break
                    seen.add(nxt)
                    fqn = nxt
                return fqn

            all_modules = frozenset(batch_modules | store_modules)
            ctx = normalize.Context(all_modules, is_name, follow)
            normalized: list[tuple[ModuleFile, ParsedModule]] = []
            for i, (f, source, mod) in enumerate(parsed):
                if progress is not None:
                    progress(i, len(parsed), str(f.path))
                # the file's text goes along: libcst may have parsed a re-indented copy of it
                normalized.append((f, normalize.normalize_module(
                    mod, path=str(f.path), module=f.module, is_package=f.is_package, ctx=ctx,
                    origin=os.path.abspath(f.path), text=source)))
            if progress is not None:
                progress(len(parsed), len(parsed), "")
            if strict:
                _refuse_hidden_effects(normalized)
            plan = _Plan()
            result = _plan(txn, ns, seen_as, normalized, plan)
            _file_records(txn, texts, normalized, result, _context_digest(all_modules, remap), plan)
    finally:
        if gc_was_enabled:
            gc.enable()

    wrote = created = False
    if plan.writes() or not version_exists:
        with store.write() as txn:
            wns = StoredNamespace(txn)
            now = store.clock()
            events: list[dict[str, Any] | None] = [ensure_version(wns, target, now)]
            created = events[0] is not None
            _write(txn, wns, target, plan, events)
            shown = " ".join(str(p) for p in paths)
            commit(txn, events, cause=f"add {shown}" + (f" --version {target}" if version else ""), now=now)
        wrote = True
    return AddResult(version=target, names=result["names"], skipped=skipped, stale=result["stale"],
                     files=len(files), wrote=wrote, created_version=created, modules=result["modules"])


def _namespace_remap(files: list[ModuleFile], namespace: str | None) -> dict[str, str]:
    """With ``--namespace NS``: each top-level module or package being added -> where it is stored
    (``shop`` -> ``NS.shop``), so that the package's own absolute imports (``from shop.catalog import x``)
    import its stored copy, never another ``shop`` (see docs/resolution.md)."""
    if not namespace:
        return {}
    cut = len(namespace) + 1
    return {top: f"{namespace}.{top}" for top in sorted({f.module[cut:].partition(".")[0] for f in files})}


def _context_digest(modules: set[str] | frozenset[str], remap: dict[str, str]) -> str:
    """What normalizing a file depended on besides its text: the stored modules, and the imports a
    ``--namespace`` add rewrote (none: the digest of the modules alone, as before there was a remap)."""
    text = "\n".join(sorted(modules))
    if remap:
        text += "\n\0remap " + " ".join(f"{k}={v}" for k, v in sorted(remap.items()))
    return file_digest(text)


def _refuse_hidden_effects(normalized: list[tuple[ModuleFile, ParsedModule]]) -> None:
    offenders = [
        (f"{pm.name}.{d.names[0]}" if d.names else f"{pm.name} (module code)", f"{w.message} (line {w.line})")
        for _f, pm in normalized for d in pm.statements for w in d.warnings if w.code != "unresolved"
    ]
    if offenders:
        raise StrictModeError(offenders)


def _write(txn: Txn, ns: StoredNamespace, target: str, plan: _Plan, events: list[dict[str, Any] | None]) -> None:
    for h, rec in plan.new_defs.items():
        definitions.save_definition(txn, h, rec)
    for h, src in plan.sources.items():
        definitions.save_source(txn, h, src)
    for digest, text in plan.texts.items():
        definitions.save_text(txn, digest, text)
    for prog, code in plan.programs.values():
        modules.save_program(txn, prog)
        if code is not None:
            definitions.save_code(txn, *code)
    for name, bh in plan.binds:
        events.append(set_binding(txn, target, name, bh) if bh is not None else remove_binding(ns, target, name))
    for mname, ph in plan.module_binds:
        events.append(set_module(txn, target, mname, ph))
    for mname, mrec in plan.modules.items():
        modules.save_module(txn, mname, mrec)
    for mname, frec in plan.files.items():
        modules.save_file(txn, mname, frec)


def _plan(txn: Txn, ns: StoredNamespace, version: str, normalized: list[tuple[ModuleFile, ParsedModule]],
          plan: _Plan) -> dict[str, Any]:
    """Statuses of the names and modules, and the records to write, compared with ``version``."""

    def current(name: str) -> str | None:
        return ns.lookup(version, name)

    new_hash: dict[str, str] = {}
    for _f, pm in normalized:
        new_hash.update({f"{pm.name}.{n}": h for n, h in pm.bindings().items()})
    names: list[AddedName] = []
    added_modules: list[AddedModule] = []
    stale: list[str] = []
    for f, pm in normalized:
        prefix = pm.name + "."
        old_program = ns.module(version, pm.name)
        old = modules.load_program(txn, old_program) if old_program else None
        if old is not None:
            before = [prefix + n for n in old.slots]
        else:  # a module added by an older ucode (no program): the names directly under it
            before = [n for n in ns.bindings(version, prefix) if "." not in n[len(prefix):]]
        # Names the module defined and no longer does are unbound: the module runs as its file does, and a
        # name left bound would be put back into it. A definition renamed in the source is reported as
        # `renamed`, from its old name (the same code under a new name: the same body hash).
        removed = [n for n in before if n not in new_hash and current(n) is not None]
        removed_body: dict[str, str] = {}
        for n in removed:
            rec = definitions.load_definition(txn, current(n) or "")
            if rec is not None and rec.body:
                removed_body.setdefault(rec.body, n)
        statements: list[Statement] = []
        src_seen: set[str] = set()
        for d in pm.statements:
            digest = hashing.text_digest(d.source)
            plan.texts[digest] = d.source
            statements.append(Statement(d.hash, digest, d.line, tuple(d.names), d.kind))
            src = SourceRecord(d.source, pm.path, d.line, pm.name, tuple(d.names), d.docstring,
                               {k: (v[0], v[1]) for k, v in d.refs.items()},
                               tuple((w.code, w.message, w.line) for w in d.warnings), tuple(d.futures))
            if not definitions.has_definition(txn, d.hash) and d.hash not in plan.new_defs:
                written_against = {}
                for dep in d.deps:
                    dh = new_hash.get(dep) or current(dep)
                    if dh is not None:
                        written_against[dep] = dh
                plan.new_defs[d.hash] = DefinitionRecord(
                    hashing.STMT_SCHEME if d.kind == "code" else hashing.DEF_SCHEME, d.kind, tuple(d.imports),
                    tuple(d.deps), tuple(d.codebase_modules), written_against, d.renamed_locals, d.body, pm.hash)
                plan.sources[d.hash] = src
            elif (d.hash not in src_seen and d.hash not in plan.new_defs
                  and definitions.load_source(txn, d.hash) != src):
                plan.sources[d.hash] = src
            src_seen.add(d.hash)
        for n, i in sorted(pm.slots.items()):
            d = pm.statements[i]
            name = prefix + n
            was = current(name)
            warnings = [Warning(w.code, w.message, pm.path, w.line) for w in d.warnings]
            frm = None
            if was is None and old is not None and old.slot_hash(n) == d.hash and ns.moved_to(version, name):
                # moved away with `ucode move`, and the file's code for it is what it was: the move stands
                # (its callers follow the new name); an edit of the definition in the file binds it again
                names.append(AddedName(name, d.hash, "moved", d.kind, None, pm.path, d.line, warnings))
                continue
            if was is None:
                frm = removed_body.pop(d.body, None) if d.body else None
                status = "renamed" if frm else "added"
            elif was != d.hash:
                status = "updated"
            else:
                shown = definitions.load_source(txn, d.hash)
                status = "reformatted" if shown is not None and shown.source != d.source else "unchanged"
            names.append(AddedName(name, d.hash, status, d.kind, was, pm.path, d.line, warnings, frm))
            if was != d.hash:
                plan.binds.append((name, d.hash))
        for n in sorted(removed):
            names.append(AddedName(n, current(n) or "", "removed", "", current(n), pm.path, 0, []))
            plan.binds.append((n, None))
            stale.append(n)
        if not modules.has_program(txn, pm.hash) and pm.hash not in plan.programs:
            prog = Program(pm.hash, pm.name, pm.is_package, pm.origin, tuple(pm.futures), tuple(statements),
                           dict(pm.slots), tuple(pm.modules_imported), tuple(pm.modules_used), pm.annotations,
                           pm.docstring, dict(pm.imports), tuple(pm.star_reexports))
            plan.programs[pm.hash] = (prog, _compiled(prog, [d.source for d in pm.statements]))
        status = "added" if old_program is None else ("unchanged" if old_program == pm.hash else "updated")
        added_modules.append(AddedModule(pm.name, pm.hash, status, old_program, pm.path,
                                         str(f.root) if f.root else None))
        if old_program != pm.hash:
            plan.module_binds.append((pm.name, pm.hash))
        mrec = ModuleRecord(pm.origin, pm.is_package, dict(pm.imports), pm.hash)
        if modules.load_module(txn, pm.name) != mrec:
            plan.modules[pm.name] = mrec
    names.sort(key=lambda n: n.name)
    return {"names": names, "stale": sorted(stale), "modules": added_modules}


def _compiled(prog: Program, sources: list[str]) -> tuple[str, bytes] | None:
    """A program's compiled code as the runtime will look it up (so the first run does not compile)."""
    from ucode.runtime import precompiled

    return precompiled(prog.hash, prog.path, [(s.line, text) for s, text in zip(prog.statements, sources,
                                                                                 strict=True)])


# The `files` table lets an unchanged re-add skip parsing entirely (and never import libcst): per module,
# the digest of its source, of the set of stored modules it was normalized against (what an import means
# depends on it), the program it gave and the names -> hashes and warnings it produced.


def _file_records(txn: Txn, texts: list[tuple[ModuleFile, str]], normalized: list[tuple[ModuleFile, ParsedModule]],
                  result: dict[str, Any], ctx_digest: str, plan: _Plan) -> None:
    by_module: dict[str, list[AddedName]] = {}
    for n in result["names"]:
        if n.status != "removed":
            by_module.setdefault(n.name.rpartition(".")[0], []).append(n)
    for (f, text), (_f, pm) in zip(texts, normalized, strict=True):
        rec = FileRecord(
            file_digest(text), str(f.path), f.is_package, ctx_digest, hashing.NORMALIZATION, pm.hash,
            # star imports from stored modules depend on what those modules hold: never skip those
            bool(pm.star_reexports),
            tuple((n.name, n.hash, n.kind, n.line, tuple((w.code, w.message, w.line) for w in n.warnings))
                  for n in by_module.get(pm.name, []) if n.path == pm.path))
        if modules.load_file(txn, f.module) != rec:
            plan.files[f.module] = rec


def _unchanged(store: Store, texts: list[tuple[ModuleFile, str]], version: str | None,
               remap: dict[str, str]) -> AddResult | None:
    """The result of re-adding files that have not changed since they were added, or None."""
    with store.read() as txn:
        ns = StoredNamespace(txn)
        target = version or ns.default()
        if not ns.exists(target) or not texts:
            return None
        known = modules.module_names(txn)
        for f, _text in texts:
            parts = f.module.split(".")
            known.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        ctx_digest = _context_digest(known, remap)
        names: list[AddedName] = []
        added_modules: list[AddedModule] = []
        for f, text in texts:
            rec = modules.load_file(txn, f.module)
            if (rec is None or rec.volatile or rec.digest != file_digest(text)
                    or rec.normalization != hashing.NORMALIZATION or rec.ctx != ctx_digest
                    or rec.path != str(f.path) or rec.package != f.is_package
                    or ns.module(target, f.module) != rec.program):
                return None
            for name, h, kind, line, warnings in rec.names:
                if ns.lookup(target, name) != h:
                    return None  # rebound since: let the full add say what changed
                names.append(AddedName(name, h, "unchanged", kind, h, str(f.path), line,
                                       [Warning(c, m, str(f.path), ln) for c, m, ln in warnings]))
            added_modules.append(AddedModule(f.module, rec.program or "", "unchanged", rec.program, str(f.path),
                                             str(f.root) if f.root else None))
    names.sort(key=lambda n: n.name)
    return AddResult(version=target, names=names, skipped=[], stale=[], files=len(texts), wrote=False,
                     created_version=False, modules=added_modules)
