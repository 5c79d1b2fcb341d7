"""The baseline of ``bench_serve``: the same functions in a plain Starlette app on uvicorn, nothing recorded.

``python bench/serve_plain.py [--port N] [--threads N]`` prints one line, ``plain starlette serving on
http://127.0.0.1:PORT (pid N)``, then serves until SIGTERM:

* ``GET /hello``: ``hello()`` (a small dict), a sync endpoint: it runs on Starlette's thread pool, as
  ``ucode serve`` runs a plain function on its worker pool (a thread hop per request on both sides);
* ``GET /slow``: ``slow()``, which sleeps 1 ms (the I/O effect of ``bench_serve``'s stored ``io``), also
  on the pool.

The pool is limited to ``--threads`` threads (default 8, ``ucode serve --workers``'s default; Starlette's
own default is 40) so that both servers run the functions on as many threads. uvicorn runs as the engine
runs it (``ucode/engine/_serve.py``): one process, ``log_level="warning"``, ``access_log=False``,
``lifespan="off"``, backlog 2048, the asyncio loop and h11 (whatever is installed: the same for both).
The socket is made as uvicorn's own ``--port`` binding makes it (``IPPROTO_TCP``: asyncio then turns
Nagle's algorithm off on every connection).
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def hello() -> dict[str, Any]:
    return {"hello": "world", "n": 1}


def slow() -> dict[str, Any]:
    time.sleep(0.001)
    return {"io": 1}


def hello_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"result": hello()})


def slow_endpoint(request: Request) -> JSONResponse:
    return JSONResponse({"result": slow()})


class LimitThreads:
    """Sets the thread pool's size on the first request (anyio's limiter belongs to the running loop)."""

    def __init__(self, app: Any, threads: int) -> None:
        self.app = app
        self.threads = threads
        self.done = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self.done:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
            self.done = True
        await self.app(scope, receive, send)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()
    app = LimitThreads(Starlette(routes=[Route("/hello", hello_endpoint), Route("/slow", slow_endpoint)]),
                       args.threads)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)
    print(f"plain starlette serving on http://127.0.0.1:{sock.getsockname()[1]} (pid {os.getpid()})", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", backlog=2048)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
