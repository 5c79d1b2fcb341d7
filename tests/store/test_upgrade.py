"""A store written by the previous release (schema 2: definitions, no module programs) opens, upgrades
in place, keeps everything readable, says what to do where its modules cannot run, and runs once the
files are added again. The fixture was made with that release: examples/app.py in v1, app_v2.py in v2,
``lookupUser@v2`` bound to ``lookupUserV2``, one task per version."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from ucode import errors
from ucode.codebase import SCHEMA_VERSION, Codebase

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store-schema2.tar.gz"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path


def test_an_older_store_opens_upgraded_and_stays_readable(old_store: Path) -> None:
    with Codebase(old_store / ".ucode") as cb:
        assert cb.stats()["schema"] == SCHEMA_VERSION
        view = cb.view("lookupUser")
        assert view.hash.startswith("moyffzojt3") and "def lookupUser" in view.source
        assert cb.resolve("lookupUser@v2").startswith("duc3tzzjxp")
        assert [t["name"] for t in cb.task_list()] == ["app.handleRequest", "app.handleRequest"]
        assert len(cb.history()) >= 4 and cb.verify().ok


def test_its_modules_cannot_run_until_added_again_and_its_tasks_say_why(old_store: Path) -> None:
    with Codebase(old_store / ".ucode") as cb:
        with pytest.raises(errors.UcodeError, match="added by an older ucode") as info:
            cb.run("handleRequest", {"user_id": 1})
        assert "ucode add" in (info.value.hint or "")
        task = cb.task_list()[0]["id"]
        with pytest.raises(errors.TaskNotReplayableError, match="recorded by an older ucode"):
            cb.replay(task)


def test_adding_the_files_again_keeps_the_hashes_and_runs(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Codebase(old_store / ".ucode") as cb:
        result = cb.add([old_store / "app.py"])
        # definitions hash as they did (ucode/def/2): the names are unchanged, the module is new
        assert {n.status for n in result.names} == {"unchanged"}
        assert [(m.name, m.status) for m in result.modules] == [("app", "added")]
        assert cb.run("handleRequest", {"user_id": 1})["user"] == "Ada"
        with pytest.raises(errors.RunError, match="app_v2 has no program in this store"):
            cb.run("handleRequest", {"user_id": 1}, version="v2")
        cb.add([old_store / "app_v2.py"], version="v2")
        assert cb.run("handleRequest", {"user_id": 2}, version="v2")["user"] == "Grace"
        assert capsys.readouterr().out.count("lookupUserV2 called with 2") == 1
        assert cb.verify().ok
