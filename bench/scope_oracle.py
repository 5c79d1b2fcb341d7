"""Differential oracle for :mod:`ucode.normalize`: everything it outputs, on real code, before vs after a change.

``python bench/scope_oracle.py --save``  records the current output to ``bench/.work/oracle-baseline.json``;
``python bench/scope_oracle.py``         normalizes the same files again and prints every difference.
``python bench/scope_oracle.py --walk``  checks that ``normalize._walk`` yields the nodes of a walk over libcst's
                                         ``node.children`` in the same order (less formatting tokens).

Files: every ``.py`` of the standard library (``sysconfig.get_paths()["stdlib"]``, without ``site-packages``;
``--tests`` also includes its ``test/`` directories), plus ``tests/vendored/`` and ``examples/``. For every
definition it records the names, kind, line, hash, imports, deps, codebase modules, refs, warnings
(code, message, line), renamed_locals and :func:`ucode.normalize.normalized_code`; per file also the skipped
statements, the re-exports, or the error when the file cannot be normalized. Stdlib files alternate between an
empty context and one where every stdlib module is in the codebase (so imports become dependencies).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import sysconfig
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

from ucode import normalize
from ucode.errors import SourceError
from ucode.normalize._walk import _walk as walk

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "bench" / ".work" / "oracle-baseline.json"

_STDLIB_MODULES: frozenset[str] = frozenset()


def _module_name(path: Path, base: Path) -> tuple[str, bool]:
    rel = path.relative_to(base).with_suffix("")
    parts = list(rel.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts) or "__init__", is_package


def collect(include_tests: bool) -> list[tuple[str, str, str, bool, bool]]:
    """(key, path, module, is_package, codebase context) for every file to normalize."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out: list[tuple[str, str, str, bool, bool]] = []
    files = sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    if not include_tests:
        files = [p for p in files if not {"test", "tests", "idle_test"} & set(p.parts)]
    for i, p in enumerate(files):
        mod, pkg = _module_name(p, stdlib)
        out.append((f"stdlib/{p.relative_to(stdlib)}", str(p), mod, pkg, i % 2 == 1))
    for sub in ("tests/vendored", "examples"):
        base = ROOT / sub
        for p in sorted(base.rglob("*.py")):
            mod, pkg = _module_name(p, base)
            out.append((f"{sub}/{p.relative_to(base)}", str(p), mod, pkg, True))
    return out


def _stdlib_modules() -> frozenset[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    mods = {_module_name(p, stdlib)[0] for p in stdlib.rglob("*.py") if "site-packages" not in p.parts}
    for sub in ("tests/vendored", "examples"):
        mods |= {_module_name(p, ROOT / sub)[0] for p in (ROOT / sub).rglob("*.py")}
    return frozenset(mods)


def _init() -> None:
    global _STDLIB_MODULES
    _STDLIB_MODULES = _stdlib_modules()
    sys.setrecursionlimit(10_000)
    warnings.simplefilter("ignore")


def record(item: tuple[str, str, str, bool, bool]) -> tuple[str, Any]:
    key, path, module, is_package, with_ctx = item
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError) as exc:
        return key, {"error": f"read: {type(exc).__name__}"}
    ctx = normalize.Context()
    if with_ctx:
        mods = _STDLIB_MODULES
        ctx = normalize.Context(
            modules=mods, is_name=lambda fqn: zlib.crc32(fqn.encode()) % 3 == 0 and fqn.rpartition(".")[0] in mods
        )
    try:
        parsed = normalize.normalize_module(source, path=path, module=module, is_package=is_package, ctx=ctx)
    except SourceError as exc:
        return key, {"error": str(exc)}
    except RecursionError:
        return key, {"error": "RecursionError"}
    defs = []
    for d in parsed.definitions:
        try:
            code = normalize.normalized_code(d)
        except RecursionError:
            code = "<RecursionError>"
        defs.append({
            "names": d.names, "kind": d.kind, "line": d.line, "hash": d.hash, "imports": d.imports,
            "deps": d.deps, "codebase_modules": d.codebase_modules, "refs": d.refs,
            "warnings": [[w.code, w.message, w.line] for w in d.warnings],
            "renamed_locals": d.renamed_locals, "docstring": d.docstring, "code": code,
        })
    return key, {
        "definitions": defs,
        "skipped": [[s.line, s.reason, s.text] for s in parsed.skipped],
        "reexports": [[r.name, r.target, r.line] for r in parsed.reexports],
        "star_reexports": parsed.star_reexports,
    }


def check_walk(item: tuple[str, str, str, bool, bool]) -> tuple[str, Any]:
    """``normalize._walk`` against a walk over libcst's ``node.children``: the same nodes in the same order,
    but for formatting tokens (whitespace, commas, parentheses, operators), which it skips."""
    import libcst as cst

    token_types = (
        cst.BaseParenthesizableWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Newline, cst.Comment,
        cst.Comma, cst.Semicolon, cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket,
        cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.AssignEqual, cst.Colon, cst.Dot, cst.Asynchronous,
        cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp,
    )
    key, path = item[0], item[1]
    try:
        mod = cst.parse_module(Path(path).read_text(encoding="utf-8"))
    except Exception as exc:  # unparsable files are not compared
        return key, {"error": type(exc).__name__}
    nodes = 0
    for stmt in mod.body:
        old: list[Any] = []
        stack = [stmt]
        while stack:
            n = stack.pop()
            old.append(n)
            stack.extend(reversed(n.children))
        expected = [n for n in old if not isinstance(n, token_types)]
        new = walk(stmt)
        nodes += len(new)
        if len(new) != len(expected) or any(a is not b for a, b in zip(new, expected, strict=True)):
            return key, {"walk": f"differs at line {mod.code_for_node(stmt)[:60]!r}"}
    return key, {"nodes": nodes}


def run_all(items: list[tuple[str, str, str, bool, bool]], jobs: int) -> dict[str, Any]:
    if jobs <= 1:
        _init()
        return dict(record(i) for i in items)
    with multiprocessing.Pool(jobs, initializer=_init) as pool:
        return dict(pool.imap_unordered(record, items, chunksize=2))


def compare(base: dict[str, Any], new: dict[str, Any], limit: int) -> int:
    diffs = 0
    for key in sorted(set(base) | set(new)):
        a, b = base.get(key), new.get(key)
        if a == b:
            continue
        if a is None or b is None or "definitions" not in a or "definitions" not in b:
            diffs += 1
            if diffs <= limit:
                print(f"DIFF {key}: file-level {str(a)[:200]!r} != {str(b)[:200]!r}")
            continue
        for field in ("skipped", "reexports", "star_reexports"):
            if a[field] != b[field]:
                diffs += 1
                if diffs <= limit:
                    print(f"DIFF {key}: {field}")
        da, db = a["definitions"], b["definitions"]
        if len(da) != len(db):
            diffs += 1
            if diffs <= limit:
                print(f"DIFF {key}: {len(da)} definitions != {len(db)}")
            continue
        for x, y in zip(da, db, strict=True):
            if x == y:
                continue
            diffs += 1
            if diffs <= limit:
                fields = [f for f in x if x[f] != y.get(f)]
                print(f"DIFF {key}: {x['names']} line {x['line']}: {fields}")
                if "code" in fields:
                    import difflib

                    print("".join(difflib.unified_diff(
                        x["code"].splitlines(True), y["code"].splitlines(True), "baseline", "new", n=1))[:3000])
                for f in fields:
                    if f != "code":
                        print(f"   {f}: {x[f]!r}\n   {' ' * len(f)}  {y.get(f)!r}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--save", action="store_true", help="record the baseline (from the current code)")
    ap.add_argument("--tests", action="store_true", help="also the stdlib's test/ directories")
    ap.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    ap.add_argument("--baseline", type=Path, default=BASELINE)
    ap.add_argument("--walk", action="store_true", help="check normalize._walk's order instead")
    ap.add_argument("--limit", type=int, default=40, help="differences printed in full")
    args = ap.parse_args(argv)
    items = collect(args.tests)
    if args.walk:
        with multiprocessing.Pool(args.jobs, initializer=_init) as pool:
            res = dict(pool.imap_unordered(check_walk, items, chunksize=4))
        bad = {k: v for k, v in res.items() if "walk" in v}
        for k, v in sorted(bad.items())[: args.limit]:
            print(k, v["walk"])
        print(f"walk: {len(res)} files, {sum(v.get('nodes', 0) for v in res.values())} nodes, "
              f"{len(bad)} files differ")
        return 1 if bad else 0
    t0 = time.perf_counter()
    results = run_all(items, args.jobs)
    elapsed = time.perf_counter() - t0
    n_files = sum(1 for r in results.values() if "definitions" in r)
    n_defs = sum(len(r.get("definitions", ())) for r in results.values())
    print(f"{len(items)} files ({n_files} normalized, {len(items) - n_files} errors), {n_defs} definitions, "
          f"{elapsed:.1f} s")
    if args.save:
        args.baseline.parent.mkdir(parents=True, exist_ok=True)
        args.baseline.write_text(json.dumps(results, sort_keys=True))
        print(f"baseline saved to {args.baseline}")
        return 0
    base = json.loads(args.baseline.read_text())
    diffs = compare(base, results, args.limit)
    base_defs = sum(len(r.get("definitions", ())) for r in base.values())
    print(f"compared {len(set(base) | set(results))} files, {base_defs} baseline definitions: {diffs} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
