"""`caseledger policy diff`: a summary first; every change and decision only with --full."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app

MINIMAL = Path(__file__).parent / "covenants" / "minimal.toml"


@pytest.fixture
def proposed(tmp_path: Path) -> Path:
    """The minimal covenant with signal facts no longer reusable for the joint approach and
    a longer retention of closed cases."""
    text = MINIMAL.read_text(encoding="utf-8")
    text = text.replace('compatible_with = ["joint"]', "compatible_with = []")
    text = text.replace("closed_case_years = 2", "closed_case_years = 3")
    path = tmp_path / "proposed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def diff(*args: str) -> list[str]:
    result = CliRunner().invoke(app, ["policy", "diff", *args])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout.splitlines()


SUMMARY = [
    "Minimal test covenant v1 -> Minimal test covenant v1",
    "sections:",
    "  partners     unchanged",
    "  purposes     1 removed",
    "  roles        unchanged",
    "  legal_bases  unchanged",
    "  categories   unchanged",
    "  kinds        unchanged",
    "  retention    1 changed",
    "  emergency    unchanged",
    "  access_log   unchanged",
    "  erasure      unchanged",
    "  meetings     unchanged",
    "changed decisions: 7",
    "  7 decisions now denied (purpose_incompatible)",
]


class TestPolicyDiffOutput:
    """Counts per section and grouped decisions; the full lists follow with --full."""

    def test_summary_only(self, proposed: Path) -> None:
        assert diff(str(MINIMAL), str(proposed)) == [*SUMMARY, "(--full lists every change)"]

    def test_full(self, proposed: Path) -> None:
        lines = diff(str(MINIMAL), str(proposed), "--full")
        assert lines[: len(SUMMARY)] == SUMMARY
        rest = lines[len(SUMMARY) :]
        assert rest[:4] == [
            "changes:",
            "  purposes.signal.compatible_with: removed joint",
            "  retention.closed_case_years: 2 -> 3",
            "decisions:",
        ]
        decisions = rest[4:]
        assert len(decisions) == 7
        assert all(line.startswith("  ") and "-> denied (purpose_incompatible)" in line
                   for line in decisions)  # fmt: skip

    def test_section_change_without_decision_change(self, tmp_path: Path) -> None:
        text = MINIMAL.read_text(encoding="utf-8").replace("= 1000", "= 500")
        longer = tmp_path / "log.toml"
        longer.write_text(text, encoding="utf-8")
        lines = diff(str(MINIMAL), str(longer), "--full")
        assert "  access_log   1 changed" in lines
        assert "changed decisions: 0" in lines
        assert lines[-3:] == [
            "changes:",
            "  access_log.checkpoint_every: 1000 -> 500",
            "decisions:",
        ]

    def test_help_names_the_arguments(self) -> None:
        result = CliRunner().invoke(app, ["policy", "diff", "--help"])
        assert "caseledger policy diff [OPTIONS] OLD NEW" in result.stdout
        assert "--full" in result.stdout
