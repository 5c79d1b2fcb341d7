"""A project with two versions of ``lookupUser`` for the routing tests: ``v1`` (the default) and ``v2``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import FakeClock, Write
from ucode.codebase import Codebase

V1 = """
from ucode import effects

def lookupUser(user_id: int) -> dict:
    effects.log("lookup", user_id=user_id)
    return {"id": user_id, "name": "user%d" % user_id, "fetched_at": effects.now().isoformat()}

def handleRequest(req: dict) -> dict:
    user = lookupUser(req["user_id"])
    return {"user": user["name"]}
"""


@pytest.fixture
def routed(tmp_path: Path, write: Write) -> Iterator[Callable[[str], Codebase]]:
    """``routed(V2_SOURCE)``: a codebase with V1 as ``app`` in v1 and the given source as ``app`` in v2."""
    opened: list[Codebase] = []

    def make(v2: str, v1: str = V1) -> Codebase:
        cb = Codebase(tmp_path / "store", clock=FakeClock())
        opened.append(cb)
        cb.add([write("v1/app.py", v1)])
        cb.add([write("v2/app.py", v2)], version="v2")
        return cb

    yield make
    for cb in opened:
        cb.close()
