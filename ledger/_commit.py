"""Group commit: concurrent commands share one transaction (and one fsync).

No artificial delay: a lone caller commits at once. While a commit is in flight, callers
that arrive queue up; the next leader takes all of them into one transaction. If that
transaction fails on a conflict, each submission is retried on its own so every caller gets
its own outcome (only the truly conflicting one sees the error). Submissions never share a
case: callers hold their case's lock while they wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import RecordConflictError

SaveMany = Callable[[Sequence[Any], "int | None"], None]


@dataclass
class _Submission:
    objs: Sequence[Any]
    key_generation: int | None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommitter:
    """Batches concurrent saves into shared transactions."""

    def __init__(self, save_many: SaveMany, *, max_batch: int = 128) -> None:
        self._save_many = save_many
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Submission] = []
        self._leading = False
        self.commits = 0
        self.submissions = 0

    def save(self, objs: Sequence[Any], *, key_generation: int | None = None) -> None:
        """Commit ``objs`` (possibly together with other callers'); raise this caller's error.

        ``key_generation`` is the key store's erasure generation the caller sealed under; a
        shared transaction is saved with the oldest of its submissions' (a batch mixing
        generations fails as a whole, and each caller retries on its own).
        """
        # Take the aggregates' pending events now: saving an aggregate drains them, so a
        # shared transaction that failed could not otherwise be retried per submission.
        submission = _Submission(_pending_events(objs), key_generation)
        with self._lock:
            self._queue.append(submission)
            self.submissions += 1
            lead = not self._leading
            if lead:
                self._leading = True
        if lead:
            self._lead()
        submission.done.wait()
        if submission.error is not None:
            raise submission.error

    def _lead(self) -> None:
        while True:
            with self._lock:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                if not batch:
                    self._leading = False
                    return
            self._commit(batch)

    def _commit(self, batch: list[_Submission]) -> None:
        self.commits += 1
        if len(batch) == 1:
            self._commit_one(batch[0])
            return
        generations = [s.key_generation for s in batch if s.key_generation is not None]
        try:
            self._save_many([obj for s in batch for obj in s.objs], min(generations, default=None))
        except RecordConflictError:
            for submission in batch:  # find out whose write conflicted
                self._commit_one(submission)
            return
        except BaseException as error:
            for submission in batch:
                submission.error = error
                submission.done.set()
            return
        for submission in batch:
            submission.done.set()

    def _commit_one(self, submission: _Submission) -> None:
        try:
            self._save_many(submission.objs, submission.key_generation)
        except BaseException as error:
            submission.error = error
        submission.done.set()


def _pending_events(objs: Sequence[Any]) -> list[Any]:
    """The domain events to store for ``objs`` (aggregates give up their pending events)."""
    events: list[Any] = []
    for obj in objs:
        collect = getattr(obj, "collect_events", None)
        events.extend(collect() if collect is not None else [obj])
    return events
