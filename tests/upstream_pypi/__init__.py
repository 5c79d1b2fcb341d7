"""Upstream test suites of PyPI packages, run from their files and from a ucode store (see README.md)."""
