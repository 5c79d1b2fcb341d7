"""Differential runs of whole modules: CPython importing the files is the oracle (see harness.py)."""
