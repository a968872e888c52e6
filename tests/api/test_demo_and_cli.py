"""The HTTP demo (a real server on loopback), the CLI's init / token / serve checks, and
every command's help."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.core import TyperGroup
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as production_cli
from api.settings import Settings
from demo import run_demo
from demo.cli import app as cli  # the console script: api.cli's commands and demo

ROOT = Path(__file__).resolve().parents[2]


class TestDemo:
    """SC1-SC5 over HTTP: the printed views follow need to know; nothing plain on disk."""

    @pytest.mark.slow
    def test_demo_runs_all_scenarios(self, tmp_path: Path) -> None:
        lines: list[str] = []
        assert run_demo(tmp_path / "demo", lines.append) == 0
        text = "\n".join(lines)
        for scenario in ("SC1", "SC2", "SC3", "SC4", "SC5"):
            assert scenario in text
        corporation = next(line for line in lines if line.strip().startswith("woningcorporatie"))
        assert "rent arrears" in corporation
        assert "diagnosis" not in corporation
        assert "arrests" not in corporation
        assert "debt reads by gemeente after the withdrawal: 0" in text
        conference = lines[lines.index(next(x for x in lines if x.startswith("Casusoverleg"))) :]

        def said(who: str, what: str) -> str:
            return next(x for x in conference if x.split()[:2] == [who, what])

        # Each partner sees the agenda item of its own case only; the other is a count.
        assert "case 2" not in said("woningcorporatie/deelnemer", "meeting:")
        assert "items not shown 1" in said("woningcorporatie/deelnemer", "meeting:")
        assert "case 1" not in said("gemeente/deelnemer", "meeting:")
        assert "minutes (draft): 0 shown" in said("woningcorporatie/deelnemer", "minutes")
        assert "1 shown, 1 with their text" in said("ggz/deelnemer", "minutes")
        # The privacy officer sees that minutes exist, never their text.
        assert "1 shown, 0 with their text" in said("zvh/privacy_officer", "minutes")
        assert "refused 403" in said("zvh/administratief_medewerker", "starting")
        assert "Huisbezoek plannen" in said("woningcorporatie/deelnemer", "own")
        assert text.endswith("total plaintext occurrences on disk: 0")

    def test_demo_refuses_a_foreign_directory(self, tmp_path: Path) -> None:
        (tmp_path / "precious.txt").write_text("keep me")
        lines: list[str] = []
        assert run_demo(tmp_path, lines.append) == 2
        assert (tmp_path / "precious.txt").exists()


class TestCli:
    """init makes the signing key; token signs for covenant roles only; serve checks first."""

    def test_init_token_and_serve_precheck(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # `serve` exports the data dir for its worker processes; restore the variable after.
        monkeypatch.delenv("CASELEDGER_DATA_DIR", raising=False)
        runner = CliRunner()
        data = tmp_path / "data"
        assert runner.invoke(cli, ["init", "--data-dir", str(data)]).exit_code == 0
        assert (data / "token-signing-key.pem").stat().st_mode & 0o077 == 0
        assert (data / "token-jwks.json").exists()
        args = ["token", "--sub", "pr-anna", "--org", "zvh", "--role", "procesregisseur"]
        issued = runner.invoke(cli, [*args, "--data-dir", str(data)])
        assert issued.exit_code == 0
        token = issued.output.strip()
        with TestClient(create_app(Settings(data_dir=data))) as client:
            headers = {"Authorization": f"Bearer {token}", "X-Purpose": "zvh_joint_approach"}
            assert client.get("/v1/cases", headers=headers).status_code == 200
        refused = ["token", "--sub", "x", "--org", "politie", "--role", "procesregisseur"]
        assert runner.invoke(cli, [*refused, "--data-dir", str(data)]).exit_code == 2
        empty = tmp_path / "empty"
        empty.mkdir()
        result = runner.invoke(cli, ["serve", "--data-dir", str(empty)])
        assert result.exit_code == 2


class TestConsoleScript:
    """`caseledger` is the production CLI (api.cli, which may not import the demo) plus demo."""

    def test_the_console_script_adds_demo_to_the_production_commands(self) -> None:
        production = typer.main.get_command(production_cli)
        console = typer.main.get_command(cli)
        assert isinstance(production, TyperGroup)
        assert isinstance(console, TyperGroup)
        assert "demo" not in production.commands
        assert set(console.commands) == {*production.commands, "demo"}

    def test_the_installed_script_is_the_one_with_the_demo(self) -> None:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        module, _, function = project["project"]["scripts"]["caseledger"].partition(":")
        assert (module, function) == ("demo.cli", "main")


def command_paths(command: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The main app, every sub-app and every command, as argument lists."""
    yield prefix
    subcommands = command.commands if isinstance(command, TyperGroup) else {}
    for name, subcommand in subcommands.items():
        yield from command_paths(subcommand, (*prefix, name))


COMMANDS = list(command_paths(typer.main.get_command(cli)))
#: typer's type placeholders (``<bool>``, ``<path>``, ``<list[str]>``) in place of an option's
#: metavar; choices (``<json|csv>``) are fine, and so is an argument's type beside its NAME.
PLACEHOLDER = re.compile(r"<(bool|path|str|int|list\[\w+\]|int range)>")


def help_text(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.stdout


class TestHelp:
    """Every --help shows option metavars (none for flags), arguments as NAME in the usage
    line, and command summaries that are whole sentences."""

    def test_every_command_is_walked(self) -> None:
        assert ("audit", "query") in COMMANDS
        assert ("policy", "diff") in COMMANDS
        assert ("demo",) in COMMANDS
        assert len(COMMANDS) >= 20

    @pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args) or "caseledger")
    def test_metavars(self, args: tuple[str, ...]) -> None:
        text = help_text(*args)
        options = [line for line in text.splitlines() if "--" in line]
        assert options
        assert not [line for line in options if PLACEHOLDER.search(line)], text
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert "{" not in usage

    def test_arguments_in_usage(self) -> None:
        assert "Usage: caseledger covenant check [OPTIONS] FILE" in help_text("covenant", "check")
        assert "Usage: caseledger policy diff [OPTIONS] OLD NEW" in help_text("policy", "diff")

    def test_flags_and_paths(self) -> None:
        text = help_text("retention", "run")
        assert re.search(r"--dry-run +Report, erase nothing", text)
        assert re.search(r"--data-dir +DIR ", text)
        assert re.search(r"--format +<table\|jsonl\|csv>", help_text("audit", "query"))

    def test_demo_and_init_say_what_they_do(self) -> None:
        listing = help_text()
        assert "Record scenario SC1" not in listing
        assert re.search(r"demo +Play scenarios SC1-SC5 over HTTP", listing)
        init = next(line for line in listing.splitlines() if line.strip("│ ").startswith("init"))
        assert init.strip("│ ").endswith("local token key.")
