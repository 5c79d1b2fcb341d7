"""Every code block in README.md and docs/*.md runs, and shows what it really prints (as sqlite-utils tests
its docs).

Per document, in document order, in a new project (a copy of ``examples/``, the current directory, the store
at ``./.ucode``, ``UCODE_STORE`` unset), so later blocks see what earlier ones did:

- ```python blocks are executed, sharing one namespace per document;
- ```console blocks are ``$ ucode ...`` lines, each followed by what it prints (stdout and stderr, as a
  terminal shows them): each command runs through typer's CliRunner, must exit 0 (non-zero when what it
  shows has an ``error:`` line or starts with a traceback) and print exactly the lines shown (as on a
  terminal 120 columns wide, without the colors), with the
  volatile parts normalized: times and dates, task ids (a task id shown is bound to the real one the
  first time it is printed, and stands for it in later commands), and the project's directory, shown as
  ``/home/me/ucode``. Hashes are not normalized: they are deterministic. A line ``...`` stands for any
  lines, ``...`` inside a line for any text. Besides ``ucode``, a command may be ``cd DIR && ucode ...``
  (run in an empty directory without a store) or ``echo $?`` (the exit code of the previous command);
- ```sh / ```bash blocks: every ``ucode`` command (one a line, ``&&`` chains them) must exit 0;
- ```json blocks must parse; unlabeled blocks are synopses, diagrams and formulas (not run), and must not
  hold ``$ ucode`` commands (label those ``console``).

Directives, HTML comments on the lines just before a fence (invisible in the rendered page):

- ``<!-- docs-test: skip (why) -->``: the block is not run (kept few: see ``MAX_SKIPPED``);
- ``<!-- docs-test: new project -->``: start a new project (and store) for this block and the ones after;
- ``<!-- docs-test: file PATH -->``: the block is the text of the file ``PATH`` (written, not run);
- ``<!-- docs-test: write PATH TEXT -->``: write ``TEXT`` (a Python string literal) to ``PATH`` first;
- ``<!-- docs-test: seed N -->``: seed Python's ``random`` (what ``effects.randint`` uses) with N, N+1,
  ... before each ``ucode run`` from this block on, so that runs that roll dice print what the doc shows;
- ``<!-- docs-test: setup CMD; CMD -->``: run these ``ucode`` commands first (they must succeed, unless
  written ``-ucode ...``; their output is not shown).

``UCODE_DOCS_UPDATE=1 pytest tests/test_doc_blocks.py`` rewrites, in place, the shown output of every
command whose output does not match (keeping the task ids already shown); review the diff.
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ucode.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHOWN_PROJECT = "/home/me/ucode"  # the project directory, as the docs show it
MAX_SKIPPED = 6
UPDATE = os.environ.get("UCODE_DOCS_UPDATE") == "1"

_FENCE = re.compile(r"^```\s*([\w-]*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
_TASK_ID = re.compile(r"\bt[a-z2-7]{8}\b")
_TIME = r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d)?"
_JSON_TIME = re.compile(r'("(?:time|started|finished|created)": )\d+(?:\.\d+)?')


@dataclass
class Block:
    doc: Path
    lang: str
    line: int  # the line of the opening fence (1-based)
    lines: list[str]
    directives: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def skip(self) -> str | None:
        for d in self.directives:
            if d.startswith("skip"):
                return d.removeprefix("skip").strip()
        return None


def blocks(doc: Path) -> list[Block]:
    found: list[Block] = []
    lines = doc.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        directives: list[str] = []
        j = i - 1
        while j >= 0 and (dm := _DIRECTIVE.match(lines[j])):
            directives.insert(0, dm.group(1))
            j -= 1
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        found.append(Block(doc, m.group(1).lower(), i + 1, lines[i + 1:end], directives))
        i = end + 1
    return found


ALL_BLOCKS = [b for doc in DOCS for b in blocks(doc)]
RUN_LANGS = {"python", "console", "sh", "bash"}


@dataclass
class Command:
    argv: list[str]  # the shell words, before task ids are mapped
    line: int  # 1-based line of the `$ ` in the doc
    shown: list[str]  # the output shown under it
    text: str


def _commands(block: Block) -> list[Command]:
    cmds: list[Command] = []
    for k, text in enumerate(block.lines):
        lineno = block.line + 1 + k
        if block.lang == "console":
            if text.startswith("$ "):
                cmds.append(Command(shlex.split(text[2:], comments=True), lineno, [], text))
            elif cmds:
                cmds[-1].shown.append(text)
            elif text.strip():
                raise AssertionError(f"{block.where}: output before any `$ ` command: {text!r}")
        else:
            argv = shlex.split(text, comments=True)
            if argv:
                cmds.append(Command(argv, lineno, [], text))
    return cmds


class Project:
    """One document's project directory, store and state (the task ids seen so far, the last exit code)."""

    def __init__(self, root: Path, empty: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.empty, self.monkeypatch = root, empty, monkeypatch
        self.ids: dict[str, str] = {}  # a task id shown in the doc -> the real one
        self.last_exit = 0
        self.seed: int | None = None  # `seed N`: random.seed(N), N+1, ... before each `ucode run`
        self.namespace: dict[str, Any] = {"__name__": "__doc_block__"}
        self.runner = CliRunner()

    def fresh(self, n: int) -> None:
        self.dir = self.root / f"project{n}"
        shutil.copytree(ROOT / "examples", self.dir / "examples")
        self.monkeypatch.chdir(self.dir)

    def invoke(self, argv: list[str], cwd: Path | None = None) -> tuple[int, str]:
        argv = [_TASK_ID.sub(lambda m: self.ids.get(m.group(0), m.group(0)), a) for a in argv]
        assert argv[0] == "ucode", argv
        if self.seed is not None and argv[1:2] == ["run"]:
            random.seed(self.seed)
            self.seed += 1
        if cwd is not None:
            self.monkeypatch.chdir(cwd)
        try:
            res = self.runner.invoke(app, argv[1:])
        finally:
            if cwd is not None:
                self.monkeypatch.chdir(self.dir)
        out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", res.output)
        for path, shown in ((self.dir, SHOWN_PROJECT), (self.empty, "/tmp")):
            out = out.replace(str(path.resolve()), shown).replace(str(path), shown)
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            out += f"\n<unexpected {type(res.exception).__name__}: {res.exception}>"
        lines = [ln.rstrip() for ln in out.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return res.exit_code, "\n".join(lines)


def _pattern(shown: list[str], ids: dict[str, str]) -> tuple[re.Pattern[str], list[str]]:
    """A regex for the shown output; returns it and the doc task ids it captures (not yet bound)."""
    parts: list[str] = []
    groups: dict[str, str] = {}
    order: list[str] = []

    def piece(text: str) -> str:
        out: list[str] = []
        pos = 0
        for m in re.finditer(rf"{_TIME}|{_TASK_ID.pattern}|{_JSON_TIME.pattern}|\.\.\.", text):
            out.append(re.escape(text[pos:m.start()]))
            tok = m.group(0)
            if tok == "...":
                out.append(".*?")
            elif _JSON_TIME.fullmatch(tok):
                out.append(re.escape(tok.split(":")[0]) + r": \d+(?:\.\d+)?")
            elif _TASK_ID.fullmatch(tok):
                if tok in ids:
                    out.append(re.escape(ids[tok]))
                elif tok in groups:
                    out.append(f"(?P={groups[tok]})")
                else:
                    groups[tok] = f"t{len(groups)}"
                    order.append(tok)
                    out.append(rf"(?P<{groups[tok]}>t[a-z2-7]{{8}})")
            else:
                out.append(_TIME)
            pos = m.end()
        out.append(re.escape(text[pos:]))
        return "".join(out)

    for ln in shown:
        if ln.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(piece(ln.rstrip()) + r"\n")
    return re.compile("".join(parts)), order


def _check_output(project: Project, cmd: Command, code: int, out: str, where: str) -> str | None:
    """None if the command did what the doc shows; else what differs."""
    shown = list(cmd.shown)
    while shown and not shown[-1].strip():
        shown.pop()
    wants_error = any(ln.startswith("error:") for ln in shown) or (
        bool(shown) and shown[0].startswith("Traceback (most recent call last):"))
    problems: list[str] = []
    if wants_error and code == 0:
        problems.append("exit code 0, but the doc shows an error")
    if not wants_error and code != 0:
        problems.append(f"exit code {code}")
    if cmd.argv[1:2] == ["closure"]:  # a closure hash covers the programs, whose paths differ per project
        shown = [re.sub(r"^[a-z2-7]{52}$", "<closure>", ln) for ln in shown]
        out = re.sub(r"(?m)^[a-z2-7]{52}$", "<closure>", out)
    pattern, order = _pattern(shown, project.ids)
    m = pattern.fullmatch(out + "\n" if out else "")
    if m is None:
        problems.append("output differs")
    else:
        for k, doc_id in enumerate(order):
            project.ids[doc_id] = m.group(f"t{k}")
    if not problems:
        return None
    return (f"{where} line {cmd.line}: `{cmd.text.strip()}`: {'; '.join(problems)}\n"
            + "--- shown\n" + "\n".join(shown) + "\n--- printed\n" + out)


def _shown_for_update(project: Project, out: str) -> list[str]:
    real_to_doc = {real: doc for doc, real in project.ids.items()}
    text = _TASK_ID.sub(lambda m: real_to_doc.get(m.group(0), m.group(0)), out)
    return text.splitlines() if text else []


def _run_console(project: Project, block: Block, failures: list[str],
                 edits: list[tuple[int, int, list[str]]]) -> None:
    cmds = _commands(block)
    if block.lang != "console":  # a shell line may chain commands with &&
        cmds = [Command(part, c.line, [], shlex.join(part)) for c in cmds for part in _split_and(c.argv)]
    for cmd in cmds:
        argv = cmd.argv
        if argv == ["echo", "$?"]:
            if cmd.shown[:1] != [str(project.last_exit)]:
                failures.append(f"{block.where} line {cmd.line}: `echo $?` shows {cmd.shown[:1]}, "
                                f"the exit code was {project.last_exit}")
            continue
        cwd = None
        if argv[0] == "cd" and "&&" in argv and argv.index("&&") == 2:
            cwd, argv = project.empty, argv[3:]
        if argv[0] != "ucode" or "&&" in argv or "|" in argv:
            failures.append(f"{block.where} line {cmd.line}: cannot run `{cmd.text.strip()}` "
                            "(only `ucode ...`, `cd DIR && ucode ...` and `echo $?`)")
            continue
        code, out = project.invoke(argv, cwd)
        project.last_exit = code
        if block.lang != "console":
            if code != 0:
                failures.append(f"{block.where} line {cmd.line}: `{cmd.text.strip()}` exited {code}:\n{out}")
            continue
        problem = _check_output(project, cmd, code, out, block.where)
        if problem:
            failures.append(problem)
            if UPDATE:
                edits.append((cmd.line, len(cmd.shown), _shown_for_update(project, out)))


def _split_and(argv: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for word in argv:
        if word == "&&":
            parts.append([])
        else:
            parts[-1].append(word)
    return [p for p in parts if p]


def _apply_edits(doc: Path, edits: list[tuple[int, int, list[str]]]) -> None:
    lines = doc.read_text().splitlines()
    for line, n_shown, new in sorted(edits, reverse=True):
        lines[line:line + n_shown] = new  # `line` is the 1-based `$ ` line: its output starts at index line
    doc.write_text("\n".join(lines) + "\n")


def _directive_actions(project: Project, block: Block, failures: list[str], new_project: Callable[[], None]) -> None:
    for d in block.directives:
        if d == "new project":
            new_project()
        elif d.startswith("write "):
            path, text = d.removeprefix("write ").split(" ", 1)
            (project.dir / path).parent.mkdir(parents=True, exist_ok=True)
            (project.dir / path).write_text(ast.literal_eval(text))
        elif d.startswith("seed "):
            project.seed = int(d.removeprefix("seed "))
        elif d.startswith("setup "):
            for part in d.removeprefix("setup ").split(";"):
                may_fail = part.strip().startswith("-")
                code, out = project.invoke(shlex.split(part.strip().removeprefix("-")))
                if code != 0 and not may_fail:
                    failures.append(f"{block.where}: setup `{part.strip()}` exited {code}:\n{out}")
        elif not d.startswith(("skip", "file ")):
            failures.append(f"{block.where}: unknown directive {d!r}")


DOCS_WITH_CODE = [d for d in DOCS if any(b.lang in RUN_LANGS and not b.skip for b in blocks(d))]


@pytest.mark.parametrize("doc", DOCS_WITH_CODE, ids=lambda d: str(d.relative_to(ROOT)))
def test_doc_blocks_run_as_shown(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UCODE_STORE", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")  # render as on a terminal (tables with rules), 120 columns wide;
    monkeypatch.setenv("COLUMNS", "120")  # the color codes are stripped below
    (tmp_path / "empty").mkdir()
    project = Project(tmp_path, tmp_path / "empty", monkeypatch)
    count = [0]

    def new_project() -> None:
        count[0] += 1
        project.fresh(count[0])
        project.namespace = {"__name__": "__doc_block__"}

    state = random.getstate()
    new_project()
    failures: list[str] = []
    edits: list[tuple[int, int, list[str]]] = []
    for block in blocks(doc):
        if block.skip is not None or block.lang not in RUN_LANGS | {"json"}:
            continue
        _directive_actions(project, block, failures, new_project)
        text = "\n".join(block.lines) + "\n"
        file_target = next((d.removeprefix("file ").strip() for d in block.directives if d.startswith("file ")), None)
        if file_target:
            (project.dir / file_target).parent.mkdir(parents=True, exist_ok=True)
            (project.dir / file_target).write_text(text)
        elif block.lang == "json":
            try:
                json.loads(text)
            except ValueError as exc:
                failures.append(f"{block.where}: not JSON: {exc}")
        elif block.lang == "python":
            try:
                exec(compile(text, block.where, "exec"), project.namespace)
            except Exception as exc:
                failures.append(f"{block.where}: raised {type(exc).__name__}: {exc}")
        else:
            _run_console(project, block, failures, edits)
    random.setstate(state)
    if UPDATE and edits:
        _apply_edits(doc, edits)
    assert not failures, f"{len(failures)} doc block problem(s):\n\n" + "\n\n".join(failures)


def test_skipped_blocks_are_few_and_say_why() -> None:
    skipped = [b for b in ALL_BLOCKS if b.skip is not None]
    for b in skipped:
        assert re.fullmatch(r"\(.+\)", b.skip or ""), f"{b.where}: say why: <!-- docs-test: skip (reason) -->"
    assert len(skipped) <= MAX_SKIPPED, [b.where for b in skipped]


def test_blocks_are_labeled() -> None:
    """A block of commands is labeled console (or sh), so that it is run; other labels are the known ones."""
    for b in ALL_BLOCKS:
        assert b.lang in RUN_LANGS | {"json", ""}, f"{b.where}: unknown block language {b.lang!r}"
        if b.lang == "":
            assert not any(ln.lstrip().startswith("$ ucode") for ln in b.lines), f"{b.where}: label it console"


def test_every_runnable_block_is_run_or_skipped() -> None:
    run = [b for b in ALL_BLOCKS if b.lang in RUN_LANGS and b.skip is None]
    assert len(run) >= 30, len(run)
