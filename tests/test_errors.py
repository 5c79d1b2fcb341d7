"""The one error tree: every error ucode reports is a class of ``ucode.errors`` with an exit code for the
CLI and an HTTP status for the coming API; nothing raises a bare ``UcodeError``, and no error class lives
elsewhere."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import ucode
from ucode import errors

SRC = Path(ucode.__file__).parent
CLASSES = [getattr(errors, n) for n in errors.__all__]


def test_every_class_in_the_tree_is_exported_and_a_ucode_error() -> None:
    defined = {n for n, obj in vars(errors).items() if inspect.isclass(obj) and obj.__module__ == "ucode.errors"}
    assert defined == set(errors.__all__)
    assert all(issubclass(c, errors.UcodeError) for c in CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_has_an_exit_code_and_an_http_status(cls: type[errors.UcodeError]) -> None:
    assert cls.exit_code in (1, 2, 3)
    assert (cls.exit_code == 3) == issubclass(cls, errors.ReplayDivergedError)  # a replay diverged: CI gates on it
    assert cls.http_status in (400, 401, 403, 404, 409, 413, 422, 500, 503, 507)
    assert (cls.exit_code == 2) == issubclass(cls, errors.StoreError)  # a store problem, not bad input


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(SRC.rglob("*.py"))]


def test_nothing_raises_a_bare_ucode_error() -> None:
    bare = [f"{p.relative_to(SRC)}:{node.lineno}" for p, tree in _sources() for node in ast.walk(tree)
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
            and getattr(node.exc.func, "id", getattr(node.exc.func, "attr", None)) == "UcodeError"]
    assert bare == []


def test_no_error_class_is_defined_outside_errors_py() -> None:
    outside = [f"{p.relative_to(SRC)}:{node.lineno} {node.name}" for p, tree in _sources() if p.name != "errors.py"
               for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
               and any(getattr(b, "id", getattr(b, "attr", None)) in errors.__all__ for b in node.bases)]
    assert outside == []


def test_errors_name_what_was_wrong() -> None:
    err = errors.NameNotFoundError("lookupUsr", "v2", suggestions=["app.lookupUser"])
    assert (err.name, err.version, err.http_status) == ("lookupUsr", "v2", 404)
    assert "did you mean app.lookupUser?" in str(err)
    bad = errors.InvalidSettingError("durability", "fast", ("durable", "batched", "off"), "batched")
    assert (bad.key, bad.value, bad.allowed) == ("durability", "fast", ("durable", "batched", "off"))
    assert "choose one of durable, batched, off (the default is batched)" in str(bad)
