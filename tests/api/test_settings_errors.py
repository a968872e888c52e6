"""A bad CASELEDGER_* setting is one line on stderr naming the setting, and exit status 2; never a
traceback, never the value itself (it may carry a password)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.settings import Settings, SettingsError

COMMANDS = [
    ["serve"],
    ["token", "--sub", "pr-anna", "--org", "zvh", "--role", "procesregisseur"],
    ["init"],
    ["keys", "rotate", "--partner", "zvh"],
    ["projections", "rebuild"],
    ["audit", "verify"],
    ["audit", "checkpoint"],
    ["audit", "query"],
    ["audit", "export"],
    ["retention", "run", "--dry-run"],
]
BAD_SETTINGS = [
    ("CASELEDGER_DATABASE_URL", "sqlite:///x"),
    ("CASELEDGER_KEYSTORE_URL", "mysql://keeper:hunter2@db.example/keys"),
    ("CASELEDGER_OIDC_DISCOVERY_URL", "http://127.0.0.1@attacker.example/"),
    ("CASELEDGER_JWKS_REFRESH_SECONDS", "soon"),
    ("CASELEDGER_JWKS_REFRESH_SECONDS", "0"),
    ("CASELEDGER_TOKEN_ALGORITHMS", "HS256"),
    ("CASELEDGER_TOKEN_ROLES_CLAIM", "realm_access..roles"),
]


def _assert_one_line_naming(stderr: str, variable: str, value: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"caseledger: {variable}: ")
    assert "Traceback" not in stderr
    assert value not in stderr
    assert "hunter2" not in stderr


class TestCommands:
    """Every command that loads settings reports a bad one the same way."""

    @pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
    def test_bad_database_url(self, command: list[str], tmp_path: Path) -> None:
        env = {"CASELEDGER_DATABASE_URL": "sqlite:///x", "CASELEDGER_DATA_DIR": str(tmp_path)}
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 2
        assert result.stdout == ""
        _assert_one_line_naming(result.stderr, "CASELEDGER_DATABASE_URL", "sqlite:///x")
        assert list(tmp_path.iterdir()) == []  # nothing was started or written

    @pytest.mark.parametrize(("variable", "value"), BAD_SETTINGS)
    def test_each_kind_of_bad_value(self, variable: str, value: str, tmp_path: Path) -> None:
        env = {variable: value, "CASELEDGER_DATA_DIR": str(tmp_path)}
        result = CliRunner().invoke(cli, ["serve"], env=env)
        assert result.exit_code == 2
        _assert_one_line_naming(result.stderr, variable, value)

    def test_a_bad_option_is_named_as_the_option(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match=r"^data_dir: "):
            Settings.from_environ({"CASELEDGER_DATA_DIR": str(tmp_path)}, data_dir=12)


class TestEntryPoint:
    """The installed entry point, as in the issue: `caseledger serve` with a SQLite URL."""

    def test_serve_with_a_sqlite_url(self, tmp_path: Path) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CASELEDGER_")},
            "CASELEDGER_DATABASE_URL": "sqlite:///x",
            "CASELEDGER_DATA_DIR": str(tmp_path),
        }
        done = subprocess.run(
            [sys.executable, "-c", "from api.cli import main; main()", "serve"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2
        assert done.stdout == ""
        _assert_one_line_naming(done.stderr, "CASELEDGER_DATABASE_URL", "sqlite:///x")
