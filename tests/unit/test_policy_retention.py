"""Retention deadlines, legal holds and access-log retention as pure functions of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies import (
    CaseStatus,
    ConsentState,
    access_log_retention_until,
    case_retention_deadline,
    fact_retention_deadline,
    is_expired,
    is_on_hold,
)
from tests.strategies import T0, at, case, consent, fact, hold, sample

CONSENTED = fact(legal_basis="consent", categories={"finance"})


def finance_consent(consent_id: str, withdrawn_at: datetime | None) -> ConsentState:
    return consent(consent_id=consent_id, categories={"finance"}, withdrawn_at=withdrawn_at)


class TestCaseDeadline:
    """Rejected signals: decision + 4 weeks; closed cases: closing + 2 years; open: none."""

    def test_rejected(self) -> None:
        rejected = case(CaseStatus.rejected, decided_at=at(3))
        assert case_retention_deadline(sample(), rejected) == at(3) + timedelta(weeks=4)

    def test_closed(self) -> None:
        closed = case(CaseStatus.closed, closed_at=at(10))
        assert case_retention_deadline(sample(), closed) == at(10).replace(year=2028)

    def test_closed_on_leap_day(self) -> None:
        leap = datetime(2028, 2, 29, 12, tzinfo=UTC)
        closed = case(CaseStatus.closed, closed_at=leap)
        assert case_retention_deadline(sample(), closed) == datetime(2030, 2, 28, 12, tzinfo=UTC)

    @pytest.mark.parametrize("status", [CaseStatus.triage, CaseStatus.active])
    def test_open_cases_have_none(self, status: CaseStatus) -> None:
        assert case_retention_deadline(sample(), case(status)) is None

    def test_erased_case_deadline_is_its_erasure(self) -> None:
        assert case_retention_deadline(sample(), case(CaseStatus.erased, erased_at=at(5))) == at(5)
        assert case_retention_deadline(sample(), case(CaseStatus.erased)) is None


class TestFactDeadline:
    """A fact's deadline is the earliest rule that applies; consent withdrawal is one."""

    def test_plain_fact_follows_the_case(self) -> None:
        assert fact_retention_deadline(sample(), fact(), case()) is None
        closed = case(CaseStatus.closed, closed_at=at(1))
        assert fact_retention_deadline(sample(), fact(), closed) == at(1).replace(year=2028)

    def test_withdrawn_consent_is_due_at_withdrawal(self) -> None:
        c = case(consents=[finance_consent("c1", at(4))])
        assert fact_retention_deadline(sample(), CONSENTED, c) == at(4)

    def test_earliest_rule_wins(self) -> None:
        withdrawn = [finance_consent("c1", at(4))]
        closed = case(CaseStatus.closed, closed_at=at(1), consents=withdrawn)
        assert fact_retention_deadline(sample(), CONSENTED, closed) == at(4)

    def test_last_withdrawal_counts_when_several_covered_the_fact(self) -> None:
        both = [finance_consent("c1", at(4)), finance_consent("c2", at(6))]
        c = case(consents=both)
        assert fact_retention_deadline(sample(), CONSENTED, c) == at(6)

    def test_one_consent_still_in_force_keeps_the_fact(self) -> None:
        mixed = [finance_consent("c1", at(4)), finance_consent("c2", None)]
        c = case(consents=mixed)
        assert fact_retention_deadline(sample(), CONSENTED, c) is None

    def test_consents_that_do_not_cover_the_fact_do_not_count(self) -> None:
        other = [consent(categories={"housing"}, withdrawn_at=at(4))]
        assert fact_retention_deadline(sample(), CONSENTED, case(consents=other)) is None
        assert fact_retention_deadline(sample(), CONSENTED, case()) is None
        not_consent_based = fact(categories={"finance"})
        withdrawn = case(consents=[finance_consent("c1", at(4))])
        assert fact_retention_deadline(sample(), not_consent_based, withdrawn) is None


class TestExpiry:
    """Expired from the deadline on, never while a legal hold is in force."""

    def test_boundary(self) -> None:
        rejected = case(CaseStatus.rejected)
        deadline = T0 + timedelta(weeks=4)
        assert not is_expired(sample(), fact(), rejected, deadline - timedelta(microseconds=1))
        assert is_expired(sample(), fact(), rejected, deadline)
        assert not is_expired(sample(), fact(), case(), at(5000))

    def test_hold_suspends_until_lifted(self) -> None:
        held = case(CaseStatus.rejected, holds=[hold(at(10), lifted_at=at(40))])
        assert is_on_hold(held, at(30))
        assert not is_expired(sample(), fact(), held, at(30))
        assert not is_on_hold(held, at(40))
        assert is_expired(sample(), fact(), held, at(40))

    def test_open_hold_counts_from_the_state_on(self) -> None:
        held = case(CaseStatus.rejected, holds=[hold(at(50))])
        assert is_on_hold(held, at(1))
        assert not is_expired(sample(), fact(), held, at(900))
        assert not is_on_hold(case(), at(1))


class TestAccessLogRetention:
    """The access log outlives the case data by five years (NEN 7513)."""

    def test_closed_case(self) -> None:
        closed = case(CaseStatus.closed, closed_at=at(10))
        assert access_log_retention_until(sample(), closed) == at(10).replace(year=2033)

    def test_rejected_and_erased(self) -> None:
        rejected = case(CaseStatus.rejected)
        expected = (T0 + timedelta(weeks=4)).replace(year=2031)
        assert access_log_retention_until(sample(), rejected) == expected
        erased = case(CaseStatus.erased, erased_at=at(2))
        assert access_log_retention_until(sample(), erased) == at(2).replace(year=2031)

    def test_open_case_keeps_its_log(self) -> None:
        assert access_log_retention_until(sample(), case()) is None
