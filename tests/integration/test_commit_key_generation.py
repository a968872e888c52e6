"""A commit stores nothing sealed under keys that an erasure destroyed while it was sealing.

Commands do not ask the key store before they start; their commit stores the events only if
the key store is still at the erasure generation the cached keys belong to (on PostgreSQL in
the insert's own transaction, under the key store's lock). These tests put another ledger's
erasure step exactly between a command's sealing and its commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from ledger import (
    CaseLedger,
    ConcurrencyConflictError,
    NewFact,
    StoreConfig,
    SubjectNotFoundError,
)
from ledger import _erasure as erasure
from ledger._case import Case
from ledger._errors import KeysChangedError
from ledger._keystore import KEYSTORE_LOCK_ID
from ledger._pipeline import KEY_CHANGE_ATTEMPTS
from ledger._stores import _ColumnArrayRecorder
from tests.integration._ledger_support import (
    POLITIE,
    PRIVACY_OFFICER,
    PURPOSE,
    add_subject,
    open_active_case,
    opened,
    readable,
    record,
    stored_event_count,
)
from tests.pg import PG_URL


@contextmanager
def after_sealing(ledger: CaseLedger, step: Callable[[], object]) -> Iterator[list[int]]:
    """Run ``step`` once, right after ``ledger`` sealed the bodies of its next command.

    Yields the list of sealing calls made (one per attempt of the command).
    """
    seal_bodies = ledger.keys.seal_bodies
    calls: list[int] = []

    def sealing_then_step(*args: Any, **kwargs: Any) -> Any:
        sealed = seal_bodies(*args, **kwargs)
        calls.append(len(sealed))
        if len(calls) == 1:
            step()
        return sealed

    ledger.keys.seal_bodies = sealing_then_step  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        ledger.keys.seal_bodies = seal_bodies  # type: ignore[method-assign]


def test_keys_destroyed_between_sealing_and_commit_store_nothing(
    store_config: StoreConfig,
) -> None:
    with opened(store_config) as ledger, opened(store_config) as other:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        first = record(ledger, POLITIE, case_id, {"n": 1}, subjects=[subject])
        stored = stored_event_count(ledger)

        def destroy_elsewhere() -> None:  # another process's erasure, before its epoch
            erasure.destroy_subject(other.keys, case_id, subject)

        with (
            after_sealing(ledger, destroy_elsewhere) as calls,
            pytest.raises(SubjectNotFoundError),
        ):
            record(ledger, POLITIE, case_id, {"n": 2}, subjects=[subject])

        # Sealed once under the cached key; run again, the case no longer knows the subject
        # (its events were sealed under the destroyed key).
        assert calls == [1]
        assert stored_event_count(ledger) == stored  # nothing sealed under a destroyed key
        assert first not in readable(ledger, case_id)  # the erasure itself took effect


def test_an_unrelated_erasure_in_between_costs_one_retry(store_config: StoreConfig) -> None:
    with opened(store_config) as ledger, opened(store_config) as other:
        case_id, other_case = open_active_case(ledger), open_active_case(ledger)
        subject, other_subject = add_subject(ledger, case_id), add_subject(ledger, other_case)
        record(ledger, POLITIE, case_id, {"n": 1}, subjects=[subject])

        def erase_elsewhere() -> None:
            other.erase_subject(PRIVACY_OFFICER, other_case, other_subject, ground="art17")

        with after_sealing(ledger, erase_elsewhere) as calls:
            fact = record(ledger, POLITIE, case_id, {"n": 2}, subjects=[subject])

        assert calls == [1, 1]  # the first commit was refused, the command ran again
        ledger._cache.clear()
        assert readable(ledger, case_id)[fact] == {"n": 2}


def test_a_wrapping_key_rekeyed_elsewhere_is_looked_up_again(store_config: StoreConfig) -> None:
    """Another ledger's erasure epoch re-keyed the case's wrapping key this one had cached;
    a new block of fact keys is then made under the current one instead of failing."""
    with opened(store_config) as ledger, opened(store_config) as other:
        case_id = open_active_case(ledger)
        erased = record(ledger, POLITIE, case_id, {"n": 0})  # caches the wrapping key
        other.erase_fact(PRIVACY_OFFICER, case_id, erased, ground="art17")  # re-keys it

        facts = [
            NewFact("observation", (), ("housing",), PURPOSE, "wgs", "participants", (), {"i": i})
            for i in range(100)  # more than the cached pool holds: a new block is needed
        ]
        fact_ids = ledger.record_facts(POLITIE, case_id, facts).created_id

        assert fact_ids is not None
        ledger._cache.clear()
        bodies = readable(ledger, case_id)
        assert [bodies[f] for f in fact_ids.split(",")] == [{"i": i} for i in range(100)]
        assert erased not in bodies


@pytest.mark.postgres
@pytest.mark.parametrize("store_config", ["postgres"], indirect=True)
def test_a_checked_insert_waits_for_a_key_store_writer(store_config: StoreConfig) -> None:
    """On PostgreSQL the check holds the key store's lock shared, so an erasure (which holds
    it exclusively) cannot commit between the check and the insert's own commit."""
    with opened(store_config) as ledger:
        recorder = ledger.recorder
        assert isinstance(recorder, _ColumnArrayRecorder)
        assert recorder.checks_key_generation
        case_id = open_active_case(ledger)
        record(ledger, POLITIE, case_id, {"n": 0})  # fact keys pooled: no key-store write
        generation = ledger.keys.store.generation()
        stored = stored_event_count(ledger)
        done = threading.Event()

        def commit() -> None:
            record(ledger, POLITIE, case_id, {"n": 1})
            done.set()

        with psycopg.connect(PG_URL, autocommit=True) as writer:
            writer.execute("SELECT pg_advisory_lock(%s)", (KEYSTORE_LOCK_ID,))
            worker = threading.Thread(target=commit)
            worker.start()
            _wait_for_advisory_waiter(writer)
            assert not done.is_set()
            assert stored_event_count(ledger) == stored
            writer.execute("SELECT pg_advisory_unlock(%s)", (KEYSTORE_LOCK_ID,))
            worker.join(timeout=30)
        assert done.is_set()
        assert stored_event_count(ledger) == stored + 1
        assert ledger.keys.store.generation() == generation


def test_a_commit_at_another_generation_stores_nothing(store_config: StoreConfig) -> None:
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        record(ledger, POLITIE, case_id, {"n": 1})
        stored = stored_event_count(ledger)
        case = ledger.get_case(case_id)
        current = ledger.keys.store.generation()
        ledger._pipeline.trigger(case, POLITIE, Case.PhaseChanged, phase=4, reason="next step")

        with pytest.raises(KeysChangedError):
            ledger.committer.save([case], key_generation=current + 1)

        assert stored_event_count(ledger) == stored
        ledger._cache.clear()
        assert ledger.get_case(case_id).phase == 3


def test_a_command_behind_an_erasure_elsewhere_catches_up(store_config: StoreConfig) -> None:
    """Caches older than the key store (an erasure elsewhere since) cost one retry."""
    with opened(store_config) as ledger, opened(store_config) as other:
        case_id, other_case = open_active_case(ledger), open_active_case(ledger)
        other.erase_case(PRIVACY_OFFICER, other_case, ground="art17")
        behind = ledger.keys.generation
        assert behind < ledger.keys.store.generation()

        fact = record(ledger, POLITIE, case_id, {"n": 1})

        assert ledger.keys.generation == ledger.keys.store.generation()
        assert readable(ledger, case_id)[fact] == {"n": 1}


def _wait_for_advisory_waiter(conn: psycopg.Connection[Any]) -> None:
    """Block until some session waits to hold the key store's advisory lock shared."""
    for _ in range(600):
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND mode = 'ShareLock' AND objid = %s",
            (KEYSTORE_LOCK_ID & 0xFFFFFFFF,),
        ).fetchone()
        if row is not None and row[0] > 0:
            return
        threading.Event().wait(0.05)
    raise AssertionError("no insert waited for the key store's lock")


def test_keys_changed_is_internal() -> None:
    """The error never reaches callers of the public API: it is not exported."""
    import ledger

    assert not hasattr(ledger, "KeysChangedError")
    assert issubclass(KeysChangedError, Exception)


def test_a_command_refused_every_time_ends_in_a_conflict(store_config: StoreConfig) -> None:
    """An erasure between sealing and commit on every attempt: the caller gets the typed,
    retryable conflict after a bounded number of attempts, and nothing is stored."""
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        record(ledger, POLITIE, case_id, {"n": 1})
        stored = stored_event_count(ledger)
        seal_bodies = ledger.keys.seal_bodies
        attempts: list[int] = []

        def sealing_then_erasure_elsewhere(*args: Any, **kwargs: Any) -> Any:
            sealed = seal_bodies(*args, **kwargs)
            attempts.append(1)
            with ledger.keys.store.transaction(write=True) as tx:
                ledger.keys.store.bump_generation(tx)  # what every erasure's transaction does
            return sealed

        ledger.keys.seal_bodies = sealing_then_erasure_elsewhere  # type: ignore[method-assign]
        with pytest.raises(ConcurrencyConflictError):
            record(ledger, POLITIE, case_id, {"n": 2})

        assert len(attempts) == KEY_CHANGE_ATTEMPTS
        assert stored_event_count(ledger) == stored
