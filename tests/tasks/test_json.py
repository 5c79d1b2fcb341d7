"""``--json`` shows recorded values as a reader wants them: datetimes and dates as ISO 8601, Decimals, UUIDs
and timedeltas as their text, never the codec's wire form (``[1, "b'2026-...'"]``) nor a ``repr``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ucode.cli import app

VALUES = '''
import datetime as dt
import uuid
from decimal import Decimal
from ucode import effects

def values(day: str) -> dict:
    effects.log("at", when=dt.date.fromisoformat(day))
    return {"now": effects.now().replace(year=2026, month=1, day=2, hour=3, minute=4, second=5, microsecond=0),
            "day": dt.date.fromisoformat(day), "price": Decimal("9.90"), "id": uuid.UUID(int=7),
            "wait": dt.timedelta(minutes=90), "pair": (1, 2)}
'''
EXPECTED = {"now": "2026-01-02T03:04:05+00:00", "day": "2026-03-04", "price": "9.90",
            "id": "00000000-0000-0000-0000-000000000007", "wait": "1:30:00", "pair": [1, 2]}


def test_json_output_shows_datetimes_decimals_and_uuids_as_text(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "values.py").write_text(textwrap.dedent(VALUES))
    runner = CliRunner()

    def ucode(*args: str) -> str:
        res = runner.invoke(app, ["--store", str(tmp_path / "s"), *args])
        assert res.exit_code == 0, res.output
        return res.stdout

    ucode("add", "values.py")
    ran = json.loads(ucode("run", "values", '"2026-03-04"', "--json"))
    assert ran["result"] == EXPECTED
    shown = json.loads(ucode("task", "show", ran["task"], "--json"))
    assert shown["result"] == EXPECTED
    log, now = shown["events"]
    assert now["name"] == "time.now" and isinstance(now["result"], str) and now["result"].endswith("+00:00")
    assert log["kwargs"] == {"when": "2026-03-04"}
    replayed = json.loads(ucode("task", "replay", ran["task"], "--json"))
    assert replayed["identical"] is True and replayed["result"] == EXPECTED
    text = json.dumps([ran, shown, replayed])
    assert "b'" not in text and "datetime.datetime(" not in text and "Decimal(" not in text
