"""docs/domain.md acceptance scenarios SC1-SC5, at the level of policy decisions."""

from __future__ import annotations

from datetime import datetime, timedelta

from policies import (
    AccessDecision,
    CaseState,
    CaseStatus,
    Disclosure,
    FactMetadata,
    Principal,
    ReasonCode,
    SubjectId,
    WriteAction,
    access_log_retention_until,
    decide_case_read,
    decide_fact_read,
    decide_subject_report,
    decide_write,
    fact_retention_deadline,
    is_expired,
)
from tests.strategies import (
    SUBJECT_A,
    SUBJECT_B,
    SUBJECT_C,
    at,
    case,
    consent,
    fact,
    members,
    reader,
    sample,
    shared,
)

R = ReasonCode
JOINT = "zvh_joint_approach"


def read(
    who: Principal, f: FactMetadata, c: CaseState, now: datetime, purpose: str = JOINT
) -> AccessDecision:
    return decide_fact_read(sample(), who, purpose, None, f, c, now)


class TestSC1Intake:
    """The corporation sees arrears not diagnosis/arrests; reclassering sees all; clerk none."""

    sc1 = case(participants=members("zvh", "politie", "reclassering", "ggz", "woningcorporatie"))
    diagnosis = fact("ggz", categories={"health"}, sharing=shared("partners", "reclassering"))
    arrests = fact("politie", categories={"criminal"}, sharing=shared("partners", "reclassering"))
    arrears = fact("woningcorporatie", categories={"finance"}, sharing=shared("participants"))
    goal = fact("zvh", kind="shared_starting_point", categories={"plan"})
    corporation = reader("woningcorporatie", "deelnemer")
    probation = reader("reclassering", "deelnemer")
    clerk = reader("zvh", "administratief_medewerker")

    def test_intake_writes(self) -> None:
        director = reader("zvh", "procesregisseur")
        wijkagent = reader("politie", "melder")
        triage = case(CaseStatus.triage, participants=members("zvh", "politie"))
        signal = fact("politie", kind="signal", categories={"safety_risk"})
        assert decide_write(
            sample(), director, WriteAction.open_case, None, None, at(0), case_purpose=JOINT
        ).allowed
        for action in (WriteAction.triage, WriteAction.decide_notification):
            assert decide_write(sample(), director, action, triage, None, at(0)).allowed
        recorded = decide_write(sample(), wijkagent, WriteAction.record_fact, triage, signal, at(0))
        assert recorded.reason is R.allowed_participant
        invite_action = WriteAction.invite_participant
        invite = decide_write(sample(), director, invite_action, self.sc1, None, at(1))
        assert invite.reason is R.allowed_role

    def test_corporation_sees_arrears_and_goal_not_diagnosis_or_arrests(self) -> None:
        assert read(self.corporation, self.arrears, self.sc1, at(1)).reason is R.allowed_owner
        assert read(self.corporation, self.goal, self.sc1, at(1)).reason is R.allowed_sharing
        for hidden in (self.diagnosis, self.arrests):
            decision = read(self.corporation, hidden, self.sc1, at(1))
            assert decision.reason is R.sharing_excludes_reader
        actions = decide_case_read(sample(), self.corporation, JOINT, self.sc1, at(1))
        assert actions.reason is R.allowed_participant

    def test_reclassering_sees_arrests_diagnosis_and_actions(self) -> None:
        for shown in (self.diagnosis, self.arrests):
            assert read(self.probation, shown, self.sc1, at(1)).reason is R.allowed_named_partner
        assert read(self.probation, self.arrears, self.sc1, at(1)).allowed
        assert decide_case_read(sample(), self.probation, JOINT, self.sc1, at(1)).allowed

    def test_clerk_sees_the_action_list_only(self) -> None:
        for any_fact in (self.diagnosis, self.arrests, self.arrears, self.goal):
            assert read(self.clerk, any_fact, self.sc1, at(1)).reason is R.role_excludes_facts
        assert decide_case_read(sample(), self.clerk, JOINT, self.sc1, at(1)).allowed
        agree = decide_write(sample(), self.clerk, WriteAction.agree_action, self.sc1, None, at(1))
        assert agree.reason is R.allowed_role


class TestSC2DeferredNotification:
    """Deferral is the procesregisseur's; the access report for A never shows B's data."""

    sc2 = case(participants=members("zvh", "veilig_thuis", "politie"))
    deferral = fact("zvh", kind="subject_notification", categories={"plan"}, subjects={SUBJECT_A})
    officer = reader("zvh", "privacy_officer")

    def test_only_the_procesregisseur_decides_notification(self) -> None:
        action = WriteAction.decide_notification
        director = reader("zvh", "procesregisseur")
        assert decide_write(sample(), director, action, self.sc2, None, at(0)).allowed
        worker = reader("veilig_thuis", "deelnemer")
        denied = decide_write(sample(), worker, action, self.sc2, None, at(0))
        assert denied.reason is R.role_required

    def test_privacy_officer_sees_the_decision_metadata(self) -> None:
        decision = read(self.officer, self.deferral, self.sc2, at(1), purpose="accountability")
        assert decision.disclosure is Disclosure.metadata

    def test_access_report_for_a_withholds_b(self) -> None:
        address_b = fact("veilig_thuis", categories={"contact"}, subjects={SUBJECT_B})
        statement = fact("politie", categories={"safety_risk"}, subjects={SUBJECT_A, SUBJECT_B})
        child = fact("veilig_thuis", categories={"child_protection"}, subjects={SUBJECT_C})

        def report(f: FactMetadata) -> ReasonCode:
            subject = SubjectId(SUBJECT_A)
            decision = decide_subject_report(
                sample(), self.officer, "accountability", f, subject, self.sc2, at(2)
            )
            return decision.reason

        assert report(self.deferral) is R.allowed_access_report
        for withheld in (address_b, statement, child):
            assert report(withheld) is R.concerns_other_subjects


class TestSC3HomePollution:
    """Fire brigade and inspection see fire/structure facts and the decision, not care notes."""

    sc3 = case(
        purpose="housing_pollution",
        participants=members("zvh", "ggd", "brandweer", "bwt", "woningcorporatie"),
    )
    p = "housing_pollution"
    visit = fact("ggd", purpose=p, categories={"housing"}, kind="observation")
    care_note = fact("ggd", purpose=p, categories={"health"}, sharing=shared("partners", "ggz"))
    fire = fact("brandweer", purpose=p, categories={"safety_risk"})
    defect = fact("bwt", purpose=p, categories={"housing"})
    clean_out = fact("ggd", purpose=p, kind="decision", categories={"enforcement"})

    def test_fire_brigade_and_inspection(self) -> None:
        for partner in ("brandweer", "bwt"):
            who = reader(partner, "deelnemer")
            for shown in (self.visit, self.fire, self.defect, self.clean_out):
                assert read(who, shown, self.sc3, at(1), purpose=self.p).allowed
            denied = read(who, self.care_note, self.sc3, at(1), purpose=self.p)
            assert denied.reason is R.sharing_excludes_reader
            assert decide_case_read(sample(), who, self.p, self.sc3, at(1)).allowed

    def test_non_participant_sees_nothing(self) -> None:
        police = reader("politie", "deelnemer")
        for any_fact in (self.visit, self.fire, self.defect, self.clean_out, self.care_note):
            assert read(police, any_fact, self.sc3, at(1), purpose=self.p).reason is (
                R.not_participant
            )
        assert decide_case_read(sample(), police, self.p, self.sc3, at(1)).reason is (
            R.not_participant
        )


class TestSC4Aftercare:
    """Consent-based debt facts disappear from every view at the instant of withdrawal."""

    p = "aftercare_detention"
    withdrawal = at(days=10)
    housing_consent = consent(
        consent_id="consent_housing",
        purpose=p,
        categories={"housing"},
        recipients={"gemeente"},
    )
    debt_consent = consent(
        consent_id="consent_debts",
        purpose=p,
        categories={"finance"},
        recipients={"gemeente"},
        withdrawn_at=withdrawal,
    )
    sc4 = case(
        purpose=p,
        participants=members("zvh", "dji", "reclassering", "gemeente"),
        consents=(housing_consent, debt_consent),
    )
    detention = fact(
        "dji", purpose=p, categories={"criminal"}, sharing=shared("partners", "gemeente")
    )
    housing = fact("reclassering", purpose=p, categories={"housing"}, legal_basis="consent")
    debts = fact("reclassering", purpose=p, categories={"finance"}, legal_basis="consent")
    care = fact("reclassering", purpose=p, categories={"care_need"}, legal_basis="consent")
    municipality = reader("gemeente", "deelnemer")

    def test_before_withdrawal(self) -> None:
        before = self.withdrawal - timedelta(microseconds=1)
        dji = read(self.municipality, self.detention, self.sc4, before, self.p)
        assert dji.reason is R.allowed_named_partner
        for shown in (self.housing, self.debts):
            assert read(self.municipality, shown, self.sc4, before, self.p).reason is (
                R.allowed_consent
            )
        care = read(self.municipality, self.care, self.sc4, before, self.p)
        assert care.reason is R.consent_absent_or_withdrawn

    def test_at_the_instant_of_withdrawal(self) -> None:
        for who in (self.municipality, reader("reclassering", "deelnemer")):
            debts = read(who, self.debts, self.sc4, self.withdrawal, self.p)
            assert debts.disclosure is not Disclosure.content
            # Others: withdrawn; the owner: it exists and awaits erasure (metadata).
            expected = (
                R.allowed_owner_metadata if who.partner == "reclassering" else (R.consent_withdrawn)
            )
            assert debts.reason is expected
        assert read(self.municipality, self.housing, self.sc4, self.withdrawal, self.p).allowed

    def test_debt_facts_are_due_for_erasure_at_withdrawal(self) -> None:
        assert fact_retention_deadline(sample(), self.debts, self.sc4) == self.withdrawal
        assert is_expired(sample(), self.debts, self.sc4, self.withdrawal)
        assert not is_expired(sample(), self.housing, self.sc4, self.withdrawal)


class TestSC5EscalationAndClosure:
    """Phases change by the procesregisseur; after closing only metadata; expiry at 2 years."""

    closed_at = at(days=100)
    sc5 = case(CaseStatus.closed, closed_at=closed_at)
    report = fact("politie", categories={"criminal"}, sharing=shared("partners", "ggz"))

    def test_phase_changes_and_closing(self) -> None:
        director = reader("zvh", "procesregisseur")
        active = case()
        for action in (WriteAction.change_phase, WriteAction.close_case):
            assert decide_write(sample(), director, action, active, None, at(1)).allowed
        after = decide_write(sample(), director, WriteAction.change_phase, self.sc5, None, at(101))
        assert after.reason is R.case_closed

    def test_after_closing_participants_see_nothing(self) -> None:
        for who in (reader("ggz", "deelnemer"), reader("politie", "deelnemer")):
            assert read(who, self.report, self.sc5, at(101)).reason is R.case_closed
            assert decide_case_read(sample(), who, JOINT, self.sc5, at(101)).reason is (
                R.case_closed
            )
        officer = reader("zvh", "privacy_officer")
        decision = read(officer, self.report, self.sc5, at(101), purpose="accountability")
        assert decision.reason is R.privacy_officer_metadata

    def test_retention_run_after_two_years_and_log_kept_five_more(self) -> None:
        deadline = self.closed_at.replace(year=self.closed_at.year + 2)
        assert fact_retention_deadline(sample(), self.report, self.sc5) == deadline
        assert not is_expired(sample(), self.report, self.sc5, at(days=100 + 365))
        assert is_expired(sample(), self.report, self.sc5, deadline)
        log_until = access_log_retention_until(sample(), self.sc5)
        assert log_until == self.closed_at.replace(year=self.closed_at.year + 7)
        officer = reader("zvh", "privacy_officer")
        shredded = case(CaseStatus.erased, closed_at=self.closed_at, erased_at=deadline)
        gone = read(officer, self.report, shredded, deadline, purpose="accountability")
        assert gone.disclosure is Disclosure.metadata
