"""The key-store worker: one thread, one connection opened on first use, jobs in order."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest

from ledger._background import KeyStoreWorker
from ledger._keystore import KeyStore


class _Store:
    """Stands in for a key-store connection: records which thread used it and its close."""

    def __init__(self, opened: list[_Store]) -> None:
        opened.append(self)
        self.closed = 0
        self.used_by: set[int] = set()

    def close(self) -> None:
        self.closed += 1


def _worker(opened: list[_Store]) -> KeyStoreWorker:
    return KeyStoreWorker(lambda: cast(KeyStore, _Store(opened)))


def test_jobs_run_in_order_on_one_thread_and_one_connection() -> None:
    opened: list[_Store] = []
    worker = _worker(opened)
    assert opened == []  # nothing is opened before the first job
    done: list[int] = []

    def job(n: int) -> Any:
        def run(store: KeyStore) -> int:
            cast(_Store, store).used_by.add(threading.get_ident())
            done.append(n)
            return n

        return run

    results = [worker.submit(job(n)) for n in range(20)]
    assert [r.result(timeout=30) for r in results] == list(range(20))
    assert done == list(range(20))
    assert len(opened) == 1
    assert len(opened[0].used_by) == 1
    assert threading.get_ident() not in opened[0].used_by
    worker.close()
    assert opened[0].closed == 1


def test_close_waits_for_the_job_in_flight_then_refuses_more() -> None:
    opened: list[_Store] = []
    worker = _worker(opened)
    started, release = threading.Event(), threading.Event()

    def slow(store: KeyStore) -> str:
        started.set()
        assert release.wait(30)
        return "done"

    result = worker.submit(slow)
    assert started.wait(30)
    closing = threading.Thread(target=worker.close)
    closing.start()
    closing.join(0.1)
    assert closing.is_alive()
    assert opened[0].closed == 0
    release.set()
    closing.join(30)
    assert not closing.is_alive()
    assert result.result() == "done"
    assert opened[0].closed == 1
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(slow)
    worker.close()  # closing twice is harmless
    assert opened[0].closed == 1


def test_waiting_returns_once_earlier_jobs_have_run() -> None:
    opened: list[_Store] = []
    worker = _worker(opened)
    done: list[str] = []
    release = threading.Event()

    def job(store: KeyStore) -> None:
        assert release.wait(30)
        done.append("job")

    worker.submit(job)
    waiting = threading.Thread(target=worker.wait)
    waiting.start()
    waiting.join(0.1)
    assert waiting.is_alive()
    release.set()
    waiting.join(30)
    assert done == ["job"]
    worker.close()


def test_a_worker_never_used_opens_and_closes_nothing() -> None:
    opened: list[_Store] = []
    worker = _worker(opened)
    worker.wait()  # nothing to wait for: no thread is started for it
    worker.close()
    assert opened == []
