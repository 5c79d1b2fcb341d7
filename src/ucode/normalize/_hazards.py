"""Hidden effects: what in a definition will break deterministic replay later.

``add`` flags direct calls to clocks, randomness, uuid, entropy, file and network I/O, subprocesses,
environment reads, ``global`` statements and mutation of module-level state. They are warnings (``add
--strict`` refuses them): the fix is to go through an explicit effect, so that a task records it.

Detection is by qualified name, resolved through the module's imports, so ``from time import time as t;
t()`` is found, and a local variable that happens to be called ``time`` is not. It is a linter, not a
proof: a call through a variable (``f = time.time; f()``) is not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import libcst as cst

from ucode.normalize._data import Finding
from ucode.normalize._table import _ModuleTable

__all__ = ["EXACT", "PREFIXES", "HazardScanner"]

# Qualified name -> (code, what it is). Exact names first, then module prefixes.
EXACT: dict[str, tuple[str, str]] = {
    **{f"time.{n}": ("clock", "reads the clock") for n in (
        "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "process_time",
        "process_time_ns", "localtime", "gmtime", "ctime", "asctime", "strftime", "thread_time")},
    "time.sleep": ("clock", "sleeps (wall-clock time)"),
    **{f"datetime.{c}.{n}": ("clock", "reads the clock")
       for c in ("datetime", "date") for n in ("now", "utcnow", "today")},
    "uuid.uuid1": ("uuid", "makes a random/time-based UUID"),
    "uuid.uuid4": ("uuid", "makes a random UUID"),
    "os.urandom": ("entropy", "reads OS entropy"),
    "os.getrandom": ("entropy", "reads OS entropy"),
    "os.environ": ("env", "reads the environment"),
    "os.getenv": ("env", "reads the environment"),
    "os.environb": ("env", "reads the environment"),
    "os.putenv": ("env", "writes the environment"),
    "sys.argv": ("env", "reads the command line"),
    "io.open": ("file-io", "opens a file"),
    "os.system": ("subprocess", "runs a subprocess"),
    "os.popen": ("subprocess", "runs a subprocess"),
    **{f"os.{n}": ("file-io", "touches the file system") for n in (
        "remove", "unlink", "rename", "replace", "mkdir", "makedirs", "rmdir", "removedirs", "listdir",
        "scandir", "walk", "stat", "open", "read", "write", "chdir", "getcwd", "chmod", "chown", "link",
        "symlink", "truncate")},
    "builtins.open": ("file-io", "opens a file"),
    "builtins.input": ("stdin", "reads standard input"),
}
PREFIXES: dict[str, tuple[str, str]] = {
    "random.": ("randomness", "uses the global random generator"),
    "numpy.random.": ("randomness", "uses numpy's random generator"),
    "secrets.": ("randomness", "reads OS entropy"),
    "socket.": ("network-io", "opens a socket"),
    "urllib.request.": ("network-io", "makes a network request"),
    "http.client.": ("network-io", "makes a network request"),
    "requests.": ("network-io", "makes an HTTP request"),
    "httpx.": ("network-io", "makes an HTTP request"),
    "aiohttp.": ("network-io", "makes an HTTP request"),
    "smtplib.": ("network-io", "sends mail"),
    "subprocess.": ("subprocess", "runs a subprocess"),
    "shutil.": ("file-io", "touches the file system"),
    "glob.": ("file-io", "lists the file system"),
    "tempfile.": ("file-io", "creates temporary files"),
    "pathlib.": ("file-io", "touches the file system"),
}
_MUTATORS = frozenset({
    "append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "setdefault", "add",
    "discard", "sort", "reverse", "__setitem__", "__delitem__",
})


def classify(qualname: str) -> tuple[str, str] | None:
    hit = EXACT.get(qualname)
    if hit is not None:
        return hit
    for prefix, what in PREFIXES.items():
        if qualname.startswith(prefix) or qualname == prefix[:-1]:
            return what
    return None


class HazardScanner:
    def __init__(
        self,
        table: _ModuleTable,
        qualnames: dict[int, str],
        free: dict[int, tuple[str, str]],
        line_of: Callable[[cst.CSTNode], int],
        local: Collection[int] = (),
    ) -> None:
        self.table = table
        self.qualnames = qualnames
        self.free = free
        self.line_of = line_of
        # ids of Name nodes that are local variables: a parameter called ``open`` is not the builtin.
        self.local = local

    def _qualified(self, node: cst.BaseExpression) -> str | None:
        attrs: list[str] = []
        while isinstance(node, cst.Attribute):
            attrs.append(node.attr.value)
            node = node.value
        if not isinstance(node, cst.Name):
            return None
        base = self.qualnames.get(id(node))
        if base is None:
            if id(node) in self.free or id(node) in self.local or self.table.lookup(node.value) is not None:
                return None
            if node.value in ("open", "input"):
                base = f"builtins.{node.value}"
            else:
                return None
        return ".".join([base, *reversed(attrs)])

    def _global_root(self, node: cst.BaseExpression) -> str | None:
        """The module-level definition a target expression mutates (``CACHE[k]``, ``CACHE.x``)."""
        while isinstance(node, (cst.Attribute, cst.Subscript)):
            node = node.value
        if isinstance(node, cst.Name):
            what = self.free.get(id(node))
            if what is not None and what[0] == "dep":
                return what[1]
        return None

    def scan(self, nodes: Sequence[cst.CSTNode], kind: str) -> list[Finding]:


        found: list[Finding] = []
        seen: set[tuple[str, str]] = set()

        def report(code: str, message: str, node: cst.CSTNode) -> None:
            if (code, message) in seen:
                return
            seen.add((code, message))
            found.append(Finding(code, message, self.line_of(node)))

        # Imported names used bare (``from os import environ; environ["X"]``) are checked too; the
        # ones at the root of an attribute chain or called are covered by the Attribute / Call checks.
        covered = {id(n.value) for n in nodes if isinstance(n, cst.Attribute)}
        covered |= {id(n.func) for n in nodes if isinstance(n, cst.Call)}
        for n in nodes:
            if isinstance(n, cst.Name) and id(n) in self.qualnames and id(n) not in covered:
                hit = classify(self.qualnames[id(n)])
                if hit is not None:
                    report(hit[0], f"{self.qualnames[id(n)]} {hit[1]}", n)
            elif isinstance(n, cst.Global):
                names = ", ".join(item.name.value for item in n.names)
                report("global", f"`global {names}` rebinds module-level state", n)
            elif isinstance(n, (cst.Call, cst.Attribute)):
                target = n.func if isinstance(n, cst.Call) else n
                qual = self._qualified(target)
                if qual is not None:
                    hit = classify(qual)
                    if hit is not None:
                        report(hit[0], f"{qual} {hit[1]}", n)
                if (
                    isinstance(n, cst.Call)
                    and isinstance(n.func, cst.Attribute)
                    and n.func.attr.value in _MUTATORS
                ):
                    root = self._global_root(n.func.value)
                    if root is not None and kind not in ("value", "block"):
                        report("global-mutation", f"mutates module-level {root} "
                               f"(.{n.func.attr.value}())", n)
            elif isinstance(n, (cst.AssignTarget, cst.AugAssign, cst.Del)) and kind != "block":
                # (module code changing module state is how a module sets itself up: `REG["a"] = f`)
                target = n.target
                if isinstance(target, (cst.Attribute, cst.Subscript)):
                    root = self._global_root(target)
                    if root is not None:
                        report("global-mutation", f"mutates module-level {root}", n)
        return found
