from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ucode
from ucode.codebase import Codebase

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
Write = Callable[[str, str], Path]
"""The ``write`` fixture: ``write("pkg/mod.py", source)`` -> the path of the (dedented) file."""

# Third-party code and its own test suites, run only against the store by tests/test_upstream.py.
collect_ignore = ["vendored"]


class FakeClock:
    """Deterministic time for the namespace log: starts at a fixed instant, ticks 1 s per reading."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def cb(store: Path) -> Iterator[Codebase]:
    codebase = Codebase(store, clock=FakeClock())
    yield codebase
    codebase.close()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write("pkg/mod.py", source) -> path, with the source dedented."""

    def _write(rel: str, source: str) -> Path:
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
        return path

    return _write


@pytest.fixture(autouse=True)
def _no_ambient_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never pick up a store from the environment or from a parent directory."""
    monkeypatch.delenv("UCODE_STORE", raising=False)
    monkeypatch.delenv("UCODE_CRASH_AFTER_WRITES", raising=False)
    monkeypatch.chdir(tmp_path)


__all__ = ["EXAMPLES", "ROOT", "FakeClock", "Write", "ucode"]
