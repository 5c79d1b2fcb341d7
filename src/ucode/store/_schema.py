"""The store's tables, its schema version, and the numbered steps that upgrade an older store.

Rule: a store of an older schema is upgraded when it is opened, by the steps from its version to this
one, in the transaction that opens it; a store of a newer schema is refused and left untouched; a new
store is initialized (version ``v1``, the default) in that same transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from ucode.errors import StoreCorruptError, StoreVersionError
from ucode.store._backend import Txn, pack, unpack

__all__ = ["SCHEMA_VERSION", "TABLES", "UPGRADES", "prepare"]

TABLES = (
    "meta", "defs", "src", "dependents", "bind", "byhash", "leaf", "log", "versions", "modules", "code", "files",
    "tasks", "events", "overrides", "state", "statelog", "programs", "texts", "modbind", "moved", "routes",
    "routestats", "divergences",
)
SCHEMA_VERSION = 6
"""1: the first store. 2: events are rows (lists) and batches of rows instead of maps. 3: modules are
programs (the ``programs``, ``texts`` and ``modbind`` tables). 4: programs are sealed (what their hash is
over is stored as the bytes hashed: loading checks it with one blake3). 5: moves (the ``moved`` table: a
moved name's callers follow it; an older ucode would not). 6: routes (the ``routes``, ``routestats`` and
``divergences`` tables): routes are namespace events; per-task routes move there from ``overrides``."""


def _to_2(txn: Txn) -> None:
    """Events as rows: nothing to rewrite, readers accept both forms (``records.event_row``)."""


def _to_3(txn: Txn) -> None:
    """Modules as programs: the new tables exist once opened, empty. A module added before has no program
    until it is added again (``run`` says so); its definitions keep their hashes."""


def _to_4(txn: Txn) -> None:
    """Programs sealed: each program record that hashes to its key is rewritten with its hashed fields as
    the bytes hashed (same key, same hash); one that does not is left unsealed and refused on load."""
    from ucode.store import modules

    for h in [k for k, _raw in modules.iter_programs(txn)]:
        modules.seal(txn, h)


def _to_5(txn: Txn) -> None:
    """Moves: the ``moved`` table exists once opened, empty (moves made before it carried no callers)."""


def _to_6(txn: Txn) -> None:
    """Routes: the per-task routes of the ``overrides`` table become route events of the namespace log
    (one op) and entries of the ``routes`` table, so ``history`` shows them and ``undo`` covers them."""
    import time

    from ucode.store import names, routes

    events = []
    for k, v in list(txn.items("overrides")):
        task_id, _, name = k.decode().partition("\0")
        scope = routes.task_scope(task_id)
        routes.set_own_route(txn, scope, name, v.decode())
        events.append({"kind": "route", "version": scope, "name": name, "old": None, "new": v.decode()})
        txn.delete("overrides", k)
    if events:
        names.append_events(txn, events, cause="upgrade: per-task routes are namespace events", now=time.time())


UPGRADES: dict[int, Callable[[Txn], None]] = {1: _to_2, 2: _to_3, 3: _to_4, 4: _to_5, 5: _to_6}
"""Schema N -> the step to N + 1."""


def prepare(txn: Txn, path: str, clock: Callable[[], float]) -> None:
    """Check, upgrade or initialize the store in the transaction that opens it."""
    raw = txn.get("meta", b"schema")
    if raw is None and not txn.write:
        from ucode.errors import StoreDamagedError

        raise StoreDamagedError(path, "it has no schema record (it is not a ucode store, or was never finished)")
    if raw is None:
        from ucode.store import names

        txn.put("meta", b"schema", pack(SCHEMA_VERSION))
        names.save_default(txn, "v1")
        names.save_version(txn, "v1", names.VersionRecord(None, clock()))
        names.append_events(txn, [{"kind": "version", "version": "v1", "name": "v1", "old": None, "new": None}],
                            cause="create store", now=clock())
        return
    found = unpack(raw, "meta", "schema")
    if not isinstance(found, int):
        raise StoreCorruptError(f"the store at {path} has an unreadable schema record", hint="restore it from a backup")
    if found > SCHEMA_VERSION:
        raise StoreVersionError(path, found, SCHEMA_VERSION)
    if found < SCHEMA_VERSION and not txn.write:
        from ucode.errors import StoreReadOnlyError

        raise StoreReadOnlyError(path, f"it has schema {found} and needs an upgrade to {SCHEMA_VERSION}, which writes")
    while found < SCHEMA_VERSION:
        UPGRADES[found](txn)
        found += 1
        txn.put("meta", b"schema", pack(found))
