"""``--since`` / ``--older-than`` values: durations, dates, local times, words; and bad ones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ucode.errors import UcodeError
from ucode.timespec import parse_instant

NOW = datetime(2026, 11, 27, 15, 30, 0).timestamp()  # local time, as the CLI reads naive dates


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("2H", 7200), ("7d", 7 * 86400), ("1w", 7 * 86400),
    ("1.5h", 5400), (" 2h ", 7200),
])
def test_durations_count_back_from_now(text: str, seconds: float) -> None:
    assert parse_instant(text, now=NOW) == NOW - seconds


def test_a_bare_number_keeps_the_options_old_unit() -> None:
    assert parse_instant("6", now=NOW, bare_unit="h") == NOW - 6 * 3600  # task list --since 6
    assert parse_instant("30", now=NOW, bare_unit="d") == NOW - 30 * 86400  # task prune --older-than 30


def test_dates_and_times_are_local_unless_they_carry_an_offset() -> None:
    assert parse_instant("2026-11-27", now=NOW) == datetime(2026, 11, 27).timestamp()
    assert parse_instant("2026-11-27 09:30", now=NOW) == datetime(2026, 11, 27, 9, 30).timestamp()
    assert parse_instant("2026-11-27T09:30", now=NOW) == datetime(2026, 11, 27, 9, 30).timestamp()
    aware = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert parse_instant("2026-11-27T09:30+01:00", now=NOW) == aware.timestamp()


def test_today_and_yesterday_are_local_midnights() -> None:
    assert parse_instant("today", now=NOW) == datetime(2026, 11, 27).timestamp()
    assert parse_instant("Yesterday", now=NOW) == datetime(2026, 11, 26).timestamp()


@pytest.mark.parametrize("text", ["soon", "2h30", "-2h", "27/11/2026", "", "h"])
def test_anything_else_is_an_error_that_shows_the_forms(text: str) -> None:
    with pytest.raises(UcodeError, match="neither a duration nor a date") as info:
        parse_instant(text, now=NOW, option="--older-than")
    assert "--older-than 2h" in (info.value.hint or "") and "2026-11-27" in (info.value.hint or "")


@given(st.integers(0, 10**6), st.sampled_from("smhdw"))
def test_a_longer_duration_is_an_earlier_instant(n: int, unit: str) -> None:
    assert parse_instant(f"{n + 1}{unit}", now=NOW) < parse_instant(f"{n}{unit}", now=NOW) <= NOW
