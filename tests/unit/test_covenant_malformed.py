"""Malformed covenant files: every problem reported as one precise line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import CovenantError, PolicyError, load_covenant

COVENANTS = Path(__file__).parent / "covenants"

#: file -> the problems it must report, in order: (dotted field path, part of the message).
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "syntax_error": [("(syntax)", "invalid TOML: Expected '=' after a key")],
    "duplicate_partner": [
        ("partners[1].id", "duplicate id 'zvh' (first declared at partners[0])"),
        ("roles[1].partners[0]", "unknown partner 'ggz'"),
    ],
    "partner_id_uppercase": [
        ("partners[1].id", "should match pattern '^[a-z_]+$' (got 'GGZ')"),
        ("roles[1].partners[0]", "should match pattern '^[a-z_]+$' (got 'GGZ')"),
    ],
    "unknown_domain": [("partners[1].domain", "'housing' (got 'healthcare')")],
    "compatibility_unknown_purpose": [
        ("purposes[1].compatible_with[0]", "unknown purpose 'joint_aproach' (declared: "),
    ],
    "criminal_in_compatibility": [
        ("purposes[1].compatible_with[1]", "'criminal_investigation' is incompatible with all"),
    ],
    "incompatible_purpose_with_list": [
        ("purposes[3].compatible_with", "must be empty: the purpose is incompatible with all"),
    ],
    "metadata_purpose_reused": [
        ("purposes[1].compatible_with[0]", "'accountability' discloses metadata only"),
    ],
    "retention_zero": [("retention.closed_case_years", "greater than 0 (got 0)")],
    "retention_negative": [("retention.rejected_signal_weeks", "greater than 0 (got -4)")],
    "access_log_too_short": [
        ("retention.access_log_years_after_case", "at least 5 (NEN 7513 minimum) (got 3)"),
    ],
    "retention_missing": [("retention", "required field is missing")],
    "emergency_role_undeclared": [
        ("emergency.roles[0]", "role 'casusregisseur' is not declared under roles"),
    ],
    "emergency_role_no_content": [
        ("emergency.roles[0]", "role 'privacy_officer' never reads fact content"),
    ],
    "emergency_roles_and_rules": [
        ("emergency.roles", "give either roles or rules, not both"),
        ("emergency.rules[0].partners[0]", "unknown partner 'politie'"),
        ("emergency.rules[0].special_categories[0]", "'housing' is not a declared special"),
    ],
    "metadata_purpose_opens_cases": [
        ("purposes[2].opens_cases", "must be false: no content is processed"),
    ],
    "emergency_window_too_long": [
        ("emergency.max_window_minutes", "less than or equal to 1440 (got 2000)"),
    ],
    "unknown_field": [("purposes[1].compatable_with", "unknown field")],
    "role_unknown_partner": [("roles[1].partners[1]", "unknown partner 'reclassering'")],
    "office_role_elsewhere": [
        ("roles[2].partners[0]", "'privacy_officer' is held only at the partnership office"),
    ],
    "unknown_role": [("roles[1].id", "'client' (got 'observer')")],
    "health_not_special": [
        ("categories[1].special", "'health' is a special category by law: must be 'art9'"),
    ],
    "version_string": [("version", "valid integer (got '1')")],
    "name_as_list": [("name", "Input should be a valid string")],
    "metadata_purpose_with_list": [
        ("purposes[2].compatible_with", "must be empty: a metadata purpose collects no content"),
    ],
    "no_office": [
        ("partners", "the partnership office 'zvh' must be declared"),
        ("roles[0].partners[0]", "unknown partner 'zvh'"),
        ("roles[2].partners[0]", "unknown partner 'zvh'"),
    ],
    "several_problems": [
        ("partners[1].domain", "(got 'healthcare')"),
        ("retention.closed_case_years", "greater than 0 (got 0)"),
        ("access_log.checkpoint_every", "greater than 0 (got -1)"),
    ],
    "not_utf8": [("(file)", "not UTF-8 text")],
    "empty": [
        (field, "required field is missing")
        for field in (
            "version",
            "name",
            "partners",
            "purposes",
            "roles",
            "legal_bases",
            "categories",
            "kinds",
            "retention",
            "emergency",
            "access_log",
        )
    ],
}


class TestMalformedCovenantFiles:
    """Each malformed file names itself, every bad field path and what is wrong."""

    def test_every_fixture_is_listed(self) -> None:
        on_disk = {p.stem.removeprefix("malformed_") for p in COVENANTS.glob("malformed_*")}
        assert on_disk == set(EXPECTED)
        assert len(on_disk) >= 10

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_reports_each_problem_precisely(self, name: str) -> None:
        path = COVENANTS / f"malformed_{name}.toml"
        with pytest.raises(CovenantError) as caught:
            load_covenant(path)
        error = caught.value
        assert [p.path for p in error.problems] == [where for where, _ in EXPECTED[name]]
        for problem, (_, fragment) in zip(error.problems, EXPECTED[name], strict=True):
            assert fragment in problem.message
            assert "[" not in problem.message.partition("(got ")[2][:1]  # no lists echoed
        lines = str(error).splitlines()
        assert len(lines) == len(EXPECTED[name])
        for line, (where, fragment) in zip(lines, EXPECTED[name], strict=True):
            assert line.startswith(f"{path}: {where}: ")
            assert fragment in line
        assert "Traceback" not in str(error)
        assert error.source == str(path)
        assert error.__suppress_context__

    def test_minimal_counterpart_is_valid(self) -> None:
        covenant = load_covenant(COVENANTS / "minimal.toml")
        assert covenant.partner_ids() == ("zvh", "ggz")


class TestCovenantErrorType:
    """CovenantError belongs to the package tree and to ValueError."""

    def test_hierarchy(self) -> None:
        assert issubclass(CovenantError, PolicyError)
        assert issubclass(CovenantError, ValueError)
        assert issubclass(PolicyError, ValueError)

    def test_unreadable_file_is_a_covenant_error(self, tmp_path: Path) -> None:
        missing = tmp_path / "absent.toml"
        with pytest.raises(CovenantError) as caught:
            load_covenant(missing)
        assert str(caught.value) == f"{missing}: (file): cannot read: No such file or directory"

    def test_directory_is_not_a_covenant(self, tmp_path: Path) -> None:
        with pytest.raises(CovenantError, match=r": \(file\): cannot read: Is a directory$"):
            load_covenant(tmp_path)
