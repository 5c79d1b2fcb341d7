"""Typed effects, their codec, and the test handler (the first slice of the tasks/replay issue)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import http.server
import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ucode
from ucode import codec, effects, testing
from ucode.codebase import Codebase

Write = Callable[[str, str], Path]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: Decimal
    when: dt.datetime
    tags: tuple[str, ...] = ()


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.binary() | st.datetimes(timezones=st.just(dt.UTC)) | st.dates() | st.decimals(allow_nan=False)
    | st.uuids() | st.sampled_from(Color) | st.timedeltas(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    | st.tuples(inner, inner) | st.frozensets(st.integers(), max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(plain)
def test_codec_round_trips_every_supported_type(value: object) -> None:
    assert codec.decode(codec.encode(value)) == value


def test_codec_rebuilds_dataclasses_and_enums_by_annotation() -> None:
    p = Point(1, Decimal("2.50"), dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), ("a",))
    assert codec.decode(codec.encode(p)) == p  # importable: found by name
    record = codec.decode(codec.encode(p).replace(b"test_effects", b"not_a_module"))
    assert isinstance(record, codec.Record) and record.x == 1  # unknown type: a Record, nothing imported
    assert codec.decode(codec.encode([p]), list[Point]) == [p]
    assert codec.decode(codec.encode(Color.RED), Color) is Color.RED


def test_codec_refuses_what_it_cannot_record_and_names_it() -> None:
    with pytest.raises(codec.SerializationError) as exc:
        codec.encode({"ok": 1, "bad": threading.Lock()}, where="result of db.fetch")
    assert "result of db.fetch is a _thread.lock, which cannot be recorded" in exc.value.message
    assert exc.value.type_name == "_thread.lock"


def test_effects_perform_outside_tasks() -> None:
    assert isinstance(effects.now(), dt.datetime) and effects.now().tzinfo is not None
    assert 1 <= effects.randint(1, 3) <= 3
    assert isinstance(effects.uuid4(), uuid.UUID)
    assert effects.env("UCODE_SURELY_UNSET_VAR", "dflt") == "dflt"


def test_test_handler_mocks_effects_without_patching() -> None:
    fixed = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with testing.handle({"time.now": fixed, effects.randint: lambda a, b: b, "uuid.uuid4": KeyError("boom")}) as h:
        assert effects.now() == fixed
        assert effects.randint(1, 6) == 6
        with pytest.raises(KeyError):
            effects.uuid4()
        with pytest.raises(testing.UnhandledEffectError, match=r"effect random\.random was called"):
            effects.random()
    assert [c[0] for c in h.calls] == ["time.now", "random.randint", "uuid.uuid4", "random.random"]
    assert effects.handler() is None  # restored after the block


def test_any_function_becomes_an_effect() -> None:
    performed: list[str] = []

    @ucode.effect(name="db.fetch_user")
    def fetch_user(uid: int) -> dict[str, object]:
        performed.append("real")
        return {"id": uid}

    @ucode.effect(writes=True)
    async def save(uid: int) -> bool:
        performed.append("saved")
        return True

    assert fetch_user(1) == {"id": 1} and asyncio.run(save(1)) is True
    assert effects.registry["db.fetch_user"].writes is False
    assert effects.registry[f"{__name__}.test_any_function_becomes_an_effect.<locals>.save"].writes is True
    with testing.handle({fetch_user: {"id": 99}}):
        assert fetch_user(1) == {"id": 99}
    assert performed == ["real", "saved"]


def test_stored_code_uses_effects_and_is_testable(cb: Codebase, write: Write) -> None:
    cb.add([write("greet.py", '''
        from ucode import effects

        def greet(name: str) -> str:
            effects.log("greeting", name=name)
            return f"hello {name} at {effects.now().year}"
    ''')])
    assert cb.view("greet").warnings == []  # an explicit effect is not a hidden one
    with testing.handle({"time.now": dt.datetime(1999, 1, 1), "log": None}) as h:
        assert cb.run("greet", "ada") == "hello ada at 1999"
    assert h.calls[0] == ("log", ("greeting",), {"name": "ada"})


@pytest.fixture
def local_server() -> Iterator[str]:
    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f'{{"path": "{self.path}"}}'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_effect_on_loopback_and_mocked(local_server: str) -> None:
    r = effects.http.get(local_server + "/hello", timeout=5)
    assert r.ok and r.status == 200 and r.json() == {"path": "/hello"}
    assert codec.decode(codec.encode(r), effects.Response) == r  # responses record and replay
    assert effects.registry["http.get"].writes is False and effects.registry["http.post"].writes is True
    canned = effects.Response(503, {}, b"down", "http://x")
    with testing.handle({"http.get": canned}):
        assert effects.http.get("http://example.invalid/").status == 503
