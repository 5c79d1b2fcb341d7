"""Deterministic synthetic modules for the benchmarks: many small, distinct top-level functions.

Every function has a unique name (``<verb>_<noun>_<i>``, ``i`` global across files) and a body that
differs from every other one (constants derived from ``i``), so every definition hashes differently.
Some call a neighbour in the same module (a codebase dependency), some use an import, and about a
third have a docstring, so ``add`` does the same kinds of work it does on real code.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GEN_VERSION", "VERBS", "function_source", "module_source", "write_modules"]

GEN_VERSION = 1  # bump when the generated code changes: cached stores are rebuilt
VERBS = ("compute", "parse", "render", "load", "merge", "check", "build", "scale")
NOUNS = ("total", "header", "record", "config", "span", "token", "weight", "frame", "index", "score")


def name_of(i: int) -> str:
    return f"{VERBS[i % len(VERBS)]}_{NOUNS[(i // len(VERBS)) % len(NOUNS)]}_{i}"


def function_source(i: int, first_in_module: int) -> str:
    """One function (4 to 9 lines) whose hash differs from every other ``function_source``."""
    name = name_of(i)
    variant = i % 4
    verb, noun = VERBS[i % len(VERBS)], NOUNS[i % len(NOUNS)]
    doc = f'    """{verb.capitalize()} the {noun} (case {i})."""\n' if i % 3 == 0 else ""
    if variant == 0:
        body = f"    acc = x * {i % 97 + 2} + y\n    if acc > {i}:\n        acc -= {i % 13 + 1}\n    return acc\n"
    elif variant == 1:
        body = f"    items = [v + {i} for v in range(y)]\n    return sum(items) * x - {i % 11}\n"
    elif variant == 2:
        body = f"    text = f\"{{x}}:{{y}}:{i}\"\n    return math.floor(len(text) * {i % 7 + 1}.5)\n"
    else:
        callee = name_of(i - 1) if i > first_in_module else name_of(i + 1)
        body = f"    base = {callee}(x, y)\n    return base + {i % 89} if base else {i}\n"
    return f"def {name}(x, y):\n{doc}{body}"


def module_source(first: int, count: int) -> str:
    """A module of ``count`` functions numbered from ``first``."""
    parts = [f'"""Synthetic benchmark module: functions {first}..{first + count - 1}."""\n\nimport math\n']
    parts.extend("\n\n" + function_source(i, first) for i in range(first, first + count))
    return "".join(parts)


def write_modules(directory: Path, files: int, per_file: int, *, prefix: str = "m") -> list[Path]:
    """Write ``files`` modules of ``per_file`` functions each; returns their paths in order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for j in range(files):
        path = directory / f"{prefix}{j:03d}.py"
        path.write_text(module_source(j * per_file, per_file), encoding="utf-8")
        paths.append(path)
    return paths


def module_with_lines(target_lines: int, *, first: int = 0) -> str:
    """A module of about ``target_lines`` lines (at least that many)."""
    count = 0
    text = module_source(first, 0)
    while text.count("\n") < target_lines:
        count += max(1, (target_lines - text.count("\n")) // 8)
        text = module_source(first, count)
    return text
