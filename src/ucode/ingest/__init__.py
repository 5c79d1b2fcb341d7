"""Getting code into the store, and checking what is there: which files an ``add`` reads and which
module each one is (:mod:`._sources`), ``add`` itself (:mod:`._add`: normalize, plan, write; the
unchanged fast path), ``verify`` (:mod:`._verify`) and ``status`` (:mod:`._status`: which added files
changed on disk).

Rule: the only package that imports :mod:`ucode.normalize` (and so libcst), and only lazily, when
something must be parsed: an unchanged re-add and everything else never import it.
"""

from __future__ import annotations

from ucode.ingest._add import ProgressFn, add
from ucode.ingest._sources import ModuleFile, collect, read_source
from ucode.ingest._status import status
from ucode.ingest._verify import verify

__all__ = ["ModuleFile", "ProgressFn", "add", "collect", "read_source", "status", "verify"]
