"""The namespace: names bound to hashes and modules bound to programs, per version, as an event log.

Rule: state = fold(events). :mod:`._fold` defines what the namespace is after any prefix of the log;
:mod:`._chain` is the one implementation of a version's chain of parents (copy-on-write, tombstones),
used both by the materialized tables (:class:`StoredNamespace`) and by the fold (:class:`NamespaceState`);
:mod:`._ops` is every change, written to the tables and returned as events for the log, together.
"""

from __future__ import annotations

from ucode.namespace._chain import StoredNamespace, VersionChain
from ucode.namespace._fold import NamespaceState, fold, inverse
from ucode.namespace._ops import (
    clear_move,
    commit,
    create_version,
    drop_version,
    ensure_version,
    remove_binding,
    set_binding,
    set_module,
    set_move,
    set_route,
    undo_last,
    use_version,
    version_children,
)

__all__ = [
    "NamespaceState", "StoredNamespace", "VersionChain", "clear_move", "commit", "create_version", "drop_version",
    "ensure_version", "fold", "inverse", "remove_binding", "set_binding", "set_module", "set_move", "set_route",
    "undo_last", "use_version", "version_children",
]
