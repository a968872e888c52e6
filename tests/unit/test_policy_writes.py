"""decide_write: who may change a case, in which status (the routes table of docs/api.md)."""

from __future__ import annotations

from datetime import datetime

import pytest

from policies import (
    AccessDecision,
    CaseState,
    CaseStatus,
    FactMetadata,
    Participation,
    PartnerId,
    PolicyError,
    Principal,
    ReasonCode,
    WriteAction,
    decide_write,
    required_roles,
)
from tests.strategies import at, case, fact, members, reader, sample, shared

R = ReasonCode
A = WriteAction
DIRECTOR = reader("zvh", "procesregisseur")
CLERK = reader("zvh", "administratief_medewerker")
OFFICER = reader("zvh", "privacy_officer")
GGZ = reader("ggz", "deelnemer")
CORP = reader("woningcorporatie", "deelnemer")


def write(
    who: Principal,
    action: WriteAction,
    c: CaseState | None = None,
    f: FactMetadata | None = None,
    *,
    now: datetime | None = None,
    assignee: str | None = None,
    purpose: str | None = None,
) -> AccessDecision:
    return decide_write(
        sample(),
        who,
        action,
        c,
        f,
        now or at(days=1),
        action_assignee=PartnerId(assignee) if assignee else None,
        case_purpose=purpose,
    )


#: action -> (an allowed principal and its reason, a principal whose role is refused).
WHO = {
    A.triage: (DIRECTOR, R.allowed_role, GGZ),
    A.add_subject: (GGZ, R.allowed_participant, CLERK),
    A.invite_participant: (DIRECTOR, R.allowed_role, GGZ),
    A.remove_participant: (DIRECTOR, R.allowed_role, CLERK),
    A.record_fact: (GGZ, R.allowed_participant, OFFICER),
    A.correct_fact: (GGZ, R.allowed_owner, CLERK),
    A.retract_fact: (GGZ, R.allowed_owner, OFFICER),
    A.agree_action: (CLERK, R.allowed_role, GGZ),
    A.change_action_status: (DIRECTOR, R.allowed_role, CLERK),
    A.change_phase: (DIRECTOR, R.allowed_role, GGZ),
    A.decide_notification: (DIRECTOR, R.allowed_role, CLERK),
    A.record_consent: (GGZ, R.allowed_participant, CLERK),
    A.withdraw_consent: (GGZ, R.allowed_owner, CLERK),
    A.close_case: (DIRECTOR, R.allowed_role, GGZ),
}


def status_for(action: WriteAction) -> CaseState:
    return case(CaseStatus.triage) if action is A.triage else case()


class TestWhoMayWrite:
    """Each action is open to its roles only."""

    def test_table_covers_every_case_action(self) -> None:
        assert set(WHO) | {A.open_case} == set(WriteAction)

    @pytest.mark.parametrize("action", sorted(WHO))
    def test_allowed_and_refused(self, action: WriteAction) -> None:
        allowed, reason, refused = WHO[action]
        assert write(allowed, action, status_for(action), fact()).reason is reason
        denied = write(refused, action, status_for(action), fact())
        # The caller's organisation may hold its role; the action needs another one.
        assert denied.reason is R.role_required
        assert denied.basis == f"action={action}; needs {'/'.join(required_roles(action))}"

    def test_open_case(self) -> None:
        opened = write(DIRECTOR, A.open_case, purpose="zvh_joint_approach")
        assert opened.reason is R.allowed_role
        refused = write(GGZ, A.open_case, purpose="zvh_joint_approach")
        assert refused.basis == "action=open_case; needs procesregisseur"

    @pytest.mark.parametrize("purpose", ["criminal_investigation", "accountability"])
    def test_open_case_only_for_purposes_that_open_cases(self, purpose: str) -> None:
        """AVG art. 5(1)(b): the covenant declares which purposes cases are opened for."""
        decision = write(DIRECTOR, A.open_case, purpose=purpose)
        assert decision.reason is R.purpose_not_for_cases
        assert decision.basis == f"action=open_case; purpose={purpose}"

    def test_open_case_purpose_must_be_declared(self) -> None:
        assert write(DIRECTOR, A.open_case, purpose="nosuch").reason is R.purpose_unknown
        with pytest.raises(PolicyError, match="open_case needs the purpose"):
            write(DIRECTOR, A.open_case)

    def test_principal_checked_first(self) -> None:
        assert write(reader("nobody", "deelnemer"), A.record_fact).reason is R.partner_unknown
        office_role = reader("ggz", "procesregisseur")
        assert write(office_role, A.triage, case()).reason is R.role_not_permitted

    def test_missing_case_or_fact_is_a_caller_bug(self) -> None:
        with pytest.raises(PolicyError, match="triage needs the case"):
            write(DIRECTOR, A.triage)
        with pytest.raises(PolicyError, match="record_fact needs the fact"):
            write(GGZ, A.record_fact, case())
        with pytest.raises(PolicyError, match="withdraw_consent needs the fact"):
            write(GGZ, A.withdraw_consent, case())


class TestStatuses:
    """No writes in erased, closed or rejected cases; consent withdrawal stays possible."""

    @pytest.mark.parametrize(
        ("action", "c", "reason"),
        [
            (A.triage, case(), R.case_not_active),
            (A.invite_participant, case(CaseStatus.triage), R.case_not_active),
            (A.record_fact, case(CaseStatus.closed, closed_at=at(0)), R.case_closed),
            (A.record_fact, case(CaseStatus.rejected), R.case_not_active),
            (A.close_case, case(CaseStatus.erased), R.erased),
            (A.withdraw_consent, case(CaseStatus.erased), R.erased),
        ],
    )
    def test_denied(self, action: WriteAction, c: CaseState, reason: ReasonCode) -> None:
        who = WHO[action][0]
        assert write(who, action, c, fact()).reason is reason

    @pytest.mark.parametrize("status", [CaseStatus.rejected, CaseStatus.closed])
    def test_withdraw_consent_after_the_case(self, status: CaseStatus) -> None:
        c = case(status, closed_at=at(0))
        assert write(GGZ, A.withdraw_consent, c, fact(kind="consent_given")).allowed

    def test_triage_contributions_by_melder_and_procesregisseur_only(self) -> None:
        triage = case(CaseStatus.triage, participants=members("zvh", "politie"))
        signal = fact("politie", kind="signal")
        assert write(reader("politie", "melder"), A.record_fact, triage, signal).allowed
        assert write(DIRECTOR, A.add_subject, triage).allowed
        denied = write(reader("politie", "deelnemer"), A.add_subject, triage)
        assert denied.reason is R.case_not_active
        assert denied.basis.endswith("case in triage: melder and procesregisseur only")


class TestParticipation:
    """Writers must participate; owners keep control of their own records after removal."""

    def removed_ggz(self) -> CaseState:
        participants = members("zvh", "woningcorporatie")
        ggz = PartnerId("ggz")
        participants[ggz] = Participation(ggz, at(0), removed_at=at(hours=1))
        return case(participants=participants)

    def test_non_participant(self) -> None:
        outsider = reader("om", "deelnemer")
        assert write(outsider, A.record_fact, case(), fact("om")).reason is R.not_participant

    def test_removed_owner_may_retract_and_withdraw_not_correct(self) -> None:
        c = self.removed_ggz()
        assert write(GGZ, A.retract_fact, c, fact()).reason is R.allowed_owner
        assert write(GGZ, A.withdraw_consent, c, fact()).reason is R.allowed_owner
        assert write(GGZ, A.correct_fact, c, fact()).reason is R.participant_removed


class TestRecordFact:
    """The recorder owns the fact; terms, purpose and special-category sharing are checked."""

    @pytest.mark.parametrize(
        ("f", "reason", "basis"),
        [
            (fact("politie"), R.not_owner, "a fact is owned by the partner that records it"),
            (fact(kind="rumour"), R.undeclared_term, "kind not declared"),
            (fact(purpose="curiosity"), R.purpose_unknown, "purpose not declared in covenant v1"),
            (
                fact(purpose="criminal_investigation"),
                R.purpose_incompatible,
                "fact purpose=criminal_investigation; declared=zvh_joint_approach",
            ),
            (fact(purpose="accountability"), R.purpose_incompatible, None),
            (
                fact(sharing=shared("partners", "ministry")),
                R.undeclared_term,
                "sharing names a partner not declared",
            ),
            (
                fact(categories={"health"}, sharing=shared("participants")),
                R.special_category_requires_named_partner,
                "sharing=participants",
            ),
            (
                fact(categories={"criminal"}, sharing=shared("regie")),
                R.special_category_requires_named_partner,
                "sharing=regie",
            ),
        ],
    )
    def test_refused(self, f: FactMetadata, reason: ReasonCode, basis: str | None) -> None:
        decision = write(GGZ, A.record_fact, case(), f)
        assert decision.reason is reason
        if basis is not None:
            assert decision.basis == basis

    @pytest.mark.parametrize("level", ["owner", "partners"])
    def test_special_categories_owner_only_or_named(self, level: str) -> None:
        named = ("reclassering",) if level == "partners" else ()
        f = fact(categories={"health"}, sharing=shared(level, *named))
        assert write(GGZ, A.record_fact, case(), f).reason is R.allowed_participant

    def test_compatible_purpose_fits_the_case(self) -> None:
        assert write(GGZ, A.record_fact, case(), fact(purpose="early_signal")).allowed
        pollution = case(purpose="housing_pollution")
        assert not write(GGZ, A.record_fact, pollution, fact()).allowed


class TestOwnerOnly:
    """Only the owner corrects, retracts or withdraws its own records; gone facts stay gone."""

    @pytest.mark.parametrize("action", [A.correct_fact, A.retract_fact, A.withdraw_consent])
    def test_not_owner(self, action: WriteAction) -> None:
        decision = write(CORP, action, case(), fact("ggz"))
        assert decision.reason is R.not_owner
        assert decision.basis == f"action={action}; owned by ggz"

    def test_erased_or_retracted_fact(self) -> None:
        assert write(GGZ, A.correct_fact, case(), fact(erased=True)).reason is R.erased
        assert write(GGZ, A.retract_fact, case(), fact(retracted=True)).reason is R.retracted


class TestActions:
    """Action status: the assignee partner or the procesregisseur."""

    def test_assignee(self) -> None:
        decision = write(CORP, A.change_action_status, case(), assignee="woningcorporatie")
        assert decision.reason is R.allowed_assignee
        other = write(GGZ, A.change_action_status, case(), assignee="woningcorporatie")
        assert other.reason is R.not_assignee
        assert write(GGZ, A.change_action_status, case()).reason is R.not_assignee
        director = write(DIRECTOR, A.change_action_status, case(), assignee="ggz")
        assert director.reason is R.allowed_role
