"""Erasure plans on both stores: an erasure whose keys are destroyed but whose ``Erased``
record fails to commit is finished later, by its retry or at the service's start, and records
what was destroyed as it was destroyed (the subject's facts, the key ids), once per case.
"""

from __future__ import annotations

import pytest
from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import get_topic

from ledger import CaseLedger, ErasureReport
from ledger._case import Case
from ledger._faults import FaultPlan, installed
from tests.integration._ledger_support import (
    POLITIE,
    PRIVACY_OFFICER,
    add_subject,
    open_active_case,
    readable,
    record,
)
from tests.integration.read_helpers import ReadStack

ERASED = get_topic(Case.Erased)


def _subject_with_facts(ledger: CaseLedger) -> tuple[str, str, list[str], str]:
    """A case with a subject, two facts about the subject and one that is not."""
    case_id = open_active_case(ledger, invite=("politie",))
    subject = add_subject(ledger, case_id)
    about = [record(ledger, POLITIE, case_id, {"n": n}, subjects=[subject]) for n in range(2)]
    other = record(ledger, POLITIE, case_id, {"other": True})
    return case_id, subject, about, other


def _fail_subject_erasure(ledger: CaseLedger, case_id: str, subject: str, key: str) -> None:
    with installed(FaultPlan(topic=ERASED)) as plan, pytest.raises(PersistenceError):
        ledger.erase_subject(PRIVACY_OFFICER, case_id, subject, ground="art17", idempotency_key=key)
    assert plan.fired == 1


def _records(ledger: CaseLedger, case_id: str) -> list[dict[str, object]]:
    return list(ledger.get_case(case_id).erasures)


class TestRetryFinishesThePlan:
    def test_subject_retry_records_the_facts_and_keys_it_destroyed(self, stack: ReadStack) -> None:
        ledger = stack.ledger
        case_id, subject, about, other = _subject_with_facts(ledger)
        _fail_subject_erasure(ledger, case_id, subject, "k")
        assert _records(ledger, case_id) == []
        assert set(readable(ledger, case_id)) == {other}  # the keys went with the failure

        report = ledger.erase_subject(
            PRIVACY_OFFICER, case_id, subject, ground="art17", idempotency_key="k"
        )

        assert not report.replayed
        assert sorted(report.fact_ids) == sorted(about)
        assert report.scope_key_ids  # the subject's keys, as the failed attempt destroyed them
        (kept,) = _records(ledger, case_id)
        assert kept["erasure_id"] == report.erasure_id
        assert sorted(kept["fact_ids"]) == sorted(about)  # type: ignore[call-overload]
        assert kept["scope_key_ids"] == list(report.scope_key_ids)
        assert subject not in ledger.get_case(case_id).subjects
        again = ledger.erase_subject(
            PRIVACY_OFFICER, case_id, subject, ground="art17", idempotency_key="k"
        )
        assert again.replayed
        assert again.as_dict() == report.as_dict()
        assert len(_records(ledger, case_id)) == 1
        assert ledger.resume_erasures() == []  # nothing is left pending

    def test_case_retry_records_the_keys_the_failed_attempt_destroyed(
        self, stack: ReadStack
    ) -> None:
        ledger = stack.ledger
        case_id, _, about, other = _subject_with_facts(ledger)
        with installed(FaultPlan(topic=ERASED)), pytest.raises(PersistenceError):
            ledger.erase_case(PRIVACY_OFFICER, case_id, ground="art17", idempotency_key="c")

        report = ledger.erase_case(PRIVACY_OFFICER, case_id, ground="art17", idempotency_key="c")

        assert sorted(report.fact_ids) == sorted([*about, other])
        assert report.scope_key_ids
        assert report.fact_key_ids
        (kept,) = _records(ledger, case_id)
        assert kept["fact_key_ids"] == list(report.fact_key_ids)
        assert ledger.get_case(case_id).status == "erased"

    def test_a_retry_under_another_key_finishes_the_same_erasure(self, stack: ReadStack) -> None:
        ledger = stack.ledger
        case_id, subject, about, _ = _subject_with_facts(ledger)
        _fail_subject_erasure(ledger, case_id, subject, "first")

        second = ledger.erase_subject(
            PRIVACY_OFFICER, case_id, subject, ground="art17", idempotency_key="second"
        )
        first = ledger.erase_subject(
            PRIVACY_OFFICER, case_id, subject, ground="art17", idempotency_key="first"
        )

        assert sorted(second.fact_ids) == sorted(about)
        assert first.replayed
        assert second.erasure_id == first.erasure_id
        assert len(_records(ledger, case_id)) == 1


class TestServiceStartFinishesThePlan:
    def test_resume_records_once_and_answers_the_retry(self, stack: ReadStack) -> None:
        ledger = stack.ledger
        case_id, subject, about, _ = _subject_with_facts(ledger)
        _fail_subject_erasure(ledger, case_id, subject, "k")

        (resumed,) = ledger.resume_erasures()

        assert sorted(resumed.fact_ids) == sorted(about)
        assert [r["erasure_id"] for r in _records(ledger, case_id)] == [resumed.erasure_id]
        assert _records(ledger, case_id)[0]["requested_by"] == PRIVACY_OFFICER.principal.user
        assert ledger.resume_erasures() == []
        retry = ledger.erase_subject(
            PRIVACY_OFFICER, case_id, subject, ground="art17", idempotency_key="k"
        )
        assert retry.replayed  # the idempotency record committed with the resumed record
        assert retry.erasure_id == resumed.erasure_id
        stack.runner.catch_up()
        assert len(_records(ledger, case_id)) == 1


class TestOwnerErasureAcrossCases:
    def test_a_failure_at_the_second_case_is_finished_once_per_case(self, stack: ReadStack) -> None:
        ledger = stack.ledger
        cases = [open_active_case(ledger, invite=("politie",)) for _ in range(3)]
        for case_id in cases:
            record(ledger, POLITIE, case_id, {"case": case_id})
        with installed(FaultPlan(nth=2, topic=ERASED)), pytest.raises(PersistenceError):
            ledger.erase_owner(PRIVACY_OFFICER, "politie", ground="art17", idempotency_key="o")
        recorded = [c for c in cases if _records(ledger, c)]
        assert len(recorded) == 1  # the first case's record committed before the failure

        report = ledger.erase_owner(PRIVACY_OFFICER, "politie", ground="art17", idempotency_key="o")

        assert not report.replayed
        assert len(report.fact_ids) == 3
        for case_id in cases:
            assert [r["erasure_id"] for r in _records(ledger, case_id)] == [report.erasure_id]
            assert readable(ledger, case_id) == {}
        replay: ErasureReport = ledger.erase_owner(
            PRIVACY_OFFICER, "politie", ground="art17", idempotency_key="o"
        )
        assert replay.replayed
        assert replay.as_dict() == report.as_dict()
