"""The built-in effects: time, randomness, uuids, the environment, log lines and HTTP (on httpx).

Rule: each is an ordinary function made an effect, named as recordings and test handlers know it
(``time.now``, ``random.randint``, ``http.get``, ...); the modules they need are imported when they are
first called, not when ``ucode`` is imported (start-up counts).
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time as _time
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ucode.effects._mechanism import effect

__all__ = ["Response", "env", "format_log_line", "http", "log", "monotonic", "now", "randint", "random", "secret",
           "sleep", "uuid4"]


def format_log_line(message: str, fields: dict[str, Any]) -> str:
    """A log line as it is shown everywhere (stderr, ``task show``, ``ucode log``, a replay's output):
    the message, then ``key=repr(value)`` for each field."""
    extra = " ".join(f"{k}={v!r}" for k, v in fields.items())
    return f"{message} {extra}".rstrip()

@effect(name="time.now")
def now() -> _dt.datetime:
    """The current time, timezone-aware (UTC)."""
    return _dt.datetime.now(_dt.UTC)


@effect(name="time.monotonic")
def monotonic() -> float:
    """A monotonic clock reading, in seconds."""
    return _time.monotonic()


@effect(name="time.sleep")
def sleep(seconds: float) -> None:
    """Sleep. Replay does not sleep again."""
    _time.sleep(seconds)


@effect(name="random.random")
def random() -> float:
    """A random float in [0, 1)."""
    import random as _random  # imported when used: start-up counts

    return _random.random()


@effect(name="random.randint")
def randint(a: int, b: int) -> int:
    """A random integer in [a, b]."""
    import random as _random

    return _random.randint(a, b)


@effect(name="uuid.uuid4")
def uuid4() -> _uuid.UUID:
    """A random UUID."""
    return _uuid.uuid4()


@effect(name="env")
def env(name: str, default: str | None = None) -> str | None:
    """An environment variable (recorded: a replay sees what the run saw)."""
    return os.environ.get(name, default)


@effect(name="env.secret", secret=True)
def secret(name: str, default: str | None = None) -> str | None:
    """An environment variable that is a secret (an API token, a password): as :func:`env`, but a task
    records only a keyed digest of it (shown as ``<secret>``), and a replay reads it again and checks it
    against the digest. The variable's name is recorded (and shown): it says which secret."""
    return os.environ.get(name, default)


@effect(name="log")
def log(message: str, **fields: Any) -> None:
    """A structured log line. In a task it is recorded with the task; outside, it goes to stderr."""
    print(format_log_line(message, fields), file=sys.stderr)


@dataclass(frozen=True)
class Response:
    """An HTTP response, as recorded: status, headers, body."""

    status: int
    headers: dict[str, str]
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400


def _http_effect(method: str) -> Callable[..., Response]:
    reads = method in ("GET", "HEAD", "OPTIONS")

    def perform(url: str, **kwargs: Any) -> Response:
        import httpx  # imported when used: most runs make no HTTP request

        r = httpx.request(method, url, **kwargs)
        return Response(r.status_code, dict(r.headers), r.content, str(r.url))

    perform.__annotations__["return"] = Response
    perform.__qualname__ = perform.__name__ = method.lower()
    return effect(name=f"http.{method.lower()}", writes=not reads)(perform)


class _Http:
    """``effects.http.get(url, ...)`` and the other verbs, on httpx: each verb is an effect
    (``http.get``, ``http.post``, ...; GET, HEAD and OPTIONS read, the others write). Keyword arguments
    are httpx's (``params``, ``headers``, ``json``, ``content``, ``timeout``)."""

    get = staticmethod(_http_effect("GET"))
    head = staticmethod(_http_effect("HEAD"))
    options = staticmethod(_http_effect("OPTIONS"))
    post = staticmethod(_http_effect("POST"))
    put = staticmethod(_http_effect("PUT"))
    patch = staticmethod(_http_effect("PATCH"))
    delete = staticmethod(_http_effect("DELETE"))


http = _Http()
