"""``ucode serve``: the engine on a socket (uvicorn), its start (recovery) and its stop (drain).

Rule: the lifecycle only. Start: check the endpoints, bind the socket, find the tasks the previous engine
left interrupted (and resume them when asked), record this engine in the store (``ucode engine status``
finds it there), serve. Stop (SIGTERM or Ctrl-C): refuse new tasks (503), let uvicorn wait for the requests
in flight up to the drain timeout, wait for the engine's own tasks in what is left of it, commit what is
pending; tasks still running then are interrupted (their process ends): listed, and resumable.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import uvicorn

from ucode.codebase import Codebase
from ucode.engine._core import Engine
from ucode.engine._endpoints import Endpoint
from ucode.engine._http import Settings, make_app
from ucode.errors import EndpointConfigError, EngineError, UcodeError

__all__ = ["is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    """uvicorn's server, with the engine told first when a stop begins, and the stop signal not raised
    again afterwards (uvicorn does, which would end the process before the drain is written down)."""

    def __init__(self, config: uvicorn.Config, engine: Engine) -> None:
        super().__init__(config)
        self.engine = engine

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.engine.accepting = False  # requests on open connections get a 503 from now on
        await super().shutdown(sockets)


def _check_endpoints(cb: Codebase, endpoints: Sequence[Endpoint]) -> None:
    for ep in endpoints:
        try:
            cb.resolve_name(ep.function, version=ep.version)
        except UcodeError as exc:
            raise EndpointConfigError(ep.where, exc.message, hint=exc.hint) from None


HISTORY = 50
"""Engines a store's record remembers (their pids): whose interrupted tasks a later engine resumes."""


def _left_interrupted(cb: Codebase, previous: dict[str, Any] | None) -> list[str]:
    """Tasks earlier engines of this store left interrupted (their process is gone), oldest first: not
    the tasks of a ``ucode run`` someone interrupted (those are theirs to resume)."""
    pids = {p for p in (previous or {}).get("pids", []) if isinstance(p, int)}
    if not pids:
        return []
    rows = cb.task_list(status="interrupted")
    return [r["id"] for r in reversed(rows) if cb.task(r["id"]).get("pid") in pids]


def serve(cb: Codebase, *, host: str = "127.0.0.1", port: int = 8470, workers: int = 8, max_in_flight: int = 64,
          endpoints: Sequence[Endpoint] = (), resume: bool | None = None, drain_timeout: float = 30.0,
          max_body: int = 1 << 20, durability: str | None = None,
          say: Callable[[str], None] = lambda line: print(line, flush=True)) -> int:
    """Serve ``cb`` until SIGTERM or Ctrl-C; returns the exit status (0 when every task was drained)."""
    _check_endpoints(cb, endpoints)
    loopback = is_loopback(host)
    token = cb.engine_token()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise EngineError(f"cannot listen on {host}:{port}: {exc.strerror}",
                          hint="another engine (or program) may use that port: pick another with --port, "
                               "or 0 for any free one") from None
    actual = sock.getsockname()[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{actual}"
    previous = cb.engine_record()
    engine = Engine(cb, workers=workers, max_in_flight=max_in_flight, durability=durability)
    engine.endpoints = list(endpoints)
    engine.interrupted = _left_interrupted(cb, previous)
    if resume is None:
        resume = cb.config().get("resume") == "on"
    pids = [*(previous or {}).get("pids", []), os.getpid()][-HISTORY:]
    cb.set_engine_record({"pid": os.getpid(), "url": url, "host": host, "port": actual, "started": engine.started,
                          "stopped": None, "pids": pids})
    app = make_app(engine, Settings(token, token_for_reads=not loopback, max_body=max_body))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=max(1, int(drain_timeout)), backlog=2048)
    server = _Server(config, engine)
    say(f"ucode engine serving {cb.path} on {url} (pid {os.getpid()})")
    if not loopback:
        say("listening beyond loopback: every endpoint needs the token (`ucode engine token`)")
    if engine.interrupted:
        what = "resuming them" if resume else "resume them with `ucode serve --resume` or `ucode task resume ID`"
        say(f"{len(engine.interrupted)} task(s) earlier engines left interrupted ({what}): "
            f"{' '.join(engine.interrupted)}")
        if resume:
            threading.Thread(target=_resume_all, args=(engine, say), name="ucode-resume", daemon=True).start()
    began = time.monotonic()
    stopped_at: list[float] = []

    async def main() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            stopped_at.append(time.monotonic())

    try:
        asyncio.run(main())
    finally:
        spent = time.monotonic() - (stopped_at[0] if stopped_at else began)
        left = engine.drain(max(0.0, drain_timeout - spent))
        engine.close()
        with contextlib.suppress(UcodeError):
            cb.set_engine_record({**(cb.engine_record() or {}), "stopped": time.time(), "left": left})
    if left:
        say(f"stopped with {len(left)} task(s) still running, now interrupted (`ucode task resume ID`): "
            f"{' '.join(left)}")
        with contextlib.suppress(UcodeError):
            cb.flush_route_counters()
        cb.group_commit().close()  # what the finished tasks wrote is committed; the running ones are cut off
        sys.stdout.flush()
        os._exit(1)  # the worker threads still run user code: do not wait for them
    say("ucode engine stopped: every task in flight finished")
    return 0


def _resume_all(engine: Engine, say: Callable[[str], None]) -> None:
    for tid in list(engine.interrupted):
        try:
            run = engine.cb.resume(tid)
        except UcodeError as exc:
            say(f"task {tid} not resumed: {exc.message}")
            continue
        engine.resumed(tid)
        say(f"task {tid} resumed: {'failed' if run.error is not None else 'succeeded'}")
