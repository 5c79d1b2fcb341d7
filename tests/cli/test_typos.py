"""Typos create nothing: ``bind`` of a name that is not bound, or in a version that does not exist, is an
error with "did you mean" unless asked for (``--new``, ``--create``); versions can be deleted and renamed,
and ``undo`` reverses both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLES
from ucode import errors
from ucode.cli import app
from ucode.codebase import Codebase


@pytest.fixture
def memo(store: Path) -> Path:
    with Codebase(store) as cb:
        cb.add([EXAMPLES / "app.py"])
        cb.add([EXAMPLES / "app_v2.py"], version="v2")
    return store


def ucode(store: Path, *args: str, code: int = 0) -> tuple[str, str]:
    res = CliRunner().invoke(app, ["--store", str(store), *args])
    assert res.exit_code == code, f"exit {res.exit_code}\n{res.stdout}\n{res.stderr}"
    assert "Traceback" not in res.output
    return res.stdout, res.stderr


def _log_length(store: Path) -> int:
    with Codebase(store) as cb:
        return cb.log_position()


def test_binding_a_misspelled_name_is_an_error_that_suggests_the_name(memo: Path) -> None:
    before = _log_length(memo)
    _out, err = ucode(memo, "bind", "lookupUsr", "listItems", code=1)
    assert "no name 'lookupUsr' in version 'v1' to rebind" in err
    assert "did you mean" in err and "lookupUser" in err and "--new" in err
    assert _log_length(memo) == before, "nothing was written"
    out, _err = ucode(memo, "bind", "lookupUsr", "listItems", "--json", code=1)
    assert json.loads(out)["error"].startswith("no name 'lookupUsr'")


def test_bind_new_creates_the_name(memo: Path) -> None:
    ucode(memo, "bind", "--new", "app.findUser", "lookupUser")
    with Codebase(memo) as cb:
        assert cb.resolve("app.findUser") == cb.resolve("app.lookupUser")


def test_binding_in_a_version_that_does_not_exist_needs_create(memo: Path) -> None:
    before = _log_length(memo)
    _out, err = ucode(memo, "bind", "lookupUser@v9", "listItems", code=1)
    assert "no version 'v9'" in err and "known versions: v1, v2" in err and "--create" in err
    _out, err = ucode(memo, "bind", "lookupUser@v3", "listItems", code=1)
    assert "did you mean" in err
    assert _log_length(memo) == before
    ucode(memo, "bind", "--create", "lookupUser@v9", "listItems")
    with Codebase(memo) as cb:
        assert cb.resolve("lookupUser@v9") == cb.resolve("listItems")
        assert cb.resolve("lookupUser@v1") != cb.resolve("listItems"), "only v9 changed"


def test_the_api_refuses_the_same_typos(store: Path) -> None:
    with Codebase(store) as cb:
        cb.add([EXAMPLES / "app.py"])
        with pytest.raises(errors.NewNameError) as info:
            cb.bind("lookupUsr", "listItems")
        assert "lookupUser" in " ".join(info.value.suggestions)
        with pytest.raises(errors.UnknownVersionError):
            cb.bind("lookupUser", "listItems", version="v2")
        assert cb.bind("lookupUser", "listItems", version="v2", create=True)
        assert cb.bind("app.other", "listItems", new=True)


def test_version_delete_removes_it_and_undo_brings_it_back(memo: Path) -> None:
    with Codebase(memo) as cb:
        v2 = cb.bindings("v2")
        assert v2 != cb.bindings("v1")
    ucode(memo, "version", "delete", "v2")
    out, _err = ucode(memo, "versions", "--json")
    assert [v["name"] for v in json.loads(out)] == ["v1"]
    ucode(memo, "view", "lookupUser@v2", code=1)
    ucode(memo, "undo")
    with Codebase(memo) as cb:
        assert cb.bindings("v2") == v2
        assert cb.verify().ok


def test_the_default_version_and_a_parent_cannot_be_deleted(memo: Path) -> None:
    _out, err = ucode(memo, "version", "delete", "v1", code=1)
    assert "v2 is made from it" in err and "delete v2 first" in err
    ucode(memo, "version", "use", "v2")
    _out, err = ucode(memo, "version", "delete", "v2", code=1)
    assert "it is the default version" in err and "ucode version use v1" in err
    _out, err = ucode(memo, "version", "delete", "v7", code=1)
    assert "no version 'v7'" in err


def test_version_rename_moves_bindings_and_default_and_undo_reverses_it(memo: Path) -> None:
    with Codebase(memo) as cb:
        v2 = cb.bindings("v2")
    ucode(memo, "version", "use", "v2")
    ucode(memo, "version", "rename", "v2", "candidate")
    with Codebase(memo) as cb:
        assert cb.bindings("candidate") == v2
        assert cb.default_version() == "candidate"
        assert [v.name for v in cb.versions()] == ["candidate", "v1"]
        assert cb.verify().ok
    ucode(memo, "undo")
    with Codebase(memo) as cb:
        assert [v.name for v in cb.versions()] == ["v1", "v2"]
        assert cb.bindings("v2") == v2 and cb.default_version() == "v2"


def test_renaming_the_first_version_and_refusals(memo: Path) -> None:
    _out, err = ucode(memo, "version", "rename", "v1", "main", code=1)
    assert "v2 is made from it" in err
    _out, err = ucode(memo, "version", "rename", "v2", "v1", code=1)
    assert "already exists" in err
    ucode(memo, "version", "delete", "v2")
    ucode(memo, "version", "rename", "v1", "main")
    with Codebase(memo) as cb:
        assert [v.name for v in cb.versions()] == ["main"] and cb.default_version() == "main"
        assert cb.run("handleRequest", {"user_id": 1})["user"] == "Ada"
    ucode(memo, "undo")
    with Codebase(memo) as cb:
        assert [v.name for v in cb.versions()] == ["v1"], "undo of a rename leaves no new version behind"
