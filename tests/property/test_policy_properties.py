"""Invariants of the policy engine over generated decision inputs (sample covenant)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from policies import (
    CaseState,
    CaseStatus,
    ConsentState,
    Disclosure,
    FactMetadata,
    PurposeId,
    ReasonCode,
    Role,
    SharingLevel,
    emergency_window,
    is_expired,
)
from tests.strategies import (
    VIOLATIONS,
    EmergencyWindow,
    ReadScenario,
    allowed_reads,
    case_states,
    consents,
    facts,
    instants,
    read_scenarios,
    sample,
    valid_emergencies,
    violations,
)

NO_CONTENT = {Role.administratief_medewerker, Role.privacy_officer, Role.client}
OVERRIDABLE = {"participation", "sharing", "special"}


def glass_opens(s: ReadScenario) -> bool:
    """Could a valid grant open this fact for this reader? The covenant's rules read
    independently of the policy code: a rule admits the reader (a role, and the partner if it
    names partners), the fact is not owner-only, and the rule names every special category."""
    cov = sample()
    if s.fact.sharing.level is SharingLevel.owner:
        return False
    special = {c for c in s.fact.categories if cov.is_special(c)}
    return any(
        set(rule.roles) & s.principal.roles
        and (not rule.partners or s.principal.partner in rule.partners)
        and special <= set(rule.special_categories)
        for rule in cov.emergency.effective_rules
    )


def broken_rules(s: ReadScenario) -> set[str]:
    """Every need-to-know rule of docs/domain.md the scenario breaks, stated independently of the
    engine's check order (an oracle: the engine must deny whenever this is not empty)."""
    cov, p, f, c, now = sample(), s.principal, s.fact, s.case, s.now
    broken: set[str] = set()
    if not cov.is_partner(p.partner) or not p.roles:
        broken.add("principal")
    if any(not cov.may_hold_role(p.partner, role) for role in p.roles):
        broken.add("principal")
    if cov.find_purpose(s.purpose) is None:
        broken.add("purpose_unknown")
    if p.roles & NO_CONTENT:
        broken.add("role")
    terms = [cov.is_kind(f.kind), cov.is_legal_basis(f.legal_basis)]
    if not all(terms + [cov.is_category(x) for x in f.categories]):
        broken.add("terms")
    if not cov.is_compatible(f.purpose, s.purpose):
        broken.add("purpose")
    if f.erased or f.retracted or c.status is CaseStatus.erased:
        broken.add("gone")
    if is_expired(cov, f, c, now):
        broken.add("retention")
    if c.status is CaseStatus.closed:
        broken.add("closed")
    owner = f.owner == p.partner
    if cov.is_consent_basis(f.legal_basis) and not any(
        k.subject in f.subjects
        and k.purpose == s.purpose
        and f.categories <= k.categories
        and (owner or p.partner in k.recipients)
        and k.given_at <= now
        and (k.withdrawn_at is None or now < k.withdrawn_at)
        for k in c.consents
    ):
        broken.add("consent")
    if owner:
        return broken
    triage_director = c.status is CaseStatus.triage and p.has_role(Role.procesregisseur)
    if c.status is not CaseStatus.active and not triage_director:
        broken.add("status")
    member = c.participants.get(p.partner)
    if member is None or now < member.invited_at:
        broken.add("participation")
    elif member.removed_at is not None and member.removed_at <= now:
        broken.add("removed")
    level = f.sharing.level
    special = any(cov.is_special(x) for x in f.categories)
    if special and level is not SharingLevel.partners:
        broken.add("special")
    admitted = {
        SharingLevel.owner: False,
        # The office's procesregisseur, or exactly the casusregisseur the case names.
        SharingLevel.regie: (p.has_role(Role.procesregisseur) and p.partner == "zvh")
        or (
            p.has_role(Role.casusregisseur)
            and c.casusregisseur is not None
            and (c.casusregisseur.user, c.casusregisseur.partner) == (p.user, p.partner)
        ),
        SharingLevel.participants: True,
        SharingLevel.partners: p.partner in f.sharing.partners,
    }[level]
    if not admitted:
        broken.add("sharing")
    return broken


class TestNeedToKnowOracle:
    """A content read is allowed exactly when it breaks no need-to-know rule."""

    @given(read_scenarios)
    def test_decision_matches_the_rules(self, s: ReadScenario) -> None:
        decision = s.decide()
        if sample().discloses_metadata_only(s.purpose):
            assert decision.disclosure is not Disclosure.content
            return
        broken = broken_rules(s)
        event("allowed" if decision.allowed else "denied")
        content = decision.allowed and decision.disclosure is Disclosure.content
        assert content == (not broken or decision.emergency), (decision, broken)
        if decision.emergency:
            assert broken
            assert broken <= OVERRIDABLE
            assert glass_opens(s)
        if decision.allowed and not content:
            # Only the owner's view of its own fact hidden by a withdrawn consent.
            assert decision.reason is ReasonCode.allowed_owner_metadata
            assert s.fact.owner == s.principal.partner
            assert "retention" in broken

    @given(allowed_reads())
    def test_generated_valid_reads_are_allowed(self, s: ReadScenario) -> None:
        assert broken_rules(s) == set()
        assert s.decide().allowed


class TestSingleViolations:
    """Breaking any single rule of an allowed read denies it; emergency overrides only three."""

    @given(allowed_reads(), violations)
    def test_any_single_violation_denies(self, s: ReadScenario, violation: str) -> None:
        mutate, _ = VIOLATIONS[violation]
        decision = mutate(s).decide()
        assert not decision.allowed, (violation, decision)

    @given(allowed_reads(), violations, valid_emergencies)
    def test_emergency_overrides_only_participation_and_sharing(
        self, s: ReadScenario, violation: str, emergency: EmergencyWindow
    ) -> None:
        mutate, overridable = VIOLATIONS[violation]
        broken = mutate(s)
        decision = replace(broken, emergency=emergency.at(broken.now)).decide()
        assert decision.allowed == (overridable and glass_opens(broken)), (violation, decision)
        assert decision.emergency == decision.allowed


class TestPurposeBinding:
    """An incompatible purpose is never granted content, with or without emergency."""

    @given(read_scenarios)
    def test_incompatible_purpose_never_granted(self, s: ReadScenario) -> None:
        if sample().is_compatible(s.fact.purpose, s.purpose):
            return
        decision = s.decide()
        assert decision.disclosure is not Disclosure.content

    @given(read_scenarios)
    def test_criminal_investigation_never_granted(self, s: ReadScenario) -> None:
        assert not replace(s, purpose="criminal_investigation").decide().allowed


class TestConsentWithdrawal:
    """After a consent is withdrawn it never grants a read again."""

    @given(allowed_reads(), consents(), st.integers(0, 5000))
    def test_withdrawn_consent_never_grants(
        self, s: ReadScenario, given_consent: ConsentState, hours_after: int
    ) -> None:
        withdrawn_at = s.now - timedelta(hours=1)
        only = replace(
            given_consent,
            purpose=PurposeId(s.purpose),
            subject=next(iter(s.fact.subjects)),
            categories=s.fact.categories,
            recipients=frozenset({s.principal.partner}),
            given_at=min(withdrawn_at, given_consent.given_at),
            withdrawn_at=withdrawn_at,
        )
        scenario = replace(
            s,
            fact=replace(s.fact, legal_basis="consent"),
            case=replace(s.case, consents=(only,)),
            now=withdrawn_at + timedelta(hours=hours_after),
        )
        assert not scenario.decide().allowed
        owner_view = replace(scenario, principal=replace(s.principal, partner=s.fact.owner))
        owner_decision = owner_view.decide()
        # The owner sees that its fact awaits erasure (metadata), never its content.
        assert owner_decision.disclosure is not Disclosure.content


class TestRetentionMonotone:
    """Once a fact is expired it stays expired for every later ``now``."""

    @given(facts(), case_states(), instants, instants)
    def test_is_expired_monotone(
        self, f: FactMetadata, c: CaseState, t1: datetime, t2: datetime
    ) -> None:
        earlier, later = sorted((t1, t2))
        cov = sample()
        if is_expired(cov, f, c, earlier):
            assert is_expired(cov, f, c, later)


class TestEmergencyFlag:
    """Emergency access is always flagged and never granted without a stated reason."""

    @given(read_scenarios)
    def test_emergency_always_flagged(self, s: ReadScenario) -> None:
        decision = s.decide()
        assert decision.emergency == (decision.reason is ReasonCode.emergency_granted)
        if decision.emergency:
            assert s.emergency is not None
            assert s.emergency.reason.strip()
            assert decision.allowed

    @given(allowed_reads(), violations, st.sampled_from(["", " ", "\t\n"]))
    def test_blank_reason_never_grants(self, s: ReadScenario, violation: str, blank: str) -> None:
        broken = VIOLATIONS[violation][0](s)
        emergency = emergency_window(sample(), blank, broken.now)
        decision = replace(broken, emergency=emergency).decide()
        assert not decision.emergency
        assert not decision.allowed
