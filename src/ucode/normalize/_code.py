"""Normalized code as source text: the canonical renaming applied as a libcst transform (for tests and
``ucode view --normalized``); with ``import_prelude`` it runs as the original does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst

from ucode.normalize._data import NormalizedDefinition
from ucode.normalize._encode import _equal_text

# ------------------------------------------------------------------------------ normalized code


class _Renamer(cst.CSTTransformer):
    def __init__(self, renames: dict[int, str], skip: set[int]) -> None:
        self.renames = renames
        self.skip = skip

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.renames.get(id(original_node))
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        new = self.renames.get(id(original_node))
        return cst.Name(new) if new else updated_node

    def leave_FormattedStringExpression(
        self, original_node: cst.FormattedStringExpression, updated_node: cst.FormattedStringExpression
    ) -> cst.FormattedStringExpression | cst.FlattenSentinel[cst.BaseFormattedStringContent]:
        if original_node.equal is None or updated_node.deep_equals(original_node):
            return updated_node
        # ``f"{np.pi=}"`` prints the expression as written: once ``np`` is renamed ``_u_i0``, spell the
        # ``=`` out (the original text, then the value with the conversion ``=`` implies) so the output
        # is unchanged.
        text = _equal_text(original_node).replace("{", "{{").replace("}", "}}")
        conversion = updated_node.conversion
        if conversion is None and updated_node.format_spec is None:
            conversion = "r"
        return cst.FlattenSentinel(
            [cst.FormattedStringText(text), updated_node.with_changes(equal=None, conversion=conversion)]
        )

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        if id(original_node) in self.skip:
            return cst.RemoveFromParent()
        return super().on_leave(original_node, updated_node)


def normalized_code(defn: NormalizedDefinition) -> str:
    """The definition's normalized form as code (names canonical, docstring dropped)."""
    node = defn.node.visit(_Renamer(defn.renames, defn.skip))
    if isinstance(node, cst.Module):  # a chain
        return node.code
    if isinstance(node, cst.BaseSmallStatement):
        node = cst.SimpleStatementLine(body=[node])
    return cst.Module(body=[node]).code  # type: ignore[list-item]


def import_prelude(imports: Sequence[str]) -> str:
    """Code binding ``_u_i<i>`` to each canonical import, so normalized code can run on its own."""
    lines = []
    for i, stmt in enumerate(imports):
        if stmt.startswith("from "):
            _, mod, _, name = stmt.split(" ")
            lines.append(f"from {mod} import {name} as _u_i{i}")
        else:
            mod = stmt.split(" ")[1]
            lines.append(f"_u_i{i} = __import__({mod!r})")
    return "\n".join(lines) + ("\n" if lines else "")
