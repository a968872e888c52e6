"""Running a write: the write's context, authorise and execute, retry lost races, answer with
the version as ETag.

Every write route takes one dependency, :data:`Write`: the caller, the guard that decides,
the services that carry the write out, the caller's preconditions (``If-Match``,
``Idempotency-Key``) and the response whose headers the answer sets.

Without ``If-Match`` the caller asked for no precondition, so a concurrency conflict (another
request or process wrote the case first) is retried from the authorisation on; with
``If-Match`` it is the caller's 409. POST facts without preconditions go through the group
committer: concurrent facts for one case, by one caller, share one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict, TypeVar

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from api._deps import Caller, CurrentCaller, Preconditions, WritePreconditions
from api._guard import Guard, Permit
from api._responses import WriteAck
from api.bootstrap import Services
from ledger import CaseLedger, ConcurrencyConflictError, NewFact, RequestContext, WriteResult
from policies import WriteAction

T = TypeVar("T")
R = TypeVar("R")
MAX_ATTEMPTS = 50
RETRY_SECONDS = 10.0
CONFLICT_RETRIES = 8  # immediate retries of a group commit that lost a race


class LedgerConditions(TypedDict):
    """The caller's preconditions as the keyword arguments of a ledger command."""

    expected_version: int | None
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class WriteContext:
    """What every write route needs besides its path and body (the :data:`Write` dependency).

    ``response`` is the request's own: the ETag, ``Location`` and ``Idempotent-Replayed``
    headers and an ``unchanged`` write's 200 are set on it.
    """

    caller: Caller
    guard: Guard
    services: Services
    preconditions: Preconditions
    response: Response
    committer: FactCommitter | None

    @property
    def ledger(self) -> CaseLedger:
        return self.services.ledger

    @property
    def context(self) -> RequestContext:
        """The caller as the ledger's commands take it."""
        return self.caller.context

    @property
    def conditions(self) -> LedgerConditions:
        """``If-Match`` and ``Idempotency-Key``, to pass on as ``**write.conditions``."""
        pre = self.preconditions
        return {"expected_version": pre.expected_version, "idempotency_key": pre.idempotency_key}

    def require(
        self,
        action: WriteAction,
        case_id: str,
        *,
        fact_id: str | None = None,
        action_id: str | None = None,
        consent_id: str | None = None,
    ) -> Callable[[], Permit]:
        """The guard's decision on ``action`` in the case (and on the fact, action or consent
        it changes), as the ``authorise`` step of :meth:`run`."""
        return lambda: self.guard.require(
            self.caller,
            action,
            case_id,
            fact_id=fact_id,
            action_id=action_id,
            consent_id=consent_id,
        )

    def ack(self, result: WriteResult, **fields: Any) -> WriteAck:
        """The write's answer; the ETag is the case's new version."""
        self.response.headers["ETag"] = f'"{result.version}"'
        if result.replayed:
            self.response.headers["Idempotent-Replayed"] = "true"
        if result.unchanged:
            # Asked for what already holds: the current state, nothing created.
            self.response.status_code = 200
            fields["unchanged"] = True
        return WriteAck(version=result.version, replayed=result.replayed, **fields)

    async def run(self, authorise: Callable[[], T], command: Callable[[T], R]) -> R:
        """Authorise then run ``command``, both blocking, on a worker thread (one hop per
        attempt); a lost race is retried as :meth:`perform` says."""
        return await self.perform(lambda: run_in_threadpool(_attempt, authorise, command))

    async def perform(self, attempt: Callable[[], Awaitable[R]]) -> R:
        """The one retry loop: run ``attempt`` (which authorises, then writes); on a lost race
        retry it when no If-Match was sent.

        Another process writing the same case makes the cached aggregate stale; the caller
        asked for no precondition, so the write is retried (with jittered backoff, waiting on
        the event loop without holding a worker thread) rather than refused.
        """
        deadline = time.monotonic() + RETRY_SECONDS
        for attempt_number in range(MAX_ATTEMPTS):
            try:
                return await attempt()
            except ConcurrencyConflictError:
                pause = _retry_pause(attempt_number, deadline)
                if self.preconditions.expected_version is not None or pause is None:
                    raise
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")


def _retry_pause(attempt_number: int, deadline: float) -> float | None:
    """How long to back off before retrying a lost race (jittered, doubling); None when the
    attempts or the time are used up."""
    if attempt_number == MAX_ATTEMPTS - 1 or time.monotonic() > deadline:
        return None
    return random.uniform(0, 0.002 * 2 ** min(attempt_number, 5))  # noqa: S311 - jitter


def _attempt(authorise: Callable[[], T], command: Callable[[T], R]) -> R:
    return command(authorise())


async def write_context(
    request: Request, response: Response, caller: CurrentCaller, pre: WritePreconditions
) -> WriteContext:
    """The write's context; the guard, services and committer are the app's own (read here,
    not as dependencies of their own: FastAPI's cost is per dependency)."""
    state = request.app.state
    return WriteContext(caller, state.guard, state.services, pre, response, state.committer)


Write = Annotated[WriteContext, Depends(write_context)]


@dataclass(slots=True)
class _Pending:
    ctx: RequestContext
    case_id: str
    fact: NewFact
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[WriteResult]


class FactCommitter:
    """Group commit for POST facts: one thread per process commits what requests queued.

    A request queues its fact and awaits the answer; the event loop keeps serving others
    meanwhile (no worker thread is held per request). The committer thread takes everything
    queued at that moment and commits each case's run of facts by one caller as one
    ``record_facts`` transaction (consecutive versions, in arrival order), so the busier the
    case, the more facts share a commit; nothing waits for a timer. If a shared commit fails,
    each fact is retried alone so every request gets its own answer.
    """

    def __init__(self, ledger: CaseLedger, *, max_batch: int = 256) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fact-committer", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the committer thread still takes facts (readiness reports it)."""
        return self._thread.is_alive()

    async def record(self, ctx: RequestContext, case_id: str, fact: NewFact) -> WriteResult:
        """Record one fact, sharing the commit with whatever else is queued for its case."""
        if not self.alive:
            raise RuntimeError("the fact committer was closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[WriteResult] = loop.create_future()
        self._queue.put(_Pending(ctx, case_id, fact, loop, future))
        return await future

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            queued, stop = [first], False
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                queued.append(item)
            for batch in self._batches(queued):
                self._commit(batch)
            if stop:
                return

    def _batches(self, queued: list[_Pending]) -> list[list[_Pending]]:
        """Queued facts by (case, caller), in arrival order, at most ``max_batch`` each."""
        runs: dict[tuple[str, RequestContext], list[list[_Pending]]] = {}
        for pending in queued:
            lane = runs.setdefault((pending.case_id, pending.ctx), [[]])
            if len(lane[-1]) == self.max_batch:
                lane.append([])
            lane[-1].append(pending)
        return [batch for lane in runs.values() for batch in lane]

    def _record(self, batch: list[_Pending]) -> WriteResult:
        """One transaction for the batch; a lost race with another process is retried at once.

        These facts carry no precondition, and their grant tolerates a lagging view (see
        ``api._guard``): the aggregate, reloaded after a conflict, re-checks everything that
        can have changed, so retrying here is what ``WriteContext.perform`` would do, minus
        its backoff.
        """
        case_id, ctx = batch[0].case_id, batch[0].ctx
        facts = [p.fact for p in batch]
        for _ in range(CONFLICT_RETRIES):
            try:
                return self.ledger.record_facts(ctx, case_id, facts)
            except ConcurrencyConflictError:
                continue
        return self.ledger.record_facts(ctx, case_id, facts)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            result = self._record(batch)
        except BaseException as error:  # every waiter gets an answer, whatever happened
            if len(batch) == 1:
                _answer(batch[0], None, error)
                return
            for pending in batch:
                self._commit([pending])
            return
        ids = (result.created_id or "").split(",")
        assert len(ids) == len(batch)
        last = len(batch) - 1
        for n, pending in enumerate(batch):
            _answer(
                pending, WriteResult(pending.case_id, result.version - (last - n), ids[n]), None
            )


def _answer(pending: _Pending, result: WriteResult | None, error: BaseException | None) -> None:
    """Hand the outcome to the waiting request on its own event loop."""

    def settle() -> None:
        if pending.future.cancelled():
            return  # the client went away; its fact was committed or refused all the same
        if result is not None:
            pending.future.set_result(result)
        else:
            pending.future.set_exception(error or RuntimeError("no outcome"))

    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
        pending.loop.call_soon_threadsafe(settle)
