"""Shim: the one helper of CPython's ``test.support`` that ``test_fractions.py`` imports.

Copied from CPython 3.11.7 ``Lib/test/support/__init__.py`` (PSF License, see ../../../LICENSE), so the
upstream test runs on a Python without the ``test`` package (Debian's python3 omits it).
"""

import unittest

# decorator for skipping tests on non-IEEE 754 platforms
requires_IEEE_754 = unittest.skipUnless(
    float.__getformat__("double").startswith("IEEE"),
    "test requires IEEE 754 doubles")
