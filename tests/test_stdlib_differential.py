"""Every pure-Python module of the standard library that imports cleanly, and the installed packages the
other tests use, imported from a store give exactly what importing their files gives, through
``ucode.mount`` and through the path ``ucode run`` takes (``tests/differential/harness.py``: the probe,
what it observes, what is left out and why). The figure is in docs/upstream-suites.md."""

from __future__ import annotations

import pytest

from tests.differential import harness

# Candidates known to differ, with the reason (strict: one that becomes identical must be removed). None.
KNOWN: dict[str, str] = {}


@pytest.fixture(scope="module")
def results() -> list[harness.Result]:
    candidates = harness.stdlib_candidates() + harness.installed_candidates()
    return harness.run(candidates, jobs=2)


def test_there_are_hundreds_of_modules_to_compare(results: list[harness.Result]) -> None:
    info = harness.summary(results)
    print(f"\n{info['identical']}/{info['candidates']} identical, {info['modules_identical']}/{info['modules']} "
          "module observations (mounted and run)")
    assert info["candidates"] >= 150 and info["modules"] >= 1000


def test_every_module_imports_from_the_store_as_from_its_files(results: list[harness.Result]) -> None:
    unexpected = {r.name: r.detail for r in results
                  if r.status in ("different", "failed") and r.name not in KNOWN}
    assert not unexpected, "\n".join(f"{n}:\n  " + "\n  ".join(d) for n, d in unexpected.items())
    fixed = [r.name for r in results if r.name in KNOWN and r.status == "identical"]
    assert not fixed, f"identical now: remove from KNOWN: {fixed}"
