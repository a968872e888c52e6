"""Concurrent writers and retried commands: what is acknowledged is stored, exactly once.

Unless a test says otherwise, every writer thread has its own ledger on the same stores, so
they race through the database like separate processes would (no shared lock or cache).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from ledger import (
    Case,
    CaseLedger,
    ConcurrencyConflictError,
    IdempotencyKeyReusedError,
    StoreConfig,
)
from ledger._interprocess import CaseStripes
from tests.integration._ledger_support import (
    POLITIE,
    PURPOSE,
    RECLASSERING,
    event_versions,
    open_active_case,
    open_test_ledger,
    opened,
    stored_event_count,
)
from tests.opening import open_as_recorded

THREADS = 8
FACTS_PER_THREAD = 50


def _run_threads(ledgers: list[CaseLedger], work: Callable[[int, CaseLedger], None]) -> None:
    """Run ``work`` once per ledger on its own thread; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(ledgers))

    def run(index: int, ledger: CaseLedger) -> None:
        try:
            start.wait()
            work(index, ledger)
        except BaseException as error:  # collected and re-raised in the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, led)) for i, led in enumerate(ledgers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


def _own_ledgers(config: StoreConfig, count: int) -> list[CaseLedger]:
    # Opened one after another: concurrent first-time schema creation is not under test.
    return [open_test_ledger(config) for _ in range(count)]


def _record(ledger: CaseLedger, case_id: str, body: Any, **kwargs: Any) -> str:
    fact_id = ledger.record_fact(
        kwargs.pop("who", POLITIE),
        case_id,
        kind="observation",
        subjects=[],
        categories=["housing"],
        purpose=PURPOSE,
        legal_basis="wgs",
        sharing_level="participants",
        body=body,
        **kwargs,
    ).created_id
    assert fact_id is not None
    return fact_id


def _fact_recorded(ledger: CaseLedger, case_id: str) -> list[Case.FactRecorded]:
    return [e for e in ledger.events.get(uuid.UUID(case_id)) if isinstance(e, Case.FactRecorded)]


class TestConcurrentWriters:
    """8 writers x 50 facts: stored = acknowledged, no duplicates, versions contiguous.

    On SQLite, commands on one case take turns across ledgers (a case-stripe lock, as across
    ``serve`` processes), so they do not even conflict; with that lock switched off, and on
    PostgreSQL, they race, and every lost race surfaces as the typed conflict.
    """

    @pytest.mark.parametrize("case_stripes", ["on", "off"])
    def test_race(self, store_config: StoreConfig, case_stripes: str) -> None:
        with opened(store_config) as ledger:
            case_id = open_active_case(ledger)
            start_version = ledger.get_case(case_id).version
        acknowledged: list[tuple[str, int, int]] = []
        conflicts: list[ConcurrencyConflictError] = []
        lock = threading.Lock()

        def work(index: int, ledger: CaseLedger) -> None:
            for n in range(FACTS_PER_THREAD):
                while True:
                    try:
                        fact_id = _record(ledger, case_id, {"thread": index, "n": n})
                    except ConcurrencyConflictError as conflict:
                        with lock:
                            conflicts.append(conflict)
                        continue
                    with lock:
                        acknowledged.append((fact_id, index, n))
                    break

        ledgers = _own_ledgers(store_config, THREADS)
        serialised = store_config.database_url is None and case_stripes == "on"
        if case_stripes == "off":
            for ledger in ledgers:
                ledger._pipeline.stripes = CaseStripes(None)
        try:
            _run_threads(ledgers, work)
        finally:
            for ledger in ledgers:
                ledger.close()

        total = THREADS * FACTS_PER_THREAD
        assert len(acknowledged) == total
        if serialised:
            assert conflicts == []
        else:  # conflicts surfaced as the typed error, naming the case
            assert len(conflicts) > 0
            assert {c.case_id for c in conflicts} == {case_id}
        with opened(store_config) as reader:
            case = reader.get_case(case_id)
            ids = [fact_id for fact_id, _, _ in acknowledged]
            assert len(set(ids)) == total
            assert set(case.facts) == set(ids)  # stored = acknowledged
            events = _fact_recorded(reader, case_id)
            assert len(events) == total  # 0 duplicated
            opened_bodies = open_as_recorded(reader, case, ids)
            assert {b.fact_id: b.body for b in opened_bodies} == {
                fact_id: {"thread": index, "n": n} for fact_id, index, n in acknowledged
            }
            pairs = Counter((b.body["thread"], b.body["n"]) for b in opened_bodies)
            assert max(pairs.values()) == 1
            assert case.version == start_version + total
            assert event_versions(reader, case_id) == list(range(1, case.version + 1))

    def test_stale_read_raises_the_typed_conflict(self, store_config: StoreConfig) -> None:
        ledgers = _own_ledgers(store_config, 2)
        try:
            first, second = ledgers
            case_id = open_active_case(first)
            stale = second.get_case(case_id).version
            _record(first, case_id, {"n": 1})
            before = stored_event_count(first)
            with pytest.raises(ConcurrencyConflictError) as raised:
                _record(second, case_id, {"n": 2}, expected_version=stale)
            assert raised.value.case_id == case_id
            assert raised.value.current_version == stale + 1
            assert stored_event_count(first) == before
            # Re-reading and retrying succeeds.
            fresh = second.get_case(case_id).version
            _record(second, case_id, {"n": 2}, expected_version=fresh)
            assert first.get_case(case_id).version == fresh + 1
        finally:
            for ledger in ledgers:
                ledger.close()


class TestSharedLedgerGroupCommit:
    """Threads sharing one ledger (group commit) while a rival process writes the same cases:
    stored = acknowledged, even when a shared transaction fails on one caller's conflict."""

    def test_shared_instance_with_a_rival(self, store_config: StoreConfig) -> None:
        cases = 4
        per_thread = 25
        with opened(store_config) as ledger:
            case_ids = [open_active_case(ledger) for _ in range(cases)]
        acknowledged: list[tuple[str, str, dict[str, int]]] = []
        conflicts: list[ConcurrencyConflictError] = []
        lock = threading.Lock()

        def work(index: int, ledger: CaseLedger) -> None:
            for n in range(per_thread):
                case_id = case_ids[(index + n) % cases]
                body = {"thread": index, "n": n}
                while True:
                    try:
                        fact_id = _record(ledger, case_id, body)
                    except ConcurrencyConflictError as conflict:
                        with lock:
                            conflicts.append(conflict)
                        continue
                    with lock:
                        acknowledged.append((case_id, fact_id, body))
                    break

        shared, rival = open_test_ledger(store_config), open_test_ledger(store_config)
        try:
            # Threads 0..7 share one instance; thread 8 is the rival "process".
            _run_threads([shared] * THREADS + [rival], work)
        finally:
            shared.close()
            rival.close()
        assert len(acknowledged) == (THREADS + 1) * per_thread
        with opened(store_config) as reader:
            for case_id in case_ids:
                case = reader.get_case(case_id)
                expected = {f: b for c, f, b in acknowledged if c == case_id}
                assert set(case.facts) == set(expected)  # stored = acknowledged
                assert len(_fact_recorded(reader, case_id)) == len(expected)
                opened_bodies = open_as_recorded(reader, case, list(expected))
                assert {b.fact_id: b.body for b in opened_bodies} == expected
                assert event_versions(reader, case_id) == list(range(1, case.version + 1))


class TestIdempotency:
    """A command retried with the same idempotency key stores one event and one result."""

    def test_sequential_retries(self, store_config: StoreConfig) -> None:
        with opened(store_config) as ledger:
            case_id = open_active_case(ledger)
            key = f"retry-{uuid.uuid4().hex}"
            results = [
                ledger.record_fact(
                    POLITIE,
                    case_id,
                    kind="observation",
                    subjects=[],
                    categories=["housing"],
                    purpose=PURPOSE,
                    legal_basis="wgs",
                    sharing_level="participants",
                    body={"note": "once"},
                    idempotency_key=key,
                )
                for _ in range(100)
            ]
            assert len({r.created_id for r in results}) == 1
            assert len({r.version for r in results}) == 1
            assert [r.replayed for r in results] == [False] + [True] * 99
            assert len(_fact_recorded(ledger, case_id)) == 1
            case = ledger.get_case(case_id)
            assert list(case.facts) == [results[0].created_id]

    def test_concurrent_retries(self, store_config: StoreConfig) -> None:
        with opened(store_config) as ledger:
            case_id = open_active_case(ledger)
            events_before = stored_event_count(ledger)
        key = f"retry-{uuid.uuid4().hex}"
        results: list[str] = []
        conflicts: list[ConcurrencyConflictError] = []
        lock = threading.Lock()
        calls = [100 // THREADS + (1 if i < 100 % THREADS else 0) for i in range(THREADS)]
        assert sum(calls) == 100

        def work(index: int, ledger: CaseLedger) -> None:
            for _ in range(calls[index]):
                while True:
                    try:
                        fact_id = _record(ledger, case_id, {"note": "once"}, idempotency_key=key)
                    except ConcurrencyConflictError as conflict:
                        with lock:
                            conflicts.append(conflict)
                        continue
                    with lock:
                        results.append(fact_id)
                    break

        ledgers = _own_ledgers(store_config, THREADS)
        try:
            _run_threads(ledgers, work)
        finally:
            for ledger in ledgers:
                ledger.close()
        assert len(results) == 100
        assert len(set(results)) == 1
        with opened(store_config) as reader:
            assert len(_fact_recorded(reader, case_id)) == 1
            # One case event and one idempotency record, nothing else.
            assert stored_event_count(reader) == events_before + 2
            case = reader.get_case(case_id)
            assert list(case.facts) == results[:1]
            assert [b.body for b in open_as_recorded(reader, case, results[:1])] == [
                {"note": "once"}
            ]

    def test_same_key_other_body_is_refused(self, store_config: StoreConfig) -> None:
        with opened(store_config) as ledger:
            case_id = open_active_case(ledger)
            key = f"retry-{uuid.uuid4().hex}"
            first = _record(ledger, case_id, {"note": "once"}, idempotency_key=key)
            before = stored_event_count(ledger)
            with pytest.raises(IdempotencyKeyReusedError):
                _record(ledger, case_id, {"note": "something else"}, idempotency_key=key)
            assert stored_event_count(ledger) == before
            assert _record(ledger, case_id, {"note": "once"}, idempotency_key=key) == first
            # Keys are scoped per partner: another partner's same key is a new command.
            other = _record(
                ledger, case_id, {"note": "once"}, idempotency_key=key, who=RECLASSERING
            )
            assert other != first
            assert len(_fact_recorded(ledger, case_id)) == 2
