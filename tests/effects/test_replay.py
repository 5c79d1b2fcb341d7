"""Recording and replaying effects: same code + same recording = same result; divergence is readable."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucode import effects
from ucode.replay import Recording, ReplayedError, Replayer, record, replay

GOLDEN = Path(__file__).parents[1] / "golden" / "recordings"


def checkout(cart: list[int]) -> dict[str, object]:
    order_id = effects.uuid4()
    placed = effects.now()
    discount = effects.randint(0, 10)
    effects.log("checkout", items=len(cart))
    return {"order": str(order_id), "day": placed.date().isoformat(), "total": sum(cart) - discount}


def checkout_v2(cart: list[int]) -> dict[str, object]:
    order_id = effects.uuid4()
    placed = effects.now()
    discount = effects.randint(0, 20)  # changed: a different argument
    effects.log("checkout", items=len(cart))
    return {"order": str(order_id), "day": placed.date().isoformat(), "total": sum(cart) - discount}


def checkout_v3(cart: list[int]) -> dict[str, object]:
    out = checkout(cart)
    out["total"] = int(out["total"]) + 1  # changed: same effects, different result  # type: ignore[call-overload]
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1000), max_size=8))
def test_same_code_and_recording_replay_to_the_same_result(cart: list[int]) -> None:
    rec = record(checkout, cart)
    assert len(rec.events) == 4 and [e.name for e in rec.events] == ["uuid.uuid4", "time.now", "random.randint", "log"]
    for _ in range(2):  # deterministic: every replay gives the recorded result, and nothing real happens
        again = replay(checkout, rec, cart)
        assert again.identical and again.result == rec.result and again.divergence is None


def test_replay_performs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    rec = record(checkout, [1, 2])
    assert "checkout items=2" in capsys.readouterr().err  # the live log line
    assert replay(checkout, rec, [1, 2]).identical
    assert capsys.readouterr().err == ""  # replay served the log effect from the recording


def test_divergence_names_the_effect_and_shows_a_diff() -> None:
    rec = record(checkout, [5])
    out = replay(checkout_v2, rec, [5])
    assert not out.identical and out.divergence is not None
    d = out.divergence
    assert (d.kind, d.index) == ("effect", 2)
    assert d.expected == "random.randint(0, 10)" and d.actual == "random.randint(0, 20)"
    assert "-random.randint(0, 10)\n+random.randint(0, 20)" in d.diff
    assert str(d).startswith("at effect 2: the recording has random.randint(0, 10), the replay asked for")


def test_divergence_in_the_result_with_the_same_effects() -> None:
    rec = record(checkout, [5])
    out = replay(checkout_v3, rec, [5])
    assert out.divergence is not None and out.divergence.kind == "result"
    assert "'total'" in out.divergence.diff


def test_extra_and_missing_effects() -> None:
    def one() -> float:
        return effects.random()

    def two() -> float:
        return effects.random() + effects.random()

    assert replay(two, record(one)).divergence.kind == "extra"  # type: ignore[union-attr]
    missing = replay(one, record(two)).divergence
    assert missing is not None and missing.kind == "missing" and missing.expected == "random.random()"


def test_arguments_that_are_equal_but_typed_differently_diverge() -> None:
    import decimal

    @effects.effect(name="test.charge")
    def charge(amount: object, currency: object = "EUR") -> str:
        return f"{amount} {currency}"

    def plain() -> str:
        return charge(1, currency="EUR")

    def typed() -> str:
        return charge(decimal.Decimal(1), currency="EUR")  # == 1, but records differently

    def typed_kw() -> str:
        return charge(1, currency=decimal.Decimal(1))

    rec = record(plain)
    assert replay(plain, rec).identical
    for changed in (typed, typed_kw):
        d = replay(changed, rec).divergence
        assert d is not None and d.kind == "effect" and "Decimal('1')" in d.actual


def test_replayer_serves_stored_rows_and_skips_recorded_log_lines_as_output() -> None:
    rec = record(checkout, [4])
    rows = [list(e) for e in rec.events]  # the form the store keeps
    rep = Replayer(rows, logs_as_output=True)

    def quiet(cart: list[int]) -> dict[str, object]:  # same effects, minus the log line
        order_id = effects.uuid4()
        placed = effects.now()
        discount = effects.randint(0, 10)
        effects.log("extra line", step=1)  # a new line: output, not compared
        return {"order": str(order_id), "day": placed.date().isoformat(), "total": sum(cart) - discount}

    out = replay(quiet, rec, [4], handler=rep)
    assert out.identical and rep.logs == ["extra line step=1"]


def test_effect_exceptions_are_recorded_and_reraised_on_replay() -> None:
    @effects.effect(name="test.flaky")
    def flaky(n: int) -> int:
        raise ValueError(f"bad {n}")

    class Custom(Exception):
        pass

    @effects.effect(name="test.custom")
    def custom() -> int:
        raise Custom("nope")

    def uses() -> str:
        try:
            flaky(3)
        except ValueError as exc:
            first = str(exc)
        try:
            custom()
        except Exception as exc:
            return f"{first}|{type(exc).__name__}:{exc}"
        return "unreachable"

    rec = record(uses)
    assert rec.result == "bad 3|Custom:nope" and rec.events[0].error == {
        "type": "ValueError", "module": "builtins", "message": "bad 3"}
    again = replay(uses, rec)
    # ValueError is rebuilt as itself; a local class cannot be, so it comes back as ReplayedError
    assert again.result == "bad 3|ReplayedError:nope" and not again.identical
    with effects.using(Replayer(rec.events[1:])), pytest.raises(ReplayedError, match="nope"):
        custom()


def test_typed_results_survive_the_recording_bytes() -> None:
    def when() -> tuple[dt.datetime, str]:
        return effects.now(), str(effects.uuid4())

    rec = record(when)
    out = replay(when, Recording.from_bytes(rec.to_bytes()))
    assert out.identical and out.result == rec.result and isinstance(out.result[0], dt.datetime)


def test_golden_recording_replays() -> None:
    """A recording checked in as a file replays to its recorded result (as temporalio's histories do)."""
    rec = Recording.from_bytes((GOLDEN / "checkout.msgpack").read_bytes())
    expected = json.loads((GOLDEN / "checkout.json").read_text())
    out = replay(checkout, rec, expected["args"][0])
    assert out.identical, out.divergence
    assert out.result == expected["result"]


_VALUES = st.one_of(st.integers(-3, 3), st.integers(2**64, 2**65), st.booleans(), st.none(),
                    st.floats(-2, 2, allow_nan=False).map(lambda f: round(f, 1)), st.sampled_from(["a", "b", ""]),
                    st.decimals(-2, 2, places=1, allow_nan=False), st.lists(st.integers(0, 2), max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.lists(_VALUES, max_size=3), st.lists(_VALUES, max_size=3))
def test_the_fast_argument_check_agrees_with_comparing_wire_forms(recorded: list[object],
                                                                  asked: list[object]) -> None:
    from ucode import codec

    @effects.effect(name="test.echo")
    def echo(*args: object) -> int:
        return len(args)

    rec = record(lambda: echo(*recorded))
    same = codec.to_wire(list(asked)) == codec.to_wire(list(recorded))
    rows = [list(e) for e in rec.events]  # as the store keeps them
    assert replay(lambda: echo(*asked), rec, handler=Replayer(rows)).identical is same
