"""Damaged and unusual stores: a truncated or emptied data file is refused (never reset, never a SIGBUS), a
read-only store can be read, a full disk is a clean error that loses nothing, new stores are the
owner's only, and a store found in a parent directory that another user owns is not used."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import lmdb
import pytest
from typer.testing import CliRunner

import ucode
from tests.conftest import Write
from ucode import errors
from ucode.cli import app
from ucode.codebase import Codebase, find_store


@pytest.fixture
def made(store: Path, write: Write) -> Path:
    with Codebase(store) as cb:
        cb.add([write("m.py", "def f():\n    return 1\n" + "".join(f"def g{i}():\n    return {i}\n"
                                                                  for i in range(200)))])
        assert cb.run("f") == 1
    return store


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process: a SIGBUS would kill it (exit -7), which CliRunner could not survive."""
    code = "import sys; from ucode.cli import main; sys.argv = ['ucode', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize("size", ["8192", "half", "0", "100"])
def test_a_truncated_data_file_is_refused_with_a_clean_error(made: Path, size: str) -> None:
    data = made / "data.mdb"
    before = data.stat().st_size
    os.truncate(data, before // 2 if size == "half" else int(size))
    after = data.read_bytes()
    for args in (["ls"], ["view", "f"], ["run", "f"], ["verify"], ["add", str(made.parent / "src" / "m.py")]):
        res = _cli("--store", str(made), *args)
        assert res.returncode == 2, (args, res.returncode, res.stderr)
        assert "is damaged" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert data.read_bytes() == after  # refused, not reset: nothing was written


def test_a_data_file_that_is_not_a_file_is_refused(store: Path) -> None:
    (store / "data.mdb").mkdir(parents=True)
    with pytest.raises(errors.StoreDamagedError, match="not a regular file"):
        Codebase(store)


def test_new_stores_are_readable_by_their_owner_only(made: Path) -> None:
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    for f in ("data.mdb", "lock.mdb"):
        assert stat.S_IMODE((made / f).stat().st_mode) == 0o600


def test_a_full_disk_is_a_clean_error_and_loses_nothing(made: Path, write: Write,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with Codebase(made) as cb:
        before = cb.bindings()
    path = write("m.py", "def f():\n    return 2\n")
    monkeypatch.setenv("UCODE_DISK_FULL_AFTER_WRITES", "3")
    res = CliRunner().invoke(app, ["--store", str(made), "add", str(path)])
    assert res.exit_code == 2 and "nothing was written" in res.stderr and "free some disk space" in res.stderr
    monkeypatch.delenv("UCODE_DISK_FULL_AFTER_WRITES")
    with Codebase(made) as cb:
        assert cb.bindings() == before and cb.verify().ok and cb.run("f") == 1


def _refuse_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a read-only directory or file system makes LMDB's open for writing fail (root ignores file
    modes, so the tests running as root get the refusal this way; the real thing is tested below)."""
    real = lmdb.open

    def open_(path: str, **kw: object) -> lmdb.Environment:
        if not kw.get("readonly"):
            raise lmdb.ReadonlyError(path, "Permission denied")
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(lmdb, "open", open_)


def test_a_read_only_store_can_be_read_and_refuses_writes(made: Path, write: Write,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_writes(monkeypatch)
    with Codebase(made) as cb:
        assert cb.store.backend.readonly  # type: ignore[attr-defined]
        assert cb.view("f").name == "m.f" and cb.ls() and cb.verify().ok and cb.history()
        assert cb.function("f")() == 1  # runs from the store (compiled code is not cached: nothing is written)
        with pytest.raises(errors.StoreReadOnlyError, match="read-only"):
            cb.bind("h", "#" + cb.resolve("f"))
        with pytest.raises(errors.StoreReadOnlyError):
            cb.add([write("n.py", "X = 1\n")])
    res = CliRunner().invoke(app, ["--store", str(made), "unbind", "f"])
    assert res.exit_code == 2 and "is read-only" in res.stderr and "reading commands" in res.stderr
    res = CliRunner().invoke(app, ["--store", str(made), "view", "f"])
    assert res.exit_code == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes (the refusal is simulated above)")
def test_a_store_with_read_only_files_as_a_normal_user(made: Path) -> None:  # pragma: no cover - as non-root
    for f in made.iterdir():
        f.chmod(0o444)
    made.chmod(0o555)
    try:
        assert _cli("--store", str(made), "view", "f").returncode == 0
        res = _cli("--store", str(made), "unbind", "f")
        assert res.returncode == 2 and "read-only" in res.stderr
    finally:
        made.chmod(0o700)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_a_store_another_user_owns_in_a_parent_directory_is_not_used(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    planted = shared / ".ucode"
    Codebase(planted).close()
    for p in (planted, *planted.iterdir()):
        os.chown(p, 65534, 65534)
    work = shared / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(errors.UntrustedStoreError, match="belongs to another user"):
        find_store()
    res = CliRunner().invoke(app, ["ls"])
    assert res.exit_code == 2 and "UCODE_SAFE_STORES" in res.stderr
    # named explicitly, or trusted: used
    assert find_store(str(planted)) == (planted, True)
    monkeypatch.setenv("UCODE_SAFE_STORES", str(planted))
    assert find_store() == (planted, True)
    monkeypatch.setenv("UCODE_SAFE_STORES", "")
    config = tmp_path / "config"
    (config / "ucode").mkdir(parents=True)
    (config / "ucode" / "safe-stores").write_text(f"# trusted\n{planted}\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    assert find_store() == (planted, True)
    with ucode.open() as cb:
        assert cb.path == planted
