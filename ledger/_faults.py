"""A test-only fault hook in the event recorders: fail a chosen insert at a chosen event.

Atomicity tests need a commit that fails *inside* the transaction that stores a command's
events, after some of its rows are already written. ``FaultPlan`` names that point: the
``nth`` insert (counted from 1, among inserts with an event of ``topic`` when given) fails
after ``at_event`` of its events were written. The recorders in ``ledger._stores`` ask
``armed_fault`` before every insert; with no plan installed that is one global read and
nothing else. Nothing in production installs a plan (no setting or environment variable
does); only ``installed`` does, for the duration of a ``with`` block.

The failure is a database error (SQLite: ``sqlite3.DataError`` inside the recorder's
transaction; PostgreSQL: a statement that fails on the server, a division by zero), so the
recorder's own error handling and rollback run as they would for a real fault, and the
library's retry of operational errors does not hide it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from eventsourcing.persistence import StoredEvent


@dataclass
class FaultPlan:
    """Fail the ``nth`` matching insert after ``at_event`` of its events were written."""

    nth: int = 1
    at_event: int = 0
    topic: str | None = None
    seen: int = 0
    fired: int = 0
    size: int = 0  # how many events the failed insert was given
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail_after(self, stored_events: Sequence[StoredEvent]) -> int | None:
        """How many of these events to write before failing, or None to insert normally."""
        if self.topic is not None and not any(e.topic == self.topic for e in stored_events):
            return None
        with self._lock:
            self.seen += 1
            if self.seen != self.nth:
                return None
            self.fired += 1
            self.size = len(stored_events)
        return min(self.at_event, len(stored_events))


_armed: FaultPlan | None = None


def armed_fault() -> FaultPlan | None:
    """The installed plan, if a test installed one."""
    return _armed


@contextmanager
def installed(plan: FaultPlan) -> Iterator[FaultPlan]:
    """Arm ``plan`` for every recorder in this process while the block runs."""
    global _armed  # one process-wide slot, set only by tests
    if _armed is not None:
        raise RuntimeError("a fault plan is already installed")
    _armed = plan
    try:
        yield plan
    finally:
        _armed = None
