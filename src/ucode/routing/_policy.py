"""What a route is: one policy per function name, as data (the text the namespace log records).

Rule: a policy is checked here for what it says on its own (a mode, a percent in 0-100, a key path, the
settings its mode needs); whether its names and versions exist is the store's question (:mod:`._ops`).

==========  ==================================================================================
``primary`` every call of the name runs ``primary`` (a version label, or ``#hash``), whatever version
            the caller runs in
``shadow``  the primary answers (``primary``, or the caller's own binding when not given); the
            ``candidate`` runs on the same arguments off the caller's path, in a sandbox, and is compared
``percent`` a sticky share (``percent``, 0-100) of calls runs the ``candidate``, by the bucket of a routing
            ``key`` (an argument, or a path into one: ``user_id``, ``req.user_id``; default: the task id)
            hashed with the route's ``salt``; the others run the primary
==========  ==================================================================================

A policy's ``revision`` changes with every change of it (its counters are per revision); its ``salt``
stays for as long as the name has a route, so that raising a percent only adds keys.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ucode.errors import RouteError

__all__ = ["MODES", "READS", "Policy", "new_revision", "parse_key"]

MODES = ("primary", "shadow", "percent")
READS = ("perform", "refuse")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_0-9][A-Za-z0-9_]*)*")


def new_revision() -> str:
    return os.urandom(4).hex()


def parse_key(name: str, key: str | None) -> list[str] | None:
    """A routing key as its path (``req.user_id`` -> ``["req", "user_id"]``); None: the task id."""
    if key is None or key == "task":
        return None
    if not _KEY.fullmatch(key):
        raise RouteError(name, f"the routing key {key!r} is not an argument name or a dotted path into one",
                         field="key", hint="e.g. key: user_id, or key: req.user_id (omit it to use the task id)")
    return key.split(".")


@dataclass(frozen=True)
class Policy:
    """One route. ``primary``/``candidate`` are version labels or ``#hash`` es, as the user gave them."""

    mode: str
    primary: str | None = None
    candidate: str | None = None
    percent: float = 0.0
    key: str | None = None
    reads: str = "perform"
    ignore: tuple[str, ...] = ()
    salt: str = ""
    revision: str = ""
    hashes: dict[str, str] = field(default_factory=dict)  # primary/candidate -> hash when the route was set

    def check(self, name: str) -> None:
        """Refuse a policy that says something impossible on its own (names and versions aside)."""
        if self.mode not in MODES:
            raise RouteError(name, f"unknown routing mode {self.mode!r}", field="mode",
                             hint="mode is one of: " + ", ".join(MODES))
        if self.mode == "primary" and not self.primary:
            raise RouteError(name, "a primary route needs the version that answers", field="primary",
                             hint="e.g. primary: v2 (or route set NAME --version v2)")
        if self.mode in ("shadow", "percent") and not self.candidate:
            what = "shadow" if self.mode == "shadow" else "candidate"
            raise RouteError(name, f"a {self.mode} route needs a candidate version", field=what,
                             hint=f"e.g. {what}: v2")
        if self.mode == "percent":
            if isinstance(self.percent, bool) or not isinstance(self.percent, int | float) \
                    or not 0 <= self.percent <= 100:
                raise RouteError(name, f"percent must be a number from 0 to 100, not {self.percent!r}",
                                 field="percent", hint="e.g. percent: 10")
            parse_key(name, self.key)
        if self.reads not in READS:
            raise RouteError(name, f"reads must be one of {', '.join(READS)}, not {self.reads!r}", field="reads",
                             hint="perform: a shadow run makes reads the primary did not; refuse: it may not")

    # ------------------------------------------------------------------------------ text

    def to_text(self) -> str:
        """The policy as the namespace log records it (canonical JSON)."""
        d = asdict(self)
        d["ignore"] = list(self.ignore)
        return json.dumps({k: v for k, v in d.items() if v not in (None, "", (), [], {})}, sort_keys=True,
                          separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> Policy:
        d: dict[str, Any] = json.loads(text)
        d["ignore"] = tuple(d.get("ignore", ()))
        return cls(**d)

    def changed(self, **changes: Any) -> Policy:
        return replace(self, **changes)

    # ------------------------------------------------------------------------------ reading

    def describe(self) -> str:
        """One line for a person: ``shadow v2 (primary v1)``, ``10% to v2 by user_id``, ``-> v2``."""
        prim = self.primary or "the caller's own"
        if self.mode == "primary":
            return f"primary {self.primary}"
        extra = f", ignoring {', '.join(self.ignore)}" if self.ignore else ""
        extra += ", reads refused" if self.reads == "refuse" else ""
        if self.mode == "shadow":
            return f"shadow {self.candidate} (primary: {prim}{extra})"
        return f"{self.percent:g}% to {self.candidate} by {self.key or 'task id'} (others: {prim})"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ignore"] = list(self.ignore)
        return d
