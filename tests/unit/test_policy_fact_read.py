"""decide_fact_read step by step, in its documented order, and break-the-glass access."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from policies import (
    AccessDecision,
    CaseState,
    CaseStatus,
    Disclosure,
    EmergencyRequest,
    FactMetadata,
    Participation,
    PartnerId,
    PolicyError,
    Principal,
    ReasonCode,
    decide_fact_read,
    emergency_for_read,
    emergency_rules_for,
    emergency_window,
)
from tests.strategies import (
    SUBJECT_B,
    T0,
    at,
    case,
    consent,
    directed_by,
    fact,
    hold,
    members,
    reader,
    sample,
    shared,
)

R = ReasonCode
JOINT = "zvh_joint_approach"
PARTICIPANT = reader("woningcorporatie", "deelnemer")


def read(
    who: Principal = PARTICIPANT,
    f: FactMetadata | None = None,
    c: CaseState | None = None,
    now: datetime | None = None,
    *,
    purpose: str = JOINT,
    emergency: EmergencyRequest | None = None,
) -> AccessDecision:
    return decide_fact_read(
        sample(), who, purpose, emergency, f or fact(), c or case(), now or at(days=1)
    )


class TestPrincipalAndPurpose:
    """Steps 1-4: unknown partners, roles and purposes are denied without echoing them."""

    def test_unknown_partner(self) -> None:
        decision = read(reader("secret_service", "deelnemer"))
        assert decision.reason is R.partner_unknown
        assert "secret_service" not in decision.basis

    @pytest.mark.parametrize(
        ("who", "shown"),
        [
            (reader("ggz"), "no role"),
            (reader("ggz", "deelnemer", "procesregisseur"), "role=procesregisseur not held at ggz"),
            (reader("ggz", "spy"), "role=(undeclared)"),
            (reader("zvh", "deelnemer"), "role=deelnemer not held at zvh"),
        ],
    )
    def test_roles_must_be_held_at_the_partner(self, who: Principal, shown: str) -> None:
        decision = read(who)
        assert decision.reason is R.role_not_permitted
        assert shown in decision.basis

    def test_unknown_purpose(self) -> None:
        decision = read(purpose="curiosity")
        assert decision.reason is R.purpose_unknown
        assert "curiosity" not in decision.basis

    def test_accountability_is_the_privacy_officers_purpose(self) -> None:
        assert read(purpose="accountability").reason is R.role_not_permitted
        officer = read(reader("zvh", "privacy_officer"), purpose="accountability")
        assert officer.reason is R.privacy_officer_metadata
        assert officer.basis == "metadata only; owner=ggz; kind=observation"

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(PolicyError, match="now must be timezone-aware"):
            read(now=datetime(2026, 1, 6))


class TestFactChecks:
    """Steps 5-12: role, declared terms, purpose, erasure, retention, closing, consent."""

    @pytest.mark.parametrize("role", ["administratief_medewerker", "privacy_officer"])
    def test_roles_without_content(self, role: str) -> None:
        assert read(reader("zvh", role)).reason is R.role_excludes_facts

    @pytest.mark.parametrize(
        ("f", "basis"),
        [
            (fact(kind="gossip"), "kind not declared"),
            (fact(categories={"housing", "shoe_size"}), "category not declared"),
            (fact(legal_basis="rumour"), "legal basis not declared"),
        ],
    )
    def test_undeclared_terms(self, f: FactMetadata, basis: str) -> None:
        decision = read(f=f)
        assert decision.reason is R.undeclared_term
        assert decision.basis == basis

    def test_cross_purpose_reuse_is_denied(self) -> None:
        decision = read(f=fact(purpose="aftercare_detention"), purpose="housing_pollution")
        assert decision.reason is R.purpose_incompatible
        assert decision.basis == "fact purpose=aftercare_detention; declared=housing_pollution"

    def test_declared_compatible_reuse_is_allowed(self) -> None:
        assert read(f=fact(purpose="early_signal")).reason is R.allowed_sharing

    def test_criminal_investigation_is_never_granted_even_to_the_owner(self) -> None:
        owner = reader("ggz", "deelnemer")
        for f in (fact(), fact(purpose="criminal_investigation")):
            decision = read(owner, f, purpose="criminal_investigation")
            assert decision.reason is R.purpose_incompatible

    def test_erased_and_retracted(self) -> None:
        owner = reader("ggz", "deelnemer")
        assert read(owner, fact(erased=True)).basis == "fact erased"
        erased_case = case(CaseStatus.erased)
        assert read(owner, c=erased_case).reason is R.erased
        assert read(owner, c=erased_case).basis == "case erased"
        assert read(owner, fact(retracted=True)).reason is R.retracted

    def test_rejected_signal_expires_after_four_weeks_even_for_the_owner(self) -> None:
        owner = reader("ggz", "deelnemer")
        rejected = case(CaseStatus.rejected)
        assert read(owner, c=rejected, now=at(days=27)).reason is R.allowed_owner
        decision = read(owner, c=rejected, now=at(days=28))
        assert decision.reason is R.retention_expired
        assert decision.basis == f"retention deadline {(T0 + timedelta(weeks=4)).isoformat()}"

    def test_legal_hold_keeps_expired_data_readable_by_its_owner(self) -> None:
        owner = reader("ggz", "deelnemer")
        held = case(CaseStatus.rejected, holds=[hold(at(days=20))])
        assert read(owner, c=held, now=at(days=60)).reason is R.allowed_owner

    def test_closed_case_hides_everything_even_from_the_owner(self) -> None:
        closed = case(CaseStatus.closed, closed_at=at(days=1))
        assert read(reader("ggz", "deelnemer"), c=closed, now=at(days=2)).reason is R.case_closed
        assert read(c=closed, now=at(days=2)).reason is R.case_closed

    def test_owner_needs_consent_in_force_too(self) -> None:
        owner = reader("ggz", "deelnemer")
        f = fact(legal_basis="consent")
        given = consent(recipients=())
        assert read(owner, f, case(consents=[given])).reason is R.allowed_owner
        gone = consent(recipients=(), withdrawn_at=at(hours=12))
        # The only covering consent is gone: hidden at once, due for erasure at withdrawal;
        # its owner still sees that it exists (metadata), others are told consent_withdrawn.
        hidden = read(owner, f, case(consents=[gone]))
        assert hidden.reason is R.allowed_owner_metadata
        assert hidden.disclosure is Disclosure.metadata
        assert hidden.basis == f"consent withdrawn {at(hours=12).isoformat()}"
        other = read(reader("reclassering", "deelnemer"), f, case(consents=[gone]))
        assert other.reason is R.consent_withdrawn
        closed = case(CaseStatus.closed, closed_at=at(hours=13), consents=[gone])
        assert read(owner, f, closed).reason is R.consent_withdrawn  # closed: no view at all
        decision = read(owner, f, case())
        assert decision.reason is R.consent_absent_or_withdrawn
        assert decision.basis == (
            "sharing=participants; legal_basis=consent; no matching consent in force"
        )

    def test_consent_must_name_the_reader_and_cover_the_purpose(self) -> None:
        f = fact(legal_basis="consent")
        ok = consent(consent_id="consent_9", recipients={"woningcorporatie"})
        decision = read(f=f, c=case(consents=[ok]))
        assert decision.reason is R.allowed_consent
        assert decision.basis.endswith("; consent=consent_9")
        for wrong in (
            consent(recipients={"gemeente"}),
            consent(recipients={"woningcorporatie"}, purpose="early_signal"),
            consent(recipients={"woningcorporatie"}, subject=SUBJECT_B),
            consent(recipients={"woningcorporatie"}, categories={"housing"}),
            consent(recipients={"woningcorporatie"}, given_at=at(days=2)),
        ):
            assert read(f=f, c=case(consents=[wrong])).reason is R.consent_absent_or_withdrawn

    def test_first_matching_consent_by_id_is_the_basis(self) -> None:
        both = [consent(consent_id=i, recipients={"woningcorporatie"}) for i in ("c_2", "c_1")]
        assert read(f=fact(legal_basis="consent"), c=case(consents=both)).basis.endswith("c_1")


class TestCaseAndParticipation:
    """Steps 13-16: owner, case status, participation, sharing."""

    def test_owner_reads_during_triage(self) -> None:
        triage = case(CaseStatus.triage, participants=members("zvh", "ggz"))
        assert read(reader("ggz", "melder"), c=triage).reason is R.allowed_owner

    def test_triage_only_for_the_procesregisseur(self) -> None:
        triage = case(CaseStatus.triage, participants=members("zvh", "ggz", "woningcorporatie"))
        assert read(c=triage).reason is R.case_not_active
        director = reader("zvh", "procesregisseur")
        assert read(director, c=triage).reason is R.allowed_sharing
        assert read(director, c=case(CaseStatus.rejected)).reason is R.case_not_active

    def test_not_yet_invited_and_removed(self) -> None:
        later = members("zvh", "ggz")
        corp = PartnerId("woningcorporatie")
        later[corp] = Participation(corp, at(days=2))
        assert read(c=case(participants=later)).reason is R.not_participant
        assert read(c=case(participants=later), now=at(days=2)).allowed
        later[corp] = Participation(corp, at(0), removed_at=at(days=1))
        assert read(c=case(participants=later)).reason is R.participant_removed
        assert read(c=case(participants=later), now=at(hours=23)).allowed

    def test_regie_admits_the_casusregisseur_of_a_participant(self) -> None:
        director = reader("woningcorporatie", "casusregisseur")
        named = directed_by(case(), director)
        assert read(director, fact(sharing=shared("regie")), named).reason is R.allowed_regie

    def test_basis_names_sharing_and_legal_basis(self) -> None:
        f = fact(sharing=shared("partners", "woningcorporatie", "reclassering"))
        decision = read(f=f)
        assert decision.basis == "sharing=partners:[reclassering,woningcorporatie]; legal_basis=wgs"


def emergency(reason: str = "acute safety risk", minutes_ago: int = 10) -> EmergencyRequest:
    """A grant made ``minutes_ago`` before the read (at day 1), boxed by the covenant."""
    return emergency_window(sample(), reason, at(days=1) - timedelta(minutes=minutes_ago))


OUTSIDER = reader("om", "deelnemer")
GGD = reader("ggd", "deelnemer")
HEALTH = fact(categories={"health"}, sharing=shared("partners", "reclassering"))
CRIMINAL = fact(categories={"criminal"}, sharing=shared("partners", "reclassering"))


class TestEmergencyAccess:
    """Break the glass: a grant with a reason and a time box, for readers a covenant rule
    admits; it overrides three denials only, never owner-only facts, and art. 9/10 facts only
    where the rule names the category."""

    @pytest.mark.parametrize(
        ("who", "f", "overridden", "rule"),
        [
            (OUTSIDER, fact(), "not_participant", "acute_danger"),
            (
                PARTICIPANT,
                fact(sharing=shared("partners", "reclassering")),
                "sharing_excludes_reader",
                "acute_danger",
            ),
            (GGD, HEALTH, "not_participant", "vital_interest_health"),
        ],
    )
    def test_granted_and_flagged(
        self, who: Principal, f: FactMetadata, overridden: str, rule: str
    ) -> None:
        grant = emergency()
        decision = read(who, f, emergency=grant)
        assert decision.allowed
        assert decision.emergency
        assert decision.reason is R.emergency_granted
        assert f"overrides {overridden}; emergency_rule={rule}" in decision.basis
        assert decision.basis.endswith(f"until {grant.ends_at.isoformat()}")
        assert "safety risk" not in decision.basis  # the stated reason is never a basis

    @pytest.mark.parametrize("who", [OUTSIDER, PARTICIPANT, GGD])
    def test_never_opens_owner_only_facts(self, who: Principal) -> None:
        decision = read(who, fact(sharing=shared("owner")), emergency=emergency())
        assert decision.reason is R.emergency_not_for_owner_facts
        assert not decision.allowed

    @pytest.mark.parametrize(
        ("who", "f"),
        [
            (OUTSIDER, HEALTH),  # om is named by no rule opening health
            (PARTICIPANT, HEALTH),
            (GGD, CRIMINAL),  # the GGD's rule names health, not criminal data
        ],
    )
    def test_special_categories_only_where_a_rule_names_them(
        self, who: Principal, f: FactMetadata
    ) -> None:
        decision = read(who, f, emergency=emergency())
        assert decision.reason is R.emergency_category_not_covered

    def test_not_needed_is_not_emergency_access(self) -> None:
        decision = read(emergency=emergency())
        assert decision.reason is R.allowed_sharing
        assert not decision.emergency

    @pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
    def test_reason_required(self, reason: str) -> None:
        decision = read(OUTSIDER, emergency=emergency(reason))
        assert decision.reason is R.emergency_reason_missing
        assert decision.basis.endswith("would override not_participant")

    def test_role_and_partner_must_be_admitted_by_a_rule(self) -> None:
        melder = reader("om", "melder")
        assert read(melder, emergency=emergency()).reason is R.emergency_role_not_permitted
        assert emergency_rules_for(sample(), melder) == ()
        ids = [r.id for r in emergency_rules_for(sample(), GGD)]
        assert ids == ["acute_danger", "vital_interest_health"]

    def test_time_box_from_the_grant_not_the_read(self) -> None:
        """At the grant's start and one second before its end: open; from its end: expired."""
        start = at(days=1)
        grant = emergency_window(sample(), "acute safety risk", start)
        box = timedelta(minutes=sample().emergency.max_window_minutes)
        assert grant.ends_at == start + box
        for moment in (start, start + box - timedelta(seconds=1)):
            assert read(OUTSIDER, emergency=grant, now=moment).reason is R.emergency_granted
        for moment in (start + box, start + box + timedelta(seconds=1)):
            decision = read(OUTSIDER, emergency=grant, now=moment)
            assert decision.reason is R.emergency_expired
            assert decision.basis.endswith(f"grant ended {grant.ends_at.isoformat()}")
        before = read(OUTSIDER, emergency=grant, now=start - timedelta(seconds=1))
        assert before.reason is R.emergency_expired

    @pytest.mark.parametrize(
        ("f", "c", "expected"),
        [
            (fact(erased=True), case(), R.erased),
            (fact(), case(CaseStatus.closed, closed_at=at(0)), R.case_closed),
            (fact(purpose="criminal_investigation"), case(), R.purpose_incompatible),
            (fact(legal_basis="consent"), case(), R.consent_absent_or_withdrawn),
            (fact(), case(CaseStatus.rejected), R.case_not_active),
        ],
    )
    def test_never_overrides_other_denials(
        self, f: FactMetadata, c: CaseState, expected: ReasonCode
    ) -> None:
        decision = read(OUTSIDER, f, c, emergency=emergency())
        assert decision.reason is expected
        assert not decision.emergency

    def test_never_overrides_removal(self) -> None:
        removed = members("zvh", "ggz")
        corp = PartnerId("woningcorporatie")
        removed[corp] = Participation(corp, at(0), removed_at=at(hours=1))
        decision = read(c=case(participants=removed), emergency=emergency())
        assert decision.reason is R.participant_removed


class TestEmergencyForRead:
    """Which grant a read is under: the open one, a new one for a reason, never a renewal."""

    now = at(days=1)

    def choose(
        self,
        reason: str | None,
        *,
        open_grant: EmergencyRequest | None = None,
        last_grant: EmergencyRequest | None = None,
    ) -> EmergencyRequest | None:
        return emergency_for_read(
            sample(), reason, self.now, open_grant=open_grant, last_grant=last_grant
        )

    def test_an_open_grant_is_used_with_or_without_a_reason(self) -> None:
        grant = emergency(minutes_ago=10)
        assert self.choose(None, open_grant=grant) is grant
        assert self.choose("another reason", open_grant=grant) is grant
        assert self.choose(grant.reason, open_grant=grant) is grant

    def test_no_reason_no_emergency(self) -> None:
        assert self.choose(None) is None
        assert self.choose(None, last_grant=emergency(minutes_ago=600)) is None

    def test_a_stated_reason_asks_for_a_new_grant_from_now(self) -> None:
        box = timedelta(minutes=sample().emergency.max_window_minutes)
        fresh = self.choose("acute safety risk")
        assert fresh == EmergencyRequest("acute safety risk", self.now, self.now + box)
        ended = emergency("an earlier risk", minutes_ago=600)
        renewed = self.choose("a new risk", last_grant=ended)
        assert renewed == EmergencyRequest("a new risk", self.now, self.now + box)

    def test_an_ended_grant_is_not_renewed_with_the_same_words(self) -> None:
        ended = emergency("acute safety risk", minutes_ago=600)
        assert self.choose("acute safety risk", last_grant=ended) is ended
        decision = read(OUTSIDER, emergency=ended)
        assert decision.reason is R.emergency_expired

    def test_now_must_be_aware(self) -> None:
        with pytest.raises(PolicyError):
            emergency_for_read(
                sample(), "x", datetime(2026, 1, 6), open_grant=None, last_grant=None
            )
