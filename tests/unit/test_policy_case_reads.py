"""Case process data (actions, meetings) and the art. 15 access report."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from policies import (
    AccessDecision,
    CaseState,
    CaseStatus,
    Disclosure,
    FactMetadata,
    NotificationDecision,
    Participation,
    PartnerId,
    Principal,
    ReasonCode,
    SubjectId,
    decide_case_read,
    decide_case_sight,
    decide_fact_read,
    decide_subject_report,
    decide_supervision,
    reads_beyond_participation,
)
from tests.strategies import (
    SUBJECT_A,
    SUBJECT_B,
    at,
    case,
    consent,
    fact,
    members,
    reader,
    sample,
)

R = ReasonCode
JOINT = "zvh_joint_approach"
OFFICER = reader("zvh", "privacy_officer")


def case_read(
    who: Principal, c: CaseState | None = None, purpose: str = JOINT, now: datetime | None = None
) -> AccessDecision:
    return decide_case_read(sample(), who, purpose, c or case(), now or at(days=1))


class TestCaseRead:
    """Active participants, the clerk and the procesregisseur see process data of active cases."""

    @pytest.mark.parametrize(
        ("partner", "role"),
        [
            ("zvh", "procesregisseur"),
            ("zvh", "administratief_medewerker"),
            ("woningcorporatie", "deelnemer"),
            ("politie", "casusregisseur"),
        ],
    )
    def test_allowed_for_active_participants(self, partner: str, role: str) -> None:
        decision = case_read(reader(partner, role))
        assert decision.reason is R.allowed_participant
        assert decision.basis == f"{partner} participates; case active"

    def test_principal_and_purpose_checks_come_first(self) -> None:
        assert case_read(reader("nobody", "deelnemer")).reason is R.partner_unknown
        assert case_read(reader("zvh", "casusregisseur")).reason is R.role_not_permitted
        assert case_read(reader("ggz", "deelnemer"), purpose="gossip").reason is R.purpose_unknown
        denied = case_read(reader("ggz", "deelnemer"), purpose="housing_pollution")
        assert denied.reason is R.purpose_incompatible

    def test_privacy_officer_gets_metadata_in_any_status(self) -> None:
        for c in (case(), case(CaseStatus.closed, closed_at=at(0)), case(CaseStatus.erased)):
            decision = case_read(OFFICER, c, purpose="accountability")
            assert decision.reason is R.privacy_officer_metadata
            assert decision.disclosure is Disclosure.metadata
        assert case_read(OFFICER).reason is R.role_excludes_facts
        assert case_read(reader("ggz", "deelnemer"), purpose="accountability").reason is (
            R.role_not_permitted
        )

    def test_status(self) -> None:
        who = reader("ggz", "deelnemer")
        assert case_read(who, case(CaseStatus.closed, closed_at=at(0))).reason is R.case_closed
        assert case_read(who, case(CaseStatus.erased)).reason is R.erased
        assert case_read(who, case(CaseStatus.rejected)).reason is R.case_not_active

    def test_triage_for_melder_and_procesregisseur(self) -> None:
        triage = case(CaseStatus.triage, participants=members("zvh", "politie"))
        assert case_read(reader("politie", "melder"), triage).allowed
        assert case_read(reader("zvh", "procesregisseur"), triage).allowed
        denied = case_read(reader("politie", "deelnemer"), triage)
        assert denied.reason is R.case_not_active
        assert denied.basis == "case in triage: procesregisseur and melder only"

    def test_participation(self) -> None:
        assert case_read(reader("om", "deelnemer")).reason is R.not_participant
        removed = members("zvh", "ggz")
        corp = PartnerId("woningcorporatie")
        removed[corp] = Participation(corp, at(0), removed_at=at(hours=2))
        denied = case_read(reader("woningcorporatie", "deelnemer"), case(participants=removed))
        assert denied.reason is R.participant_removed


def report(
    f: FactMetadata,
    *,
    who: Principal = OFFICER,
    purpose: str = "accountability",
    subject: str = SUBJECT_A,
    c: CaseState | None = None,
) -> AccessDecision:
    return decide_subject_report(
        sample(), who, purpose, f, SubjectId(subject), c or case(), at(days=1)
    )


class TestSubjectReport:
    """Only the privacy officer compiles it; a fact shows only if it is about the subject alone."""

    def test_fact_about_the_subject_alone(self) -> None:
        decision = report(fact(subjects={SUBJECT_A}, owner="zvh"))
        assert decision.reason is R.allowed_access_report
        assert decision.disclosure is Disclosure.content
        assert decision.basis == "owner=zvh; kind=observation"

    def test_other_owners_release_their_own_facts(self) -> None:
        """Until its owner releases it, a partner's fact is in the report as metadata only."""
        decision = report(fact(subjects={SUBJECT_A}))
        assert decision.reason is R.awaiting_owner_release
        assert decision.basis == "owner=ggz; not released"

    def test_no_content_while_notification_is_deferred(self) -> None:
        """AVG art. 23: the grounds for not informing the person restrict access too."""
        deferred = replace(case(), notification=NotificationDecision("defer", at(days=28)))
        decision = report(fact(subjects={SUBJECT_A}, owner="zvh"), c=deferred)
        assert decision.reason is R.notification_deferred
        informed = replace(case(), notification=NotificationDecision("inform"))
        assert report(fact(subjects={SUBJECT_A}, owner="zvh"), c=informed).allowed

    def test_closed_case_still_reported(self) -> None:
        closed = case(CaseStatus.closed, closed_at=at(0))
        assert report(fact(owner="zvh"), c=closed).allowed

    def test_others_are_withheld(self) -> None:
        both = report(fact(subjects={SUBJECT_A, SUBJECT_B}))
        assert both.reason is R.concerns_other_subjects
        assert both.basis == "fact also concerns 1 other subject(s)"
        other = report(fact(subjects={SUBJECT_B}))
        assert other.basis == "fact does not concern the subject"
        assert report(fact(subjects=())).reason is R.concerns_other_subjects

    @pytest.mark.parametrize(
        ("who", "purpose"),
        [
            (reader("ggz", "deelnemer"), "accountability"),
            (OFFICER, JOINT),
            (reader("zvh", "procesregisseur"), JOINT),
        ],
    )
    def test_only_privacy_officer_for_accountability(self, who: Principal, purpose: str) -> None:
        assert report(fact(), who=who, purpose=purpose).reason is R.role_not_permitted

    def test_principal_and_purpose_checks(self) -> None:
        assert report(fact(), who=reader("x", "privacy_officer")).reason is R.partner_unknown
        assert report(fact(), purpose="audit").reason is R.purpose_unknown

    def test_erased_or_expired_never(self) -> None:
        assert report(fact(erased=True)).reason is R.erased
        assert report(fact(retracted=True)).reason is R.retracted
        expired = case(CaseStatus.closed, closed_at=at(days=-800))
        assert report(fact(), c=expired).reason is R.retention_expired


class TestSupervision:
    """The access log and erasure records: the privacy officer, metadata purpose, no content."""

    def test_the_privacy_officer_for_a_metadata_purpose(self) -> None:
        decision = decide_supervision(sample(), OFFICER, "accountability")
        assert decision.allowed
        assert decision.reason is R.privacy_officer_metadata
        assert decision.disclosure is Disclosure.metadata

    def test_not_for_a_content_purpose(self) -> None:
        decision = decide_supervision(sample(), OFFICER, JOINT)
        assert (decision.allowed, decision.reason) == (False, R.purpose_incompatible)
        assert decision.disclosure is Disclosure.none

    @pytest.mark.parametrize(
        ("partner", "role"),
        [("zvh", "procesregisseur"), ("zvh", "administratief_medewerker"), ("ggz", "deelnemer")],
    )
    def test_nobody_else(self, partner: str, role: str) -> None:
        decision = decide_supervision(sample(), reader(partner, role), "accountability")
        assert (decision.allowed, decision.reason) == (False, R.role_not_permitted)

    def test_principal_and_purpose_checks_come_first(self) -> None:
        assert (
            decide_supervision(
                sample(), reader("nobody", "privacy_officer"), "accountability"
            ).reason
            is R.partner_unknown
        )
        assert decide_supervision(sample(), OFFICER, "gossip").reason is R.purpose_unknown


def emergency_read(basis: str = "glass") -> AccessDecision:
    return AccessDecision(
        True, R.emergency_granted, basis, emergency=True, disclosure=Disclosure.content
    )


class TestCaseSight:
    """An overview shows the case when its read is allowed, or when the glass opened a fact."""

    def test_an_allowed_case_read_stands(self) -> None:
        allowed = case_read(reader("ggz", "deelnemer"))
        assert decide_case_sight(allowed, [emergency_read()]) is allowed
        assert decide_case_sight(allowed, []) is allowed

    def test_a_refusal_stands_without_broken_glass(self) -> None:
        refused = case_read(reader("om", "deelnemer"))
        fact_refusal = decide_fact_read(
            sample(), reader("om", "deelnemer"), JOINT, None, fact(), case(), at(days=1)
        )
        sight = decide_case_sight(refused, [fact_refusal])
        assert sight is refused
        assert (sight.allowed, sight.reason) == (False, R.not_participant)
        assert decide_case_sight(refused, []) is refused

    def test_an_emergency_grant_opens_the_case(self) -> None:
        refused = case_read(reader("om", "deelnemer"))
        plain = AccessDecision(True, R.allowed_owner, "owner", disclosure=Disclosure.content)
        first, second = emergency_read("first"), emergency_read("second")
        sight = decide_case_sight(refused, [plain, first, second])
        assert sight is first
        assert (sight.allowed, sight.reason, sight.emergency) == (True, R.emergency_granted, True)


class TestReadsBeyondParticipation:
    """Only the privacy officer's metadata view reaches cases the partner does not take part in."""

    def test_the_privacy_officer_for_a_metadata_purpose(self) -> None:
        assert reads_beyond_participation(sample(), OFFICER, "accountability")
        assert not reads_beyond_participation(sample(), OFFICER, JOINT)
        clerk = reader("zvh", "administratief_medewerker")
        assert not reads_beyond_participation(sample(), clerk, "accountability")
        assert not reads_beyond_participation(sample(), clerk, JOINT)
        # The clerk reads the cases its partner takes part in, and no other.
        inside, outside = case(participants=members("zvh")), case(participants=members("ggz"))
        assert case_read(clerk, inside).allowed
        assert case_read(clerk, outside).reason is R.not_participant

    @pytest.mark.parametrize(
        ("who", "purpose"),
        [
            (OFFICER, "accountability"),
            (OFFICER, JOINT),
            (reader("zvh", "procesregisseur"), JOINT),
            (reader("zvh", "administratief_medewerker"), JOINT),
            (reader("zvh", "procesregisseur"), "accountability"),
            (reader("politie", "melder"), JOINT),
        ],
    )
    def test_every_other_allowance_needs_participation(self, who: Principal, purpose: str) -> None:
        """The invariant a listing relies on: outside its cases, only this says allowed."""
        elsewhere = case(participants=members("ggz", "woningcorporatie"))
        beyond = decide_case_read(sample(), who, purpose, elsewhere, at(days=1)).allowed
        assert beyond == reads_beyond_participation(sample(), who, purpose)


class TestMetadataOnlyGrants:
    """The grants that show metadata only: the officer's supervision, the owner's hidden fact."""

    def test_both_grant_metadata_only(self) -> None:
        officer = case_read(OFFICER, purpose="accountability")
        owner = reader("ggz", "deelnemer")
        gone = consent(recipients=(), withdrawn_at=at(hours=12))
        hidden = decide_fact_read(
            sample(),
            owner,
            JOINT,
            None,
            fact(legal_basis="consent"),
            case(consents=[gone]),
            at(days=1),
        )
        for decision in (officer, hidden):
            assert decision.allowed
            assert decision.disclosure is Disclosure.metadata
            assert decision.reason.metadata_only
        metadata_only = {code for code in R if code.metadata_only}
        assert metadata_only == {R.privacy_officer_metadata, R.allowed_owner_metadata}

    def test_content_grants_and_denials_are_not(self) -> None:
        assert all(code.grants for code in R if code.metadata_only)
        content = case_read(reader("ggz", "deelnemer"))
        assert content.disclosure is Disclosure.content
        assert not content.reason.metadata_only
        assert not R.emergency_granted.metadata_only
        assert not R.allowed_access_report.metadata_only
        assert not case_read(reader("om", "deelnemer")).reason.metadata_only
