"""Store-wide settings (``ucode config``): only what differs from the defaults, in ``meta`` under
``config``. (Settings are not code: they are not in the namespace log.)"""

from __future__ import annotations

from typing import Any

from ucode.store._backend import Txn, pack, unpack

__all__ = ["load_config", "load_engine", "save_config", "save_engine"]


def load_config(txn: Txn) -> dict[str, Any]:
    raw = txn.get("meta", b"config")
    found = unpack(raw, "meta", "config") if raw is not None else {}
    return dict(found) if isinstance(found, dict) else {}


def save_config(txn: Txn, config: dict[str, Any]) -> None:
    txn.put("meta", b"config", pack(config))


def load_engine(txn: Txn) -> dict[str, Any] | None:
    """The record of the engine that serves (or last served) this store: pid, address, start time
    (``ucode serve`` writes it when it starts; ``ucode engine status`` reads it to find the engine)."""
    raw = txn.get("meta", b"engine")
    found = unpack(raw, "meta", "engine") if raw is not None else None
    return dict(found) if isinstance(found, dict) else None


def save_engine(txn: Txn, record: dict[str, Any]) -> None:
    txn.put("meta", b"engine", pack(record))
