"""A background thread with a key-store connection of its own.

The write path hands it key-store writes it need not wait for: the next block of fact keys
for a busy case, made while the current block still lasts (``FactKeyPool``). The thread is
made on first use, never at import or construction; a forked child makes its own thread and
connection and leaves its parent's connection alone (a connection shared across a fork is
corrupted by whichever process closes it first).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ledger._keystore import KeyStore

T = TypeVar("T")


class KeyStoreWorker:
    """Runs submitted jobs one at a time, in order, on one thread and one connection."""

    def __init__(self, open_store: Callable[[], KeyStore]) -> None:
        self._open_store = open_store
        self._lock = threading.Lock()
        self._thread: _Thread | None = None
        self._closed = False
        self._unfinished = 0  # jobs submitted and not yet run to the end

    def submit(self, job: Callable[[KeyStore], T]) -> Future[T]:
        """Run ``job`` with the worker's connection, after the jobs submitted before it."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the key-store worker is closed")
            thread = self._thread
            if thread is None or thread.pid != os.getpid():
                # First use, or a forked child: what the parent had is not ours to use.
                thread = self._thread = _Thread(self._open_store)
                self._unfinished = 0
            future = thread.executor.submit(thread.run, job)
            self._unfinished += 1
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[T]) -> None:
        with self._lock:
            self._unfinished -= 1

    def wait(self) -> None:
        """Return once the jobs submitted so far have run (benchmarks and tests); at once,
        with no work for the thread, when none is unfinished."""
        with self._lock:
            thread = self._thread if self._unfinished else None
        if thread is not None and thread.pid == os.getpid():
            thread.executor.submit(lambda: None).result()

    def close(self) -> None:
        """Wait for the jobs already submitted, then close the thread and its connection."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._closed = True
        if thread is not None and thread.pid == os.getpid():
            thread.close()


class _Thread:
    """One executor thread and the connection it opens on its first job."""

    def __init__(self, open_store: Callable[[], KeyStore]) -> None:
        self.pid = os.getpid()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="caseledger-keys")
        self._open_store = open_store
        self._store: KeyStore | None = None

    def run(self, job: Callable[[KeyStore], T]) -> T:
        if self._store is None:  # only the executor's one thread gets here
            self._store = self._open_store()
        return job(self._store)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        if self._store is not None:
            self._store.close()
            self._store = None
