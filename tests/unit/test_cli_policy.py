"""`caseledger covenant ...` and `caseledger policy ...` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli_policy import covenant_app, policy_app
from policies import load_covenant, sample_covenant_path

COVENANTS = Path(__file__).parent / "covenants"
SAMPLE = str(sample_covenant_path())


@pytest.fixture
def cli() -> typer.Typer:
    """The two sub-apps mounted as the main CLI mounts them."""
    app = typer.Typer()
    app.add_typer(covenant_app, name="covenant")
    app.add_typer(policy_app, name="policy")
    return app


def run(cli: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


class TestCovenantCheck:
    """A valid file gets a one-line summary; an invalid one its error lines and exit 1."""

    def test_sample(self, cli: typer.Typer) -> None:
        code, out, _ = run(cli, "covenant", "check", SAMPLE)
        assert code == 0
        reference = load_covenant(SAMPLE).reference
        assert out == (
            "ok: Zorg- en Veiligheidshuis Voorbeeldregio v1, 12 partners, 6 purposes\n"
            f"recorded as: {reference}\n"
        )

    @pytest.mark.parametrize(
        ("name", "line"),
        [
            ("retention_zero", "retention.closed_case_years: Input should be greater than 0"),
            ("criminal_in_compatibility", "purposes[1].compatible_with[1]: 'criminal_"),
            ("syntax_error", "(syntax): invalid TOML"),
        ],
    )
    def test_malformed(self, cli: typer.Typer, name: str, line: str) -> None:
        path = COVENANTS / f"malformed_{name}.toml"
        code, out, err = run(cli, "covenant", "check", str(path))
        assert code == 1
        assert out == ""
        assert err.startswith(f"{path}: {line}")
        assert "Traceback" not in err

    def test_missing_file(self, cli: typer.Typer, tmp_path: Path) -> None:
        code, _, err = run(cli, "covenant", "check", str(tmp_path / "none.toml"))
        assert code == 1
        assert "(file): cannot read: No such file or directory" in err


class TestPolicyExplain:
    """Explain prints the decision with its one-line reason and basis."""

    base = ("policy", "explain", "--covenant", SAMPLE, "--purpose", "zvh_joint_approach")

    def test_corporation_may_not_see_a_diagnosis(self, cli: typer.Typer) -> None:
        code, out, _ = run(
            cli,
            *self.base,
            "--role", "deelnemer",
            "--partner", "woningcorporatie",
            "--owner", "ggz",
            "--category", "health",
            "--sharing", "partners",
            "--share-with", "reclassering",
        )  # fmt: skip
        assert code == 0
        assert out.splitlines() == [
            "denied: sharing_excludes_reader (the owner did not share the fact with the reader)",
            "basis: sharing=partners:[reclassering]; legal_basis=wgs",
        ]

    def test_defaults_allow_a_participant(self, cli: typer.Typer) -> None:
        _, out, _ = run(cli, *self.base, "--role", "deelnemer", "--partner", "reclassering")
        assert out.startswith("allowed: allowed_sharing")

    @pytest.mark.parametrize(
        ("extra", "first"),
        [
            (("--no-participant",), "denied: not_participant"),
            (("--case-status", "closed"), "denied: case_closed"),
            (("--case-status", "triage"), "denied: case_not_active"),
            (("--case-status", "rejected"), "denied: case_not_active"),
            (("--case-status", "erased"), "denied: erased"),
            (("--legal-basis", "consent"), "denied: consent_absent_or_withdrawn"),
            (("--legal-basis", "consent", "--consent"), "allowed: allowed_consent"),
            (("--no-participant", "--emergency-reason", "acute risk"), "allowed (emergency)"),
            (("--no-participant", "--emergency-reason", " "), "denied: emergency_reason_missing"),
            (("--fact-purpose", "aftercare_detention"), "allowed: allowed_sharing"),
            (("--kind", "gossip"), "denied: undeclared_term"),
        ],
    )
    def test_options(self, cli: typer.Typer, extra: tuple[str, ...], first: str) -> None:
        code, out, _ = run(cli, *self.base, "--role", "deelnemer", "--partner", "ggd", *extra)
        assert code == 0
        assert out.startswith(first)

    def test_regie_needs_the_named_casusregisseur(self, cli: typer.Typer) -> None:
        reader = (*self.base, "--role", "casusregisseur", "--partner", "ggd", "--sharing", "regie")
        _, unnamed, _ = run(cli, *reader)
        assert unnamed.startswith("denied: sharing_excludes_reader")
        _, named, _ = run(cli, *reader, "--named-casusregisseur")
        assert named.startswith("allowed: allowed_regie")

    def test_privacy_officer(self, cli: typer.Typer) -> None:
        _, out, _ = run(
            cli,
            "policy", "explain", "--covenant", SAMPLE, "--purpose", "accountability",
            "--role", "privacy_officer", "--partner", "zvh",
        )  # fmt: skip
        assert out.startswith("allowed (metadata only): privacy_officer_metadata")

    def test_share_with_needs_partners_level(self, cli: typer.Typer) -> None:
        code, out, err = run(
            cli, *self.base, "--role", "deelnemer", "--partner", "ggd", "--share-with", "ggz"
        )
        assert code == 1
        assert out == ""
        assert err == "error: sharing level participants names no partners\n"

    def test_invalid_covenant(self, cli: typer.Typer) -> None:
        bad = str(COVENANTS / "malformed_retention_zero.toml")
        code, _, err = run(
            cli, "policy", "explain", "--covenant", bad, "--purpose", "joint",
            "--role", "deelnemer", "--partner", "ggz",
        )  # fmt: skip
        assert code == 1
        assert "retention.closed_case_years" in err

    def test_office_only_covenant_defaults(self, cli: typer.Typer, tmp_path: Path) -> None:
        text = (COVENANTS / "minimal.toml").read_text(encoding="utf-8")
        text = text.replace('[[partners]]\nid = "ggz"\nname = "Care partner"\ndomain = "care"', "")
        text = text.replace('partners = ["ggz"]', "partners = []")
        text = text.replace('id = "wgs"', 'id = "law"')
        office = tmp_path / "office.toml"
        office.write_text(text, encoding="utf-8")
        _, out, _ = run(
            cli, "policy", "explain", "--covenant", str(office), "--purpose", "joint",
            "--role", "procesregisseur", "--partner", "zvh",
        )  # fmt: skip
        assert out.splitlines() == [
            "allowed: allowed_owner "
            "(the reader's organisation contributed the fact and remains its owner)",
            "basis: sharing=participants; legal_basis=law",
        ]


class TestPolicyDiff:
    """Diff summarises the changes, or says there are none; always exit 0 (more in
    test_policy_diff_cli.py)."""

    def test_no_changes(self, cli: typer.Typer) -> None:
        minimal = str(COVENANTS / "minimal.toml")
        assert run(cli, "policy", "diff", minimal, minimal) == (0, "no changes\n", "")

    def test_changes(self, cli: typer.Typer, tmp_path: Path) -> None:
        minimal = COVENANTS / "minimal.toml"
        new = tmp_path / "new.toml"
        text = minimal.read_text(encoding="utf-8")
        new.write_text(text.replace('compatible_with = ["joint"]', ""), encoding="utf-8")
        code, out, _ = run(cli, "policy", "diff", str(minimal), str(new))
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == "Minimal test covenant v1 -> Minimal test covenant v1"
        assert "  7 decisions now denied (purpose_incompatible)" in lines

    def test_invalid_new_covenant(self, cli: typer.Typer) -> None:
        minimal = str(COVENANTS / "minimal.toml")
        bad = str(COVENANTS / "malformed_unknown_field.toml")
        code, out, err = run(cli, "policy", "diff", minimal, bad)
        assert code == 1
        assert out == ""
        assert "purposes[1].compatable_with: unknown field" in err
