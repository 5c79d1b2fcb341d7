"""Typed effects: the explicit boundary between code and the world (time, randomness, HTTP, env, ...).

Stored code calls effects like ordinary functions::

    from ucode import effects

    def greet(name: str) -> str:
        effects.log("greeting", name=name)
        return f"hello {name} at {effects.now().isoformat()}"

Outside a task an effect just performs. Inside one it goes through the task's *handler*: live (perform
and record), replay (return the recorded result; nothing real happens), or a test handler
(:func:`ucode.testing.handle`), so code that uses effects is testable without patching. Any function
becomes an effect with :func:`effect` — the boundary for database drivers, cloud SDKs and other libraries
that cannot be pure. Its arguments and result are typed by its annotations and recorded with
:mod:`ucode.codec`; an effect is marked ``writes=True`` when it changes the world (replay never performs
it, and a resumed task never performs it twice), and ``secret=True`` when its result is a secret
(:func:`secret` reads one from the environment): a task records only a keyed digest of it, and a replay
performs it again and checks the digest.

The handler is a context variable: it follows the task through threads started with
``contextvars.copy_context()`` and through ``asyncio`` tasks.

Rule: this package is the mechanism (:mod:`._mechanism`), the built-in effects (:mod:`._builtin`) and world
state behind a protocol (:mod:`._state`); it imports nothing of the store, the runtime or tasks.
"""

from __future__ import annotations

from ucode.effects._builtin import (
    Response,
    env,
    format_log_line,
    http,
    log,
    monotonic,
    now,
    randint,
    random,
    secret,
    sleep,
    uuid4,
)
from ucode.effects._mechanism import EffectSpec, Handler, effect, handler, registry, using
from ucode.effects._state import StateStore, current_task, running_as, state, using_store

__all__ = [
    "EffectSpec",
    "Handler",
    "Response",
    "StateStore",
    "current_task",
    "effect",
    "env",
    "format_log_line",
    "handler",
    "http",
    "log",
    "monotonic",
    "now",
    "randint",
    "random",
    "registry",
    "running_as",
    "secret",
    "sleep",
    "state",
    "using",
    "using_store",
    "uuid4",
]
