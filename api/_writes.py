"""Running a write: authorise, execute, retry lost races, answer with the version as ETag.

Without ``If-Match`` the caller asked for no precondition, so a concurrency conflict (another
request or process wrote the case first) is retried from the authorisation on; with
``If-Match`` it is the caller's 409. POST facts without preconditions go through the group
committer: concurrent facts for one case, by one caller, share one transaction.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Response

from api._deps import Preconditions
from api._responses import WriteAck
from ledger import CaseLedger, ConcurrencyConflictError, NewFact, RequestContext, WriteResult

T = TypeVar("T")
R = TypeVar("R")
MAX_ATTEMPTS = 50
RETRY_SECONDS = 10.0
CONFLICT_RETRIES = 8  # immediate retries of a group commit that lost a race


def perform(pre: Preconditions, authorise: Callable[[], T], command: Callable[[T], R]) -> R:
    """Authorise then run ``command``; retry both on a lost race when no If-Match was sent.

    Another process writing the same case makes the cached aggregate stale; the caller asked
    for no precondition, so the write is retried (with jittered backoff) rather than refused.
    """
    deadline = time.monotonic() + RETRY_SECONDS
    for attempt in range(MAX_ATTEMPTS):
        permit = authorise()
        try:
            return command(permit)
        except ConcurrencyConflictError:
            last = attempt == MAX_ATTEMPTS - 1 or time.monotonic() > deadline
            if pre.expected_version is not None or last:
                raise
            time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 5)))  # noqa: S311 - jitter
    raise AssertionError("unreachable")


def ack(response: Response, result: WriteResult, **fields: Any) -> WriteAck:
    """The write's answer; the ETag is the case's new version."""
    response.headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return WriteAck(version=result.version, replayed=result.replayed, **fields)


@dataclass(slots=True)
class _Pending:
    ctx: RequestContext
    fact: NewFact
    result: WriteResult | None = None
    error: BaseException | None = None
    done: bool = False


class _Lane:
    """The queue of one case: whoever holds ``combiner`` commits for everyone waiting."""

    def __init__(self) -> None:
        self.combiner = threading.Lock()
        self.guard = threading.Lock()
        self.items: list[_Pending] = []


class FactCommitter:
    """Group commit for POST facts (flat combining; no timer, no added latency).

    A request enqueues its fact and takes the case's combiner lock; if its fact is not yet
    committed, it commits the queue's head run of facts by the same caller (one
    ``record_facts`` transaction, consecutive versions) and hands each waiter its own result.
    If a shared commit fails, each fact is retried alone so every request gets its own answer.
    """

    def __init__(self, ledger: CaseLedger, *, max_batch: int = 256) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self._lanes: weakref.WeakValueDictionary[str, _Lane] = weakref.WeakValueDictionary()
        self._lanes_lock = threading.Lock()

    def record(self, ctx: RequestContext, case_id: str, fact: NewFact) -> WriteResult:
        with self._lanes_lock:
            lane = self._lanes.get(case_id)
            if lane is None:
                lane = self._lanes[case_id] = _Lane()
        item = _Pending(ctx, fact)
        with lane.guard:
            lane.items.append(item)
        while not item.done:
            with lane.combiner:
                if not item.done:
                    self._commit(case_id, self._take(lane))
        if item.error is not None:
            raise item.error
        assert item.result is not None
        return item.result

    def _record(self, case_id: str, batch: list[_Pending]) -> WriteResult:
        """One transaction for the batch; a lost race with another process is retried at once.

        These facts carry no precondition, and their grant tolerates a lagging view (see
        ``api._guard``): the aggregate, reloaded after a conflict, re-checks everything that
        can have changed, so retrying here is what ``perform`` would do, minus its backoff.
        """
        facts = [p.fact for p in batch]
        for _ in range(CONFLICT_RETRIES):
            try:
                return self.ledger.record_facts(batch[0].ctx, case_id, facts)
            except ConcurrencyConflictError:
                continue
        return self.ledger.record_facts(batch[0].ctx, case_id, facts)

    def _take(self, lane: _Lane) -> list[_Pending]:
        with lane.guard:
            head = lane.items[0].ctx
            batch: list[_Pending] = []
            for pending in lane.items:
                if pending.ctx != head or len(batch) == self.max_batch:
                    break
                batch.append(pending)
            del lane.items[: len(batch)]
        return batch

    def _commit(self, case_id: str, batch: list[_Pending]) -> None:
        try:
            result = self._record(case_id, batch)
        except BaseException as error:
            if len(batch) == 1:
                batch[0].error, batch[0].done = error, True
                return
            for pending in batch:
                self._commit(case_id, [pending])
            return
        ids = (result.created_id or "").split(",")
        assert len(ids) == len(batch)
        last = len(batch) - 1
        for n, pending in enumerate(batch):
            pending.result = WriteResult(case_id, result.version - (last - n), ids[n])
            pending.done = True
