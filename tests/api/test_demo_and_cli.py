"""The HTTP demo (a real server on loopback) and the CLI's init / token / serve checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.demo import run_demo
from api.settings import Settings


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
