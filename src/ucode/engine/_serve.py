"""``ucode serve``: the engine on a socket (uvicorn), its start (recovery) and its stop (drain).

Rule: the lifecycle only. Start: check the endpoints, bind the socket, find the tasks earlier engines
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
    """uvicorn's server, which says it is ready once its socket accepts and its signal handlers are in place
    (not before: a SIGTERM right after the line must drain, not kill), tells the engine first when a stop
    begins and cuts the tasks still running off at the drain deadline (their requests get a JSON 503), and
    does not raise the stop signal again afterwards (uvicorn does, which would end the process before the
    drain is written down)."""

    def __init__(self, config: uvicorn.Config, engine: Engine, drain_timeout: float,
                 ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.engine = engine
        self.drain_timeout = drain_timeout
        self.ready = ready
        self.stopping_at: float | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self.ready()

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
        self.stopping_at = time.monotonic()
        self.engine.accepting = False  # requests on open connections get a 503 from now on
        asyncio.get_running_loop().call_later(self.drain_timeout, self.engine.cut_off)
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
    return [r["id"] for r in cb.unfinished_tasks() if r["status"] == "interrupted" and cb.task(r["id"]).get("pid")
            in pids]


def _serving(cb: Codebase) -> Callable[[dict[str, Any]], bool]:
    from ucode.tasks import alive

    def serving(rec: dict[str, Any]) -> bool:
        return not rec.get("stopped") and rec.get("pid") != os.getpid() and alive(
            rec.get("pid"), rec.get("pid_start"), rec.get("boot"))
    return serving


def _refused(cb: Codebase, other: dict[str, Any]) -> EngineError:
    return EngineError(f"an engine already serves the store at {cb.path}: pid {other['pid']} on {other.get('url')}",
                       hint=f"`ucode engine status` shows it; stop it first (kill -TERM {other['pid']}), or serve "
                            "another store (--store)")


def serve(cb: Codebase, *, host: str = "127.0.0.1", port: int = 8470, workers: int = 8, max_in_flight: int = 64,
          endpoints: Sequence[Endpoint] = (), resume: bool | None = None, drain_timeout: float = 30.0,
          max_body: int = 1 << 20, durability: str | None = None,
          say: Callable[[str], None] = lambda line: print(line, flush=True)) -> int:
    """Serve ``cb`` until SIGTERM or Ctrl-C; returns the exit status (0 when every task was drained)."""
    from ucode.tasks import identity

    _check_endpoints(cb, endpoints)
    previous = cb.engine_record()
    if previous is not None and _serving(cb)(previous):  # said before the port is tried
        raise _refused(cb, previous)
    loopback = is_loopback(host)
    token = cb.engine_token()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
        # no Nagle: h11 writes a response's head and body apart, and the body would wait for the client's
        # delayed ACK (~40 ms) on every keep-alive request (accepted sockets inherit the option)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        raise EngineError(f"cannot listen on {host}:{port}: {exc.strerror}",
                          hint="another engine (or program) may use that port: pick another with --port, "
                               "or 0 for any free one") from None
    actual = sock.getsockname()[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{actual}"
    engine = Engine(cb, workers=workers, max_in_flight=max_in_flight, durability=durability)
    engine.endpoints = list(endpoints)
    engine.interrupted = _left_interrupted(cb, previous)
    if resume is None:
        resume = cb.config().get("resume") == "on"
    pid, pid_start, boot = identity()

    def record(before: dict[str, Any] | None) -> dict[str, Any]:
        return {"pid": pid, "pid_start": pid_start, "boot": boot, "url": url, "host": host, "port": actual,
                "started": engine.started, "stopped": None, "pids": [*(before or {}).get("pids", []), pid][-HISTORY:]}

    other = cb.claim_engine(record, _serving(cb))  # the check again, and the claim, in one transaction
    if other is not None:
        engine.close()
        sock.close()
        raise _refused(cb, other)
    if engine.interrupted:
        what = "resuming them" if resume else "resume them with `ucode serve --resume` or `ucode task resume ID`"
        say(f"{len(engine.interrupted)} task(s) earlier engines left interrupted ({what}): "
            f"{' '.join(engine.interrupted)}")
        if resume:  # before serving: a resume runs its task's old snapshot, which would hold live tasks back
            _resume_all(engine, say)
    app = make_app(engine, Settings(token, token_for_reads=not loopback, max_body=max_body))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", backlog=2048,
                            timeout_graceful_shutdown=int(drain_timeout) + 5)  # the engine answers first

    def ready() -> None:
        say(f"ucode engine serving {cb.path} on {url} (pid {pid})")
        if not loopback:
            say("listening beyond loopback: every /v1/ endpoint needs the token (`ucode engine token`); "
                "your --endpoint routes do not")

    server = _Server(config, engine, drain_timeout, ready)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        spent = time.monotonic() - server.stopping_at if server.stopping_at is not None else drain_timeout
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
        except Exception as exc:  # ucode's own failure: said, and the engine starts anyway
            say(f"task {tid} not resumed: {type(exc).__name__}: {exc}")
            continue
        engine.resumed(tid)
        say(f"task {tid} resumed: {'failed' if run.error is not None else 'succeeded'}")
