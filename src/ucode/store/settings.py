"""Store-wide settings (``ucode config``): only what differs from the defaults, in ``meta`` under
``config``. (Settings are not code: they are not in the namespace log.)"""

from __future__ import annotations

from typing import Any

from ucode.store._backend import Txn, pack, unpack

__all__ = ["load_config", "save_config"]


def load_config(txn: Txn) -> dict[str, Any]:
    raw = txn.get("meta", b"config")
    found = unpack(raw, "meta", "config") if raw is not None else {}
    return dict(found) if isinstance(found, dict) else {}


def save_config(txn: Txn, config: dict[str, Any]) -> None:
    txn.put("meta", b"config", pack(config))
