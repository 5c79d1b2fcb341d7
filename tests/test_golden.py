"""Golden hash vectors: fixed sources must hash exactly as recorded in ``golden/hash_vectors.json``.

Every stored definition is addressed by its hash, so an accidental change to normalization or encoding
(or a difference between Python versions or platforms) silently orphans existing stores. When this test
fails, find what changed; regenerate the file (``tests/golden/make_vectors.py``) only for a deliberate
change of the hash scheme, together with a new ``hashing.DEF_SCHEME``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ucode import hashing, normalize

VECTORS_FILE = Path(__file__).parent / "golden" / "hash_vectors.json"
GOLDEN = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
VECTORS: list[dict[str, Any]] = GOLDEN["vectors"]


def hashes_of(vector: dict[str, Any]) -> dict[str, str]:
    ctx = normalize.Context(modules=frozenset(vector["modules"]))
    pm = normalize.normalize_module(vector["source"], path=f"{vector['module']}.py", module=vector["module"],
                                    is_package=vector["is_package"], ctx=ctx)
    return {name: d.hash for d in pm.definitions for name in d.names}


def test_golden_file_matches_the_current_scheme() -> None:
    assert GOLDEN["def_scheme"] == hashing.DEF_SCHEME
    assert len(VECTORS) >= 25
    names = [v["name"] for v in VECTORS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_hashes(vector: dict[str, Any]) -> None:
    got = hashes_of(vector)
    if got != vector["hashes"]:
        # Show the normalized code of what changed, to find the cause.
        ctx = normalize.Context(modules=frozenset(vector["modules"]))
        pm = normalize.normalize_module(vector["source"], path="golden.py", module=vector["module"],
                                        is_package=vector["is_package"], ctx=ctx)
        shown = "\n".join(normalize.normalized_code(d) for d in pm.definitions)
        pytest.fail(f"hashes changed for {vector['name']!r}:\nexpected {vector['hashes']}\ngot      {got}\n{shown}")


_CHILD = """
import json, sys
from ucode import normalize
vectors = json.loads(open(sys.argv[1], encoding="utf-8").read())["vectors"]
out = {}
for v in vectors:
    ctx = normalize.Context(modules=frozenset(v["modules"]))
    pm = normalize.normalize_module(v["source"], path="g.py", module=v["module"], is_package=v["is_package"], ctx=ctx)
    out[v["name"]] = {n: d.hash for d in pm.definitions for n in d.names}
print(json.dumps(out))
"""


@pytest.mark.parametrize("seed", ["0", "12345"])
def test_golden_hashes_do_not_depend_on_hash_randomization(seed: str) -> None:
    """Set and dict order differ between processes with different PYTHONHASHSEED; hashes must not."""
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run([sys.executable, "-c", _CHILD, str(VECTORS_FILE)], capture_output=True, text=True,
                            env=env, check=True, timeout=120)
    got = json.loads(result.stdout)
    assert got == {v["name"]: v["hashes"] for v in VECTORS}


# ------------------------------------------------------------------ module code and programs

MODULES_FILE = Path(__file__).parent / "golden" / "module_vectors.json"
MODULES = json.loads(MODULES_FILE.read_text(encoding="utf-8"))


def test_module_vectors_match_the_current_schemes() -> None:
    assert (MODULES["stmt_scheme"], MODULES["module_scheme"]) == (hashing.STMT_SCHEME, hashing.MODULE_SCHEME)
    assert len(MODULES["vectors"]) >= 3


@pytest.mark.parametrize("vector", MODULES["vectors"], ids=[v["name"] for v in MODULES["vectors"]])
def test_golden_program_and_statement_hashes(vector: dict[str, Any]) -> None:
    from tests.golden.make_module_vectors import hashes_of

    got = hashes_of(vector)
    assert got == {"program": vector["program"], "statements": vector["statements"]}, (
        "module or statement hashes changed: find what changed; regenerate only with a new scheme")


def test_golden_module_hashes_do_not_depend_on_hash_randomization() -> None:
    code = ("import json, sys\nsys.path.insert(0, sys.argv[2])\n"
            "from tests.golden.make_module_vectors import hashes_of\n"
            "print(json.dumps([hashes_of(v) for v in json.load(open(sys.argv[1]))['vectors']]))")
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code, str(MODULES_FILE), str(Path(__file__).parent.parent)],
                             capture_output=True, text=True, env=env, check=True, timeout=120)
        assert json.loads(out.stdout) == [{"program": v["program"], "statements": v["statements"]}
                                          for v in MODULES["vectors"]]
