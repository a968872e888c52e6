"""The referring melder of a referred case reads its own partner's facts and nothing else,
whatever the case holds, until its partner is invited (sample covenant, generated inputs)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from policies import (
    CaseStatus,
    EmergencyRequest,
    FactMetadata,
    PartnerId,
    ReasonCode,
    decide_case_overview,
    decide_fact_read,
)
from tests.strategies import at, case, facts, members, reader, sample

REFERRER = "politie"
STATUSES = st.sampled_from([CaseStatus.triage, CaseStatus.rejected, CaseStatus.active])
OTHERS = st.frozensets(st.sampled_from(["ggz", "woningcorporatie", "reclassering"]), max_size=3)


@given(
    facts(),
    STATUSES,
    OTHERS,
    st.sampled_from(["zvh_joint_approach", "early_signal"]),
    st.none() | st.just("the melder says it is urgent"),
)
def test_the_referrer_reads_only_its_own(
    fact: FactMetadata,
    status: CaseStatus,
    others: frozenset[str],
    purpose: str,
    reason: str | None,
) -> None:
    referred = replace(
        case(status, participants=members("zvh", *sorted(others))),
        referrer=PartnerId(REFERRER),
    )
    melder = reader(REFERRER, "melder")
    now = at(days=3)
    overview = decide_case_overview(sample(), melder, purpose, referred, now)
    if overview.allowed:
        assert overview.reason is ReasonCode.allowed_referrer
    glass = None if reason is None else EmergencyRequest(reason, at(days=2), at(days=4))
    read = decide_fact_read(sample(), melder, purpose, glass, fact, referred, now)
    if read.allowed:
        assert fact.owner == REFERRER
        assert read.reason in (ReasonCode.allowed_owner, ReasonCode.allowed_owner_metadata)
