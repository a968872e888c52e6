"""Recently used Case aggregates, kept current, and one lock per case.

A command holds its case's lock from loading the case until its events are committed (or
it fails), so the cached aggregate is never mutated by two commands at once. The cache is
an LRU bounded by count and by the facts its cases hold, so a long-running server's memory
does not grow with the number of cases it has ever touched.

Commands on different cases run in parallel threads, so the LRU itself is guarded by one
internal lock (an ``OrderedDict`` reordered by two threads at once raises), and a case's
lock lives only while someone holds or waits for it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.persistence import EventStore

from ledger._case import Case
from ledger._errors import CaseNotFoundError
from ledger._lru import trim_lru

CASE_CACHE_SIZE = 512
#: The cache is also bounded by the facts its cases hold (about 1.7 kB each, sealed body
#: included), so a server's memory stays flat however large the store and its cases grow.
CASE_CACHE_FACTS = 10_000


class CaseCache:
    """Cases by id, least recently used first; loads from the repository on a miss."""

    def __init__(self, repository: Repository[UUID], events: EventStore[UUID]) -> None:
        self._repository = repository
        self._events = events
        self._cases: OrderedDict[UUID, Case] = OrderedDict()
        self._guard = threading.Lock()  # the LRU's order and membership
        self._locks: dict[UUID, _CaseLock] = {}
        self._locks_lock = threading.Lock()

    def load(self, uid: UUID) -> Case:
        """The case as of now: the cached one brought up to date, else read from the store.

        Callers hold :meth:`lock` for ``uid``. Raises ``CaseNotFoundError``.
        """
        with self._guard:
            cached = self._cases.get(uid)
            if cached is not None:
                self._cases.move_to_end(uid)
        if cached is not None:
            for event in self._events.get(uid, gt=cached.version):
                cast(Case.Event, event).mutate(cached)
            return cached
        try:
            case: object = self._repository.get(uid)
        except AggregateNotFoundError:
            raise CaseNotFoundError("case not found") from None
        if not isinstance(case, Case):
            raise CaseNotFoundError("case not found")
        with self._guard:
            self._cases[uid] = case
            self._trim()
        return case

    def drop(self, uid: UUID) -> None:
        """Forget one case (a failed command may have mutated it)."""
        with self._guard:
            self._cases.pop(uid, None)

    def clear(self) -> None:
        """Forget every case (keys were destroyed or rotated: cached state may be stale)."""
        with self._guard:
            self._cases.clear()

    @contextmanager
    def lock(self, uid: UUID) -> Iterator[None]:
        """Hold the lock of ``uid`` (a case, or any other id commands must serialise on)."""
        with self._locks_lock:
            entry = self._locks.get(uid)
            if entry is None:
                entry = self._locks[uid] = _CaseLock()
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._locks_lock:
                entry.users -= 1
                if entry.users == 0:
                    del self._locks[uid]

    def lock_count(self) -> int:
        """How many per-case locks exist now (each is held or awaited by someone)."""
        with self._locks_lock:
            return len(self._locks)

    def __iter__(self) -> Iterator[UUID]:
        """Cached case ids, least recently used first (a snapshot)."""
        with self._guard:
            return iter(list(self._cases))

    def __len__(self) -> int:
        return len(self._cases)

    def values(self) -> list[Case]:
        """Cached cases, least recently used first (a snapshot)."""
        with self._guard:
            return list(self._cases.values())

    def _trim(self) -> None:  # caller holds self._guard
        """Drop least recently used cases beyond the count and fact budgets (keeps the newest)."""
        trim_lru(
            self._cases,
            CASE_CACHE_SIZE,
            max_weight=CASE_CACHE_FACTS,
            weight=lambda case: len(case.facts),
        )


class _CaseLock:
    """A case's lock and how many threads hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
