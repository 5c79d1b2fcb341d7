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

Rule: the only place a key file is read or written; nothing else of the store directory is touched.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ucode.errors import SecretKeyError

__all__ = ["ENV", "KEY_FILE", "MIN_LENGTH", "derive", "load_key"]

ENV = "UCODE_SECRET_KEY"
KEY_FILE = "secret.key"
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
        _create(path)
    return derive(_read(path))


def _create(path: Path) -> None:
    """A new key file, atomically: written whole to a temporary file (0600), then linked to its name; when
    another process linked one first, that one is kept."""
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
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
        raise SecretKeyError(str(path), f"it does not exist and cannot be created ({exc.strerror})",
                             hint=f"give write access to the store directory, or {_ENV_HINT}") from None
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


def _read(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError as exc:
        reason = "it is a symbolic link" if os.path.islink(path) else f"it cannot be read ({exc.strerror})"
        raise SecretKeyError(str(path), reason, hint=f"make it a file of yours, readable by you only, or {_ENV_HINT}"
                             ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecretKeyError(str(path), "it is not a regular file", hint=f"move it away (a new key is made), "
                                 f"or {_ENV_HINT}")
        if os.name == "posix" and st.st_mode & 0o077:
            raise SecretKeyError(str(path), f"others may read it (mode {stat.S_IMODE(st.st_mode):04o})",
                                 hint=f"chmod 600 {path}")
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    text = data.decode("utf-8", "replace").strip()
    if len(text) < MIN_LENGTH:
        raise SecretKeyError(str(path), f"it holds {len(text)} characters, fewer than {MIN_LENGTH} (damaged?)",
                             hint=f"restore it from a backup (tasks with secrets replay only with their key), or "
                                  f"{_ENV_HINT}")
    return text
