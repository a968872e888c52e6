"""diff_sections / compare_covenants: every covenant section's changes, and their summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import (
    ChangeKind,
    Covenant,
    DecisionGroup,
    SectionChange,
    compare_covenants,
    covenant_sections,
    diff_sections,
    parse_covenant,
    sample_covenant_path,
)

MINIMAL = (Path(__file__).parent / "covenants" / "minimal.toml").read_text(encoding="utf-8")
SAMPLE = sample_covenant_path().read_text(encoding="utf-8")


def variant(*replacements: tuple[str, str], text: str = MINIMAL) -> Covenant:
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    return parse_covenant(text, "variant.toml")


BASE = variant()
GGD = '[[partners]]\nid = "ggd"\nname = "Health"\ndomain = "care"\n\n'
ADDED, REMOVED, CHANGED = ChangeKind.added, ChangeKind.removed, ChangeKind.changed


def paths(changes: list[SectionChange]) -> set[tuple[str, ChangeKind, str]]:
    return {(c.section, c.kind, c.path) for c in changes}


class TestEverySection:
    """Each section of the covenant is compared, and each kind of change in it is found."""

    def test_sections_are_every_field_but_the_identity(self) -> None:
        fields = set(Covenant.model_fields) - {"version", "name"}
        assert set(covenant_sections()) == fields
        assert "erasure" in fields  # a section with a default is compared too

    def test_identical_covenants_and_a_new_version_only(self) -> None:
        assert diff_sections(BASE, BASE) == []
        renamed = variant(("version = 1", "version = 2"), ('"Minimal test', '"Renamed'))
        assert diff_sections(BASE, renamed) == []

    def test_partners(self) -> None:
        wider = variant(
            ('name = "Care partner"', 'name = "Care"'),
            ("[[purposes]]", GGD + "[[purposes]]"),
        )
        changes = diff_sections(BASE, wider)
        assert paths(changes) == {
            ("partners", CHANGED, "partners.ggz.name"),
            ("partners", ADDED, "partners.ggd"),
        }
        renamed = next(c for c in changes if c.kind is CHANGED)
        assert (renamed.old, renamed.new) == ("Care partner", "Care")
        added = next(c for c in changes if c.kind is ADDED)
        assert added.new == {"id": "ggd", "name": "Health", "domain": "care"}
        assert added.old is None
        assert paths(diff_sections(wider, BASE)) == {
            ("partners", CHANGED, "partners.ggz.name"),
            ("partners", REMOVED, "partners.ggd"),
        }

    def test_purposes_compatibility_disclosure_and_opening(self) -> None:
        changed = variant(
            ('compatible_with = ["joint"]', "compatible_with = []"),
            (
                'description = "Joint approach"',
                'description = "Joint approach"\nopens_cases = true\ncompatible_with = ["signal"]',
            ),
            ('description = "Refused"\nincompatible_with_all = true', 'description = "Refused"'),
        )
        changes = diff_sections(BASE, changed)
        assert {(c.kind, c.path, c.old, c.new) for c in changes} == {
            (REMOVED, "purposes.signal.compatible_with", "joint", None),
            (ADDED, "purposes.joint.compatible_with", None, "signal"),
            (CHANGED, "purposes.joint.opens_cases", False, True),
            (CHANGED, "purposes.criminal_investigation.incompatible_with_all", True, False),
        }
        content = variant(('disclosure = "metadata"', 'disclosure = "content"'))
        assert [(c.path, c.old, c.new) for c in diff_sections(BASE, content)] == [
            ("purposes.accountability.disclosure", "metadata", "content")
        ]

    def test_roles(self) -> None:
        changed = variant(('partners = ["ggz"]', 'partners = ["zvh"]'))
        assert {(c.kind, c.path, c.old, c.new) for c in diff_sections(BASE, changed)} == {
            (REMOVED, "roles.deelnemer.partners", "ggz", None),
            (ADDED, "roles.deelnemer.partners", None, "zvh"),
        }
        assert {c.section for c in diff_sections(BASE, changed)} == {"roles"}

    def test_legal_bases_categories_and_kinds(self) -> None:
        changed = variant(
            ('id = "wgs"\ndescription = "WGS"', 'id = "wgs"\ndescription = "WGS"\nconsent = true'),
            ('description = "Housing"', 'description = "Home"'),
            ('description = "Observation"', 'description = "Seen"'),
        )
        assert {(c.section, c.path, c.old, c.new) for c in diff_sections(BASE, changed)} == {
            ("legal_bases", "legal_bases.wgs.consent", False, True),
            ("categories", "categories.housing.description", "Housing", "Home"),
            ("kinds", "kinds.observation.description", "Observation", "Seen"),
        }

    def test_retention_access_log_and_erasure(self) -> None:
        changed = variant(
            ("closed_case_years = 2", "closed_case_years = 3"),
            ("checkpoint_every = 1000", "checkpoint_every = 10"),
            ("[access_log]", "[erasure]\nconfirm_within_hours = 1\n\n[access_log]"),
        )
        changes = diff_sections(BASE, changed)
        assert {(c.section, c.kind, c.path, c.old, c.new) for c in changes} == {
            ("retention", CHANGED, "retention.closed_case_years", 2, 3),
            ("access_log", CHANGED, "access_log.checkpoint_every", 1000, 10),
            ("erasure", CHANGED, "erasure.confirm_within_hours", 72, 1),
        }

    def test_emergency_short_form_and_window(self) -> None:
        changed = variant(
            ('roles = ["deelnemer"]', 'roles = ["deelnemer", "procesregisseur"]'),
            ("max_window_minutes = 240", "max_window_minutes = 60"),
        )
        assert {(c.kind, c.path, c.old, c.new) for c in diff_sections(BASE, changed)} == {
            (ADDED, "emergency.roles", None, "procesregisseur"),
            (CHANGED, "emergency.max_window_minutes", 240, 60),
        }

    def test_emergency_rules_by_id_and_in_order(self) -> None:
        sample = variant(text=SAMPLE)
        first = '[[emergency.rules]]\nid = "acute_danger"'
        rules = SAMPLE[SAMPLE.index(first) : SAMPLE.index("# -- Erasure")]
        second_at = rules.index('[[emergency.rules]]\nid = "vital_interest_health"')
        swapped = variant((rules, rules[second_at:] + "\n" + rules[:second_at]), text=SAMPLE)
        assert [(c.kind, c.path, c.old, c.new) for c in diff_sections(sample, swapped)] == [
            (
                CHANGED,
                "emergency.rules",
                ["acute_danger", "vital_interest_health"],
                ["vital_interest_health", "acute_danger"],
            )
        ]
        narrower = variant(
            ('special_categories = ["health"]', "special_categories = []"), text=SAMPLE
        )
        assert [(c.kind, c.path, c.old) for c in diff_sections(sample, narrower)] == [
            (REMOVED, "emergency.rules.vital_interest_health.special_categories", "health")
        ]


class TestDescribe:
    """Each change reads as one line: path, then what was added, removed or changed."""

    @pytest.mark.parametrize(
        ("change", "line"),
        [
            (
                SectionChange("purposes", REMOVED, "purposes.signal.compatible_with", "joint"),
                "purposes.signal.compatible_with: removed joint",
            ),
            (
                SectionChange("retention", CHANGED, "retention.closed_case_years", 2, 3),
                "retention.closed_case_years: 2 -> 3",
            ),
            (
                SectionChange("purposes", CHANGED, "purposes.joint.opens_cases", False, True),
                "purposes.joint.opens_cases: false -> true",
            ),
            (
                SectionChange(
                    "partners", ADDED, "partners.ggd", None, {"id": "ggd", "roles": ["a", "b"]}
                ),
                "partners.ggd: added {id=ggd, roles=[a, b]}",
            ),
        ],
    )
    def test_lines(self, change: SectionChange, line: str) -> None:
        assert change.describe() == line


class TestSummary:
    """compare_covenants counts per section and groups changed decisions by direction and
    refusal reason."""

    def test_counts_and_groups(self) -> None:
        narrower = variant(
            ('compatible_with = ["joint"]', "compatible_with = []"),
            ("closed_case_years = 2", "closed_case_years = 3"),
        )
        diff = compare_covenants(BASE, narrower)
        counts = diff.section_counts()
        assert list(counts) == list(covenant_sections())
        assert counts["purposes"] == {REMOVED: 1}
        assert counts["retention"] == {CHANGED: 1}
        assert all(not counts[s] for s in counts if s not in {"purposes", "retention"})
        assert diff.decision_groups() == [DecisionGroup(False, "purpose_incompatible", 7)]
        assert len(diff.decisions) == 7
        assert (
            diff.decision_groups()[0].describe() == "7 decisions now denied (purpose_incompatible)"
        )

    def test_groups_in_both_directions(self) -> None:
        narrower = variant(('compatible_with = ["joint"]', "compatible_with = []"))
        groups = compare_covenants(narrower, BASE).decision_groups()
        assert groups == [DecisionGroup(True, "purpose_incompatible", 7)]
        assert (
            groups[0].describe() == "7 decisions now allowed (denied before: purpose_incompatible)"
        )
        one = DecisionGroup(False, "role_not_permitted", 1)
        assert one.describe() == "1 decision now denied (role_not_permitted)"

    def test_empty(self) -> None:
        assert compare_covenants(BASE, BASE).is_empty
        assert not compare_covenants(
            BASE, variant(("checkpoint_every = 1000", "checkpoint_every = 9"))
        ).is_empty
