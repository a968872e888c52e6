"""docs/domain.md "Need to know" as a table: every sharing level x reader x special category."""

from __future__ import annotations

from dataclasses import replace

import pytest

from policies import (
    CaseState,
    Director,
    Disclosure,
    Participation,
    PartnerId,
    ReasonCode,
    Sharing,
    decide_fact_read,
)
from tests.strategies import at, case, fact, members, reader, sample, shared

R = ReasonCode

#: reader -> (partner, role). The fact is owned by ggz; partners-level sharing names
#: reclassering; brandweer was removed from the case; om was never invited. The case names
#: gemeente's casusregisseur; woningcorporatie's holds the role but directs another case.
READERS = {
    "owner": ("ggz", "deelnemer"),
    "procesregisseur": ("zvh", "procesregisseur"),
    "casusregisseur": ("gemeente", "casusregisseur"),
    "unnamed_casusregisseur": ("woningcorporatie", "casusregisseur"),
    "active_participant": ("woningcorporatie", "deelnemer"),
    "named_partner": ("reclassering", "deelnemer"),
    "unnamed_participant": ("politie", "deelnemer"),
    "removed_participant": ("brandweer", "deelnemer"),
    "non_participant": ("om", "deelnemer"),
    "clerk": ("zvh", "administratief_medewerker"),
    "privacy_officer": ("zvh", "privacy_officer"),
}

SPECIAL = R.special_category_requires_named_partner
EXCLUDED = R.sharing_excludes_reader

#: (level, reader) -> (reason for a plain category, reason for a health/criminal category).
#: Rows: the four sharing levels of docs/domain.md; columns: every kind of reader.
TABLE: dict[tuple[str, str], tuple[ReasonCode, ReasonCode]] = {
    # owner: nobody besides the owner
    ("owner", "owner"): (R.allowed_owner, R.allowed_owner),
    ("owner", "procesregisseur"): (EXCLUDED, EXCLUDED),
    ("owner", "casusregisseur"): (EXCLUDED, EXCLUDED),
    ("owner", "unnamed_casusregisseur"): (EXCLUDED, EXCLUDED),
    ("owner", "active_participant"): (EXCLUDED, EXCLUDED),
    ("owner", "named_partner"): (EXCLUDED, EXCLUDED),
    ("owner", "unnamed_participant"): (EXCLUDED, EXCLUDED),
    ("owner", "removed_participant"): (R.participant_removed, R.participant_removed),
    ("owner", "non_participant"): (R.not_participant, R.not_participant),
    ("owner", "clerk"): (R.role_excludes_facts, R.role_excludes_facts),
    ("owner", "privacy_officer"): (R.privacy_officer_metadata, R.privacy_officer_metadata),
    # regie: the office's procesregisseur and the casusregisseur the case names (holding the
    # role for another case admits nothing); special categories need named partners
    ("regie", "owner"): (R.allowed_owner, R.allowed_owner),
    ("regie", "procesregisseur"): (R.allowed_regie, SPECIAL),
    ("regie", "casusregisseur"): (R.allowed_regie, SPECIAL),
    ("regie", "unnamed_casusregisseur"): (EXCLUDED, SPECIAL),
    ("regie", "active_participant"): (EXCLUDED, SPECIAL),
    ("regie", "named_partner"): (EXCLUDED, SPECIAL),
    ("regie", "unnamed_participant"): (EXCLUDED, SPECIAL),
    ("regie", "removed_participant"): (R.participant_removed, R.participant_removed),
    ("regie", "non_participant"): (R.not_participant, R.not_participant),
    ("regie", "clerk"): (R.role_excludes_facts, R.role_excludes_facts),
    ("regie", "privacy_officer"): (R.privacy_officer_metadata, R.privacy_officer_metadata),
    # participants: every active participant; never health or criminal facts
    ("participants", "owner"): (R.allowed_owner, R.allowed_owner),
    ("participants", "procesregisseur"): (R.allowed_sharing, SPECIAL),
    ("participants", "casusregisseur"): (R.allowed_sharing, SPECIAL),
    ("participants", "unnamed_casusregisseur"): (R.allowed_sharing, SPECIAL),
    ("participants", "active_participant"): (R.allowed_sharing, SPECIAL),
    ("participants", "named_partner"): (R.allowed_sharing, SPECIAL),
    ("participants", "unnamed_participant"): (R.allowed_sharing, SPECIAL),
    ("participants", "removed_participant"): (R.participant_removed, R.participant_removed),
    ("participants", "non_participant"): (R.not_participant, R.not_participant),
    ("participants", "clerk"): (R.role_excludes_facts, R.role_excludes_facts),
    ("participants", "privacy_officer"): (R.privacy_officer_metadata, R.privacy_officer_metadata),
    # partners:[reclassering]: the named partners only (required for health / criminal)
    ("partners", "owner"): (R.allowed_owner, R.allowed_owner),
    ("partners", "procesregisseur"): (EXCLUDED, EXCLUDED),
    ("partners", "casusregisseur"): (EXCLUDED, EXCLUDED),
    ("partners", "unnamed_casusregisseur"): (EXCLUDED, EXCLUDED),
    ("partners", "active_participant"): (EXCLUDED, EXCLUDED),
    ("partners", "named_partner"): (R.allowed_named_partner, R.allowed_named_partner),
    ("partners", "unnamed_participant"): (EXCLUDED, EXCLUDED),
    ("partners", "removed_participant"): (R.participant_removed, R.participant_removed),
    ("partners", "non_participant"): (R.not_participant, R.not_participant),
    ("partners", "clerk"): (R.role_excludes_facts, R.role_excludes_facts),
    ("partners", "privacy_officer"): (R.privacy_officer_metadata, R.privacy_officer_metadata),
}

ROWS = [
    pytest.param(level, who, category, reasons[index], id=f"{level}-{who}-{category}")
    for (level, who), reasons in TABLE.items()
    for index, category in enumerate(("housing", "health"))
]
LEVEL_SHARING = {
    "owner": shared("owner"),
    "regie": shared("regie"),
    "participants": shared("participants"),
    "partners": shared("partners", "reclassering"),
}


def the_case() -> CaseState:
    participants = members("zvh", "ggz", "gemeente", "woningcorporatie", "reclassering", "politie")
    brandweer = PartnerId("brandweer")
    participants[brandweer] = Participation(brandweer, at(0), removed_at=at(days=1))
    named = reader(*READERS["casusregisseur"])
    return replace(
        case(participants=participants),
        casusregisseur=Director(named.user, named.partner, at(0)),
    )


class TestNeedToKnowTable:
    """Each (sharing level, reader, category) gets exactly the decision docs/domain.md states."""

    def test_table_is_complete(self) -> None:
        assert {level for level, _ in TABLE} == set(LEVEL_SHARING)
        assert {who for _, who in TABLE} == set(READERS)
        assert len(TABLE) == len(LEVEL_SHARING) * len(READERS)

    @pytest.mark.parametrize(("level", "who", "category", "expected"), ROWS)
    def test_decision(self, level: str, who: str, category: str, expected: ReasonCode) -> None:
        partner, role = READERS[who]
        purpose = "accountability" if who == "privacy_officer" else "zvh_joint_approach"
        sharing: Sharing = LEVEL_SHARING[level]
        decision = decide_fact_read(
            sample(),
            reader(partner, role),
            purpose,
            None,
            fact("ggz", categories={category}, sharing=sharing),
            the_case(),
            at(days=2),
        )
        assert decision.reason is expected
        assert decision.allowed is expected.grants
        assert not decision.emergency
        if who == "privacy_officer":
            assert decision.disclosure is Disclosure.metadata
        elif decision.allowed:
            assert decision.disclosure is Disclosure.content
        else:
            assert decision.disclosure is Disclosure.none

    @pytest.mark.parametrize("level", sorted(LEVEL_SHARING))
    def test_privacy_officer_never_sees_content(self, level: str) -> None:
        decision = decide_fact_read(
            sample(),
            reader("zvh", "privacy_officer"),
            "zvh_joint_approach",
            None,
            fact("ggz", sharing=LEVEL_SHARING[level]),
            the_case(),
            at(days=2),
        )
        assert decision.reason is R.role_excludes_facts
