"""References as people type them: ``app.lookupUser``, ``lookupUser`` (a suffix), ``lookupUser@v2``,
``#abc123``, and a swap ``NAME=VERSION`` / ``NAME=#HASH``.

Rule: pure parsing and matching, written once here; the store supplies the candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ucode.errors import InvalidNameError, InvalidSwapError

__all__ = ["Ref", "is_identifier_path", "parse_ref", "parse_swaps", "suffix_matches", "validate_name",
           "validate_version"]


class Ref(NamedTuple):
    """A parsed reference: either a name (maybe a suffix) or a hash prefix, and maybe a version."""

    text: str
    name: str | None
    hash_prefix: str | None
    version: str | None


def is_identifier_path(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def validate_name(name: str) -> str:
    if not is_identifier_path(name):
        raise InvalidNameError(name, "each dot-separated part must be a Python identifier")
    return name


def validate_version(version: str) -> str:
    ok = bool(version) and all(c.isalnum() or c in "-_." for c in version) and not version.startswith(".")
    if not ok:
        raise InvalidNameError(version, "a version is letters, digits, '-', '_' or '.' (e.g. v2, debug)")
    return version


def parse_ref(text: str) -> Ref:
    """Parse ``NAME``, ``NAME@VERSION``, ``#HASH`` or ``#HASH@VERSION``."""
    body, sep, version = text.partition("@")
    if sep:
        validate_version(version)
    if body.startswith("#"):
        from ucode.hashing import normalize_hash_ref

        prefix = normalize_hash_ref(body)
        if prefix is None:
            raise InvalidNameError(
                text, "a hash reference is '#' and at least 3 base32 characters (a-z, 2-7), e.g. #k3v7q2a"
            )
        return Ref(text, None, prefix, version or None)
    validate_name(body)
    return Ref(text, body, None, version or None)


def suffix_matches(ref: str, candidates: Iterable[str]) -> list[str]:
    """Names among ``candidates`` that ``ref`` names: itself, or any suffix at a dot boundary."""
    tail = "." + ref
    return sorted(c for c in candidates if c == ref or c.endswith(tail))


def parse_swaps(items: Iterable[str]) -> dict[str, str]:
    """``NAME=VERSION`` / ``NAME=#HASH`` items (``--use``) -> {name: version label or #hash}."""
    out = {}
    for item in items:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise InvalidSwapError(item)
        out[name] = target
    return out
