"""Files vs store, module by module: does importing a module from a ucode store give what importing its
file gives? CPython is the oracle.

For each candidate (a top-level module or package of the standard library, or an installed package), in
a worker: add it (only it) to a fresh store; run ``probe.py`` in a fresh ``python -I`` importing the
module (and, for a package, each of its submodules) from the files, then again from the store; compare
the two observations. A module that does not import cleanly from the files is not a candidate (its
files-side import error is recorded, and it is left out of the figure).

    python tests/differential/harness.py [--jobs 2] [--only NAME ...] [--out report.json]

prints ``identical/total`` and each difference. ``tests/test_stdlib_differential.py`` runs it in CI.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROBE = Path(__file__).with_name("probe.py")
VIAS = ("store", "run")  # ucode.mount, and the path `ucode run` / Codebase.function takes

# Not candidates: what cannot be imported twice or at all in a probe, and what does something on import
# that is not a module's business in a test (open a browser, print a poem, need a display).
EXCLUDED: dict[str, str] = {
    "antigravity": "opens a web browser when imported",
    "this": "prints the Zen of Python when imported (nothing else)",
    "idlelib": "the IDLE application (needs tkinter and a display)",
    "tkinter": "needs the _tkinter extension and a display",
    "turtle": "needs tkinter",
    "turtledemo": "demos for turtle (tkinter)",
    "test": "CPython's own test package (its suites run from the store in tests/test_upstream_stdlib.py)",
    "lib2to3": "deprecated; its grammar pickles are written next to the files on first import",
    "ensurepip": "bundles wheels; nothing to import-test",
    "pydoc_data": "one 800 kB string literal of implicitly concatenated parts (normalization recurses too deep)",
    "__phello__": "a frozen test package",
    "__hello__": "a frozen test module",
    "site": "runs at interpreter start-up; importing it again rewrites sys.path",
    "__future__": "compiler directives, imported by the compiler itself",
    "zipimport": "always frozen into the interpreter: CPython never runs its file",
    "distutils": "setuptools' distutils-precedence.pth makes `import distutils` give setuptools._distutils here",
}
INSTALLED = ["h11", "idna", "markdown_it", "packaging", "sortedcontainers", "pluggy", "rich", "certifi", "pathspec",
             "iniconfig", "click", "dateutil", "croniter"]


@dataclass
class Result:
    name: str
    modules: list[str]
    status: str  # identical | different | not a candidate | failed
    detail: list[str] = field(default_factory=list)
    seconds: float = 0.0
    same: int = 0  # modules observed identical
    observed: int = 0  # modules observed on both sides
    unstable: int = 0  # values that differ between two runs from the files (left out)


def stdlib_candidates() -> list[tuple[str, Path]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[tuple[str, Path]] = []
    for entry in sorted(root.iterdir()):
        name = entry.stem if entry.suffix == ".py" else entry.name
        if not name.isidentifier() or name in EXCLUDED:
            continue
        if (entry.suffix == ".py" and entry.is_file()) or (entry.is_dir() and (entry / "__init__.py").exists()):
            out.append((name, entry))
    return out


def installed_candidates() -> list[tuple[str, Path]]:
    import importlib.util

    out = []
    for name in INSTALLED:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and spec.origin.endswith("__init__.py"):
            out.append((name, Path(spec.origin).parent))
    return out


def module_names(name: str, path: Path) -> list[str]:
    """The module, and for a package each of its submodules, package first, in a stable order."""
    if path.is_file():
        return [name]
    names = []
    for file in sorted(path.rglob("*.py")):
        rel = file.relative_to(path).with_suffix("")
        parts = [name, *rel.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if all(p.isidentifier() for p in parts) and "__pycache__" not in parts and parts[-1] != "__main__" \
                and "tests" not in parts[1:]:
            names.append(".".join(parts))
    return sorted(set(names), key=lambda n: (n.count("."), n))


def _probe(out: Path, args: list[str], cwd: Path) -> tuple[dict[str, Any] | None, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UCODE_", "PYTHON"))}
    env["PYTHONHASHSEED"] = "0"
    try:
        # -X frozen_modules=off: the files are what runs (3.11 freezes os, codecs, abc, ... at start-up);
        # -P -s: nothing but the standard paths (not -I: it would ignore PYTHONHASHSEED)
        proc = subprocess.run([sys.executable, "-X", "frozen_modules=off", "-P", "-s", str(PROBE), str(out), *args],
                              cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if proc.returncode != 0 or not out.exists():
        return None, f"exit {proc.returncode}: {proc.stderr[-600:]}"
    return json.loads(out.read_text(encoding="utf-8")), ""


def _stable(a: Any, b: Any) -> Any:
    """What two observations of the files agree on: values that differ between them (an address, a
    start time, a thread id) say nothing about the code, and are dropped (None)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _stable(a[k], b[k]) for k in a if k in b}
    return a if a == b else None


def _drop_unstable(obs: Any, stable: Any) -> Any:
    if isinstance(obs, dict) and isinstance(stable, dict):
        return {k: _drop_unstable(v, stable[k]) for k, v in obs.items() if k in stable}
    return obs if stable is not None else None


def _count_unstable(stable: Any) -> int:
    if isinstance(stable, dict):
        return sum(_count_unstable(v) for v in stable.values())
    return int(stable is None)


def _differences(a: Any, b: Any, where: str, out: list[str]) -> None:
    if len(out) >= 12 or a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only {'from files' if k in a else 'from the store'}")
            else:
                _differences(a[k], b[k], f"{where}.{k}", out)
        return
    out.append(f"{where}: files {json.dumps(a)[:300]} != store {json.dumps(b)[:300]}")


def check(name: str, path: str) -> Result:
    """Add one candidate to a fresh store and compare files and store (runs in a worker process)."""
    from ucode.codebase import Codebase

    start = time.perf_counter()
    names = module_names(name, Path(path))
    with tempfile.TemporaryDirectory(prefix=f"ucode-diff-{name}-") as tmp:
        work = Path(tmp)
        files, err = _probe(work / "files.json", names, work)
        if files is None:
            return Result(name, names, "failed", [f"files side: {err}"], time.perf_counter() - start)
        importable = [n for n in names if n not in files["errors"]]
        if name not in importable:
            return Result(name, names, "not a candidate", [files["errors"][name]], time.perf_counter() - start)
        try:
            with Codebase(work / "store") as cb:
                cb.add([path])
        except Exception as exc:
            return Result(name, importable, "failed", [f"add: {type(exc).__name__}: {exc}"],
                          time.perf_counter() - start)
        if len(importable) < len(names):
            files, err = _probe(work / "files.json", importable, work)
            assert files is not None, err
        again, err = _probe(work / "again.json", importable, work)
        assert again is not None, err
        detail: list[str] = []
        stores = {}
        for via in VIAS:
            store, err = _probe(work / f"{via}.json", [f"--{via}", str(work / "store"), *importable], work)
            if store is None:
                return Result(name, importable, "failed", [f"{via}: {err}"], time.perf_counter() - start)
            not_stored = [m for m, loader in store["loaders"].items() if loader != "StoreLoader"
                          and (m == name or m.startswith(name + ".")) and m in files["loaders"]
                          and files["loaders"][m] in ("SourceFileLoader", "NoneType")]
            if not_stored:
                detail.append(f"{via}: not imported from the store: {', '.join(not_stored[:5])}")
            stores[via] = store
        for obs in (files, again, *stores.values()):
            obs.pop("loaders")
        stable = _stable(files, again)
        files = _drop_unstable(files, stable)
        same, observed = 0, 0
        for via, store in stores.items():
            store = _drop_unstable(store, stable)
            _differences(files, store, f"{name} ({via})", detail)
            mods_files, mods_store = files.get("modules", {}), store.get("modules", {})
            seen = sorted(set(mods_files) | set(mods_store))
            same += sum(mods_files.get(m) == mods_store.get(m) for m in seen)
            observed += len(seen)
        status = "identical" if not detail else "different"
        return Result(name, importable, status, detail, time.perf_counter() - start, same, observed,
                      _count_unstable(stable))


def run(candidates: list[tuple[str, Path]], jobs: int) -> list[Result]:
    results: list[Result] = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(check, name, str(path)): name for name, path in candidates}
        for fut in concurrent.futures.as_completed(futures):
            try:
                results.append(fut.result())
            except Exception as exc:
                results.append(Result(futures[fut], [], "failed", [f"harness: {type(exc).__name__}: {exc}"]))
    return sorted(results, key=lambda r: r.name)


def summary(results: list[Result]) -> dict[str, Any]:
    counted = [r for r in results if r.status != "not a candidate"]
    modules = sum(r.observed for r in counted)
    same_modules = sum(r.same for r in counted)
    return {"candidates": len(counted), "identical": sum(r.status == "identical" for r in counted),
            "modules": modules, "modules_identical": same_modules,
            "not_candidates": {r.name: r.detail[0] if r.detail else "" for r in results
                               if r.status == "not a candidate"},
            "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--installed", action="store_true", help="the installed packages too")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    candidates = stdlib_candidates() + (installed_candidates() if args.installed else [])
    if args.only:
        candidates = [c for c in candidates if c[0] in set(args.only)]
    start = time.perf_counter()
    results = run(candidates, args.jobs)
    info = summary(results)
    for r in results:
        if r.status in ("different", "failed"):
            print(f"{r.name}: {r.status}")
            for line in r.detail:
                print(f"    {line}")
    print(f"{info['identical']}/{info['candidates']} identical ({info['modules_identical']}/{info['modules']} "
          f"module observations, mounted and run) in {time.perf_counter() - start:.0f} s")
    if args.out:
        args.out.write_text(json.dumps({"summary": info, "results": [asdict(r) for r in results]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
