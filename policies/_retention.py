"""Retention deadlines as pure functions of the covenant, the fact, the case and ``now``.

AVG art. 5(1)(e) (storage limitation) sets no periods; the covenant does. The rules
(docs/domain.md "Retention"):

* rejected signal: erased ``rejected_signal_weeks`` after the triage decision;
* closed case: erased ``closed_case_years`` after closing;
* consent-based fact whose every covering consent was withdrawn: hidden at once, due at the
  (last) withdrawal, so the next retention run erases it;
* a legal hold suspends erasure while it is in force (AVG art. 17(3)(e): legal claims);
* the access log outlives the case by ``access_log_years_after_case`` (NEN 7513).

A fact's deadline is the earliest rule that applies. Erasure on request or retraction is not
a deadline: it happens at once, through the ``erased`` / ``retracted`` flags.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from policies._covenant import Covenant
from policies._inputs import CaseState, CaseStatus, ConsentState, FactMetadata


def add_years(instant: datetime, years: int) -> datetime:
    """Same calendar date ``years`` later; 29 February falls back to 28 February."""
    try:
        return instant.replace(year=instant.year + years)
    except ValueError:
        return instant.replace(year=instant.year + years, day=28)


def case_retention_deadline(covenant: Covenant, case: CaseState) -> datetime | None:
    """When the case's data is due for erasure; ``None`` while it is in triage or active.

    An erased case's deadline is its erasure time (if the caller knows it): nothing is left.
    """
    retention = covenant.retention
    if case.status is CaseStatus.rejected:
        assert case.decided_at is not None  # guaranteed by CaseState
        return case.decided_at + timedelta(weeks=retention.rejected_signal_weeks)
    if case.status is CaseStatus.closed:
        assert case.closed_at is not None  # guaranteed by CaseState
        return add_years(case.closed_at, retention.closed_case_years)
    if case.status is CaseStatus.erased:
        return case.erased_at
    return None


def covers(consent: ConsentState, fact: FactMetadata) -> bool:
    """Is ``consent`` one the fact could rest on: its subject, its purpose (AVG art. 6(4):
    consent covers exactly the purposes consented to) and all its categories?"""
    return (
        consent.subject in fact.subjects
        and consent.purpose == fact.purpose
        and fact.categories <= consent.categories
    )


def _consent_deadline(covenant: Covenant, fact: FactMetadata, case: CaseState) -> datetime | None:
    # AVG art. 7(3), 17(1)(b): once no consent is left, the fact has no basis left.
    if not covenant.is_consent_basis(fact.legal_basis):
        return None
    covering = [c for c in case.consents if covers(c, fact)]
    withdrawals = [c.withdrawn_at for c in covering if c.withdrawn_at is not None]
    if not covering or len(withdrawals) < len(covering):
        return None
    return max(withdrawals)


def fact_retention_deadline(
    covenant: Covenant, fact: FactMetadata, case: CaseState
) -> datetime | None:
    """The earliest deadline of every rule that applies to the fact, or ``None``."""
    deadlines = [
        deadline
        for deadline in (
            case_retention_deadline(covenant, case),
            _consent_deadline(covenant, fact, case),
        )
        if deadline is not None
    ]
    return min(deadlines, default=None)


def is_on_hold(case: CaseState, now: datetime) -> bool:
    """Is a legal hold in force at ``now``?

    A hold counts from the moment it is in the case state until it is lifted: asking about an
    instant before ``placed_at`` errs on the side of keeping the data. This keeps
    ``is_expired`` monotone in ``now`` (a hold is lifted once, never re-placed).
    """
    return any(hold.lifted_at is None or now < hold.lifted_at for hold in case.legal_holds)


def is_expired(covenant: Covenant, fact: FactMetadata, case: CaseState, now: datetime) -> bool:
    """Is the fact past its retention deadline at ``now``? Never while a legal hold is in force.

    Monotone in ``now``: once expired, a fact stays expired for the same inputs.
    """
    if is_on_hold(case, now):
        return False
    deadline = fact_retention_deadline(covenant, fact, case)
    return deadline is not None and now >= deadline


def access_log_retention_until(covenant: Covenant, case: CaseState) -> datetime | None:
    """Keep the case's access-log entries until this instant (NEN 7513: at least 5 years).

    ``None`` while the case retention is still open (triage, active, or erased without a
    known erasure time): the entries are kept.
    """
    deadline = case_retention_deadline(covenant, case)
    if deadline is None:
        return None
    return add_years(deadline, covenant.retention.access_log_years_after_case)
