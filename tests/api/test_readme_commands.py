"""Every `caseledger` command in README.md runs as written.

The convention (stated in the README's CLI section): inside fenced ``sh`` blocks, a line
starting with ``caseledger `` is a command (a trailing backslash continues it on the next
line); it must exit 0, or the code its trailing ``# exit N`` comment names. Other lines of
those blocks (``bash scripts/...``, benchmark runs) install or run far more and are not run
here. The commands run in README order, through typer's CliRunner, in a scratch directory
whose entries link the repository root's, so paths such as ``policies/sample_covenant.toml``
resolve while the data dirs and files the commands write land in the scratch directory.
``serve`` would block, so it is not started; its ``--help`` must work instead.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from demo.cli import app  # the `caseledger` console script

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: Repository entries not linked into the scratch directory (the commands make their own).
UNLINKED = {"caseledger-data", "caseledger-demo"}
FENCE = re.compile(r"^```(\w*)\s*$")
EXPECTED_EXIT = re.compile(r"#\s*exit (\d+)\s*$")


@dataclass(frozen=True, slots=True)
class ReadmeCommand:
    line: int
    text: str
    args: list[str]
    exit_code: int


def fenced_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, first line number, lines) of every fenced block."""
    blocks: list[tuple[str, int, list[str]]] = []
    language: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = FENCE.match(line)
        if fence and language is None:
            language, start, lines = fence.group(1), number + 1, []
        elif line.startswith("```") and language is not None:
            blocks.append((language, start, lines))
            language = None
        elif language is not None:
            lines.append(line)
    assert language is None, "README.md has an unclosed fenced block"
    return blocks


def readme_commands(text: str) -> list[ReadmeCommand]:
    commands = []
    for language, start, lines in fenced_blocks(text):
        if language != "sh":
            continue
        joined: list[tuple[int, str]] = []
        for offset, line in enumerate(lines):
            if joined and joined[-1][1].endswith("\\"):
                joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + line.strip())
            else:
                joined.append((start + offset, line))
        for number, line in joined:
            if not line.startswith("caseledger "):
                continue
            expected = EXPECTED_EXIT.search(line)
            args = shlex.split(line, comments=True)[1:]
            code = int(expected.group(1)) if expected else 0
            commands.append(ReadmeCommand(number, line, args, code))
    return commands


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


class TestConvention:
    """The extraction finds the README's commands and no command hides outside ``sh``."""

    def test_commands_found(self) -> None:
        names = {c.args[0] for c in COMMANDS}
        assert {"init", "demo", "serve", "token", "covenant", "policy", "audit"} <= names
        assert {"retention", "keys", "projections"} <= names
        explain = next(c for c in COMMANDS if c.args[:2] == ["policy", "explain"])
        assert "--covenant" in explain.args  # the continuation line was joined

    def test_no_command_outside_sh_blocks(self) -> None:
        for language, start, lines in fenced_blocks(README.read_text(encoding="utf-8")):
            if language != "sh":
                assert not any(line.startswith("caseledger ") for line in lines), start

    def test_parsing(self) -> None:
        text = "```sh\ncaseledger a --b 'c d' \\\n    --e  # exit 2\nbash x\n```\n"
        [command] = readme_commands(text)
        assert (command.args, command.exit_code, command.line) == (["a", "--b", "c d", "--e"], 2, 2)


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory laid out like the repository root; no CASELEDGER_* variables."""
    for entry in ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name not in UNLINKED:
            (tmp_path / entry.name).symlink_to(entry)
    for variable in [k for k in os.environ if k.startswith("CASELEDGER_")]:
        monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_every_readme_command_runs(scratch: Path) -> None:
    """Each command exits as the README says (the demo starts a server: seconds)."""
    runner = CliRunner()
    failures = []
    for command in COMMANDS:
        args = command.args
        if args[0] == "serve" and "--help" not in args:
            args = ["serve", "--help"]
        result = runner.invoke(app, args)
        if result.exit_code != command.exit_code:
            failures.append(
                f"README.md:{command.line}: {command.text!r} exited {result.exit_code}, "
                f"expected {command.exit_code}:\n{result.output[-2000:]}"
            )
    assert not failures, "\n\n".join(failures)
    assert (scratch / "caseledger-data" / "covenant.toml").is_file()
    assert (scratch / "witness.json").is_file()
    assert (scratch / "access-log.jsonl").read_text(encoding="utf-8").strip()
