"""A busy case's next block of fact keys is made in the background, before the pool runs dry.

The block is stored exactly as a command stores one (same checks, same transaction), on the
background worker's own connection; it joins the pool only if no cache was dropped since the
job was started, and a job that fails leaves the command path to make (and report) its own.
These tests shrink the largest block to 256 keys so that the second block is already
made ahead (64 keys, then 256).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Container
from typing import Any

import psycopg
import pytest

import ledger._fact_keys as fact_keys_module
from ledger import CaseLedger, NewFact, ScopeErasedError, StoreConfig
from ledger import _erasure as erasure
from ledger._background import KeyStoreWorker
from ledger._keys import KeyManager
from ledger._keystore import KEYSTORE_LOCK_ID, KeyStore
from ledger._sealing import BLOCK_ID_BYTES
from tests.integration._ledger_support import (
    POLITIE,
    PURPOSE,
    add_subject,
    bodies,
    open_active_case,
    open_test_ledger,
    opened,
    record,
)
from tests.pg import PG_URL

BLOCK = 256


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fact_keys_module, "MAX_FACT_KEY_BLOCK", BLOCK)


def _facts(n: int, subject: str, start: int = 0) -> list[NewFact]:
    return [
        NewFact("observation", (subject,), ("housing",), PURPOSE, "wgs", "participants", (), i)
        for i in range(start, start + n)
    ]


def _background_done(keys: KeyManager) -> None:
    """Wait for every block the worker was asked to make so far."""
    keys.wait_for_background()


def _blocks_of(keys: KeyManager, case_id: str) -> dict[str, int]:
    with keys.store.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT block_id, slots FROM fact_key_blocks WHERE case_id = ?", (case_id,)
        )
    return {str(block_id): int(slots) for block_id, slots in rows}


def _pool_block_ids(keys: KeyManager, case_id: str) -> list[str]:
    return [unused.block_id.hex() for unused in keys.pool._pools.get(("politie", case_id), [])]


def _fact_key_blocks_used(
    ledger: CaseLedger, case_id: str, besides: Container[str] = ()
) -> set[str]:
    """The blocks of the keys the case's facts (other than ``besides``) are sealed under."""
    case = ledger.get_case(case_id)
    return {
        fact.current_key_id[: 2 * BLOCK_ID_BYTES]
        for fact in case.facts.values()
        if fact.fact_id not in besides
    }


def _counting_block_makes(
    monkeypatch: pytest.MonkeyPatch, keys: KeyManager
) -> list[tuple[str, int]]:
    """Every block made by the command path (not the background), as (case, size)."""
    made: list[tuple[str, int]] = []
    create = keys.pool._create_fact_keys

    def counted(owner: str, case_id: str, count: int) -> Any:
        made.append((case_id, count))
        return create(owner, case_id, count)

    monkeypatch.setattr(keys.pool, "_create_fact_keys", counted)
    return made


class _Gate:
    """Holds background block stores until opened (the command path is not held)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, keys: KeyManager) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()
        self.failures: list[BaseException] = []
        store_block = keys.pool._store_fact_key_block

        def gated(owner: str, case_id: str, count: int, wrapper: Any, store: KeyStore) -> Any:
            if store is not keys.store:
                self.reached.set()
                assert self.released.wait(60)
            try:
                return store_block(owner, case_id, count, wrapper, store)
            except BaseException as error:
                self.failures.append(error)
                raise

        monkeypatch.setattr(keys.pool, "_store_fact_key_block", gated)


def _prefetch_held(ledger: CaseLedger, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, _Gate]:
    """A case with one fact recorded, its next block held at the gate: (case, subject, gate)."""
    case_id = open_active_case(ledger)
    subject = add_subject(ledger, case_id)
    gate = _Gate(monkeypatch, ledger.keys)
    ledger.record_facts(POLITIE, case_id, _facts(1, subject))
    assert gate.reached.wait(60)
    return case_id, subject, gate


def test_a_busy_case_never_waits_for_a_block_after_its_second(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        made = _counting_block_makes(monkeypatch, ledger.keys)

        ledger.record_facts(POLITIE, case_id, _facts(1, subject))
        _background_done(ledger.keys)
        # The first block (64) was made by the command; the next (256) came in the background.
        assert made == [(case_id, 64)]
        assert sorted(_blocks_of(ledger.keys, case_id).values()) == [64, BLOCK]
        assert sum(u.left for u in ledger.keys.pool._pools[("politie", case_id)]) == 63 + BLOCK

        recorded = 1
        for _ in range(9):
            ledger.record_facts(POLITIE, case_id, _facts(100, subject, recorded))
            recorded += 100
            _background_done(ledger.keys)

        assert made == [(case_id, 64)]  # every later block was ready in time
        stored = _blocks_of(ledger.keys, case_id)
        assert sorted(stored.values()) == [64, *[BLOCK] * (len(stored) - 1)]
        assert _fact_key_blocks_used(ledger, case_id) <= set(stored)
        case = ledger.get_case(case_id)
        assert len({fact.current_key_id for fact in case.facts.values()}) == recorded
        opened_bodies = bodies(ledger, case_id)
        assert sorted(opened_bodies.values()) == list(range(recorded))


def test_a_block_made_across_an_erasure_is_not_used(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(store_config) as ledger:
        keys = ledger.keys
        case_id, subject, gate = _prefetch_held(ledger, monkeypatch)
        other = add_subject(ledger, case_id)
        in_flight = set(_blocks_of(keys, case_id))

        erasure.destroy_subject(keys, case_id, other)  # this process's own erasure step
        gate.released.set()
        _background_done(keys)

        late = set(_blocks_of(keys, case_id)) - in_flight
        assert len(late) == 1  # stored (it was made under keys the erasure left alone) ...
        assert late.isdisjoint(_pool_block_ids(keys, case_id))  # ... but not handed out
        ledger.record_facts(POLITIE, case_id, _facts(200, subject, 1))
        assert late.isdisjoint(_fact_key_blocks_used(ledger, case_id))
        assert sorted(bodies(ledger, case_id).values()) == list(range(201))


def test_a_failed_background_block_leaves_the_command_to_report(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(store_config) as ledger:
        keys = ledger.keys
        case_id, subject, gate = _prefetch_held(ledger, monkeypatch)
        blocks_before = _blocks_of(keys, case_id)

        destroyed = erasure.destroy_case(keys, case_id)
        gate.released.set()
        _background_done(keys)  # the job's own error stays in the background

        assert destroyed.fact_key_ids
        assert [type(e).__name__ for e in gate.failures] == ["ScopeErasedError"]
        assert _blocks_of(keys, case_id) == {}  # nothing stored after the erasure
        assert blocks_before
        with pytest.raises(ScopeErasedError):
            record(ledger, POLITIE, case_id, {"n": 2}, subjects=[subject])


def test_a_worker_that_cannot_connect_leaves_the_commands_working(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_connect() -> KeyStore:
        raise OSError("no connection for the worker")

    with opened(store_config) as ledger:
        keys = ledger.keys
        monkeypatch.setattr(keys.pool, "_background", KeyStoreWorker(cannot_connect))
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        made = _counting_block_makes(monkeypatch, keys)
        for start in (0, 200, 400):
            ledger.record_facts(POLITIE, case_id, _facts(200, subject, start))
            _background_done(keys)
            assert keys.pool._prefetching == {}  # each failed job let go of its pool

        assert len(made) > 1  # the command path made the blocks instead
        assert sorted(bodies(ledger, case_id).values()) == list(range(600))


def test_closing_waits_for_the_block_in_flight_and_ends_the_thread(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = open_test_ledger(store_config)
    _, _, gate = _prefetch_held(ledger, monkeypatch)
    assert _worker_threads()

    closing = threading.Thread(target=ledger.close)
    closing.start()
    closing.join(0.2)
    assert closing.is_alive()  # still waiting for the job
    gate.released.set()
    closing.join(60)

    assert not closing.is_alive()
    assert gate.failures == []
    assert not _worker_threads()


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("caseledger-keys")]


# Python 3.12 and later warn about forking with threads alive (here: the idle worker).
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_uses_its_own_fact_keys_and_worker(tmp_path: Any) -> None:
    with opened(StoreConfig(data_dir=tmp_path / "data")) as ledger:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        ledger.record_facts(POLITIE, case_id, _facts(1, subject))
        _background_done(ledger.keys)  # the parent's worker thread and connection exist
        parents = set(_pool_block_ids(ledger.keys, case_id))
        assert parents
        earlier = set(ledger.get_case(case_id).facts)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                for start in (1, 201, 401):
                    ledger.record_facts(POLITIE, case_id, _facts(200, subject, start))
                    _background_done(ledger.keys)
                used = _fact_key_blocks_used(ledger, case_id, besides=earlier)
                opened_all = sorted(bodies(ledger, case_id).values()) == list(range(601))
                code = 0 if opened_all and used.isdisjoint(parents) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The parent goes on with its own pool and worker after the child is gone.
        ledger.record_facts(POLITIE, case_id, _facts(300, subject, 601))
        _background_done(ledger.keys)
        case = ledger.get_case(case_id)
        assert len(case.facts) == 901
        assert len({fact.current_key_id for fact in case.facts.values()}) == 901
        assert sorted(bodies(ledger, case_id).values()) == list(range(901))


@pytest.mark.postgres
@pytest.mark.parametrize("store_config", ["postgres"], indirect=True)
def test_block_inserts_run_beside_checked_event_inserts_but_wait_for_erasures(
    store_config: StoreConfig,
) -> None:
    with opened(store_config) as ledger:
        keys = ledger.keys
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        ledger.record_facts(POLITIE, case_id, _facts(1, subject))  # the case's keys exist
        _background_done(keys)
        with psycopg.connect(PG_URL) as holder:
            # What a checked event insert holds for its transaction: the lock, shared.
            holder.execute("SELECT pg_advisory_xact_lock_shared(%s)", (KEYSTORE_LOCK_ID,))
            made = keys.pool._create_fact_keys("politie", case_id, 64)  # does not wait
            assert made.left == 64
            holder.rollback()

            # What an erasure holds: the lock, alone. A block insert waits for it.
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (KEYSTORE_LOCK_ID,))
            outcome: list[Any] = []
            inserting = threading.Thread(
                target=lambda: outcome.append(keys.pool._create_fact_keys("politie", case_id, 64))
            )
            inserting.start()
            _wait_for(lambda: _advisory_waiters() > 0)
            assert not outcome
            holder.commit()
            inserting.join(60)
            assert len(outcome) == 1
            assert outcome[0].left == 64


def _advisory_waiters() -> int:
    with psycopg.connect(PG_URL, autocommit=True) as observer:
        row = observer.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = %s",
            (KEYSTORE_LOCK_ID,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _wait_for(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(600):
        if condition():
            return
        event.wait(0.05)
    raise AssertionError("condition not reached")
