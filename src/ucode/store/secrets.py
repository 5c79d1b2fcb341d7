"""The key of secret effects' digests: where it lives, how it is made, and who may read it.

A secret effect (``@ucode.effect(secret=True)``, ``effects.secret``) is recorded as a keyed blake3 digest of
its result (``ucode.codec.seal``). The key is derived (blake3 ``derive_key``) from a text:

1. ``UCODE_SECRET_KEY``, when it is set (at least :data:`MIN_LENGTH` characters): the user keeps the key,
   nothing is written;
2. else the store's key file, ``secret.key`` in the store directory: 64 random hex characters, created on
   first use (when the first secret effect is recorded or replayed), readable and writable by its owner
   only (0600). A key file that others may read is refused, as ssh refuses such a private key. The same
   text in ``UCODE_SECRET_KEY`` (``UCODE_SECRET_KEY=$(cat .ucode/secret.key)``) is the same key;
3. a store in memory keeps a random key in memory (its tasks replay while it is open).

The engine's token (``ucode serve``: what a client sends as ``Authorization: Bearer TOKEN``) is kept the
same way: ``engine.token`` in the store directory, 64 random hex characters, 0600, created on first use
(:func:`load_token`), refused when others may read it; ``UCODE_ENGINE_TOKEN`` overrides it.

Rule: the only place a key or token file is read or written; nothing else of the store directory is
touched.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from ucode.errors import EngineTokenError, SecretKeyError

__all__ = ["ENV", "KEY_FILE", "MIN_LENGTH", "TOKEN_ENV", "TOKEN_FILE", "derive", "load_key", "load_token"]

ENV = "UCODE_SECRET_KEY"
KEY_FILE = "secret.key"
TOKEN_ENV = "UCODE_ENGINE_TOKEN"
TOKEN_FILE = "engine.token"
MIN_LENGTH = 32
"""Characters a key text must have at least (the key file's has 64 hex characters: 256 bits)."""
_CONTEXT = "ucode 2026-01 secret effects: keyed digests of secret results"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_ENV_HINT = f"set {ENV} to a key text of at least {MIN_LENGTH} characters (e.g. `openssl rand -hex 32`)"


def derive(text: str) -> bytes:
    """The 32-byte key of a key text."""
    import blake3

    return blake3.blake3(text.encode("utf-8"), derive_key_context=_CONTEXT).digest()


def load_key(directory: Path | None) -> bytes:
    """The secret key of the store in ``directory`` (None: a store in memory): see the module doc."""
    given = os.environ.get(ENV)
    if given:
        if len(given.strip()) < MIN_LENGTH:
            raise SecretKeyError(ENV, f"it has {len(given.strip())} characters, fewer than {MIN_LENGTH}",
                                 hint=_ENV_HINT)
        return derive(given.strip())
    if directory is None:
        return derive(secrets.token_hex(32))
    path = directory / KEY_FILE
    if not os.path.lexists(path):
        _create(path, _key_error)
    return derive(_read(path, _key_error))


def load_token(directory: Path | None, *, create: bool = True) -> str | None:
    """The engine's token for the store in ``directory``: ``UCODE_ENGINE_TOKEN``, else its token file
    (created when ``create``; None when there is none and it is not created; a store in memory has none)."""
    given = os.environ.get(TOKEN_ENV)
    if given:
        if len(given.strip()) < MIN_LENGTH:
            raise EngineTokenError(TOKEN_ENV, f"it has {len(given.strip())} characters, fewer than {MIN_LENGTH}",
                                   hint=f"set {TOKEN_ENV} to at least {MIN_LENGTH} characters, or unset it")
        return given.strip()
    if directory is None:
        return None
    path = directory / TOKEN_FILE
    if not os.path.lexists(path):
        if not create:
            return None
        _create(path, _token_error)
    return _read(path, _token_error)


def _key_error(path: str, reason: str, hint: str) -> SecretKeyError:
    return SecretKeyError(path, reason, hint=f"{hint}, or {_ENV_HINT}" if hint else _ENV_HINT)


def _token_error(path: str, reason: str, hint: str) -> SecretKeyError:
    return EngineTokenError(path, reason, hint=f"{hint}, or set {TOKEN_ENV}" if hint else f"set {TOKEN_ENV}")


def _create(path: Path, fail: Callable[[str, str, str], SecretKeyError]) -> None:
    """A new key file, atomically: written whole to a temporary file (0600), then linked to its name; when
    another process linked one first, that one is kept."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        try:
            os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # made by another process meanwhile: use that one
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise fail(str(path), f"it does not exist and cannot be created ({exc.strerror})",
                   "give write access to the store directory") from None
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read(path: Path, fail: Callable[[str, str, str], SecretKeyError]) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError as exc:
        reason = "it is a symbolic link" if os.path.islink(path) else f"it cannot be read ({exc.strerror})"
        raise fail(str(path), reason, "make it a file of yours, readable by you only") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise fail(str(path), "it is not a regular file", "move it away (a new one is made)")
        if os.name == "posix" and st.st_mode & 0o077:
            error = EngineTokenError if path.name == TOKEN_FILE else SecretKeyError
            raise error(str(path), f"others may read it (mode {stat.S_IMODE(st.st_mode):04o})",
                        hint=f"chmod 600 {path}")  # the one fix: no alternative offered
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    text = data.decode("utf-8", "replace").strip()
    if len(text) < MIN_LENGTH:
        raise fail(str(path), f"it holds {len(text)} characters, fewer than {MIN_LENGTH} (damaged?)",
                   "restore it from a backup (tasks with secrets replay only with their key)"
                   if path.name == KEY_FILE else "delete it (a new one is made on the next start)")
    return text
