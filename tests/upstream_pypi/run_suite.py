"""Run one PyPI package's upstream test suite twice: on its files, then served from a ucode store.

    python tests/upstream_pypi/run_suite.py NAME [--out REPORT.json] [--keep-work] [--timeout S]

1. The sdist (``suites.SUITES[NAME]``: exact version, sha256 checked) is downloaded once with ``pip
   download`` into the cache (``$UCODE_UPSTREAM_CACHE``, default ``/tmp/ucode-upstream-pypi``), and the
   suite's extra test requirements are installed there once too (``pip install --no-deps --target``, a
   directory per suite: one suite's package is another's test dependency, so they never go into the
   shared virtualenv, where the store run would find an installed copy).
2. It is extracted to a fresh work directory. The C accelerators the manifest names are compiled beside
   their sources (the store run finds them on ``__path__``, next to the stored pure-Python modules), and
   the sdist's ``PKG-INFO`` is put on ``sys.path`` as the installed distribution's metadata.
3. Baseline: pytest in a fresh isolated interpreter (``python -I -B ucode_upstream_plugin.py``) on the
   files, from the project root, with upstream's own configuration.
4. The package directories are added to a fresh store (``ucode.open(store).add([...])``), the tests
   shipped inside the package (``keep``) moved aside meanwhile: they stay files.
5. The package's sources are deleted: every ``.py`` file but ``keep``'s, and ``__pycache__``. Data files stay,
   as a stored package reads them from where it was added.
6. Store run: the same pytest command, the namespaces mounted from the store by the plugin before any
   conftest is imported (once it checked that nothing else could provide them). Subprocesses the tests
   start get the mount too (a ``sitecustomize`` on their ``PYTHONPATH``).
7. The outcomes of both runs are compared per test id (:func:`compare`). The JSON report has both runs,
   the comparison and the times; exit status 0: the store behaves as the files (as the manifest expects),
   1: it does not, 2: the harness failed (download, build, a run without a report).

The work directory is removed when all is well, kept otherwise (or with ``--keep-work``): it holds the
extracted tree, the store, each run's log, JSON report and a shell script to run it again by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests.upstream_pypi` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.upstream_pypi.suites import SUITES, Suite

HERE = Path(__file__).resolve().parent
PLUGIN = HERE / "ucode_upstream_plugin.py"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "ucode-upstream-pypi"
FAILING = ("failed", "error", "xpassed")
FULL = os.environ.get("UCODE_UPSTREAM_FULL") == "1"  # also run the tests `slow` leaves out

SITECUSTOMIZE = '''"""Written by ucode's upstream harness: the store run's subprocesses import the package from it."""
import ucode

_codebase = ucode.open({store!r}, create=False)
for _ns in {namespaces!r}:
    ucode.mount(_ns, codebase=_codebase)
'''


class HarnessError(Exception):
    """Something other than a test outcome went wrong (download, build, a run that wrote no report)."""


def cache_dir() -> Path:
    return Path(os.environ.get("UCODE_UPSTREAM_CACHE") or DEFAULT_CACHE)


# ------------------------------------------------------------------------------------------ fetching


def _pip(args: list[str], timeout: float = 900) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise HarnessError(f"pip {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def _fill_once(where: Path, fill: Any) -> None:
    """Make directory ``where`` with ``fill(tmp)`` in a temporary sibling, renamed into place when complete:
    a concurrent run never sees half of it."""
    if where.is_dir():
        return
    where.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=where.name + ".", dir=where.parent))
    try:
        fill(tmp)
        try:
            tmp.rename(where)
        except OSError:
            if not where.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sdist(suite: Suite) -> Path:
    """The suite's sdist from the cache, downloaded first if it is not there; its sha256 checked."""
    where = cache_dir() / "sdists" / f"{suite.name}-{suite.version}"
    _fill_once(where, lambda tmp: _pip(["download", "--no-binary", ":all:", "--no-deps", "-d", str(tmp),
                                        f"{suite.name}=={suite.version}"]))
    files = sorted(p for p in where.iterdir() if p.name.endswith((".tar.gz", ".zip", ".tgz")))
    if len(files) != 1:
        raise HarnessError(f"expected one sdist in {where}, found {[p.name for p in files]}")
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    if digest != suite.sha256:
        raise HarnessError(f"{files[0]}: sha256 {digest}, the manifest pins {suite.sha256} (remove {where} "
                           "to download it again)")
    return files[0]


def deps_dir(suite: Suite) -> Path | None:
    """The suite's own test requirements, installed once into a directory of their own (None: none)."""
    if not suite.deps:
        return None
    key = hashlib.sha256("\n".join(sorted(suite.deps)).encode()).hexdigest()[:12]
    where = cache_dir() / "deps" / f"{suite.name}-{suite.version}-{key}"
    _fill_once(where, lambda tmp: _pip(["install", "--no-deps", "--no-compile", "--target", str(tmp),
                                        *suite.deps]))
    return where


def check_not_installed(suite: Suite) -> None:
    """A copy of the package installed in this interpreter's site-packages (which the runs share: click is
    a dependency of uvicorn, which ucode's engine needs) is hidden in the runs by the plugin
    (``_HideInstalled``): the baseline tests the sdist's files, the store run the store. A copy elsewhere
    (on ``PYTHONPATH``, a ``.pth`` path) cannot be told apart from the package's own: refused."""
    hidden = _site_dirs()
    for ns in suite.namespaces:
        spec = importlib.util.find_spec(ns)
        if spec is None:
            continue
        where = [spec.origin] if spec.origin not in (None, "namespace") else list(spec.submodule_search_locations or ())
        if not all(any(os.path.realpath(str(w)).startswith(d + os.sep) for d in hidden) for w in where):
            raise HarnessError(f"{ns} is importable from {where}, outside site-packages: remove it from the "
                               f"path (a suite's package must come only from its sdist or the store)")


def _site_dirs() -> list[str]:
    import site
    import sysconfig

    dirs = {*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(os.path.realpath(d) for d in dirs)


# ------------------------------------------------------------------------------------------ the work tree


@dataclass
class Tree:
    """One run's work directory: the extracted sdist (``root``), the store, the runs' files."""

    suite: Suite
    work: Path
    root: Path
    deps: Path | None
    doctests: list[str]

    @property
    def store(self) -> Path:
        return self.work / "store"

    @property
    def package_dirs(self) -> list[Path]:
        return [self.root / p for p in self.suite.packages]

    def kept(self, path: Path) -> bool:
        keep = [(self.root / k).resolve() for k in self.suite.keep]
        real = path.resolve()
        return any(real == k or k in real.parents for k in keep)

    def sys_path(self) -> list[str]:
        """What a run puts first on ``sys.path``: the package's (``suite.path``), its metadata, its deps."""
        return [*(str(self.root / p) for p in self.suite.path), str(self.work / "metadata"),
                *([str(self.deps)] if self.deps else [])]


def extract(archive: Path, into: Path) -> Path:
    """Extract the sdist; returns its top directory."""
    into.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    else:
        with tarfile.open(archive) as t:
            t.extractall(into, filter="data")
    tops = list(into.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise HarnessError(f"{archive.name}: expected one top directory, found {[p.name for p in tops]}")
    return tops[0]


def build_native(tree: Tree) -> list[str]:
    """Compile the C accelerators the manifest names next to their first source, where an in-place build
    puts them (``markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so``)."""
    built = []
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if tree.suite.native and not cc:
        raise HarnessError(f"{tree.suite.name}: no C compiler (cc) to build {sorted(tree.suite.native)}")
    for module, sources in tree.suite.native.items():
        first = tree.root / sources[0]
        target = first.parent / (module.rpartition(".")[2] + suffix)
        cmd = [str(cc), "-shared", "-fPIC", "-O1", "-w", f"-I{include}", *(str(tree.root / s) for s in sources),
               "-o", str(target)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
        if proc.returncode != 0:
            raise HarnessError(f"building {module} failed:\n{' '.join(cmd)}\n{proc.stderr[-3000:]}")
        built.append(str(target.relative_to(tree.root)))
    return built


def install_metadata(tree: Tree) -> None:
    """A directory for ``sys.path`` with the package's distribution metadata and nothing else (the sdist's
    ``PKG-INFO`` as ``METADATA``): code asking ``importlib.metadata`` for the version (``click.__version__``,
    attrs' and click's tests) finds it, as when the package is installed. No code is there."""
    dist = tree.work / "metadata" / f"{tree.suite.name.replace('-', '_')}-{tree.suite.version}.dist-info"
    dist.mkdir(parents=True)
    shutil.copyfile(tree.root / "PKG-INFO", dist / "METADATA")
    (dist / "INSTALLER").write_text("ucode-upstream\n", encoding="utf-8")


def doctest_modules(tree: Tree) -> list[str]:
    """The modules whose doctests run: ``suite.doctests`` names modules, ``pkg.*`` every module of the
    package. Found in the files before the baseline, the same list serves both runs."""
    out: list[str] = []
    for pattern in tree.suite.doctests:
        if not pattern.endswith(".*"):
            out.append(pattern)
            continue
        top = pattern[:-2]
        pkg = next(p for p in tree.package_dirs if p.name == top)
        for f in sorted(pkg.rglob("*.py")):
            if tree.kept(f) or "__pycache__" in f.parts:
                continue
            parts = [top, *f.relative_to(pkg).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out.append(".".join(parts))
    return out


def add_to_store(tree: Tree) -> dict[str, Any]:
    """Add the package to a fresh store, the tests shipped inside it moved aside meanwhile."""
    import ucode

    aside = Path(tempfile.mkdtemp(prefix="aside-", dir=tree.work))
    moved: list[tuple[Path, Path]] = []
    try:
        for i, rel in enumerate(tree.suite.keep):
            src, dst = tree.root / rel, aside / str(i)
            src.rename(dst)
            moved.append((src, dst))
        with ucode.open(tree.store) as cb:
            result = cb.add([str(p) for p in tree.package_dirs])
    finally:
        for src, dst in reversed(moved):
            dst.rename(src)
        shutil.rmtree(aside, ignore_errors=True)
    return {
        "names": len(result.names),
        "modules": sorted(m.name for m in result.modules),
        "skipped": [[str(s.path), s.line, s.reason] for s in result.skipped],
    }


def delete_sources(tree: Tree) -> list[str]:
    """Delete the package's Python sources and bytecode (not ``keep``'s, not data files); returns them."""
    deleted = []
    for pkg in tree.package_dirs:
        for p in [pkg] if pkg.is_file() else sorted(pkg.rglob("*")):
            if tree.kept(p) or not p.exists():
                continue
            if p.is_dir() and p.name == "__pycache__":
                shutil.rmtree(p)
                deleted.append(str(p.relative_to(tree.root)) + "/")
            elif p.is_file() and p.suffix in (".py", ".pyc"):
                p.unlink()
                deleted.append(str(p.relative_to(tree.root)))
    return deleted


def subprocess_mount(tree: Tree) -> Path:
    """A directory with a ``sitecustomize`` that mounts the namespaces from the store, first on the
    ``PYTHONPATH`` of the store run: a test that runs ``sys.executable -c "import click"`` gets the package
    from the store there, as it gets it from the files in the baseline (the sources are gone: without it
    the subprocess could not import the package at all)."""
    where = tree.work / "subprocess-mount"
    where.mkdir()
    (where / "sitecustomize.py").write_text(
        SITECUSTOMIZE.format(store=str(tree.store), namespaces=list(tree.suite.namespaces)), encoding="utf-8")
    return where


# ------------------------------------------------------------------------------------------ running


def deselected(suite: Suite) -> dict[str, str]:
    """What the runs leave out: tests that fail from files here, and the slow ones (unless FULL)."""
    return {**suite.deselect, **({} if FULL else suite.slow)}


def _child_env(tree: Tree, report: Path, from_store: bool) -> dict[str, str]:
    """The environment of a pytest run: the caller's, less pytest's, ucode's and Python's own variables (an
    outer pytest's ``PYTEST_CURRENT_TEST`` and ``PYTEST_ADDOPTS``, ``UCODE_STORE``), plus the suite's and the
    plugin's. ``PYTHONPATH`` is for the subprocesses that tests start (the run itself is ``-I``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "UCODE_", "PYTHON"))}
    env.update(tree.suite.env)
    sub = tree.sys_path()
    if from_store:
        sub.insert(0, str(tree.work / "subprocess-mount"))
    env["PYTHONPATH"] = os.pathsep.join(sub)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update({
        "UCODE_UPSTREAM_REPORT": str(report),
        "UCODE_UPSTREAM_NAMESPACES": json.dumps(list(tree.suite.namespaces)),
        "UCODE_UPSTREAM_PACKAGE_DIRS": json.dumps([str(p) for p in tree.package_dirs]),
        "UCODE_UPSTREAM_KEEP": json.dumps([str(tree.root / k) for k in tree.suite.keep]),
        "UCODE_UPSTREAM_TEST_ROOTS": json.dumps([str(tree.root / t) for t in tree.suite.tests]),
        "UCODE_UPSTREAM_NATIVE": json.dumps(sorted(tree.suite.native)),
        "UCODE_UPSTREAM_DOCTEST_MODULES": json.dumps(tree.doctests),
        "UCODE_UPSTREAM_MARKERS": json.dumps(list(tree.suite.markers)),
    })
    if from_store:
        env["UCODE_UPSTREAM_STORE"] = str(tree.store)
    return env


def run_pytest(tree: Tree, mode: str, timeout: float) -> dict[str, Any]:
    """One pytest run of the suite (``mode``: ``files`` or ``store``) in a fresh isolated interpreter;
    returns the plugin's report."""
    suite, root = tree.suite, tree.root
    report = tree.work / f"{mode}.json"
    log = tree.work / f"{mode}.log"
    cmd = [sys.executable, "-I", "-B", str(PLUGIN)]
    for p in tree.sys_path():
        cmd += ["--path", p]
    cmd += ["--", "-q", "-rfE", "-p", "no:cacheprovider", f"--basetemp={tree.work / ('tmp-' + mode)}",
            f"--rootdir={root}", "--hypothesis-seed=0", *suite.args]
    if suite.keep:
        # pytest names a test module inside a package by walking up the directories with an `__init__.py`:
        # in the store run the package's own `__init__.py` is gone, and `toolz/tests/test_x.py` would be
        # imported as `tests.test_x` (with `toolz/` put on sys.path). With namespace packages considered,
        # pytest asks the import system instead, which finds `toolz` in the store: the same names as from
        # files. Both runs get it, so that they differ in nothing else.
        cmd += ["-o", "consider_namespace_packages=true"]
    for tid in deselected(suite):
        # A file is ignored (it may not even import from files here); a test id or prefix is deselected.
        cmd += ["--deselect", tid] if "::" in tid else ["--ignore", str(root / tid)]
    cmd += list(suite.tests)
    env = _child_env(tree, report, from_store=mode == "store")
    # To run it again by hand in a kept work directory: the command with the variables it adds.
    (tree.work / f"{mode}.sh").write_text(
        f"cd {shlex.quote(str(root))} && env "
        + " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(env.items()) if os.environ.get(k) != v)
        + " " + shlex.join(cmd) + ' "$@"\n', encoding="utf-8")
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        try:
            code: int | None = subprocess.run(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds = time.perf_counter() - start
    if code is None or not report.exists():
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
        what = f"timed out after {timeout:.0f} s" if code is None else f"exited {code} without a report"
        raise HarnessError(f"{suite.name}: the {mode} run {what}; log {log}:\n{tail}")
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    data["wall_seconds"] = round(seconds, 2)
    data["log"] = str(log)
    return data


# ------------------------------------------------------------------------------------------ comparing


def count_problem(suite: Suite, ids: int) -> str | None:
    """Whether the baseline ran as many tests as the manifest expects (FULL: at least one more for each
    `slow` entry, which may name a class or a file)."""
    if not FULL and ids != suite.expected:
        return f"{ids} test ids from files, the manifest expects {suite.expected}"
    if FULL and ids < suite.expected + len(suite.slow):
        return f"{ids} test ids from files, the manifest expects at least {suite.expected + len(suite.slow)}"
    return None


def compare(suite: Suite, files: dict[str, Any], store: dict[str, Any]) -> dict[str, Any]:
    """What is wrong, if anything (empty: the store behaves as the files): the baseline did not pass
    cleanly or ran another number of tests than expected; a test's outcome from the store differs from its
    outcome from files (except the listed xfails, which must pass from files and fail from the store);
    a deselection names no test; provenance problems in either run."""
    fo: dict[str, list[str]] = files["outcomes"]
    so: dict[str, list[str]] = store["outcomes"]
    problems: dict[str, Any] = {}
    if files["exitstatus"] != 0:
        problems["baseline_exit"] = f"pytest exited {files['exitstatus']} on the files (log: {files['log']})"
    if store["exitstatus"] not in (0, 1):
        problems["store_exit"] = f"pytest exited {store['exitstatus']} from the store (log: {store['log']})"
    not_clean = {t: o for t, o in fo.items() if o[0] in FAILING}
    if not_clean:
        problems["baseline_not_clean"] = not_clean
    wrong = count_problem(suite, len(fo))
    if wrong:
        problems["baseline_count"] = wrong
    absent = ["absent", ""]
    differ = {}
    for tid in sorted(set(fo) | set(so)):
        f, s = fo.get(tid, absent), so.get(tid, absent)
        if tid not in suite.xfail and f[0] != s[0]:
            differ[tid] = {"files": f[0], "store": s[0], "message": s[1] or f[1]}
    if differ:
        problems["differ"] = differ
    xfail = {}
    for tid, why in suite.xfail.items():
        f, s = fo.get(tid, absent), so.get(tid, absent)
        if f[0] != "passed":
            xfail[tid] = f"listed as xfail ({why}), but from files it is {f[0]}"
        elif s[0] not in (*FAILING, "absent"):
            xfail[tid] = f"listed as xfail ({why}), but from the store it is {s[0]}: remove it from xfail"
    if xfail:
        problems["xfail"] = xfail
    ignored = tuple(d for d in deselected(suite) if "::" not in d)
    stale = sorted(d for d in deselected(suite) if "::" in d and not d.startswith(ignored)
                   and not any(t.startswith(d) for t in files["deselected_ids"]))
    if stale:
        problems["deselect_names_no_test"] = stale
    for mode, rep in (("files", files), ("store", store)):
        if rep["provenance"]["problems"]:
            problems[f"provenance_{mode}"] = rep["provenance"]["problems"]
    if "StoreLoader" not in store["provenance"]["modules"].values():
        problems.setdefault("provenance_store", []).append("no module came from the store")
    return problems


def run(name: str, *, timeout: float, keep_work: bool = False) -> dict[str, Any]:
    """Both runs of suite ``name`` and their comparison (see the module docstring)."""
    suite = SUITES[name]
    t0 = time.perf_counter()
    check_not_installed(suite)
    archive = sdist(suite)
    deps = deps_dir(suite)
    seconds: dict[str, float] = {"fetch": round(time.perf_counter() - t0, 2)}
    work = Path(tempfile.mkdtemp(prefix=f"ucode-upstream-{name}-"))
    ok = False
    try:
        t = time.perf_counter()
        tree = Tree(suite, work, extract(archive, work / "src"), deps, [])
        for d in deselected(suite):
            if "::" not in d and not (tree.root / d).exists():
                raise HarnessError(f"{name}: the manifest leaves out {d}, which the sdist does not have")
        built = build_native(tree)
        install_metadata(tree)
        tree.doctests = doctest_modules(tree)
        seconds["prepare"] = round(time.perf_counter() - t, 2)
        files = run_pytest(tree, "files", timeout)
        seconds["files"] = files["wall_seconds"]
        t = time.perf_counter()
        added = add_to_store(tree)
        deleted = delete_sources(tree)
        subprocess_mount(tree)
        seconds["add"] = round(time.perf_counter() - t, 2)
        store = run_pytest(tree, "store", timeout)
        seconds["store"] = store["wall_seconds"]
        problems = compare(suite, files, store)
        ok = not problems
        seconds["total"] = round(time.perf_counter() - t0, 2)
        return {
            "suite": name, "version": suite.version, "work": str(work), "ok": ok, "problems": problems,
            "built": built, "add": added, "deleted": len(deleted), "seconds": seconds,
            "files": files, "store": store,
        }
    finally:
        if ok and not keep_work:
            shutil.rmtree(work, ignore_errors=True)


def summary_line(report: dict[str, Any]) -> str:
    """One line per suite: tests, passed from files and from the store, seconds."""
    f, s, sec = report["files"], report["store"], report["seconds"]
    return (f"{report['suite']:<16} {report['version']:<8} tests {f['ids']:>5}  passed: files "
            f"{f['counts'].get('passed', 0):>5} store {s['counts'].get('passed', 0):>5}  seconds: add "
            f"{sec['add']:>4.1f} files {sec['files']:>5.1f} store {sec['store']:>5.1f}"
            f"  {'ok' if report['ok'] else 'DIFFERS'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("name", choices=sorted(SUITES))
    ap.add_argument("--out", help="write the JSON report here")
    ap.add_argument("--keep-work", action="store_true", help="keep the work directory (tree, store, logs)")
    ap.add_argument("--timeout", type=float, default=900 if FULL else 300, help="seconds per pytest run")
    args = ap.parse_args(argv)
    try:
        report = run(args.name, timeout=args.timeout, keep_work=args.keep_work)
    except Exception as exc:  # the harness, or ucode's add, failed: no comparison to report
        error = str(exc) if isinstance(exc, HarnessError) else traceback.format_exc()
        if args.out:
            Path(args.out).write_text(json.dumps({"suite": args.name, "error": error}), encoding="utf-8")
        print(f"{args.name}: harness error: {error}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(summary_line(report))
    if report["problems"]:
        print(json.dumps(report["problems"], indent=1)[:20000])
        print(f"work directory kept: {report['work']}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
