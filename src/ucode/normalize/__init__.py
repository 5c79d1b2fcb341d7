"""Normalization: Python source -> a module's program, each statement with a canonical tree, its imports,
deps and hash.

Rule: this is the only package that imports libcst, and only the write paths (``add``, ``verify``) import
it, so ``run``/``view``/``find`` never pay for it. Its modules, in the order a statement goes through
them: :mod:`._program` (which statements a module has, what each one is, which names they bind),
:mod:`._table` (what each module-level name is bound to), :mod:`._scope` (reads and bindings, by scope),
:mod:`._definition` (one statement normalized, in named phases), :mod:`._hazards` (hidden effects),
:mod:`._encode` (the structural encoding that is hashed); :mod:`._walk` and :mod:`._data` under all of
them, :mod:`._code` (normalized code as text) beside.

What a definition hashes to (see docs/hashing.md for the full rules):

* Its structure, not its text: the encoder walks the libcst tree and drops whitespace, comments,
  parentheses, trailing commas and the docstring; strings and numbers are encoded by value
  (``'a'`` == ``"a"``, ``0x10`` == ``16``).
* Its own name is the placeholder ``_u_self`` in the tree (a recursive call means "this very
  definition"), and the qualified name it defines is a separate part of the hash: in Python a statement
  binds an object under its name in its module, so ``A = []`` and ``B = []`` are two definitions (two
  lists), not one. ``ucode alias``/``move`` bind more names to the same hash without changing it.
* Local variables are renamed ``_u_l0, _u_l1, ...`` in order of first occurrence (alpha-equivalence),
  unless the definition can observe local names (``locals()``, ``vars()``, ``eval``, ``exec``, ``dir()``,
  an f-string ``=`` specifier, frame introspection): then nothing is renamed in it. Parameter names,
  attribute names, keyword arguments, names bound by local imports and the names of nested functions and
  classes (visible as ``__name__``) stay as written.
* Free names are classified: a dependency on another definition of the codebase (``_u_d<i>``, the
  ``i``-th of the sorted fully qualified ``deps``), an import (``_u_i<i>``, the ``i``-th of the sorted
  canonical ``imports``, whatever alias it was imported under), a builtin (kept), or unresolved (kept,
  with a warning).

The normalized *code* (:func:`normalized_code`) is the same renaming applied as a libcst transform; with
:func:`import_prelude` it runs exactly as the original does (a property test checks it).
"""

from __future__ import annotations

from ucode.normalize._code import import_prelude, normalized_code
from ucode.normalize._data import Context, Finding, NormalizedDefinition, ParsedModule, Skipped
from ucode.normalize._definition import SELF
from ucode.normalize._program import import_map, normalize_module, parse_source, remap_imports, top_level_names

__all__ = [
    "SELF",
    "Context",
    "Finding",
    "NormalizedDefinition",
    "ParsedModule",
    "Skipped",
    "import_map",
    "import_prelude",
    "normalize_module",
    "normalized_code",
    "parse_source",
    "remap_imports",
    "top_level_names",
]
