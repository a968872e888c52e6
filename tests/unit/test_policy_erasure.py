"""decide_erasure_request / decide_erasure_confirmation: grounds per scope and four eyes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies import (
    CaseStatus,
    ErasureGround,
    ErasureRuling,
    ErasureScope,
    PartnerId,
    PolicyError,
    Principal,
    ReasonCode,
    UserId,
    decide_erasure_confirmation,
    decide_erasure_request,
    erasure_request_expires_at,
)
from policies._inputs import CaseState
from tests.strategies import T0, at, case, hold, reader, sample

R = ReasonCode
S = ErasureScope
G = ErasureGround
OFFICER = reader("zvh", "privacy_officer")
SECOND = Principal(UserId("officer_two"), PartnerId("zvh"), OFFICER.roles)


def rule(
    scope: ErasureScope,
    ground: ErasureGround,
    *,
    who: Principal = OFFICER,
    c: CaseState | None = None,
    owner: str | None = None,
    now_days: float = 1,
) -> ErasureRuling:
    needs_case = scope is not S.owner
    return decide_erasure_request(
        sample(),
        who,
        scope,
        ground,
        at(days=now_days),
        case=(c or case()) if needs_case else None,
        owner=PartnerId(owner) if owner else None,
    )


class TestScopesAndGrounds:
    """Which ground fits which scope, and which requests take a second officer."""

    @pytest.mark.parametrize("scope", [S.fact, S.subject])
    @pytest.mark.parametrize("ground", [G.art17_request, G.consent_withdrawn, G.owner_retraction])
    def test_fact_and_subject_at_once(self, scope: ErasureScope, ground: ErasureGround) -> None:
        ruling = rule(scope, ground)
        assert ruling.decision.reason is R.allowed_role
        assert not ruling.needs_confirmation

    @pytest.mark.parametrize("scope", [S.fact, S.subject, S.case])
    def test_owner_withdrawal_is_for_the_owner_scope_only(self, scope: ErasureScope) -> None:
        assert rule(scope, G.owner_withdrawal).decision.reason is R.ground_not_for_scope

    def test_case_outside_retention_takes_four_eyes(self) -> None:
        ruling = rule(S.case, G.art17_request)
        assert ruling.decision.allowed
        assert ruling.needs_confirmation
        assert ruling.decision.basis.endswith("outside retention")

    def test_case_by_retention_only_once_due(self) -> None:
        closed = case(CaseStatus.closed, closed_at=T0)
        early = rule(S.case, G.retention, c=closed, now_days=30)
        assert early.decision.reason is R.ground_not_for_scope
        due = rule(S.case, G.retention, c=closed, now_days=2 * 366)
        assert due.decision.allowed
        assert not due.needs_confirmation
        assert rule(S.case, G.retention).decision.reason is R.ground_not_for_scope  # active

    def test_owner_withdrawal_takes_four_eyes(self) -> None:
        ruling = rule(S.owner, G.owner_withdrawal, owner="woningcorporatie")
        assert ruling.decision.allowed
        assert ruling.needs_confirmation

    @pytest.mark.parametrize("ground", [G.retention, G.art17_request, G.consent_withdrawn])
    def test_owner_scope_needs_owner_withdrawal(self, ground: ErasureGround) -> None:
        assert rule(S.owner, ground, owner="ggz").decision.reason is R.ground_not_for_scope

    def test_never_the_partnership_office(self) -> None:
        decision = rule(S.owner, G.owner_withdrawal, owner="zvh").decision
        assert decision.reason is R.office_not_erasable

    def test_legal_hold_suspends(self) -> None:
        held = case(holds=[hold(at(0))])
        for scope in (S.fact, S.subject, S.case):
            assert rule(scope, G.art17_request, c=held).decision.reason is R.legal_hold

    def test_privacy_officer_only(self) -> None:
        director = reader("zvh", "procesregisseur")
        assert rule(S.fact, G.art17_request, who=director).decision.reason is R.role_required
        stranger = reader("nobody", "privacy_officer")
        assert rule(S.fact, G.art17_request, who=stranger).decision.reason is R.partner_unknown

    def test_missing_inputs_are_caller_bugs(self) -> None:
        with pytest.raises(PolicyError, match="needs the owner"):
            decide_erasure_request(sample(), OFFICER, S.owner, G.owner_withdrawal, at(1))
        with pytest.raises(PolicyError, match="needs its case"):
            decide_erasure_request(sample(), OFFICER, S.case, G.art17_request, at(1))


class TestConfirmation:
    """Another privacy officer confirms, within the covenant's window."""

    def confirm(self, who: Principal, *, hours: float, confirmed: bool = False) -> ReasonCode:
        requested_at = at(0)
        return decide_erasure_confirmation(
            sample(),
            who,
            OFFICER.user,
            requested_at,
            requested_at + timedelta(hours=hours),
            confirmed=confirmed,
        ).reason

    def test_second_officer_within_the_window(self) -> None:
        assert self.confirm(SECOND, hours=71.99) is R.allowed_role

    def test_requester_cannot_confirm(self) -> None:
        assert self.confirm(OFFICER, hours=1) is R.four_eyes_required
        assert self.confirm(OFFICER, hours=1, confirmed=True) is R.four_eyes_required

    def test_expires(self) -> None:
        assert sample().erasure.confirm_within_hours == 72
        assert self.confirm(SECOND, hours=72) is R.erasure_request_expired
        assert erasure_request_expires_at(sample(), at(0)) == at(hours=72)

    def test_a_confirmed_request_may_be_carried_out_later(self) -> None:
        assert self.confirm(SECOND, hours=100, confirmed=True) is R.allowed_role

    def test_only_privacy_officers(self) -> None:
        director = reader("zvh", "procesregisseur")
        assert self.confirm(director, hours=1) is R.role_required
        assert self.confirm(reader("nobody", "privacy_officer"), hours=1) is R.partner_unknown
