"""Case direction and referral by the melder: decide_direction, admits_to_regie (through
decide_fact_read), decide_referral and decide_case_overview, step by step."""

from __future__ import annotations

from dataclasses import replace

import pytest

from policies import (
    CaseStatus,
    Director,
    PartnerId,
    PolicyError,
    Principal,
    ReasonCode,
    UserId,
    admits_to_regie,
    decide_case_overview,
    decide_direction,
    decide_fact_read,
    decide_referral,
)
from tests.strategies import (
    T0,
    at,
    case,
    directed_by,
    fact,
    members,
    reader,
    sample,
    shared,
)

R = ReasonCode
JOINT = "zvh_joint_approach"
PR = reader("zvh", "procesregisseur")
CORP_DIRECTOR = reader("woningcorporatie", "casusregisseur")
GGZ_DIRECTOR = reader("ggz", "casusregisseur")
REGIE_FACT = fact("reclassering", sharing=shared("regie"))


def direct(who: Principal, role: str = "casusregisseur", named: str = "woningcorporatie", **kw):  # type: ignore[no-untyped-def]
    return decide_direction(sample(), who, role, PartnerId(named), kw.pop("c", case()), at(1))


class TestDecideDirection:
    """Who may name the casusregisseur and procesregisseur, and whom."""

    def test_the_office_procesregisseur_names_both(self) -> None:
        assert direct(PR).reason is R.allowed_role
        assert direct(PR, "procesregisseur", "zvh").reason is R.allowed_role
        assert direct(PR, c=case(CaseStatus.triage)).allowed

    def test_not_a_procesregisseur(self) -> None:
        assert direct(reader("woningcorporatie", "casusregisseur")).reason is R.role_required

    def test_undeclared_caller(self) -> None:
        assert direct(reader("secret_service", "procesregisseur")).reason is R.partner_unknown

    @pytest.mark.parametrize(
        ("status", "reason"),
        [(CaseStatus.closed, R.case_closed), (CaseStatus.rejected, R.case_not_active)],
    )
    def test_case_status(self, status: CaseStatus, reason: ReasonCode) -> None:
        closed = case(status, closed_at=at(0) if status is CaseStatus.closed else None)
        assert direct(PR, c=closed).reason is reason

    def test_named_partner_undeclared(self) -> None:
        assert direct(PR, named="secret_service").reason is R.undeclared_term

    def test_named_partner_may_not_hold_the_role(self) -> None:
        assert direct(PR, named="zvh").reason is R.director_role_not_held
        assert direct(PR, "procesregisseur", "ggz").reason is R.director_role_not_held

    def test_casusregisseur_partner_must_take_part(self) -> None:
        assert direct(PR, named="gemeente").reason is R.director_not_participant

    def test_only_directing_roles(self) -> None:
        with pytest.raises(PolicyError):
            direct(PR, "deelnemer")


class TestRegieReads:
    """``regie`` opens to the office's procesregisseur and the named casusregisseur only."""

    def read(self, who: Principal, c=None):  # type: ignore[no-untyped-def]
        return decide_fact_read(sample(), who, JOINT, None, REGIE_FACT, c or case(), at(1))

    def test_office_procesregisseur(self) -> None:
        assert self.read(PR).reason is R.allowed_regie

    def test_named_casusregisseur_reads_unnamed_does_not(self) -> None:
        named = directed_by(case(), CORP_DIRECTOR)
        assert self.read(CORP_DIRECTOR, named).reason is R.allowed_regie
        assert self.read(GGZ_DIRECTOR, named).reason is R.sharing_excludes_reader
        assert self.read(CORP_DIRECTOR).reason is R.sharing_excludes_reader

    def test_reassignment_revokes_at_once(self) -> None:
        before = directed_by(case(), CORP_DIRECTOR)
        after = directed_by(before, GGZ_DIRECTOR, since=at(1))
        assert self.read(GGZ_DIRECTOR, after).reason is R.allowed_regie
        assert self.read(CORP_DIRECTOR, after).reason is R.sharing_excludes_reader
        # Its partner still takes part: participant-level facts stay open to it.
        shared_fact = fact("reclassering", sharing=shared("participants"))
        decision = decide_fact_read(sample(), CORP_DIRECTOR, JOINT, None, shared_fact, after, at(1))
        assert decision.reason is R.allowed_sharing

    def test_named_in_another_case_reads_nothing_here(self) -> None:
        elsewhere = replace(directed_by(case(), CORP_DIRECTOR), case_id="another_case")
        assert self.read(CORP_DIRECTOR, elsewhere).allowed
        assert self.read(CORP_DIRECTOR, case()).reason is R.sharing_excludes_reader

    def test_the_named_user_only(self) -> None:
        named = directed_by(case(), CORP_DIRECTOR)
        colleague = Principal(
            UserId("colleague"), CORP_DIRECTOR.partner, CORP_DIRECTOR.roles, CORP_DIRECTOR.user
        )
        assert self.read(colleague, named).reason is R.sharing_excludes_reader
        deelnemer = replace(CORP_DIRECTOR, roles=frozenset({"deelnemer"}))
        assert self.read(deelnemer, named).reason is R.sharing_excludes_reader

    def test_removed_partner_of_the_named_casusregisseur(self) -> None:
        participants = members("zvh", "reclassering")
        named = directed_by(case(participants=participants), CORP_DIRECTOR)
        assert self.read(CORP_DIRECTOR, named).reason is R.not_participant

    def test_admits_to_regie_needs_the_office(self) -> None:
        assert admits_to_regie(sample(), PR, case())
        assert not admits_to_regie(sample(), reader("ggz", "procesregisseur"), case())

    def test_director_record(self) -> None:
        with pytest.raises(PolicyError):
            Director(UserId("u"), PartnerId("ggz"), T0.replace(tzinfo=None))


MELDER = reader("politie", "melder")


def referral(**kw) -> object:  # type: ignore[no-untyped-def]
    defaults = {"kind": "referral", "sharing": shared("regie"), "categories": {"safety_risk"}}
    return fact("politie", **{**defaults, **kw})


def refer(who: Principal = MELDER, purpose: str = JOINT, **kw):  # type: ignore[no-untyped-def]
    return decide_referral(sample(), who, purpose, referral(**kw), at(0))


class TestDecideReferral:
    def test_a_melder_refers(self) -> None:
        assert refer().reason is R.allowed_role

    def test_refusals_in_order(self) -> None:
        assert refer(reader("secret_service", "melder")).reason is R.partner_unknown
        assert refer(reader("politie", "deelnemer")).reason is R.role_required
        assert refer(purpose="no_such_purpose").reason is R.purpose_unknown
        assert refer(purpose="accountability").reason is R.purpose_not_for_cases
        assert refer(kind="observation").reason is R.undeclared_term
        special = refer(categories={"criminal"})
        assert special.reason is R.special_category_requires_named_partner
        assert refer(categories={"criminal"}, sharing=shared("partners", "zvh")).allowed

    def test_owned_by_the_melders_partner(self) -> None:
        decision = decide_referral(sample(), reader("ggz", "melder"), JOINT, referral(), at(0))
        assert decision.reason is R.not_owner


def referred(status: CaseStatus = CaseStatus.triage, *extra: str):  # type: ignore[no-untyped-def]
    closed = at(0) if status is CaseStatus.closed else None
    c = case(status, participants=members("zvh", *extra), closed_at=closed)
    return replace(c, referrer=PartnerId("politie"))


def overview(who: Principal, c) -> ReasonCode:  # type: ignore[no-untyped-def]
    return decide_case_overview(sample(), who, JOINT, c, at(1)).reason


class TestReferrerView:
    """The referring melder sees its referral and the triage outcome until invited."""

    @pytest.mark.parametrize("status", [CaseStatus.triage, CaseStatus.rejected, CaseStatus.active])
    def test_the_referrer_sees_the_outcome(self, status: CaseStatus) -> None:
        assert overview(MELDER, referred(status)) is R.allowed_referrer

    def test_not_after_closing(self) -> None:
        assert overview(MELDER, referred(CaseStatus.closed)) is R.case_closed

    def test_once_invited_participant_rules(self) -> None:
        assert overview(MELDER, referred(CaseStatus.active, "politie")) is R.allowed_participant
        removed = referred(CaseStatus.active, "politie")
        gone = replace(
            removed,
            participants={
                **removed.participants,
                PartnerId("politie"): replace(
                    removed.participants[PartnerId("politie")], removed_at=at(0)
                ),
            },
        )
        assert overview(MELDER, gone) is R.participant_removed
        rejected = referred(CaseStatus.rejected, "politie")
        assert overview(MELDER, rejected) is R.case_not_active

    def test_others_see_nothing(self) -> None:
        assert overview(reader("politie", "deelnemer"), referred()) is R.case_not_active
        assert overview(reader("ggz", "melder"), referred()) is R.not_participant
        assert overview(MELDER, case(participants=members("zvh"))) is R.not_participant
        assert (
            overview(
                MELDER,
                referred(),
            )
            is R.allowed_referrer
        )
        incompatible = decide_case_overview(
            sample(), MELDER, "criminal_investigation", referred(), at(1)
        )
        assert incompatible.reason is R.purpose_incompatible

    def test_participants_unchanged(self) -> None:
        assert overview(PR, referred()) is R.allowed_participant
