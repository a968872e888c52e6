"""`caseledger backup create` / `backup restore`: help, one-line results and refusals, exit
codes, no key material in the output, nothing shown but the result when not on a terminal.
All data is invented."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.bootstrap import build_services
from api.cli import app
from api.settings import Settings
from tests.integration._ledger_support import PRIVACY_OFFICER, World, all_bodies, build_world


def run(data_dir: Path, *args: str) -> Result:
    """Run the CLI on ``data_dir`` with no CASELEDGER_* variable of the calling environment."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CASELEDGER_")}
    return CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], env=env)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert run(data, "init").exit_code == 0
    return data


@pytest.fixture
def world(data_dir: Path) -> World:
    services = build_services(Settings(data_dir=data_dir))
    try:
        return build_world(services.ledger)
    finally:
        services.close()


def _erase_subject_a(data_dir: Path, w: World) -> None:
    services = build_services(Settings(data_dir=data_dir))
    try:
        services.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
    finally:
        services.close()


def _readable(data_dir: Path, w: World) -> set[str]:
    services = build_services(Settings(data_dir=data_dir))
    try:
        return {f for f, body in all_bodies(services.ledger, w).items() if body is not None}
    finally:
        services.close()


def _key_material(data_dir: Path) -> list[str]:
    """Every base64 key in the keyring and the access-log key file."""
    keyring = json.loads((data_dir / "keyring.json").read_text())
    found = [k for p in keyring["partners"].values() for k in p["versions"].values()]
    audit = json.loads((data_dir / "audit-keys.json").read_text())
    found += [audit["pseudonym_key"], audit["signing_key"]]
    assert all(base64.b64decode(k) for k in found)
    return found


class TestHelp:
    def test_group_lists_both_commands(self, tmp_path: Path) -> None:
        result = CliRunner().invoke(app, ["backup", "--help"])
        assert result.exit_code == 0
        assert "create" in result.output
        assert "restore" in result.output

    def test_restore_help_explains_force_and_the_journal(self) -> None:
        result = CliRunner().invoke(app, ["backup", "restore", "--help"], terminal_width=200)
        assert result.exit_code == 0
        assert "Usage: caseledger backup restore [OPTIONS] DIR" in result.output
        assert "--force" in result.output
        assert "erasure journal" in result.output


class TestCreateAndRestore:
    def test_round_trip_after_an_erasure(
        self, data_dir: Path, world: World, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        created = run(data_dir, "backup", "create", str(backup))
        assert created.exit_code == 0, created.output
        assert created.stderr == ""  # no progress bar off a terminal
        assert created.stdout.count("\n") == 1
        assert created.stdout.startswith(f"backup written to {backup}: ")
        assert "key generation 0" in created.stdout
        secrets = _key_material(data_dir)
        _erase_subject_a(data_dir, world)

        refused = run(data_dir, "backup", "restore", str(backup))
        assert refused.exit_code == 2
        assert refused.stderr.startswith("caseledger: the backup's key store (generation 0)")
        assert refused.stderr.count("\n") == 1
        assert "--force" in refused.stderr
        about_a = world.ids("identity_a", "politie_a", "reclassering_a", "reclassering_ab")
        assert _readable(data_dir, world) == world.all_ids - about_a

        restored = run(data_dir, "backup", "restore", str(backup), "--force")
        assert restored.exit_code == 0, restored.output
        assert restored.stderr == ""
        assert restored.stdout == (
            f"restored 3 stores from {backup} (kept the live access log);"
            " destroyed again: 1 scopes, 3 scope keys, 0 fact keys\n"
        )
        assert _readable(data_dir, world) == world.all_ids - about_a
        for text in (created.stdout, refused.stderr, restored.stdout):
            assert [s for s in secrets if s in text] == []
            assert world.subject_a not in text

    def test_non_empty_directory_refused(self, data_dir: Path, tmp_path: Path) -> None:
        backup = tmp_path / "backup"
        backup.mkdir()
        (backup / "something").write_text("kept")
        result = run(data_dir, "backup", "create", str(backup))
        assert result.exit_code == 2
        assert result.stderr == (
            f"caseledger: {backup}: not an empty directory (a backup never overwrites)\n"
        )
        assert (backup / "something").read_text() == "kept"

    def test_tampered_backup_is_an_error(
        self, data_dir: Path, world: World, tmp_path: Path
    ) -> None:
        backup = tmp_path / "backup"
        assert run(data_dir, "backup", "create", str(backup)).exit_code == 0
        (backup / "keyring.json").write_text("{}")
        result = run(data_dir, "backup", "restore", str(backup))
        assert result.exit_code == 1
        assert result.stderr == "error: keyring.json: missing or does not match the manifest\n"
        assert _readable(data_dir, world) == world.all_ids

    def test_no_backup_there(self, data_dir: Path, tmp_path: Path) -> None:
        result = run(data_dir, "backup", "restore", str(tmp_path / "nothing"))
        assert result.exit_code == 1
        assert result.stderr == f"error: {tmp_path / 'nothing'}: no readable manifest.json\n"
