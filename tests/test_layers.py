"""The architecture, enforced: every import of every module of ``ucode`` (at the top, inside functions, under
``TYPE_CHECKING``) goes to its own layer or below, third-party packages with one owner are imported only
by it, and the modules imported at run time form no cycle. See docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

import ucode

SRC = Path(ucode.__file__).parent

LAYERS: list[tuple[str, ...]] = [
    # 0. leaves: pure data and rules, no storage
    ("ucode.errors", "ucode.hashing", "ucode.refs", "ucode.codec", "ucode.timespec", "ucode.records", "ucode.model"),
    # 1. storage, and the normalizer (pure, parses source: used only by ingest)
    ("ucode.store", "ucode.normalize"),
    # 2. the namespace: versions and bindings as a fold of the log
    ("ucode.namespace",),
    # 3. the resolver: what names stand for, snapshots, read queries
    ("ucode.resolver",),
    # 4. running code: the runtime, effects and their replay, test handlers
    ("ucode.runtime", "ucode.effects", "ucode.replay", "ucode.testing"),
    # 5. services: add and verify, tasks, edits of the names
    ("ucode.ingest", "ucode.routing", "ucode.tasks", "ucode.edits"),
    # 6. the facade users know
    ("ucode.codebase", "ucode._mount", "ucode", "ucode.present"),
    # 7. the engine: a long-running adapter over the facade (HTTP), which the CLI starts
    ("ucode.engine",),
    # 8. the command line
    ("ucode.cli",),
]

OWNERS = {"lmdb": "ucode.store", "libcst": "ucode.normalize", "typer": "ucode.cli", "rich": "ucode.cli",
          "starlette": "ucode.engine", "uvicorn": "ucode.engine"}
"""A third-party package -> the one package of ucode that may import it."""


class Import(NamedTuple):
    importer: str
    target: str
    line: int
    top_level: bool  # executed when the importer is imported (not inside a function, not TYPE_CHECKING)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, found = -1, -1
    for i, members in enumerate(LAYERS):
        for m in members:
            if (module == m or module.startswith(m + ".")) and len(m) > best:
                best, found = len(m), i
    if found < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, top: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, top
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), False)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), top)
        else:
            yield from _walk(child, top)


def imports() -> list[Import]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        importer = module_name(path)
        package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, top in _walk(tree, True):
            if isinstance(node, ast.Import):
                out.extend(Import(importer, a.name, node.lineno, top) for a in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                # `from ucode import hashing` imports the module ucode.hashing; `from ucode.x import f`, ucode.x
                sub = f"{base}.{a.name}"
                is_module = (SRC.parent / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    SRC.parent / sub.replace(".", "/") / "__init__.py").exists()
                out.append(Import(importer, sub if is_module else base, node.lineno, top))
    return out


ALL = imports()


def test_every_module_is_in_a_layer() -> None:
    for path in SRC.rglob("*.py"):
        layer_of(module_name(path))


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [f"{i.importer} (layer {layer_of(i.importer)}) imports {i.target} (layer {layer_of(i.target)}) "
              f"at line {i.line}"
              for i in ALL if i.target.split(".")[0] == "ucode" and layer_of(i.target) > layer_of(i.importer)]
    assert upward == []


@pytest.mark.parametrize("package", sorted(OWNERS))
def test_a_third_party_package_with_an_owner_is_imported_only_by_it(package: str) -> None:
    owner = OWNERS[package]
    outside = [f"{i.importer} line {i.line}" for i in ALL if i.target.split(".")[0] == package
               and not (i.importer == owner or i.importer.startswith(owner + "."))]
    assert outside == []


def test_normalize_is_imported_only_by_ingest_and_only_lazily() -> None:
    users = [i for i in ALL if i.target.startswith("ucode.normalize") and not i.importer.startswith("ucode.normalize")]
    assert users, "ingest imports the normalizer somewhere"
    assert [i for i in users if not i.importer.startswith("ucode.ingest")] == []
    assert [f"{i.importer} line {i.line}" for i in users if i.top_level] == []


def test_no_import_cycle_among_the_modules_imported_at_run_time() -> None:
    graph: dict[str, set[str]] = {}
    for i in ALL:
        if i.top_level and i.target.startswith("ucode.") and i.target != i.importer:
            graph.setdefault(i.importer, set()).add(i.target)
    assert len(graph) > 40, "the graph holds the run-time imports of every module"
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ importing its own submodules (which import their siblings) is not a cycle
            if state.get(nxt) == 1 and not (node.startswith(nxt + ".")):
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


def test_the_layer_test_sees_imports_inside_functions_and_under_type_checking() -> None:
    """The walk is what the rules stand on: a lazy import and a TYPE_CHECKING import are both seen."""
    lazy = [i for i in ALL if i.importer == "ucode.ingest._add" and i.target == "ucode.normalize"]
    assert lazy and not any(i.top_level for i in lazy)
    typed = [i for i in ALL if i.importer == "ucode._mount" and i.target == "ucode.codebase"]
    assert typed and not any(i.top_level for i in typed)
