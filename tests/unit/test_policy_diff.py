"""diff_covenants: which canonical read decisions flip between two covenant versions."""

from __future__ import annotations

from pathlib import Path

from policies import Covenant, ReasonCode, SharingLevel, diff_covenants, parse_covenant

MINIMAL = (Path(__file__).parent / "covenants" / "minimal.toml").read_text(encoding="utf-8")


def variant(*replacements: tuple[str, str]) -> Covenant:
    text = MINIMAL
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return parse_covenant(text, "variant.toml")


BASE = variant()


class TestDiff:
    """Only combinations whose allowed/denied outcome changes are listed."""

    def test_identical_covenants(self) -> None:
        assert diff_covenants(BASE, BASE) == []

    def test_withdrawn_compatibility(self) -> None:
        narrower = variant(('compatible_with = ["joint"]', "compatible_with = []"))
        changes = diff_covenants(BASE, narrower)
        assert changes
        assert {(c.fact_purpose, c.purpose) for c in changes} == {("signal", "joint")}
        assert all(c.old.allowed and not c.new.allowed for c in changes)
        assert {c.new.reason for c in changes} == {ReasonCode.purpose_incompatible}
        assert {c.role for c in changes} == {"deelnemer", "procesregisseur"}
        # Health facts reach the reader only when it is named: shared by partners.
        health = {c.sharing for c in changes if c.category == "health"}
        assert health == {SharingLevel.partners}

    def test_describe(self) -> None:
        narrower = variant(('compatible_with = ["joint"]', "compatible_with = []"))
        first = diff_covenants(BASE, narrower)[0]
        assert first.describe() == (
            "deelnemer reads signal facts for joint (kind=observation, category=health, "
            "sharing=partners): allowed (allowed_named_partner) -> denied (purpose_incompatible)"
        )

    def test_added_kind_and_category(self) -> None:
        wider = variant(
            (
                '[[kinds]]\nid = "observation"',
                '[[kinds]]\nid = "signal"\ndescription = "Signal"\n\n[[kinds]]\nid = "observation"',
            ),
            (
                '[[categories]]\nid = "housing"',
                '[[categories]]\nid = "finance"\ndescription = "Money"\n\n'
                '[[categories]]\nid = "housing"',
            ),
        )
        changes = diff_covenants(BASE, wider)
        assert changes
        assert all(c.kind == "signal" or c.category == "finance" for c in changes)
        assert all(not c.old.allowed and c.new.allowed for c in changes)
        assert {c.old.reason for c in changes} == {ReasonCode.undeclared_term}
        assert diff_covenants(wider, BASE) != []

    def test_role_withdrawn_from_a_partner(self) -> None:
        without = variant(('partners = ["ggz"]', "partners = []"))
        changes = diff_covenants(BASE, without)
        assert {c.role for c in changes} == {"deelnemer"}
        assert {c.new.reason for c in changes} == {ReasonCode.role_not_permitted}

    def test_roles_nobody_holds_are_skipped(self) -> None:
        with_client = variant(
            ("[[legal_bases]]", '[[roles]]\nid = "client"\npartners = []\n\n[[legal_bases]]')
        )
        assert diff_covenants(BASE, with_client) == []

    def test_consent_only_covenant_uses_its_consent_basis(self) -> None:
        wgs = 'id = "wgs"\ndescription = "WGS"'
        consent_only = variant((wgs, f"{wgs}\nconsent = true"))
        changes = diff_covenants(BASE, consent_only)
        assert changes
        assert {c.new.reason for c in changes} == {ReasonCode.consent_absent_or_withdrawn}

    def test_partnership_office_alone(self) -> None:
        office_only = variant(
            ('[[partners]]\nid = "ggz"\nname = "Care partner"\ndomain = "care"\n\n', ""),
            ('partners = ["ggz"]', "partners = []"),
        )
        assert diff_covenants(office_only, office_only) == []
