"""Benchmark 3: ``view`` and ``find`` on a store of 50,000 definitions.

The store is generated (``gen.py``: 100 files x 500 small distinct functions) and cached under
``bench/.work/store-<N>/`` (rebuilt when missing, when the generator changed, or with ``--rebuild``).

* ``CLI``: ``ucode --store S view NAME`` / ``find QUERY`` in a fresh process, minus ``python -c pass``
  measured interleaved with it. Goal: under 100 ms beyond Python start-up.
* ``API``: ``cb.view`` / ``cb.find`` in-process on an open store.
* Import cost of ``ucode``, ``ucode.cli``, ``typer`` and ``libcst`` (each ``python -c "import X"`` minus
  ``python -c pass``), to separate import cost from work; which heavy modules a ``view`` loads.
* Store size on disk per definition.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import gen
from _common import (
    PYTHON,
    WORK_DIR,
    Row,
    cli_available,
    log,
    ms,
    run_cmd,
    secs,
    time_call,
    time_commands,
    ucode_argv,
)
from bench_add import Result

import ucode

GOAL_S = 0.100
PER_FILE = 500
# typer._adapters: typer 0.29 coerces parameters with pydantic, imported when a command runs (ucode pins
# typer < 0.29 for that reason; the row is measured only where the module exists)
_IMPORTS_ALL = ("ucode", "ucode.cli", "typer", "typer._adapters", "rich.console", "libcst")
IMPORTS = tuple(m for m in _IMPORTS_ALL if importlib.util.find_spec(m.rpartition(".")[0] or m) is not None
                and (m != "typer._adapters" or importlib.util.find_spec(m) is not None))
HEAVY = ("libcst", "typer", "pydantic", "click", "rich", "rich.console", "rich.table", "rich.syntax", "pygments")
PROBE = ("import sys\nfrom ucode.cli import main\nsys.argv = ['ucode', *sys.argv[1:]]\n"
         "try:\n    main()\nexcept SystemExit:\n    pass\n"
         f"sys.stderr.write('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules) + '\\n')")


def build_store(n_defs: int, *, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The cached store of ``n_defs`` generated definitions (built if needed)."""
    files = max(1, n_defs // PER_FILE)
    root = WORK_DIR / f"store-{n_defs}"
    store = root / "store"
    meta_path = root / "meta.json"
    from ucode import codebase

    try:
        from ucode.store import TABLES as tables
    except ImportError:  # a ucode from before the store package (an A/B run against an older commit)
        tables = getattr(codebase, "_TABLES", ())
    # Rebuilt when the generator, the schema or the set of tables changes (not on every src/ edit).
    want = {"gen_version": gen.GEN_VERSION, "defs": n_defs, "files": files, "per_file": PER_FILE,
            "schema": codebase.SCHEMA_VERSION, "tables": list(tables)}
    if not rebuild and meta_path.exists() and (store / "data.mdb").exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if all(meta.get(k) == v for k, v in want.items()):
            try:
                with ucode.open(store, create=False) as cb:
                    if len(cb.bindings()) == n_defs:
                        log(f"store: using cached {store}")
                        return store, meta
            except ucode.UcodeError as exc:
                log(f"store: cached store unusable ({exc}); rebuilding")
    shutil.rmtree(root, ignore_errors=True)
    log(f"store: building {n_defs:,} definitions ({files} files x {PER_FILE}) in {store}")
    paths = gen.write_modules(root / "src", files, PER_FILE)
    t0 = time.perf_counter()
    with ucode.open(store) as cb:
        for k, path in enumerate(paths, 1):
            cb.add([path])
            if k % 10 == 0 or k == len(paths):
                el = time.perf_counter() - t0
                log(f"store: {k}/{len(paths)} files, {el:.0f} s, {k * PER_FILE / el:,.0f} defs/s")
        count = len(cb.bindings())
    build = time.perf_counter() - t0
    if count != n_defs:
        raise RuntimeError(f"built store has {count} names, expected {n_defs}")
    meta = {**want, "build_seconds": build, "defs_per_s": n_defs / build,
            "lines": sum(len(p.read_text(encoding="utf-8").splitlines()) for p in paths),
            "built_with": ucode.__version__}
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return store, meta


def store_size(store: Path, n_defs: int) -> dict[str, Any]:
    import lmdb

    data = store / "data.mdb"
    st = data.stat()
    env = lmdb.open(str(store), readonly=True, lock=False, max_dbs=64, subdir=True)
    tables: dict[str, dict[str, int]] = {}
    try:
        psize = env.stat()["psize"]
        used = (env.info()["last_pgno"] + 1) * psize
        with env.begin() as txn:
            names = [k for k, _ in txn.cursor()]
        for name in names:
            db = env.open_db(name, create=False)
            with env.begin() as txn:
                s = txn.stat(db)
            pages = s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"]
            tables[name.decode()] = {"entries": s["entries"], "bytes": pages * psize}
    finally:
        env.close()
    in_tables = sum(t["bytes"] for t in tables.values())
    return {"file_bytes": st.st_size, "disk_bytes": st.st_blocks * 512, "used_bytes": used,
            "bytes_per_def": st.st_size / n_defs, "used_bytes_per_def": used / n_defs, "tables": tables,
            "free_or_meta_bytes": used - in_tables}


def format_size(size: dict[str, Any], n_defs: int) -> str:
    parts = [f"{name} {t['bytes'] / n_defs:,.0f}" for name, t in
             sorted(size["tables"].items(), key=lambda kv: -kv[1]["bytes"]) if t["bytes"] / n_defs >= 1]
    return (f"Store size per definition by table (B/def, pages incl. B-tree overhead): {', '.join(parts)}; "
            f"free/unused pages {size['free_or_meta_bytes'] / n_defs:,.0f}")


def importtime(module: str, top: int = 6) -> list[tuple[str, float]]:
    """The biggest direct imports (cumulative) under ``import module``, from ``python -X importtime``."""
    proc = run_cmd([PYTHON, "-X", "importtime", "-c", f"import {module}"])
    out: list[tuple[str, float]] = []
    for line in proc.stderr.decode(errors="replace").splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and len(m.group(3)) <= 3:  # the module itself and what it imports directly
            out.append((m.group(4), int(m.group(2)) / 1e6))
    return sorted(out, key=lambda x: -x[1])[:top]


def run(*, quick: bool, reps: int, rebuild: bool = False) -> Result:
    n_defs = 2_000 if quick else 50_000
    store, meta = build_store(n_defs, rebuild=rebuild)
    size = store_size(store, n_defs)
    mid = n_defs // 2 + 7
    full_name = f"m{mid // PER_FILE:03d}.{gen.name_of(mid)}"
    leaf_name = gen.name_of(n_defs // 3 + 1)
    queries = {"view full name": ("view", full_name), "view leaf (suffix lookup)": ("view", leaf_name),
               "find common 'parse'": ("find", "parse"), "find rare": ("find", gen.name_of(n_defs - 5))}
    api_reps = max(10, reps * 4)
    log(f"store: in-process view/find x{api_reps}")
    api: dict[str, Any] = {}
    with ucode.open(store, create=False) as cb:
        for label, (cmd, arg) in queries.items():
            fn = (lambda a=arg: cb.view(a)) if cmd == "view" else (lambda a=arg: cb.find(a))
            api[label] = time_call(fn, api_reps, warmup=2)
        n_common = len(cb.find("parse", limit=10**9))
    open_t = time_call(lambda: ucode.open(store, create=False).close(), api_reps, warmup=1)

    cli, why = cli_available()
    commands: dict[str, list[str]] = {f"import {m}": [PYTHON, "-c", f"import {m}"] for m in IMPORTS}
    if cli:
        for label, (cmd, arg) in queries.items():
            commands[label] = [*ucode_argv(), "--store", str(store), cmd, arg]
    else:
        log(f"store: CLI part skipped: {why}")
    log(f"store: fresh processes x{reps}")
    t = time_commands(commands, reps, warmup=1)
    start = t["startup"].median
    heavy = ""
    if cli:
        probe = run_cmd([PYTHON, "-c", PROBE, "--store", str(store), "view", leaf_name], check=False)
        m = re.search(r"HEAVY=(.*)", probe.stderr.decode(errors="replace"))
        heavy = m.group(1) if m else "?"
    tops = {m: importtime(m) for m in ("ucode.cli",) if cli} | {"ucode": importtime("ucode")}

    n = f"{n_defs:,} defs"
    rows = [Row("store", f"store size ({n})", f"{size['bytes_per_def']:,.0f} B/def",
                f"data.mdb {size['file_bytes'] / 2**20:,.1f} MiB",
                f"used pages {size['used_bytes_per_def']:,.0f} B/def", data={**size, **meta})]
    for label, (cmd, arg) in queries.items():
        extra = f" ({n_common:,} matches, top 50 shown)" if "common" in label else ""
        if cli:
            beyond = t[label].median - start
            rows.append(Row("store", f"CLI `ucode {cmd} {arg}` ({n}){extra}", f"{ms(beyond)} beyond start-up",
                            f"start-up {ms(start)}", f"total {ms(t[label].median)}", f"< {ms(GOAL_S)} beyond",
                            beyond < GOAL_S, {"cli": t[label].to_dict(), "beyond_startup": beyond}))
        else:
            rows.append(Row("store", f"CLI `ucode {cmd} {arg}` ({n})", "not run: CLI not ready",
                            goal=f"< {ms(GOAL_S)} beyond"))
        rows.append(Row("store", f"API cb.{cmd}({arg!r}) in-process ({n}){extra}", ms(api[label].median),
                        goal="(info)", data={"api": api[label].to_dict()}))
    rows.append(Row("store", f"API ucode.open(store) + close ({n})", ms(open_t.median), goal="(info)",
                    data={"open": open_t.to_dict()}))
    for m in IMPORTS:
        beyond = t[f"import {m}"].median - start
        rows.append(Row("imports", f"python -c 'import {m}'", f"{ms(beyond)} beyond start-up",
                        f"start-up {ms(start)}", goal="(info)",
                        data={"import": t[f"import {m}"].to_dict(), "beyond_startup": beyond}))
    text = [f"Python start-up (python -c pass), median: {ms(start)}", format_size(size, n_defs)]
    if cli:
        text.append(f"Heavy modules loaded by `ucode view`: {heavy or 'none'}")
    for m, top in tops.items():
        text.append(f"Largest direct imports under `import {m}` (python -X importtime, cumulative): "
                    + ", ".join(f"{name} {ms(s)}" for name, s in top))
    if "build_seconds" in meta:
        text.append(f"Store build (cached; {meta['files']} adds of {meta['per_file']} functions, {meta['lines']:,} "
                    f"lines): {secs(meta['build_seconds'])}, {meta['defs_per_s']:,.0f} defs/s")
    details = {"store": str(store), "size": size, "meta": meta, "startup": t["startup"].to_dict(),
               "cli_available": cli, "cli_missing_reason": why, "heavy_modules_in_view": heavy,
               "importtime": tops, "queries": {k: list(v) for k, v in queries.items()}}
    return Result(rows, details, text)
