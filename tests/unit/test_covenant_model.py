"""The sample covenant and the lookups decisions ask of a covenant."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import (
    Covenant,
    Domain,
    EmergencyRule,
    load_covenant,
    parse_covenant,
    sample_covenant_path,
)
from policies._covenant import Emergency
from tests.strategies import sample

SAMPLE_PARTNERS = (
    "zvh",
    "politie",
    "om",
    "reclassering",
    "ggz",
    "ggd",
    "gemeente",
    "woningcorporatie",
    "brandweer",
    "bwt",
    "dji",
    "veilig_thuis",
)
SAMPLE_PURPOSES = (
    "zvh_joint_approach",
    "early_signal",
    "aftercare_detention",
    "housing_pollution",
    "accountability",
    "criminal_investigation",
)


class TestSampleCovenant:
    """The shipped sample declares the docs/domain.md partnership exactly."""

    def test_partner_and_purpose_ids(self) -> None:
        assert sample().partner_ids() == SAMPLE_PARTNERS
        assert sample().purpose_ids() == SAMPLE_PURPOSES

    def test_settings(self) -> None:
        cov = sample()
        assert (cov.version, cov.name) == (1, "Zorg- en Veiligheidshuis Voorbeeldregio")
        assert cov.retention.rejected_signal_weeks == 4
        assert cov.retention.closed_case_years == 2
        assert cov.retention.consent_withdrawn == "next_run"
        assert cov.retention.access_log_years_after_case == 5
        assert cov.emergency.max_window_minutes == 240
        assert cov.access_log.checkpoint_every == 1000

    def test_office_roles_only_at_zvh(self) -> None:
        for role in ("procesregisseur", "administratief_medewerker", "privacy_officer"):
            holders = [p for p in SAMPLE_PARTNERS if sample().may_hold_role(p, role)]
            assert holders == ["zvh"]
        assert not any(sample().may_hold_role(p, "client") for p in SAMPLE_PARTNERS)
        assert not sample().may_hold_role("zvh", "deelnemer")
        assert sample().may_hold_role("reclassering", "deelnemer")

    def test_special_categories(self) -> None:
        special = [c for c in sample().category_ids() if sample().is_special(c)]
        assert special == ["health", "criminal"]
        assert sample().is_special("undeclared")  # default deny

    def test_domains(self) -> None:
        domains = {p.id: p.domain for p in sample().partners}
        assert domains["ggz"] is Domain.care
        assert domains["woningcorporatie"] is Domain.housing

    def test_load_from_package_path_and_file_path(self, tmp_path: Path) -> None:
        assert load_covenant(sample_covenant_path()) == sample()
        copy = tmp_path / "covenant.toml"
        copy.write_text(sample_covenant_path().read_text(encoding="utf-8"), encoding="utf-8")
        assert load_covenant(copy) == sample()
        assert load_covenant(str(copy)) == sample()

    def test_is_frozen_and_hashable(self) -> None:
        with pytest.raises(ValueError, match="frozen"):
            sample().name = "other"  # type: ignore[misc]
        assert hash(sample()) == hash(load_covenant(sample_covenant_path()))


class TestCompatibility:
    """Reuse only for the same or a declared compatible purpose; some purposes match nothing."""

    @pytest.mark.parametrize(
        ("fact_purpose", "reader_purpose", "compatible"),
        [
            ("zvh_joint_approach", "zvh_joint_approach", True),
            ("early_signal", "zvh_joint_approach", True),
            ("aftercare_detention", "zvh_joint_approach", True),
            ("housing_pollution", "zvh_joint_approach", True),
            ("zvh_joint_approach", "early_signal", False),
            ("early_signal", "housing_pollution", False),
            ("criminal_investigation", "criminal_investigation", False),
            ("zvh_joint_approach", "criminal_investigation", False),
            ("criminal_investigation", "zvh_joint_approach", False),
            ("accountability", "accountability", False),
            ("zvh_joint_approach", "accountability", False),
            ("unknown", "zvh_joint_approach", False),
            ("zvh_joint_approach", "unknown", False),
        ],
    )
    def test_is_compatible(self, fact_purpose: str, reader_purpose: str, compatible: bool) -> None:
        assert sample().is_compatible(fact_purpose, reader_purpose) is compatible

    def test_lookups(self) -> None:
        cov = sample()
        assert cov.is_partner("ggz")
        assert not cov.is_partner("GGZ")
        assert cov.find_purpose("accountability") is not None
        assert cov.find_purpose("unknown") is None
        assert cov.discloses_metadata_only("accountability")
        assert not cov.discloses_metadata_only("zvh_joint_approach")
        assert not cov.discloses_metadata_only("unknown")
        assert cov.is_consent_basis("consent")
        assert not cov.is_consent_basis("wgs")
        assert not cov.is_consent_basis("unknown")
        assert cov.is_kind("signal")
        assert cov.is_category("finance")
        assert cov.is_legal_basis("vital_interest")
        assert "privacy_officer" in cov.role_ids()
        assert len(cov.kind_ids()) == 11
        assert len(cov.legal_basis_ids()) == 5


class TestModelValidation:
    """Building a Covenant directly runs the same rules as parsing a file."""

    def test_model_validate_applies_cross_field_rules(self) -> None:
        data = sample().model_dump()
        data["emergency"]["roles"] = ["client"]
        with pytest.raises(ValueError, match="cross-field problem"):
            Covenant.model_validate(data)

    def test_parse_names_the_source(self) -> None:
        with pytest.raises(ValueError, match=r"^inline: \(syntax\): invalid TOML"):
            parse_covenant("version = ", "inline")


class TestEmergencyRules:
    """``emergency.roles`` is the short form of one rule; ``rules`` are used as written."""

    def test_roles_short_form_is_one_default_rule(self) -> None:
        emergency = Emergency(roles=("deelnemer",), max_window_minutes=60)
        (rule,) = emergency.effective_rules
        assert (rule.id, rule.roles, rule.special_categories) == ("default", ("deelnemer",), ())

    def test_rules_are_used_as_written(self) -> None:
        rules = (
            EmergencyRule(id="vital", roles=("deelnemer",), special_categories=("health",)),
            EmergencyRule(id="plain", roles=("procesregisseur",)),
        )
        emergency = Emergency(rules=rules, max_window_minutes=60)
        assert emergency.effective_rules == rules

    def test_neither_roles_nor_rules_means_no_one_breaks_the_glass(self) -> None:
        assert Emergency(max_window_minutes=60).effective_rules == ()
