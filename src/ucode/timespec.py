"""Points in time as people type them on a command line: ``2h``, ``30m``, ``7d``, ``2026-11-27``,
``2026-11-27T09:30``, ``today``, ``yesterday``.

Used by ``task list --since`` and ``task prune --older-than``. Pure (``now`` is passed in): the CLI and
the tests give the clock. A duration means "that long before now"; a date or time without a zone is local
time, as ``task list`` prints it; a bare number keeps the unit the option had before units existed
(``--since 6`` is 6 hours, ``--older-than 30`` is 30 days).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ucode.errors import InvalidTimeError

__all__ = ["parse_instant"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


def parse_instant(text: str, *, now: float, bare_unit: str = "h", option: str = "--since") -> float:
    """The timestamp ``text`` denotes, relative to ``now`` (a Unix timestamp).

    ``bare_unit`` is the unit of a number without one (``h`` or ``d``); ``option`` names the option in the
    error message.
    """
    if _NUMBER.match(text):
        return now - float(text) * _UNITS[bare_unit]
    m = _DURATION.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2).lower()]
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - timedelta(days=1 if word == "yesterday" else 0)).timestamp()
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidTimeError(option, text) from None
    return when.timestamp()  # naive: local time
