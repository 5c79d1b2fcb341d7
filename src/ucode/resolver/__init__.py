"""The resolver: what names stand for. Suffix resolution and re-exports (:mod:`._names`), the dependency
rule, and snapshots of the store (a version as of one log position, plus overrides) for the runtime
(:mod:`._snapshot`), which receives them through the protocols of :mod:`._protocol`, not a ``Codebase``.

Rule: the resolver reads; it never writes names (that is :mod:`ucode.namespace`'s). Routing (shadow and
percentage routes) will hook in here: a snapshot is where a routed name's policy is read.
"""

from __future__ import annotations

from ucode.resolver._names import dependency, follow_import, known_version, resolve, resolve_hash, resolve_name
from ucode.resolver._protocol import SnapshotFactory, SnapshotSource
from ucode.resolver._snapshot import Resolver, StoreSnapshot

__all__ = ["Resolver", "SnapshotFactory", "SnapshotSource", "StoreSnapshot", "dependency", "follow_import",
           "known_version", "resolve", "resolve_hash", "resolve_name"]
