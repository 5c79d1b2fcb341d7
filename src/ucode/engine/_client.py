"""Talking to a running engine (``ucode engine status``, ``ucode engine purge``): find it from the store's
engine record, send the request with the store's token, turn a failure into a clear error.

Rule: httpx, one request per call; never starts or stops an engine.
"""

from __future__ import annotations

from typing import Any

from ucode.codebase import Codebase
from ucode.errors import EngineAnswerError, NoEngineError

__all__ = ["engine_request", "engine_status"]


def _url(cb: Codebase) -> str:
    rec = cb.engine_record()
    if rec is None or not rec.get("url"):
        raise NoEngineError(str(cb.path), "none has been started on it")
    if rec.get("stopped"):
        raise NoEngineError(str(cb.path), f"the last one ({rec['url']}, pid {rec.get('pid')}) has stopped")
    return str(rec["url"])


def engine_request(cb: Codebase, method: str, path: str, body: dict[str, Any] | None = None, *,
                   timeout: float = 10.0) -> Any:
    """``method path`` to the engine serving ``cb``'s store, with its token; the JSON answer. An error answer
    is raised as a :class:`~ucode.errors.UcodeError` with the engine's message."""
    import httpx

    url = _url(cb)
    token = cb.engine_token(create=False)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.request(method, url + path, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise NoEngineError(str(cb.path), f"{url} does not answer ({type(exc).__name__}: {exc})") from None
    try:
        data = resp.json()
    except ValueError:
        data = {"error": resp.text.strip() or f"HTTP {resp.status_code}"}
    if resp.status_code >= 400:
        raise EngineAnswerError(resp.status_code, str(data.get("error")) if isinstance(data, dict) else str(data),
                                data.get("hint") if isinstance(data, dict) else None)
    return data


def engine_status(cb: Codebase) -> dict[str, Any]:
    """What ``GET /v1/engine`` answers: snapshots in use, tasks in flight per snapshot, counters."""
    data = engine_request(cb, "GET", "/v1/engine")
    assert isinstance(data, dict)
    return data
