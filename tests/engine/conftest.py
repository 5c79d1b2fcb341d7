"""A real engine on loopback: ``ucode serve --port 0`` in a subprocess over a store holding ``svc`` (v1,
the default) and a second ``svc`` in ``v2`` whose ``which`` answers ``"v2"``.

Every loop in these tests is bounded (a deadline or a count); the engines are stopped (SIGTERM, then
SIGKILL) whatever the test does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ucode.codebase import Codebase

SVC = '''
import asyncio
import time

import ucode
from ucode import effects


@ucode.effect(name="svc.io")
def io(ms: float) -> float:
    time.sleep(ms / 1000)
    return ms


@ucode.effect(name="svc.mark", writes=True)
def mark(path: str, i: int) -> None:
    with open(path, "a") as f:
        f.write(f"{{i}}\\n")


def steps(path: str, n: int, ms: float) -> str:
    for i in range(n):
        mark(path, i)
        io(ms)
    return which()


def which() -> str:
    return "{version}"


def hello(name: str = "world") -> dict:
    return {{"hello": name, "version": which()}}


def slow(seconds: float) -> str:
    io(seconds * 1000)
    return which()


def spin(seconds: float) -> str:
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return which()


async def aslow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return which()


async def tagged(tag: str) -> dict:
    effects.log("start", tag=tag)
    await asyncio.sleep(0.01)
    r = effects.randint(1, 10**9)
    effects.log("end", tag=tag)
    return {{"tag": tag, "r": r, "task": effects.current_task()}}


def counter(key: str) -> int:
    n = (effects.state.get(key) or 0) + 1
    effects.state.put(key, n)
    return n


def secret_len() -> int:
    return len(effects.secret("SVC_SECRET") or "")


def fail(message: str) -> None:
    raise ValueError(message)


def handle(user_id: int, verbose: bool = False, request: dict | None = None) -> dict:
    return {{"user_id": user_id, "verbose": verbose, "request": request, "version": which()}}
'''


UCODE = [sys.executable, "-c", "from ucode.cli import main; main()"]
"""The ``ucode`` console script, in this interpreter."""


class Engine:
    """A running ``ucode serve`` subprocess: its URL, its token, its output."""

    def __init__(self, proc: subprocess.Popen[str], url: str, token: str, store: Path, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.token = token
        self.store = store
        self.log = log
        self.client = httpx.Client(base_url=url, timeout=30)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def run(self, name: str, *args: Any, **body: Any) -> httpx.Response:
        return self.client.post(f"/v1/run/{name}", json={"args": list(args), **body}, headers=self.auth)

    def status(self) -> dict[str, Any]:
        r = self.client.get("/v1/engine")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)
        finally:
            self.client.close()


def ucode_cli(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``ucode ARGS`` in another process, on ``store`` (what a user's terminal does next to the engine)."""
    env = {**os.environ, "UCODE_STORE": str(store)}
    res = subprocess.run([*UCODE, *args], capture_output=True, text=True, env=env,
                         timeout=60)
    if check:
        assert res.returncode == 0, res.stderr + res.stdout
    return res


StartEngine = Callable[..., Engine]


@pytest.fixture
def svc_store(tmp_path: Path) -> Path:
    """A store with ``svc`` in v1 (default) and v2 (``which`` answers ``"v2"``)."""
    store = tmp_path / "store"
    for version in ("v1", "v2"):
        d = tmp_path / version
        d.mkdir()
        (d / "svc.py").write_text(SVC.format(version=version))
    with Codebase(store) as cb:
        cb.add([tmp_path / "v1" / "svc.py"])
        cb.add([tmp_path / "v2" / "svc.py"], version="v2")
    return store


@pytest.fixture
def start_engine(svc_store: Path, tmp_path: Path) -> Iterator[StartEngine]:
    """``start_engine(*flags)``: ``ucode serve --port 0 FLAGS`` on the svc store, once it listens."""
    engines: list[Engine] = []

    def start(*flags: str, store: Path = svc_store, env: dict[str, str] | None = None) -> Engine:
        log = tmp_path / f"engine-{len(engines)}.log"
        out = log.open("w")
        proc = subprocess.Popen(
            [*UCODE, "serve", "--port", "0", *flags], stdout=out, stderr=subprocess.STDOUT,
            text=True, env={**os.environ, "UCODE_STORE": str(store), **(env or {})})
        deadline = time.monotonic() + 30
        url = None
        while time.monotonic() < deadline and url is None:
            for line in log.read_text().splitlines():
                if line.startswith("ucode engine serving ") and " on http://" in line:
                    url = line.split(" on ")[1].split()[0]
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        if url is None:
            proc.kill()
            raise AssertionError(f"the engine did not start:\n{log.read_text()}")
        with Codebase(store) as cb:
            token = cb.engine_token()
        assert token is not None
        eng = Engine(proc, url, token, store, log)
        engines.append(eng)
        return eng

    yield start
    for eng in engines:
        eng.stop()
