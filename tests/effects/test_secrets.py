"""Secret effects: only a keyed digest of the result is recorded; replay and resume perform the effect again
and check it; the value never reaches the store, the output or a divergence."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import ucode
from ucode import codec, effects, errors
from ucode.cli import app
from ucode.codebase import Codebase
from ucode.replay import Recorder, Replayer, record, replay

Write = Callable[[str, str], Path]

TOKEN = "sk-live-TOKEN-4f9a1c-never-stored"
PASSWORD = "pw-HUNTER2-also-never-stored"

JOB = '''
import os
import ucode
from ucode import effects

@ucode.effect(name="vault.read", secret=True)
def vault(path: str) -> str:
    return os.environ["TEST_VAULT_" + path]

def call(user: str) -> dict:
    token = effects.secret("TEST_API_TOKEN")
    password = vault("DB")
    effects.log("calling", user=user, token_length=len(token or ""))
    n = effects.randint(1, 6)
    return {"user": user, "n": n, "authorized": token is not None and password.startswith("pw-")}
'''


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_API_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_VAULT_DB", PASSWORD)
    monkeypatch.delenv("UCODE_SECRET_KEY", raising=False)


@pytest.fixture
def job(cb: Codebase, write: Write) -> Codebase:
    cb.add([write("job.py", JOB)])
    return cb


def store_bytes(path: Path) -> bytes:
    """Every byte of the store's files (the LMDB data file, and anything else in the directory)."""
    return b"".join(p.read_bytes() for p in sorted(path.iterdir()) if p.is_file())


def assert_nowhere(text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    assert TOKEN.encode() not in data and PASSWORD.encode() not in data


# ------------------------------------------------------------------------------ the mechanism, no store


def read_secret() -> str:
    return str(effects.secret("TEST_API_TOKEN"))


def use_secret() -> int:
    return len(str(effects.secret("TEST_API_TOKEN")))


def test_a_recording_holds_a_keyed_digest_not_the_value() -> None:
    rec = record(use_secret)
    (ev,) = rec.events
    assert rec.result == len(TOKEN)  # the code got the real value
    assert ev.name == "env.secret" and ev.args == ["TEST_API_TOKEN"] and codec.is_sealed(ev.result)
    assert_nowhere(rec.to_bytes())
    assert repr(codec.from_wire(ev.result)) == "<secret>"
    # the same value with the same key seals alike (equality is visible); another key, another digest
    key = b"k" * 32
    assert codec.seal(TOKEN, key) == codec.seal(TOKEN, key) != codec.seal(TOKEN, b"j" * 32)
    assert codec.seal(TOKEN, key) != codec.seal(TOKEN + "x", key)


def test_replay_performs_a_secret_again_and_checks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = record(read_secret)
    out = replay(read_secret, rec)
    assert out.identical and out.result == TOKEN  # performed again: the value is the live one
    monkeypatch.setenv("TEST_API_TOKEN", "sk-live-ROTATED")
    changed = replay(read_secret, rec)
    d = changed.divergence
    assert not changed.identical and d is not None and d.kind == "secret" and d.index == 0
    text = str(d)
    assert "env.secret('TEST_API_TOKEN')" in text and "its value changed" in text
    assert "ROTATED" not in text + json.dumps(d.to_dict()) and TOKEN not in text + json.dumps(d.to_dict())
    monkeypatch.delenv("TEST_API_TOKEN")
    assert replay(read_secret, rec).divergence.kind == "secret"  # type: ignore[union-attr]  # now unset


def test_a_secret_checked_with_another_key_says_so() -> None:
    rec = Recorder(secret_key=lambda: b"a" * 32)
    with effects.using(rec):
        read_secret()
    rep = Replayer(rec.events, secret_key=lambda: b"b" * 32)
    out = replay(read_secret, record(read_secret), handler=rep)
    assert out.divergence is not None and "recorded with another secret key" in str(out.divergence)


class Refused(Exception):
    pass


@ucode.effect(name="test.vault", secret=True)
def vault_read(path: str) -> str:
    value = os.environ.get("TEST_VAULT_" + path)
    if value is None:
        raise Refused(f"no secret at {path} (tried {os.environ.get('TEST_API_TOKEN')})")
    return value


def read_or_none(path: str) -> str | None:
    try:
        return vault_read(path)
    except Refused:
        return None


def test_a_secret_effects_exception_is_sealed_and_checked_on_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = record(read_or_none, "MISSING")
    (ev,) = rec.events
    assert ev.error is not None and ev.error["type"] == "Refused" and ev.error["message"] == "<secret>"
    assert_nowhere(rec.to_bytes())  # its message held the token
    assert replay(read_or_none, rec, "MISSING").identical  # raised again, the same way
    monkeypatch.setenv("TEST_VAULT_MISSING", "now-there")
    d = replay(read_or_none, rec, "MISSING").divergence
    assert d is not None and d.kind == "secret" and "the recording raised Refused" in str(d)
    assert "now-there" not in str(d)


def test_a_secret_effect_cannot_write() -> None:
    with pytest.raises(errors.InvalidEffectError, match="secret=True and writes=True") as info:
        ucode.effect(name="bad.secret", secret=True, writes=True)(lambda: None)
    assert info.value.name == "bad.secret" and info.value.hint


def test_a_test_handler_answers_a_secret_effect_like_any_other() -> None:
    from ucode import testing

    with testing.handle({effects.secret: "fake-token"}) as h:
        assert read_secret() == "fake-token"
    assert h.calls == [("env.secret", ("TEST_API_TOKEN",), {})]


# ---------------------------------------------------------------------------------------- tasks (API)


def test_a_task_records_secrets_as_digests_and_replays(job: Codebase, store: Path) -> None:
    assert not (store / "secret.key").exists()
    run = job.run_task("call", "ada")
    assert run.result["authorized"] is True
    key = store / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600  # created on first use, the owner's only
    events = job.task_events(run.id)
    assert [e["name"] for e in events] == ["env.secret", "vault.read", "log", "random.randint"]
    assert codec.is_sealed(events[0]["result"]) and codec.is_sealed(events[1]["result"])
    assert events[0]["args"] == ["TEST_API_TOKEN"]  # the arguments are recorded: they say which secret
    view = job.task_view(run.id).to_dict()
    assert [(e["result"], e["secret"]) for e in view["events"][:2]] == [("<secret>", True), ("<secret>", True)]
    assert view["events"][3]["secret"] is False
    assert_nowhere(json.dumps(view, default=str))
    for _ in range(2):
        out = job.replay(run.id)
        assert out.result.identical and out.result.result == run.result
    job.close()
    assert_nowhere(store_bytes(store))


def test_a_changed_secret_is_a_divergence_naming_the_effect(job: Codebase, monkeypatch: pytest.MonkeyPatch) -> None:
    run = job.run_task("call", "ada")
    monkeypatch.setenv("TEST_VAULT_DB", "pw-rotated-value")
    out = job.replay(run.id)
    d = out.result.divergence
    assert d is not None and (d.kind, d.index) == ("secret", 1) and out.change == "secret changed"
    assert "vault.read('DB')" in str(d)
    shown = str(d) + json.dumps(out.to_dict(), default=str)
    assert "rotated" not in shown and PASSWORD not in shown
    assert job.replay_all()[0].change == "secret changed"


FAILING = '''
import os
import ucode

@ucode.effect(name="vault.strict", secret=True)
def strict(path: str) -> str:
    raise PermissionError(f"denied with token {os.environ['TEST_API_TOKEN']}")

def fails() -> str:
    try:
        return strict("DB")
    except PermissionError as exc:
        raise RuntimeError(f"could not read the vault: {exc}") from exc
'''


def test_a_secret_effects_exception_is_sealed_in_the_tasks_failure_too(cb: Codebase, write: Write,
                                                                      store: Path) -> None:
    cb.add([write("failing.py", FAILING)])
    run = cb.run_task("fails")
    assert isinstance(run.error, RuntimeError) and TOKEN in str(run.error)  # the caller gets the real exception
    rec = cb.task(run.id)
    assert rec["error"]["type"] == "RuntimeError" and rec["error"]["message"] == "could not read the vault: <secret>"
    assert "PermissionError: <secret>" in rec["traceback"]
    assert cb.task_events(run.id)[0]["error"]["message"] == "<secret>"
    assert cb.replay(run.id).result.identical  # raised again the same way, and checked
    cb.close()
    assert_nowhere(store_bytes(store))


def test_a_run_without_secrets_makes_no_key(cb: Codebase, write: Write, store: Path) -> None:
    cb.add([write("plain.py", "from ucode import effects\n\ndef roll() -> int:\n    return effects.randint(1, 6)\n")])
    run = cb.run_task("roll")
    assert cb.replay(run.id).result.identical
    assert not (store / "secret.key").exists()


def test_the_key_can_come_from_the_environment(job: Codebase, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UCODE_SECRET_KEY", "a" * 40)
    run = job.run_task("call", "ada")
    assert not (store / "secret.key").exists()  # the user keeps the key: nothing written
    job.close()
    with Codebase(store) as again:
        assert again.replay(run.id).result.identical
    monkeypatch.setenv("UCODE_SECRET_KEY", "b" * 40)
    with Codebase(store) as other:
        d = other.replay(run.id).result.divergence
        assert d is not None and d.kind == "secret" and "another secret key" in str(d)
    monkeypatch.setenv("UCODE_SECRET_KEY", "short")
    with Codebase(store) as bad, pytest.raises(errors.SecretKeyError, match="fewer than 32") as info:
        bad.replay(run.id)
    assert info.value.source == "UCODE_SECRET_KEY" and "UCODE_SECRET_KEY" in (info.value.hint or "")


def test_the_store_key_file_in_the_environment_is_the_same_key(job: Codebase, store: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = job.run_task("call", "ada")
    text = (store / "secret.key").read_text().strip()
    job.close()
    (store / "secret.key").unlink()
    monkeypatch.setenv("UCODE_SECRET_KEY", text)
    with Codebase(store) as again:
        assert again.replay(run.id).result.identical


def test_a_key_file_others_can_read_is_refused(job: Codebase, store: Path) -> None:
    run = job.run_task("call", "ada")
    job.close()
    os.chmod(store / "secret.key", 0o644)
    with Codebase(store) as again, pytest.raises(errors.SecretKeyError, match="others may read it") as info:
        again.replay(run.id)
    assert "chmod 600" in (info.value.hint or "") and info.value.exit_code == 2


def test_a_store_in_memory_keeps_its_key_in_memory(write: Write) -> None:
    with Codebase.in_memory() as mem:
        mem.add([write("job.py", JOB)])
        run = mem.run_task("call", "grace")
        assert mem.replay(run.id).result.identical
        assert mem.task_view(run.id).to_dict()["events"][0]["result"] == "<secret>"


RESUMABLE = '''
import os
from ucode import effects

def job() -> list:
    a = effects.randint(1, 10**9)
    token = effects.secret("TEST_API_TOKEN")
    if os.environ.get("CRASH_NOW") == "1":  # the process dies here
        os._exit(9)
    b = effects.randint(1, 10**9)
    return [a, b, len(token or "")]
'''


@pytest.fixture
def interrupted(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    store = tmp_path / "s"
    src = tmp_path / "resumable.py"
    src.write_text(textwrap.dedent(RESUMABLE))
    with Codebase(store) as cb:
        cb.add([src])
    code = f"import ucode; ucode.open({str(store)!r}).run('job', durability='durable')"
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "CRASH_NOW": "1"},
                          capture_output=True, check=False)
    assert proc.returncode == 9, proc.stderr
    with Codebase(store) as cb:
        (rec,) = cb.tasks()
        assert cb.task_list()[0]["status"] == "interrupted"
        assert [e["name"] for e in cb.task_events(rec["id"])] == ["random.randint", "env.secret"]
    yield store, rec["id"]


def test_resume_performs_the_secret_again_and_checks_it(interrupted: tuple[Path, str]) -> None:
    store, tid = interrupted
    with Codebase(store) as cb:
        a = cb.task_events(tid)[0]["result"]
        done = cb.resume(tid)
        assert done.error is None and done.result[0] == a and done.result[2] == len(TOKEN)
        assert cb.task(tid)["status"] == "succeeded"
        assert cb.replay(tid).result.identical
    assert_nowhere(store_bytes(store))


def test_resume_with_a_changed_secret_refuses_and_the_task_stays_interrupted(
        interrupted: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    store, tid = interrupted
    monkeypatch.setenv("TEST_API_TOKEN", "sk-live-ROTATED")
    with Codebase(store) as cb:
        with pytest.raises(errors.TaskNotResumableError, match=r"env\.secret\('TEST_API_TOKEN'\)") as info:
            cb.resume(tid)
        assert "ROTATED" not in str(info.value) and TOKEN not in str(info.value)
        assert "stays interrupted" in str(info.value)
        assert cb.task_list()[0]["status"] == "interrupted" and len(cb.task_events(tid)) == 2  # nothing written
    monkeypatch.setenv("TEST_API_TOKEN", TOKEN)
    with Codebase(store) as cb:
        assert cb.resume(tid).result[2] == len(TOKEN)  # with the secret it ran with, it resumes


# ------------------------------------------------------------------------------------------------ CLI


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.py").write_text(textwrap.dedent(JOB))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Result:
        res = runner.invoke(app, ["--store", str(tmp_path / "s"), *args])
        assert res.exit_code == code, res.output
        assert "Traceback" not in res.output
        assert_nowhere(res.output)  # stdout and stderr
        return res

    return invoke


def test_secrets_through_the_cli_appear_nowhere(cli: Callable[..., Result], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cli("add", "job.py")
    tid = json.loads(cli("run", "call", '"ada"', "--json").stdout)["task"]
    shown = cli("task", "show", tid).stdout
    assert "env.secret('TEST_API_TOKEN') -> <secret>" in shown and "vault.read('DB') -> <secret>" in shown
    as_json = json.loads(cli("task", "show", tid, "--json").stdout)
    assert [e["result"] for e in as_json["events"][:2]] == ["<secret>", "<secret>"]
    assert f"calling user='ada' token_length={len(TOKEN)}" in cli("log").stdout
    cli("log", "--json")
    cli("task", "list", "--json")
    assert "replay identical" in cli("task", "replay", tid).stdout
    assert json.loads(cli("task", "replay", tid, "--json").stdout)["identical"] is True
    monkeypatch.setenv("TEST_API_TOKEN", "sk-live-ROTATED")
    diverged = cli("task", "replay", tid, code=3).stdout  # a divergence exits 3
    assert "replay diverged" in diverged
    assert "the secret env.secret('TEST_API_TOKEN') is not the one recorded" in diverged
    assert "ROTATED" not in diverged
    out = json.loads(cli("task", "replay", tid, "--json", code=3).stdout)
    assert out["divergence"]["kind"] == "secret" and out["change"] == "secret changed"
    assert "secret changed" in cli("task", "replay", "--all", code=3).stdout
    assert_nowhere(store_bytes(tmp_path / "s"))
