"""``status``: which added files changed on disk since they were added, and which names they touch.

Rule: read-only and cheap. A file is compared with what its last add stored (the ``files`` table: a
digest of its decoded text) by reading and digesting it again; nothing is parsed (no libcst), nothing is
written. The path is the one the module runs as (absolute), so the answer does not depend on the
directory ``status`` runs in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ucode.errors import SourceError
from ucode.ingest._sources import file_digest, read_source
from ucode.store import Store, modules

if TYPE_CHECKING:
    from ucode.model import FileStatus

__all__ = ["status"]


def status(store: Store, *, changed_only: bool = False) -> list[FileStatus]:
    """Every added module's file, by module name, with its state (see :class:`~ucode.model.FileStatus`)."""
    from ucode.model import FileStatus

    with store.read() as txn:
        records = list(modules.iter_files(txn))
        origins = {m: (mrec.path if (mrec := modules.load_module(txn, m)) else "") for m, _f in records}
    out = []
    for module, rec in sorted(records):
        path = origins.get(module) or rec.path
        if not os.path.isabs(path):
            path = os.path.abspath(rec.path)
        try:
            state = "unchanged" if file_digest(read_source(Path(path))) == rec.digest else "modified"
        except SourceError:
            state = "missing" if not os.path.exists(path) else "modified"  # unreadable now: not what was added
        if changed_only and state == "unchanged":
            continue
        out.append(FileStatus(module, path, state, sorted(n[0] for n in rec.names)))
    return out
